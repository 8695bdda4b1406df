//! What a pass remembers between passes: each Worker's last observation, what the journal says
//! flaresync applied, and what was already journaled (so nothing repeats every pass).

use std::collections::BTreeMap;

use flaresync_config::Digest;
use flaresync_journal::{Action as JournalAction, Outcome, Recorded};
use flaresync_plan::{KnownVersion, LiveWorker};
use tokio::time::Instant;

use crate::{
    convert::ScriptFingerprint, error::Error, observe::ObservedWorker, status::HistoryEntry,
};

/// Journal action name of a health-check rejection.
pub(super) const HEALTH_REJECTED: &str = "health_check_failed";

/// Cloudflare lists at most this many deployable versions (and flaresync keeps as many
/// deployments): a cached view never remembers more than a read would show.
pub(super) const LISTED: usize = 100;

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
    /// Reading or writing it failed (a token without KV permission, a refused write): the
    /// process warned once and goes on without it.
    pub off: bool,
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

    /// Forgets what a read would no longer show, so that a Worker deployed on every commit of
    /// a long-running `run` keeps a bounded memory: at most [`LISTED`] known versions (newest
    /// first), and commits only of versions still known, listed or deployed.
    pub fn bound_history(&mut self) {
        self.live.versions.truncate(LISTED);
        self.live.deployments.truncate(LISTED);
        self.known.truncate(LISTED);
        let live = &self.live;
        let known = &self.known;
        let deployed = live
            .deployments
            .iter()
            .chain(live.active.iter())
            .flat_map(|deployment| &deployment.versions);
        let mut keep: std::collections::BTreeSet<&str> =
            deployed.map(|v| v.version_id.as_str()).collect();
        keep.extend(live.versions.iter().map(|v| v.id.as_str()));
        keep.extend(known.iter().map(|k| k.version_id.as_str()));
        self.commits.retain(|id, _| keep.contains(id.as_str()));
        // Lists grown one insert at a time keep spare room (four of an entry for one): at
        // 1,000 Workers that was megabytes.
        self.live.versions.shrink_to_fit();
        self.live.deployments.shrink_to_fit();
        self.known.shrink_to_fit();
    }
}

