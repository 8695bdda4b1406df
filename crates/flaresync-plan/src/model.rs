//! The plan: one action per Worker, the ordered steps that carry them out, findings and diffs.
//!
//! Everything here is a plain serializable value; [`crate::render`] turns it into Markdown, JSON
//! or text. Field names are part of the JSON output contract: rename nothing without a reason.

use flaresync_config::MigrationStep;
use serde::{Deserialize, Serialize};

use crate::diff::WorkerDiff;

/// The whole plan for one desired commit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Desired (head) commit.
    pub commit: String,
    /// Base commit the diffs are taken against, if one was given.
    pub base_commit: Option<String>,
    /// Whether live Cloudflare state was consulted. Without it the base commit stands in for the
    /// live state and rules that need live data are skipped.
    pub live_observed: bool,
    /// Where the live state came from, when it was not read from Cloudflare but assumed by the
    /// caller (e.g. an offline PR preview that takes the base branch as deployed). Rendered in
    /// place of "observed" so nobody mistakes assumed versions for real ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_note: Option<String>,
    /// One entry per Worker, sorted by name.
    pub workers: Vec<WorkerPlan>,
    /// Everything to execute, in order. Empty when nothing changes or everything is blocked.
    pub steps: Vec<Step>,
    pub order: Order,
}

/// Execution order of Workers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// Dependencies first. Forward deploys run in this order.
    pub deploy: Vec<String>,
    /// Reverse of `deploy` (entry points first). Rollbacks run in this order, before forward
    /// deploys.
    pub rollback: Vec<String>,
    /// Dependency cycles found (each a list of script names). When non-empty, `deploy` is plain
    /// name order.
    pub cycles: Vec<Vec<String>>,
}

/// The plan for one Worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerPlan {
    /// Cloudflare script name.
    pub name: String,
    pub action: Action,
    /// One line saying why this action was chosen.
    pub reason: String,
    /// Rule findings (errors, warnings, notes), sorted by rule id.
    pub findings: Vec<Finding>,
    /// What changes, against the live version (or the base commit when live state is absent).
    pub diff: WorkerDiff,
    /// Workers this one is deployed after (only Workers in this plan).
    pub depends_on: Vec<String>,
    /// How the change goes out when the commit has a progressive rollout (`flaresync.toml`
    /// `rollout`), and whether an abort could put this Worker back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<RolloutPlan>,
}

/// A Worker's part in a commit's progressive rollout, said before anything is deployed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolloutPlan {
    /// The canary's shares, when the change goes out as Cloudflare split deployments; `None`
    /// when it goes out at 100% (`full_reason` says why).
    pub steps: Option<Vec<u8>>,
    pub full_reason: Option<String>,
    /// `no automatic rollback possible for <worker> because …`, when an abort of the commit
    /// could not put this Worker back.
    pub no_automatic_rollback: Option<String>,
}

/// The single action chosen for a Worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// Live already runs the desired state.
    InSync,
    /// Only non-versioned settings (routes, crons, logpush, …) differ; no new version.
    UpdateSettings {
        /// Names of the settings that differ (or `["unknown"]` when only digests say so).
        fields: Vec<String>,
    },
    /// Upload the desired content as a new version and deploy it.
    DeployForward {
        mode: UploadMode,
        /// Durable Object migrations sent with a script upload; `None` when none are pending.
        migrations: Option<MigrationsPayload>,
        /// Set when this deploy replaces a rollback that is not legal (`rollback_policy =
        /// "redeploy"`): the existing version that matches the desired content.
        redeploy_of: Option<VersionRef>,
    },
    /// Deploy an existing version at 100% (no upload).
    Rollback {
        to: VersionRef,
        /// Deploy with `?force=true` (secrets changed and the policy allows it).
        force: bool,
    },
    /// Nothing may be done; see the error findings.
    Blocked {
        /// The rollback target that was refused, if a rollback was attempted.
        target: Option<VersionRef>,
    },
    /// The Worker is gone from Git. Reported only: flaresync never deletes a Worker.
    Removed,
}

