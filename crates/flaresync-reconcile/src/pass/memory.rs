//! What a pass remembers between passes: each Worker's last observation, what the journal says
//! flaresync applied, and what was already journaled (so nothing repeats every pass).

use std::collections::BTreeMap;

use flaresync_config::Digest;
use flaresync_journal::{Action as JournalAction, Journal, Outcome};
use flaresync_plan::{KnownVersion, LiveWorker};
use tokio::time::Instant;

use crate::{convert::ScriptFingerprint, error::Error, observe::ObservedWorker};

/// Journal action name of a health-check rejection.
pub(super) const HEALTH_REJECTED: &str = "health_check_failed";

/// Per-Worker memory between passes.
#[derive(Debug, Clone)]
pub(super) struct CachedWorker {
    pub fingerprint: Option<ScriptFingerprint>,
    pub desired_digest: Option<Digest>,
    pub live: LiveWorker,
    pub known: Vec<KnownVersion>,
    /// version id -> commit, for every mapped version.
    pub commits: BTreeMap<String, String>,
    /// Cloudflare's timestamp of flaresync's own last write to the Worker, while the scripts
    /// listing has not confirmed it yet (see `apply::own_writes`).
    pub written_at: Option<String>,
    /// When the Worker was last read in full (what the periodic refresh goes by).
    pub read_at: Instant,
    /// Built from the state record ([`super::record`]): it knows the active version only, so
    /// when Git wants other content the Worker is read in full first.
    pub partial: bool,
}

/// What the journal says about a Worker, loaded once and then kept current in memory.
#[derive(Debug, Clone, Default)]
pub(super) struct Applied {
    /// `digest` of the last successful deploy / rollback / settings update.
    pub digest: Option<Digest>,
    /// Version of the last successful deploy / rollback.
    pub version: Option<String>,
    /// Digest rejected by a failed health check, while no later apply succeeded.
    pub rejected: Option<(Digest, String)>,
}

#[derive(Default)]
pub(super) struct Memory {
    pub workers: BTreeMap<String, CachedWorker>,
    pub applied: BTreeMap<String, Applied>,
    /// Worker directory -> script name, so a broken config keeps its Worker's name.
    pub dir_names: BTreeMap<String, String>,
    /// Worker -> commit for which a `blocked` entry was journaled (no repeats per pass).
    pub blocked_recorded: BTreeMap<String, String>,
    /// Worker -> active versions for which a `drift` entry was journaled.
    pub drift_recorded: BTreeMap<String, Vec<String>>,
    pub intents_recovered: bool,
    pub record: RecordMemory,
}

/// What this process knows of the state record ([`super::record_store`]).
#[derive(Default)]
pub(super) struct RecordMemory {
    /// Read (or found missing) once per process.
    pub loaded: bool,
    /// The record's KV namespace id, once known.
    pub namespace: Option<String>,
    /// The entries the record holds, as read or last written.
    pub written: BTreeMap<String, super::record::Entry>,
}

impl CachedWorker {
    pub fn new(
        fingerprint: Option<ScriptFingerprint>,
        desired_digest: Option<Digest>,
        observed: ObservedWorker,
    ) -> Self {
        CachedWorker {
            fingerprint,
            desired_digest,
            live: observed.live,
            known: observed.known,
            commits: observed.commits,
            written_at: None,
            read_at: Instant::now(),
            partial: false,
        }
    }
}

/// What flaresync last applied to `worker`, from the journal (newest first).
pub(super) fn load_applied(journal: &Journal, worker: &str) -> Result<Applied, Error> {
    let mut applied = Applied::default();
    let history = journal.history(worker)?;
    let mut rejection_settled = false;
    for recorded in history.iter().rev() {
        let entry = &recorded.entry;
        let success = entry.outcome == Outcome::Success;
        match &entry.action {
            JournalAction::Other(name)
                if (name == HEALTH_REJECTED || name == crate::rollout::record::ABORTED)
                    && !rejection_settled =>
            {
                if let (Some(digest), Some(commit)) = (&entry.digest, &entry.commit) {
                    applied.rejected = Some((digest.clone(), commit.clone()));
                }
                rejection_settled = true;
            }
            JournalAction::Deploy | JournalAction::Rollback if success => {
                if applied.version.is_none() {
                    applied.version = entry.version_id.clone();
                }
                if applied.digest.is_none() {
                    applied.digest = entry.digest.clone();
                }
                // The health rollback itself is recorded before the rejection entry, so an
                // apply found first (newest) means a later success cleared the rejection.
                rejection_settled = true;
            }
            JournalAction::Settings if success && applied.digest.is_none() => {
                applied.digest = entry.digest.clone();
            }
            _ => {}
        }
        if applied.version.is_some() && applied.digest.is_some() && rejection_settled {
            break;
        }
    }
    Ok(applied)
}

/// The Workers a pass observes: Git's, plus those flaresync deployed that still exist (so a
/// Worker removed from Git is reported, not forgotten). Loads what the journal says was applied
/// to each, once.
pub(super) fn observed_names(
    ctx: &super::Context,
    memory: &mut Memory,
    desired: &flaresync_plan::Desired,
    scripts: &BTreeMap<String, flaresync_cloudflare::Script>,
) -> Result<std::collections::BTreeSet<String>, Error> {
    let mut names: std::collections::BTreeSet<String> = desired.workers.keys().cloned().collect();
    for worker in ctx.journal.workers()? {
        if scripts.contains_key(&worker) {
            names.insert(worker);
        }
    }
    for name in &names {
        if !memory.applied.contains_key(name) {
            let applied = load_applied(&ctx.journal, name)?;
            memory.applied.insert(name.clone(), applied);
        }
    }
    Ok(names)
}