/// What flaresync last applied to a Worker, from its journal `history` (oldest first).
pub(super) fn applied_from(history: &[Recorded]) -> Applied {
    let mut applied = Applied::default();
    let mut rejection_settled = false;
    for recorded in history.iter().rev() {
        let entry = &recorded.entry;
        let success = entry.outcome == Outcome::Success;
        match &entry.action {
            JournalAction::Other(name)
                if (name == HEALTH_REJECTED
                    || name == crate::rollout::record::ABORTED
                    || name == crate::rollout::record::HELD)
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
    applied
}

/// The journal's deployments, rollbacks, blocks and drifts of a Worker (oldest first) as
/// status history entries, oldest first: the timeline a restarted loop starts from.
pub(super) fn journal_timeline(history: &[Recorded]) -> Vec<HistoryEntry> {
    history
        .iter()
        .map(|recorded| &recorded.entry)
        .filter(|entry| {
            matches!(
                entry.action,
                JournalAction::Deploy
                    | JournalAction::Rollback
                    | JournalAction::Blocked
                    | JournalAction::Drift
            ) && entry.outcome != Outcome::Started
        })
        .map(|entry| HistoryEntry {
            commit: entry.commit.clone(),
            version: entry.version_id.clone(),
            action: entry.action.as_str().to_owned(),
            result: match entry.outcome {
                Outcome::Success => "applied",
                Outcome::Failure => "error",
                Outcome::Skipped | Outcome::Started => "skipped",
            }
            .to_owned(),
            at: entry.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            message: (!entry.message.is_empty()).then(|| entry.message.clone()),
        })
        .collect()
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
            let history = ctx.journal.history(name)?;
            memory.applied.insert(name.clone(), applied_from(&history));
            ctx.status.update(name, |status| {
                if status.history.is_empty() {
                    for entry in journal_timeline(&history) {
                        status.push_history(entry);
                    }
                }
            });
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use flaresync_journal::{Entry, Trigger, TriggerKind};

    use super::*;

    fn recorded(seq: i64, action: JournalAction, outcome: Outcome, message: &str) -> Recorded {
        let entry = Entry::new(
            "api",
            action,
            outcome,
            Trigger::new(TriggerKind::Poll, None),
        )
        .commit("c0ffee")
        .message(message.to_owned());
        Recorded { seq, entry }
    }

    #[test]
    fn a_worker_deployed_on_every_commit_keeps_a_bounded_history() {
        use flaresync_plan::{DeploymentVersion, LiveDeployment, LiveVersion};

        let desired = crate::pass::minimal_desired();
        let mut cached = CachedWorker::new(None, None, ObservedWorker::missing("api"));
        for n in 0..(3 * LISTED) {
            let id = format!("v{n}");
            cached.live.versions.insert(
                0,
                LiveVersion {
                    id: id.clone(),
                    ..LiveVersion::default()
                },
            );
            let deployment = LiveDeployment {
                versions: vec![DeploymentVersion {
                    version_id: id.clone(),
                    percentage: 100.0,
                }],
                ..LiveDeployment::default()
            };
            cached.live.deployments.insert(0, deployment.clone());
            cached.live.active = Some(deployment);
            cached.known.insert(
                0,
                KnownVersion {
                    version_id: id.clone(),
                    commit: format!("c{n}"),
                    digest: desired.digest.clone(),
                    version_digest: desired.version_digest.clone(),
                    migrations: Vec::new(),
                    exports: None,
                    secrets_fingerprint: None,
                    declared: None,
                },
            );
            cached.commits.insert(id, format!("c{n}"));
            cached.bound_history();
        }
        assert_eq!(cached.live.versions.len(), LISTED);
        assert_eq!(cached.live.deployments.len(), LISTED);
        assert_eq!(cached.known.len(), LISTED);
        assert_eq!(cached.commits.len(), LISTED);
        let newest = format!("v{}", 3 * LISTED - 1);
        assert_eq!(cached.known[0].version_id, newest);
        assert!(cached.commits.contains_key(&newest));
        assert!(
            !cached.commits.contains_key("v0"),
            "the oldest is forgotten"
        );
    }

    #[test]
    fn the_commit_of_a_deployed_version_is_kept_while_it_runs() {
        use flaresync_plan::{DeploymentVersion, LiveDeployment};

        let mut cached = CachedWorker::new(None, None, ObservedWorker::missing("api"));
        cached.live.active = Some(LiveDeployment {
            versions: vec![DeploymentVersion {
                version_id: "old".to_owned(),
                percentage: 100.0,
            }],
            ..LiveDeployment::default()
        });
        cached.commits.insert("old".to_owned(), "c0".to_owned());
        cached.commits.insert("gone".to_owned(), "c1".to_owned());
        cached.bound_history();
        assert_eq!(cached.commits.keys().collect::<Vec<_>>(), ["old"]);
    }

    #[test]
    fn the_journal_timeline_keeps_finished_deploys_rollbacks_blocks_and_drifts() {
        let history = [
            recorded(1, JournalAction::Upload, Outcome::Success, ""),
            recorded(2, JournalAction::Deploy, Outcome::Started, ""),
            recorded(3, JournalAction::Deploy, Outcome::Success, ""),
            recorded(
                4,
                JournalAction::Blocked,
                Outcome::Skipped,
                "FS006: secrets differ",
            ),
            recorded(5, JournalAction::Rollback, Outcome::Failure, "10220"),
        ];
        let timeline = journal_timeline(&history);
        let summary: Vec<(&str, &str, Option<&str>)> = timeline
            .iter()
            .map(|e| (e.action.as_str(), e.result.as_str(), e.message.as_deref()))
            .collect();
        assert_eq!(
            summary,
            [
                ("deploy", "applied", None),
                ("blocked", "skipped", Some("FS006: secrets differ")),
                ("rollback", "error", Some("10220")),
            ]
        );
        assert_eq!(timeline[0].commit.as_deref(), Some("c0ffee"));
    }
}
