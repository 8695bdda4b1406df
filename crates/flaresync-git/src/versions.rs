//! The distinct versions some Workers had along a first-parent history, walking only what
//! those Workers depend on.
//!
//! A commit whose tracked inputs (`flaresync.toml`, each tracked Worker's directory tree and
//! the inputs it reads outside it) have the same object ids as the newer commit already seen
//! cannot hold a new version of them, so it costs a few tree lookups. Where a tracked input
//! changed, only that Worker is re-read (through the [`DesiredStateCache`]); anything unusual
//! (a config change, a Worker that moved, renamed or fails to load) falls back to the whole
//! desired state of that commit, which is exact.

use std::collections::{BTreeMap, BTreeSet};

use flaresync_config::{LoadedWorker, REPO_CONFIG_FILE};
use git2::{Oid, Repository};

use crate::desired::{DesiredError, DesiredState, DesiredStateCache, outside_inputs};
use crate::tree::CommitTree;

/// Per script name, newest first: the commit where each distinct version digest was last
/// seen walking back from the base, and the Worker as loaded there (spec and digests).
pub type VersionsByWorker = BTreeMap<String, Vec<(Oid, LoadedWorker)>>;

/// One tracked Worker: its script name, directory and outside inputs at the base.
#[derive(Debug)]
struct Tracked {
    name: String,
    dir: String,
    outside: Vec<String>,
}

/// What a commit's tracked inputs resolve to; equal signatures mean equal tracked Workers.
type Signature = Vec<Option<Oid>>;

/// The base's first-parent history, newest first, for the Workers named in `names` (as loaded
/// in `base_state`): at most `window` distinct version digests per Worker, looking at most
/// `max_commits` commits (the base included).
pub fn distinct_versions(
    cache: &mut DesiredStateCache,
    repo: &Repository,
    base_state: &DesiredState,
    names: &BTreeSet<String>,
    window: usize,
    max_commits: usize,
) -> Result<VersionsByWorker, DesiredError> {
    let base = base_state.commit;
    let commit_error = |commit: Oid, e: git2::Error| DesiredError::Commit {
        commit,
        message: e.message().to_owned(),
    };
    let base_tree = CommitTree::new(repo, base).map_err(|e| commit_error(base, e))?;
    let tracked = tracked(&base_tree, base_state, names);
    let mut versions = VersionsByWorker::new();
    record_state(&mut versions, base_state, names, window);
    let mut previous = signature(&base_tree, &tracked);
    let mut commit = base;
    for _ in 1..max_commits.max(1) {
        let Some(parent) = repo
            .find_commit(commit)
            .map_err(|e| commit_error(commit, e))?
            .parent_id(0)
            .ok()
        else {
            break;
        };
        commit = parent;
        let tree = CommitTree::new(repo, commit).map_err(|e| commit_error(commit, e))?;
        let current = signature(&tree, &tracked);
        if current == previous {
            continue;
        }
        if !record_changed(
            cache,
            &tree,
            &tracked,
            &previous,
            &current,
            &mut versions,
            window,
        ) {
            let state = cache.desired_state(repo, commit)?;
            record_state(&mut versions, &state, names, window);
        }
        previous = current;
    }
    Ok(versions)
}

fn tracked(tree: &CommitTree<'_>, state: &DesiredState, names: &BTreeSet<String>) -> Vec<Tracked> {
    state
        .workers
        .iter()
        .filter_map(|(dir, result)| {
            let loaded = result.as_ref().as_ref().ok()?;
            names.contains(&loaded.spec.name).then(|| Tracked {
                name: loaded.spec.name.clone(),
                dir: dir.clone(),
                outside: outside_inputs(tree, dir, &loaded.inputs)
                    .into_iter()
                    .map(|(path, _)| path)
                    .collect(),
            })
        })
        .collect()
}

/// `flaresync.toml`, then per tracked Worker its directory and outside inputs.
fn signature(tree: &CommitTree<'_>, tracked: &[Tracked]) -> Signature {
    let mut signature = vec![DesiredStateCache::oid_at(tree, REPO_CONFIG_FILE)];
    for worker in tracked {
        signature.push(DesiredStateCache::oid_at(tree, &worker.dir));
        for path in &worker.outside {
            signature.push(DesiredStateCache::oid_at(tree, path));
        }
    }
    signature
}

/// The parts of `signature` belonging to each tracked Worker, in order.
fn parts<'a>(signature: &'a [Option<Oid>], tracked: &[Tracked]) -> Vec<&'a [Option<Oid>]> {
    let mut parts = Vec::with_capacity(tracked.len());
    let mut at = 1;
    for worker in tracked {
        let len = 1 + worker.outside.len();
        parts.push(&signature[at..at + len]);
        at += len;
    }
    parts
}

/// Re-reads only the tracked Workers whose inputs changed; `false` when that is not enough to
/// be exact (config changed, or a Worker no longer loads under its name and directory).
fn record_changed(
    cache: &mut DesiredStateCache,
    tree: &CommitTree<'_>,
    tracked: &[Tracked],
    previous: &Signature,
    current: &Signature,
    versions: &mut VersionsByWorker,
    window: usize,
) -> bool {
    if previous.first() != current.first() {
        return false;
    }
    let config_oid = current.first().copied().flatten();
    let Some(repo_config) = cache.repo_config(config_oid) else {
        return false;
    };
    let mut found = Vec::new();
    for ((worker, old), new) in tracked
        .iter()
        .zip(parts(previous, tracked))
        .zip(parts(current, tracked))
    {
        if old == new {
            continue;
        }
        let result = cache.worker(tree, &worker.dir, config_oid, &repo_config);
        match result.as_ref() {
            Ok(loaded) if loaded.spec.name == worker.name && !loaded.policy.skip => {
                found.push(loaded.clone());
            }
            _ => return false,
        }
    }
    for loaded in found {
        record(versions, tree.commit(), loaded, window);
    }
    true
}

fn record_state(
    versions: &mut VersionsByWorker,
    state: &DesiredState,
    names: &BTreeSet<String>,
    window: usize,
) {
    for (name, loaded) in state.by_script() {
        if names.contains(name) {
            record(versions, state.commit, (*loaded).clone(), window);
        }
    }
}

fn record(versions: &mut VersionsByWorker, commit: Oid, loaded: LoadedWorker, window: usize) {
    let entry = versions.entry(loaded.spec.name.clone()).or_default();
    if entry.len() < window
        && !entry
            .iter()
            .any(|(_, seen)| seen.version_digest == loaded.version_digest)
    {
        entry.push((commit, loaded));
    }
}
