//! What a pass reports: per Worker, the outcome, versions, drift, health and errors.

use flaresync_plan::Plan;
use serde::Serialize;

use crate::{
    error::Error,
    health::HealthOutcome,
    live_view::LiveView,
    policy::Class,
    status::{BlockedRule, DriftStatus},
    trigger::TriggerSource,
};

/// Options of one pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncOptions {
    /// Plan only: no Cloudflare write and no journal entry.
    pub dry_run: bool,
    /// Why the pass runs (journal and logs only).
    pub trigger: TriggerSource,
}

/// The result of one pass.
#[derive(Debug, Clone, Serialize)]
pub struct SyncReport {
    pub branch: String,
    /// Full id of the head commit the pass reconciled.
    pub commit: String,
    /// How the head moved since the previous pass: `initial`, `unchanged`, `fast_forward`,
    /// `rewritten`, ...
    pub head: String,
    pub dry_run: bool,
    pub plan: Plan,
    pub workers: Vec<WorkerReport>,
    /// API requests sent during the pass (attempts, retries included).
    pub api_requests: u64,
    /// Who the journal names behind the pass's actions (commit author; CLI operator; pusher).
    #[serde(skip)]
    pub actor: Option<String>,
}

impl SyncReport {
    /// True when every Worker is in sync or was applied without error.
    /// A Worker removed from Git counts as converged: flaresync never deletes, the report
    /// says so, and failing every pass until someone deletes it by hand would keep CI red.
    pub fn converged(&self) -> bool {
        self.workers.iter().all(|worker| {
            matches!(
                worker.outcome,
                WorkerOutcome::InSync | WorkerOutcome::Applied { .. } | WorkerOutcome::Removed
            )
        })
    }

    /// The Workers that failed, with their error.
    pub fn failures(&self) -> impl Iterator<Item = &WorkerReport> {
        self.workers.iter().filter(|worker| worker.error.is_some())
    }
}

/// What happened to one Worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WorkerOutcome {
    InSync,
    /// Writes were made and verified.
    Applied {
        version_id: Option<String>,
        deployment_id: Option<String>,
    },
    /// Dry run: the plan would write.
    Planned,
    /// Drift with policy `report`: the plan was not applied.
    HeldForDrift,
    /// The planner blocked it, or its content failed a health check before.
    Blocked,
    /// Not in this pass's scope, or a dependency failed.
    Skipped,
    Failed,
    /// In Cloudflare (journal) but gone from Git; flaresync never deletes.
    Removed,
}

/// A failure, as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportedError {
    /// `Stalled`, `Waiting` or `Transient`.
    pub kind: String,
    /// Stable reason code.
    pub reason: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkerReport {
    pub worker: String,
    /// The planner's action label (`in sync`, `deploy`, `rollback`, ...).
    pub action: String,
    pub outcome: WorkerOutcome,
    /// The commit whose content Git wants live.
    pub desired_commit: Option<String>,
    /// The version serving traffic after the pass.
    pub live_version: Option<String>,
    /// The commit that version was built from, when known.
    pub live_commit: Option<String>,
    pub drift: Option<DriftStatus>,
    pub health: Option<HealthOutcome>,
    /// The URL the health check called, when one ran.
    pub health_url: Option<String>,
    pub error: Option<ReportedError>,
    /// Plain notes (unsupported settings, recovered intents, ...).
    pub notes: Vec<String>,
    /// The Worker's progressive rollout, while one runs (or when one ended in this pass).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollout: Option<crate::rollout::RolloutReport>,
    /// The live split and Cloudflare's recent deployments as observed (status only).
    #[serde(skip)]
    pub(crate) live_view: LiveView,
    /// The rules blocking the Worker (status only; `error` says the same in words).
    #[serde(skip)]
    pub(crate) blocked: Vec<BlockedRule>,
    /// When the loop should come back for this Worker (a rollout's next step or analysis).
    #[serde(skip)]
    pub(crate) requeue_after: Option<std::time::Duration>,
    #[serde(skip)]
    pub(crate) class: Option<Class>,
    /// The Worker that held this one back in this pass (see [`crate::runner::PassOutcome::deferred`]).
    #[serde(skip)]
    pub(crate) deferred_by: Option<String>,
    /// The rejected commit holding this Worker back ([`super::commit_hold`]).
    #[serde(skip)]
    pub(crate) held_by_commit: Option<String>,
}

impl WorkerReport {
    pub(crate) fn new(worker: &str, action: &str) -> Self {
        WorkerReport {
            worker: worker.to_owned(),
            action: action.to_owned(),
            outcome: WorkerOutcome::InSync,
            desired_commit: None,
            live_version: None,
            live_commit: None,
            drift: None,
            health: None,
            health_url: None,
            error: None,
            notes: Vec::new(),
            rollout: None,
            requeue_after: None,
            class: None,
            deferred_by: None,
            held_by_commit: None,
            live_view: LiveView::default(),
            blocked: Vec::new(),
        }
    }

    pub(crate) fn fail(&mut self, error: &Error) {
        let class = error.class();
        self.outcome = WorkerOutcome::Failed;
        self.error = Some(ReportedError {
            kind: class.kind_str().to_owned(),
            reason: class.reason().as_str().to_owned(),
            message: error.to_string(),
        });
        self.class = Some(class);
    }

    /// The loop's classification of this Worker's failure, if it failed.
    pub fn class(&self) -> Option<Class> {
        self.class
    }
}
