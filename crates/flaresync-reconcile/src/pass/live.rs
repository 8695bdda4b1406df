//! The pass's view of live state: a cache of [`crate::observe`]'s observations, refreshed only
//! for Workers whose script fingerprint (etag, modified_on, migration tag) or desired digest
//! changed, and a slice of those whose last full read is older than the refresh period (see
//! [`super::refresh_slice`]). A fingerprint moved by flaresync's own
//! writes is confirmed from the listing, not read again (see `apply::own_writes`).

use std::collections::{BTreeMap, BTreeSet};

use flaresync_cloudflare::Script;
use flaresync_plan::Desired;
use tokio::time::Instant;

use super::{
    Context,
    apply::own_writes,
    memory::{CachedWorker, Memory},
    refresh_slice, source,
};
use tracing::warn;

use crate::{
    convert::{self, ScriptFingerprint},
    error::Error,
    observe,
};

/// What a refresh did.
pub(super) struct Refreshed {
    /// Workers whose live state could not be read, with why.
    pub errors: BTreeMap<String, Error>,
    /// Whether any Worker was read at all.
    pub any: bool,
}

/// Brings the cached live state of `names` up to date.
///
/// # Errors
///
/// The journal or the Git mapping failed; per-Worker API failures are in
/// [`Refreshed::errors`] (and those Workers are dropped from the cache).
pub(super) async fn refresh(
    ctx: &Context,
    memory: &mut Memory,
    names: &BTreeSet<String>,
    scripts: &BTreeMap<String, Script>,
    desired: &Desired,
) -> Result<Refreshed, Error> {
    let due: BTreeSet<String> = match ctx.options.full_refresh_every {
        Some(every) => refresh_slice::due(
            memory
                .workers
                .iter()
                .filter(|(name, _)| names.contains(*name))
                .map(|(name, cached)| (name, cached.read_at)),
            Instant::now(),
            every,
            ctx.options.refresh_slice,
        )
        .into_iter()
        .cloned()
        .collect(),
        None => BTreeSet::new(),
    };
    let mut stale: Vec<&String> = Vec::new();
    let mut redesired: Vec<&String> = Vec::new();
    for name in names {
        let current = memory
            .workers
            .get_mut(name)
            .filter(|_| !due.contains(name))
            .and_then(|cached| {
                is_current(cached, scripts.get(name))
                    .then(|| cached.desired_digest.as_ref() == desired.digest_of(name))
            });
        let partial = memory
            .workers
            .get(name)
            .is_some_and(|cached| cached.partial);
        match current {
            Some(true) => {}
            // A view from the state record knows one version: read the Worker in full.
            Some(false) if partial => stale.push(name),
            Some(false) => redesired.push(name),
            None => stale.push(name),
        }
    }
    let mut redesired_errors = BTreeMap::new();
    for name in redesired {
        let Some(cached) = memory.workers.get_mut(name) else {
            continue;
        };
        match complete_details(ctx, cached, name, desired).await {
            Ok(true) => {}
            Ok(false) => stale.push(name),
            Err(error) => {
                warn!(worker = %name, error = %error, "Cannot read live state.");
                redesired_errors.insert(name.clone(), error);
            }
        }
    }
    let any = stale.iter().any(|name| scripts.contains_key(*name));
    let git = ctx.git.clone();
    let observation = observe::observe_workers(
        &ctx.client,
        Some(&ctx.journal),
        stale,
        scripts,
        desired,
        async |requests| source::map_versions(git, requests).await,
    )
    .await?;
    for (name, observed) in observation.workers {
        let cached = CachedWorker::new(
            scripts.get(&name).map(ScriptFingerprint::of),
            desired.digest_of(&name).cloned(),
            observed,
        );
        memory.workers.insert(name, cached);
    }
    let mut errors = observation.errors;
    errors.append(&mut redesired_errors);
    for name in errors.keys() {
        memory.workers.remove(name);
    }
    Ok(Refreshed { errors, any })
}

/// Whether `cached` still shows the Worker the scripts listing entry `listed` describes: same
/// fingerprint, or one moved only by flaresync's own write (then adopted, see
/// `apply::own_writes`).
fn is_current(cached: &mut CachedWorker, listed: Option<&Script>) -> bool {
    let fingerprint = listed.map(ScriptFingerprint::of);
    if cached.fingerprint == fingerprint {
        return true;
    }
    if listed.is_some_and(|script| own_writes::listing_confirms(cached, script)) {
        cached.fingerprint = fingerprint;
        cached.written_at = None;
        return true;
    }
    false
}

/// A current cached Worker whose desired state changed: reads only what the planner now needs
/// (the versions it needs in full: an active version known only from a write's answer, a
/// rollback target holding the new content), not the whole Worker again. When a rollback
/// target may exist, the deployable list is read again too (the window moved with every
/// upload since). Returns `false` when that list shows versions the cache does not know
/// (uploaded elsewhere): the Worker must then be observed in full.
async fn complete_details(
    ctx: &Context,
    cached: &mut CachedWorker,
    name: &str,
    desired: &Desired,
) -> Result<bool, Error> {
    let wanted = desired.worker(name).map(|worker| &worker.version_digest);
    if cached
        .known
        .iter()
        .any(|known| Some(&known.version_digest) == wanted)
    {
        let listed = ctx
            .client
            .list_deployable_versions(name)
            .await
            .map_err(|e| Error::api(format!("listing versions of {name}"), e))?;
        let live = &cached.live;
        let Some(versions) = listed
            .iter()
            .map(|summary| live.version(&summary.id).cloned())
            .collect::<Option<Vec<_>>>()
        else {
            return Ok(false);
        };
        cached.live.versions = versions;
    }
    let live = &cached.live;
    let active = live
        .active
        .as_ref()
        .or(live.deployments.first())
        .into_iter()
        .flat_map(|deployment| deployment.versions.iter().map(|v| v.version_id.as_str()));
    let unread = |id: &str| live.version(id).is_some_and(|v| v.etag.is_none());
    let ids = convert::detail_ids(
        active,
        |id| live.version(id).is_some(),
        &cached.known,
        wanted,
    )
    .into_iter()
    .filter(|id| unread(id))
    .collect::<Vec<_>>();
    let details = observe::read_details(&ctx.client, name, ids).await?;
    for version in &mut cached.live.versions {
        if let Some(full) = details.get(&version.id) {
            *version = convert::live_version(full);
        }
    }
    cached.desired_digest = desired.digest_of(name).cloned();
    Ok(true)
}
