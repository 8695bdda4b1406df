//! What is currently deployed for one Worker: from live state, or (without it) from the base
//! commit.

use flaresync_config::MigrationStep;

use crate::input::{KnownVersion, WorkerHistory};
use crate::live::LiveWorker;
use crate::migrations;
use crate::rules::ActiveVersion;

use super::worker_input::WorkerInput;

/// What is currently deployed, from live state or (without it) from the base commit.
pub(super) struct Current<'a> {
    pub live_worker: Option<&'a LiveWorker>,
    pub exists: bool,
    pub migration_tag: Option<&'a str>,
    pub applied_steps: Option<&'a [MigrationStep]>,
    pub active: Option<ActiveVersion<'a>>,
    /// `version_digest` of what runs, when known.
    pub version_digest: Option<&'a str>,
    /// `digest` of the last fully applied desired state, when known.
    pub digest: Option<&'a str>,
    /// `exports` declared for what runs: `Some(value)` when known, `None` when unknown.
    pub exports: Option<Option<&'a str>>,
}

impl<'a> Current<'a> {
    pub fn of(input: &WorkerInput<'a>) -> Self {
        if input.live.observed {
            Self::live(input)
        } else {
            Self::base(input)
        }
    }

    fn live(input: &WorkerInput<'a>) -> Self {
        let live_worker = input.live.workers.get(input.name);
        let exists = live_worker.is_some_and(|w| w.exists);
        let migration_tag = live_worker.and_then(|w| w.migration_tag.as_deref());
        let active = live_worker.and_then(|w| {
            w.active_version_id().map(|(id, _)| ActiveVersion {
                version_id: id,
                live: w.version(id),
                known: input
                    .history
                    .version(id)
                    .or_else(|| equivalent_known(w, id, input.history)),
            })
        });
        let applied_steps = match migration_tag {
            None => Some(&[][..]),
            Some(tag) => active
                .and_then(|a| a.known)
                .into_iter()
                .chain(input.history.versions.iter())
                .find_map(|k| migrations::applied_prefix(&k.migrations, tag)),
        };
        let known = active.and_then(|a| a.known);
        Current {
            live_worker,
            exists,
            migration_tag,
            applied_steps,
            active,
            version_digest: known.map(|k| k.version_digest.as_str()),
            digest: input
                .history
                .applied_digest
                .as_deref()
                .or(known.map(|k| k.digest.as_str())),
            // Declared exports of the commit the active version was built from. The API's
            // `script_runtime.exports` has a different shape, so it is not compared.
            exports: known.map(|k| k.exports.as_deref()),
        }
    }

    fn base(input: &WorkerInput<'a>) -> Self {
        let base = input.base.map(|(_, w)| w);
        Current {
            live_worker: None,
            exists: base.is_some(),
            migration_tag: base.and_then(|w| w.spec.migrations.last().map(|s| s.tag.as_str())),
            applied_steps: base.map(|w| w.spec.migrations.as_slice()),
            active: None,
            version_digest: base.map(|w| w.version_digest.as_str()),
            digest: base.map(|w| w.digest.as_str()),
            exports: base.map(|w| w.spec.exports.as_deref()),
        }
    }
}

/// A version flaresync knows whose content the active version `id` provably equals, when `id`
/// itself is not one flaresync made: same script etag, bindings (as a set), compatibility date
/// and flags, and migration tag, all as Cloudflare reports them. This is a human's `wrangler
/// deploy` of the committed config: the content is Git's, so it is in sync, not drift to roll
/// back. Without details for both versions (no etag), nothing is assumed.
fn equivalent_known<'a>(
    worker: &'a LiveWorker,
    id: &str,
    history: &'a WorkerHistory,
) -> Option<&'a KnownVersion> {
    let active = worker.version(id)?;
    let etag = active.etag.as_deref()?;
    let sorted = |bindings: &[flaresync_config::Binding]| {
        let mut bindings = bindings.to_vec();
        bindings.sort();
        bindings
    };
    let active_bindings = sorted(&active.bindings);
    history.versions.iter().find(|known| {
        worker.version(&known.version_id).is_some_and(|other| {
            other.id != active.id
                && other.etag.as_deref() == Some(etag)
                && sorted(&other.bindings) == active_bindings
                && other.compatibility_date == active.compatibility_date
                && other.compatibility_flags == active.compatibility_flags
                && other.migration_tag == active.migration_tag
        })
    })
}
