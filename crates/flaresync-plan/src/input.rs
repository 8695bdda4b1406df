//! The other two planner inputs: the desired state at a commit (from Git) and the known version
//! history (which Cloudflare version was built from which commit), plus per-Worker policy.
//!
//! The git layer computes [`Desired`] and [`History`]; `flaresync.toml` gives [`Policies`]. The
//! planner only reads them.
//!
//! # Digests
//!
//! Two digests identify a Worker's desired content; the planner only compares them for equality.
//! They are normally [`WorkerSpec::digest`] and [`WorkerSpec::version_digest`] (flaresync-config).
//!
//! - `version_digest` covers what a Cloudflare *version* holds: modules, main module, bindings,
//!   compatibility date and flags, usage model, limits, placement. Two commits with the same
//!   `version_digest` can share one Cloudflare version, which is what turns a `git revert` into
//!   a rollback instead of an upload. Durable Object migrations are *not* part of it: the planner
//!   compares migration tags separately, so a revert that only drops a migration step is still
//!   caught (FS003).
//! - `digest` covers the whole spec, including what Cloudflare keeps outside versions (routes,
//!   crons, custom domains, logpush, observability, tail consumers, queue consumers,
//!   `workers_dev`, migrations). Equal `version_digest` but different `digest` means only
//!   non-versioned settings changed.

use std::collections::BTreeMap;

use flaresync_config::repo::DEFAULT_VERSION_WINDOW;
use flaresync_config::{Digest, MigrationStep, QueueConsumer, Route, WorkerSpec};
use serde::{Deserialize, Serialize};

/// The desired state of every Worker in the repository at one commit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Desired {
    /// Full commit id the state was read from.
    pub commit: String,
    /// By Cloudflare script name.
    #[serde(default)]
    pub workers: BTreeMap<String, DesiredEntry>,
}

/// One Worker's desired state: resolved, or the reason it could not be resolved.
///
/// A broken config never becomes a deploy: the planner reports it as blocked (rule FS011).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum DesiredEntry {
    Ok(Box<DesiredWorker>),
    Broken {
        /// Repo-relative config path, if known.
        #[serde(default)]
        config_path: Option<String>,
        /// The loader's error text (must not contain secret values).
        error: String,
    },
}

impl Desired {
    /// The resolved Worker named `name`, if its config loaded.
    pub fn worker(&self, name: &str) -> Option<&DesiredWorker> {
        self.workers.get(name).and_then(DesiredEntry::worker)
    }

    /// The desired `digest` of the Worker named `name`, if its config loaded.
    pub fn digest_of(&self, name: &str) -> Option<&Digest> {
        self.worker(name).map(|worker| &worker.digest)
    }
}

impl DesiredEntry {
    /// The resolved worker, if the config loaded.
    pub fn worker(&self) -> Option<&DesiredWorker> {
        match self {
            DesiredEntry::Ok(worker) => Some(worker.as_ref()),
            DesiredEntry::Broken { .. } => None,
        }
    }
}

/// A resolved Worker with its digests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DesiredWorker {
    pub spec: WorkerSpec,
    /// Digest of the whole spec (see the module docs).
    pub digest: Digest,
    /// Digest of the versioned part of the spec (see the module docs).
    pub version_digest: Digest,
    /// Extra ordering edges: script names this Worker must be deployed after. The planner also
    /// derives edges from bindings itself (see [`crate::order`]); list here only what it cannot
    /// see. Unknown names are ignored.
    #[serde(default)]
    pub dependencies: Vec<String>,
}

/// What flaresync knows about Cloudflare versions it created, per script name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    #[serde(default)]
    pub workers: BTreeMap<String, WorkerHistory>,
}

impl History {
    /// The history of one Worker (empty if unknown).
    pub fn worker(&self, name: &str) -> &WorkerHistory {
        static EMPTY: WorkerHistory = WorkerHistory {
            versions: Vec::new(),
            applied_digest: None,
        };
        self.workers.get(name).unwrap_or(&EMPTY)
    }
}

/// One Worker's version history.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkerHistory {
    /// Versions flaresync knows, any order (the planner prefers the newest live one).
    #[serde(default)]
    pub versions: Vec<KnownVersion>,
    /// `digest` of the desired state flaresync last applied completely (versioned and
    /// non-versioned parts). Lets the planner see a change of routes/crons/settings when the
    /// live values of those were not fetched.
    #[serde(default)]
    pub applied_digest: Option<Digest>,
}

