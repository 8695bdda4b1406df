//! The Git side of a pass: the branch head, its desired state, and the commit stamp of new
//! versions; and the mapping of listed versions to commits. Blocking work, off the async threads.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
};

use flaresync_git::{DesiredState, HeadUpdateKind};
use flaresync_plan::KnownVersion;

use super::context::GitState;
use crate::{
    error::Error,
    observe::{MappingRequest, known_versions},
};

/// Output of the git phase.
pub(crate) struct SourceRead {
    pub head: HeadUpdateKind,
    /// Full id of the head commit.
    pub head_commit: String,
    pub state: DesiredState,
    /// Broken Worker directory -> the script name it had at the nearest ancestor where it
    /// loaded (so a broken config keeps its Worker's identity in a fresh process too).
    pub last_good_names: BTreeMap<String, String>,
    pub tag: String,
    pub message: String,
    /// Who is behind the head commit (author, and committer when another).
    pub actor: String,
}

/// How far back a broken Worker's last good name is looked for.
pub const LAST_GOOD_NAME_DEPTH: usize = 200;

pub(super) async fn read_source(git: Arc<Mutex<GitState>>) -> Result<SourceRead, Error> {
    tokio::task::spawn_blocking(move || {
        let mut guard = git.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let GitState { source, cache } = &mut *guard;
        let update = source.fetch()?;
        let state = cache.desired_state(source.repo(), update.new)?;
        let last_good_names = if state.errors().is_empty() {
            BTreeMap::new()
        } else {
            cache
                .last_good_names(source.repo(), update.new, LAST_GOOD_NAME_DEPTH)
                .unwrap_or_default()
        };
        let tag = source.version_tag(update.new, flaresync_git::stamp::TAG_LIMIT)?;
        let message = source.version_message(update.new, flaresync_git::stamp::MESSAGE_LIMIT)?;
        let actor = source.commit_info(update.new)?.actor();
        Ok(SourceRead {
            head: update.kind,
            head_commit: update.new.to_string(),
            state,
            last_good_names,
            tag,
            message,
            actor,
        })
    })
    .await
    .map_err(|error| Error::Task(error.to_string()))?
}

/// The branch's head and its desired state when the head moved past `current` (fetched for a
/// remote), without taking it as the head the next pass reports a move from. `None`: it did
/// not move.
pub(super) async fn peek_newer(
    git: Arc<Mutex<GitState>>,
    current: String,
) -> Result<Option<(String, DesiredState)>, Error> {
    tokio::task::spawn_blocking(move || {
        let mut guard = git.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let GitState { source, cache } = &mut *guard;
        let head = source.peek_head()?;
        if head.to_string() == current {
            return Ok(None);
        }
        let state = cache.desired_state(source.repo(), head)?;
        Ok(Some((head.to_string(), state)))
    })
    .await
    .map_err(|error| Error::Task(error.to_string()))?
}

/// Maps listed versions to commits through Git, off the async threads.
pub(super) async fn map_versions(
    git: Arc<Mutex<GitState>>,
    requests: MappingRequest,
) -> Result<BTreeMap<String, Vec<KnownVersion>>, Error> {
    tokio::task::spawn_blocking(move || {
        let mut guard = git.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let GitState { source, cache } = &mut *guard;
        let mut out = BTreeMap::new();
        for (worker, versions) in requests {
            let known = known_versions(source.repo(), cache, &worker, &versions)?;
            out.insert(worker, known);
        }
        Ok(out)
    })
    .await
    .map_err(|error| Error::Task(error.to_string()))?
}

/// The desired spec of `worker` at `commit` (e.g. to put back the settings of a version
/// restored after a failed health check). `None` when the commit or the Worker is unknown.
pub(super) async fn spec_at(
    git: Arc<Mutex<GitState>>,
    commit: String,
    worker: String,
) -> Result<Option<flaresync_config::WorkerSpec>, Error> {
    tokio::task::spawn_blocking(move || {
        let mut guard = git.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let GitState { source, cache } = &mut *guard;
        let Ok(oid) = source.resolve_commit(&commit) else {
            return Ok(None);
        };
        let state = cache.desired_state(source.repo(), oid)?;
        Ok(state.worker(&worker).map(|loaded| loaded.spec.clone()))
    })
    .await
    .map_err(|error| Error::Task(error.to_string()))?
}

/// The first parent of `commit` (full id), when the repository knows both.
pub(super) async fn parent_of(git: Arc<Mutex<GitState>>, commit: String) -> Option<String> {
    tokio::task::spawn_blocking(move || {
        let guard = git.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let oid = guard.source.resolve_commit(&commit).ok()?;
        let info = guard.source.commit_info(oid).ok()?;
        info.parents.first().map(|parent| parent.to_string())
    })
    .await
    .ok()
    .flatten()
}

/// Each Worker's desired content (digest) at `commit` and at its first parent (`None` for a
/// root commit or a parent that does not load), for [`super::commit_hold::changed_workers`].
/// `None` when the commit itself cannot be read.
pub(super) async fn digests_around(
    git: Arc<Mutex<GitState>>,
    commit: String,
) -> Option<(Digests, Option<Digests>)> {
    tokio::task::spawn_blocking(move || {
        let mut guard = git.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let GitState { source, cache } = &mut *guard;
        let oid = source.resolve_commit(&commit).ok()?;
        let parent = source.commit_info(oid).ok()?.parents.first().copied();
        let mut digests_at = |oid| {
            let state = cache.desired_state(source.repo(), oid).ok()?;
            Some(digests_of(&state))
        };
        let at_commit = digests_at(oid)?;
        Some((at_commit, parent.and_then(digests_at)))
    })
    .await
    .ok()
    .flatten()
}

/// Worker name -> desired digest.
pub(super) type Digests = BTreeMap<String, flaresync_config::Digest>;

fn digests_of(state: &DesiredState) -> Digests {
    state
        .by_script()
        .into_iter()
        .map(|(name, loaded)| (name.to_owned(), loaded.digest.clone()))
        .collect()
}