impl Action {
    /// Short label for tables.
    pub fn label(&self) -> &'static str {
        match self {
            Action::InSync => "in sync",
            Action::UpdateSettings { .. } => "update settings",
            Action::DeployForward {
                redeploy_of: Some(_),
                ..
            } => "redeploy",
            Action::DeployForward {
                mode: UploadMode::ScriptUpload { .. },
                ..
            } => "deploy (script upload)",
            Action::DeployForward { .. } => "deploy",
            Action::Rollback { force: true, .. } => "rollback (forced)",
            Action::Rollback { .. } => "rollback",
            Action::Blocked { .. } => "blocked",
            Action::Removed => "removed (not deleted)",
        }
    }

    /// Whether this action moves traffic back to an older version: a rollback whose target is
    /// not known to be newer than what is active. Deploying an existing *newer* version (a
    /// revert of a revert, healing a hand rollback) is a forward move: dependencies first.
    pub fn rolls_back(&self, live: Option<&crate::live::LiveWorker>) -> bool {
        match self {
            Action::Rollback { to, .. } => {
                !live.is_some_and(|worker| worker.is_newer_than_active(to.number))
            }
            _ => false,
        }
    }

    /// Whether this action changes anything on Cloudflare.
    pub fn mutates(&self) -> bool {
        matches!(
            self,
            Action::UpdateSettings { .. } | Action::DeployForward { .. } | Action::Rollback { .. }
        )
    }
}

/// How new content reaches Cloudflare.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum UploadMode {
    /// `POST …/versions` then `POST …/deployments` at 100%.
    VersionUpload,
    /// `PUT …/scripts/{s}`: creates and deploys a version at once. Required for the first upload
    /// and for any Durable Object migration or `exports` change.
    ScriptUpload { reason: ScriptUploadReason },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScriptUploadReason {
    /// The Worker does not exist yet.
    FirstDeploy,
    /// Durable Object migrations are pending.
    MigrationPending,
    /// The declarative `exports` map changed.
    ExportsChanged,
}

/// The `migrations` field of a script upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigrationsPayload {
    /// Must equal the script's live migration tag; `None` for a Worker without one.
    pub old_tag: Option<String>,
    /// Becomes the script's migration tag.
    pub new_tag: String,
    /// Steps after `old_tag`, in order.
    pub steps: Vec<MigrationStep>,
}

/// An existing Cloudflare version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionRef {
    pub version_id: String,
    /// Cloudflare's version number, if the version is still listed live.
    pub number: Option<u64>,
    /// Commit it was built from.
    pub commit: String,
}

/// One thing to execute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Step {
    /// `PUT …/scripts/{worker}` with the desired content (and migrations); deploys at 100%.
    ScriptUpload {
        worker: String,
        migrations: Option<MigrationsPayload>,
    },
    /// `POST …/scripts/{worker}/versions` with the desired content.
    UploadVersion { worker: String },
    /// `POST …/scripts/{worker}/deployments` at 100%.
    Deploy {
        worker: String,
        version: DeployTarget,
        force: bool,
    },
    /// Apply non-versioned settings (routes, crons, script settings) from the desired state.
    SyncSettings { worker: String, fields: Vec<String> },
}

impl Step {
    pub fn worker(&self) -> &str {
        match self {
            Step::ScriptUpload { worker, .. }
            | Step::UploadVersion { worker }
            | Step::Deploy { worker, .. }
            | Step::SyncSettings { worker, .. } => worker,
        }
    }
}

/// Which version a deploy step names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DeployTarget {
    /// The version created by the preceding `upload_version` step.
    Uploaded,
    Existing(VersionRef),
}

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Blocks the action.
    Error,
    /// Reported; does not block.
    Warning,
    /// For information.
    Note,
}

impl Severity {
    pub fn label(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }
}

/// One rule's verdict about one Worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Rule id, e.g. `FS002`.
    pub rule: String,
    pub severity: Severity,
    pub message: String,
    /// What to do about it, if something can be done.
    pub hint: Option<String>,
    /// The finding would block, but policy overrides it (it is then reported as a warning).
    pub overridden: bool,
}

impl Finding {
    pub fn new(rule: &str, severity: Severity, message: impl Into<String>) -> Self {
        Finding {
            rule: rule.to_owned(),
            severity,
            message: message.into(),
            hint: None,
            overridden: false,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn is_blocking(&self) -> bool {
        self.severity == Severity::Error && !self.overridden
    }
}

/// Process exit code for `flaresync plan`: 0 no changes, 1 changes, 2 blocked or broken.
///
/// A removed Worker counts as a change (Git and Cloudflare differ) even though flaresync will
/// not delete it.
pub fn exit_code(plan: &Plan) -> i32 {
    let blocked = plan
        .workers
        .iter()
        .any(|w| matches!(w.action, Action::Blocked { .. }));
    if blocked {
        return 2;
    }
    let changes = plan
        .workers
        .iter()
        .any(|w| !matches!(w.action, Action::InSync));
    i32::from(changes)
}