impl WorkerHistory {
    /// The known record of a Cloudflare version id.
    pub fn version(&self, version_id: &str) -> Option<&KnownVersion> {
        self.versions.iter().find(|k| k.version_id == version_id)
    }
}

/// A Cloudflare version and the commit/desired state it was built from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KnownVersion {
    pub version_id: String,
    /// Commit the version was built from.
    pub commit: String,
    /// `digest` of the desired state at that commit.
    pub digest: Digest,
    /// `version_digest` of the desired state at that commit.
    pub version_digest: Digest,
    /// The effective `[[migrations]]` list at that commit, with full step contents. Used to
    /// notice applied steps edited in place later (DO-MIGRATIONS.md pattern 4).
    #[serde(default)]
    pub migrations: Vec<MigrationStep>,
    /// The declarative `exports` map at that commit (canonical JSON text), if any. Used to tell
    /// whether an `exports` change is pending (which needs a script upload).
    #[serde(default)]
    pub exports: Option<String>,
    /// A fingerprint of the secret *values* in effect when the version was created (for example
    /// an HMAC over name/value pairs, computed by whoever knows them). Two versions with
    /// different fingerprints have different secrets even if the names match.
    #[serde(default)]
    pub secrets_fingerprint: Option<String>,
    /// The routes and queue consumers Git declared at that commit, when known: what flaresync
    /// applied with this version, so a later commit that drops the last of them is seen to
    /// change them even when neither live values nor a base commit say so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declared: Option<DeclaredTriggers>,
}

/// Routes and queue consumers of one commit's desired state (not versioned by Cloudflare).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeclaredTriggers {
    #[serde(default)]
    pub routes: Vec<Route>,
    #[serde(default)]
    pub queue_consumers: Vec<QueueConsumer>,
}

impl DeclaredTriggers {
    /// What `spec` declares.
    pub fn of(spec: &WorkerSpec) -> Self {
        DeclaredTriggers {
            routes: spec.routes.clone(),
            queue_consumers: spec.queue_consumers.clone(),
        }
    }
}

/// What to do when Git asks for an older version that cannot legally be rolled back to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RollbackPolicy {
    /// Stop and report (the safe default).
    #[default]
    Refuse,
    /// Upload the reverted content as a new version and deploy it, when a forward deploy of it
    /// is legal.
    Redeploy,
}

/// Per-Worker policy from `flaresync.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Policy {
    pub rollback_policy: RollbackPolicy,
    /// Allow a rollback whose secrets differ from the live ones (deploys with `?force=true`).
    pub allow_secret_change_rollback: bool,
    /// Block rollbacks to versions that bind a D1 database (the 2023 docs forbid it).
    pub d1_blocks_rollback: bool,
    /// How many of the newest deployable versions may be rolled back to (default
    /// [`DEFAULT_VERSION_WINDOW`]: Cloudflare keeps 100).
    pub version_window: usize,
    /// Script names this Worker is deployed after.
    pub depends_on: Vec<String>,
    /// Rollout rank (`order` in `flaresync.toml`): a Worker is deployed after every Worker with
    /// a lower rank. Default 0 (no constraint among equal ranks).
    pub order: i64,
    /// The canary's shares of the Worker's progressive rollout (`None`: changes go out at
    /// 100%).
    pub rollout_steps: Option<Vec<u8>>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            rollback_policy: RollbackPolicy::Refuse,
            allow_secret_change_rollback: false,
            d1_blocks_rollback: true,
            // Lossless: usize is at least 32 bits on every target flaresync builds for.
            version_window: DEFAULT_VERSION_WINDOW as usize,
            depends_on: Vec::new(),
            order: 0,
            rollout_steps: None,
        }
    }
}

/// All policies: a default, per-Worker overrides and an explicit global order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Policies {
    pub default: Policy,
    /// Full per-Worker policies (not merged field by field with `default`).
    pub workers: BTreeMap<String, Policy>,
    /// Explicit deploy order as a list: each name is deployed after the one before it (an
    /// alternative to the per-Worker [`Policy::order`] rank).
    pub order: Vec<String>,
}

impl Policies {
    /// The policy that applies to a Worker.
    pub fn for_worker(&self, name: &str) -> &Policy {
        self.workers.get(name).unwrap_or(&self.default)
    }
}
