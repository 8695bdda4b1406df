//! The pass's view of live state: a cache of [`crate::observe`]'s observations, refreshed only
//! for Workers whose script fingerprint (etag, modified_on, migration tag) or desired digest
//! changed, or all of them when a full refresh is due.

use std::collections::{BTreeMap, BTreeSet};

use flaresync_cloudflare::Script;
use flaresync_plan::Desired;
use tokio::time::Instant;

use super::{
    Context,
    memory::{CachedWorker, Memory},
    source,
};
use crate::{convert::ScriptFingerprint, error::Error, observe};

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
    let full_refresh = full_refresh_due(ctx, memory);
    let stale: Vec<&String> = names
        .iter()
        .filter(|name| {
            full_refresh
                || !memory.workers.get(*name).is_some_and(|cached| {
                    cached.fingerprint == scripts.get(*name).map(ScriptFingerprint::of)
                        && cached.desired_digest.as_ref() == desired.digest_of(name)
                })
        })
        .collect();
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
    for name in observation.errors.keys() {
        memory.workers.remove(name);
    }
    Ok(Refreshed {
        errors: observation.errors,
        any,
    })
}

/// Whether every Worker must be read again now (insurance against changes the scripts listing
/// does not reflect); records the refresh when it is.
fn full_refresh_due(ctx: &Context, memory: &mut Memory) -> bool {
    let now = Instant::now();
    let due = match (ctx.options.full_refresh_every, memory.last_full_refresh) {
        (Some(every), Some(last)) => now.saturating_duration_since(last) >= every,
        (Some(_), None) => true,
        (None, _) => false,
    };
    if due {
        memory.last_full_refresh = Some(now);
    }
    due
}
