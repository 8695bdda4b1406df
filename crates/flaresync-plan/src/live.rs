//! What Cloudflare currently runs: the live state the planner compares Git against.
//!
//! These are plain values. The Cloudflare client (or the emulator) fills them in; the planner never
//! fetches anything. Every field that a fetch can fail to provide is an `Option`, so "we do not
//! know" (`None`) is never confused with "there is nothing" (`Some(empty)`): an unknown resource
//! list means the resource-existence rule is skipped, not that every resource is missing.
//!
//! # Where each field comes from
//!
//! | Field | Cloudflare call |
//! |---|---|
//! | [`LiveWorker::exists`], [`LiveWorker::migration_tag`] | `GET /workers/services/{name}` (10007 = does not exist) |
//! | [`LiveWorker::deployments`], [`LiveWorker::active`] | `GET …/scripts/{s}/deployments` (newest first, `[0]` is active) |
//! | [`LiveWorker::versions`] | `GET …/scripts/{s}/versions?deployable=true` plus `GET …/versions/{id}` for bindings |
//! | [`LiveWorker::secrets`] | `GET …/scripts/{s}/secrets` (names only) |
//! | [`LiveWorker::routes`], [`LiveWorker::crons`] | script routes / `GET …/scripts/{s}/schedules` (not versioned) |
//! | [`LiveResources`] | KV, R2, D1 and Queues list endpoints (SPEC §8) |
//! | [`LiveAccount::scripts`] | `GET /workers/scripts` (names only) |

use std::collections::{BTreeMap, BTreeSet};

use flaresync_config::{Binding, QueueConsumer, Route};
use serde::{Deserialize, Serialize};

/// The live state of one Cloudflare account, as far as flaresync looked at it.
///
/// `LiveAccount::default()` is an *observed* empty account (no Workers exist, resources
/// unknown); use [`LiveAccount::unobserved`] when live state was not fetched at all.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveAccount {
    /// `false` when no live state was fetched at all (for example a PR preview run without
    /// `--live`). The planner then treats the base commit's desired state as what is deployed and
    /// says so in the plan, instead of planning a first deploy of every Worker.
    #[serde(default = "default_true")]
    pub observed: bool,
    /// Live Workers by script name. A Worker missing from this map is treated like
    /// `exists: false` when `observed` is true.
    #[serde(default)]
    pub workers: BTreeMap<String, LiveWorker>,
    #[serde(default)]
    pub resources: LiveResources,
    /// Names of *every* script in the account (`GET /workers/scripts`), including ones flaresync
    /// does not manage. `None` = not fetched, which disables the check for bindings to missing
    /// Workers (FS019).
    #[serde(default)]
    pub scripts: Option<BTreeSet<String>>,
}

fn default_true() -> bool {
    true
}

impl Default for LiveAccount {
    fn default() -> Self {
        LiveAccount {
            observed: true,
            workers: BTreeMap::new(),
            resources: LiveResources::default(),
            scripts: None,
        }
    }
}

impl LiveAccount {
    /// A live account that was not looked at (`observed: false`).
    pub fn unobserved() -> Self {
        LiveAccount {
            observed: false,
            workers: BTreeMap::new(),
            resources: LiveResources::default(),
            scripts: None,
        }
    }
}

/// One Worker (script) as Cloudflare reports it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LiveWorker {
    /// Script name.
    pub name: String,
    /// Whether the script exists at all. A Worker that does not exist must be created with a
    /// non-versioned script upload (`PUT …/scripts/{s}`): version uploads fail for it.
    pub exists: bool,
    /// The script's current Durable Object migration tag (`migration_tag` of the script).
    #[serde(default)]
    pub migration_tag: Option<String>,
    /// The deployment serving traffic (equal to `deployments[0]` when that list is complete).
    #[serde(default)]
    pub active: Option<LiveDeployment>,
    /// Deployments, newest first.
    #[serde(default)]
    pub deployments: Vec<LiveDeployment>,
    /// Deployable versions, newest first (`?deployable=true`): the window a deployment or a
    /// rollback may name. A version missing from here cannot be rolled back to.
    #[serde(default)]
    pub versions: Vec<LiveVersion>,
    /// Names of the secrets currently set on the script (values are never readable).
    #[serde(default)]
    pub secrets: Vec<String>,
    /// Routes and custom domains currently attached, if known: fetched, or left by
    /// flaresync's own last apply. Not versioned by Cloudflare.
    #[serde(default)]
    pub routes: Option<Vec<Route>>,
    /// Queue consumers of this Worker, if known (as `routes`). Not versioned by Cloudflare.
    #[serde(default)]
    pub queue_consumers: Option<Vec<QueueConsumer>>,
    /// Cron triggers currently set, if fetched. Not versioned by Cloudflare.
    #[serde(default)]
    pub crons: Option<Vec<String>>,
}

impl LiveWorker {
    /// A live record for a script that does not exist.
    pub fn missing(name: &str) -> Self {
        LiveWorker {
            name: name.to_owned(),
            ..LiveWorker::default()
        }
    }

    /// The version serving (all or most of) the traffic, with its share in percent.
    ///
    /// For a split deployment this is the version with the largest percentage (ties: the first
    /// listed). `None` when there is no active deployment.
    pub fn active_version_id(&self) -> Option<(&str, f64)> {
        let deployment = self.active.as_ref().or(self.deployments.first())?;
        let mut best: Option<&DeploymentVersion> = None;
        for entry in &deployment.versions {
            if best.is_none_or(|b| entry.percentage > b.percentage) {
                best = Some(entry);
            }
        }
        best.map(|b| (b.version_id.as_str(), b.percentage))
    }

    /// Whether the active deployment sends traffic to more than one version.
    pub fn is_split(&self) -> bool {
        self.active
            .as_ref()
            .or(self.deployments.first())
            .is_some_and(|d| d.versions.len() > 1)
    }

    /// Position of a version in the deployable list (0 = newest).
    pub fn version_position(&self, version_id: &str) -> Option<usize> {
        self.versions.iter().position(|v| v.id == version_id)
    }

    /// The live version record with this id, if it is in the deployable list.
    pub fn version(&self, version_id: &str) -> Option<&LiveVersion> {
        self.versions.iter().find(|v| v.id == version_id)
    }

    /// Whether version number `target` is known to be newer than the active version: moving
    /// there (a revert of a revert, healing a hand rollback) goes forward, not back.
    pub fn is_newer_than_active(&self, target: Option<u64>) -> bool {
        let active = self
            .active_version_id()
            .and_then(|(id, _)| self.version(id))
            .map(|version| version.number);
        matches!((target, active), (Some(target), Some(active)) if target > 0 && active > 0 && target > active)
    }
}

/// One Worker version (`GET …/versions/{id}`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LiveVersion {
    pub id: String,
    /// Cloudflare's sequential version number (starts at 1).
    #[serde(default)]
    pub number: u64,
    /// `metadata.created_on` (RFC 3339).
    #[serde(default)]
    pub created_on: String,
    /// `annotations["workers/tag"]`; flaresync writes the short commit here.
    #[serde(default)]
    pub tag: Option<String>,
    /// `annotations["workers/message"]`.
    #[serde(default)]
    pub message: Option<String>,
    /// `annotations["workers/triggered_by"]`: `upload`, `secret`, `rollback`, `promotion`, …
    #[serde(default)]
    pub triggered_by: Option<String>,
    /// `metadata.source`: `wrangler`, `api`, `dash`, …
    #[serde(default)]
    pub source: Option<String>,
    /// `resources.bindings`, in Cloudflare's wire shape (secrets without values).
    #[serde(default)]
    pub bindings: Vec<Binding>,
    #[serde(default)]
    pub compatibility_date: Option<String>,
    #[serde(default)]
    pub compatibility_flags: Vec<String>,
    /// `resources.script_runtime.migration_tag`: the DO migration tag recorded with this version.
    #[serde(default)]
    pub migration_tag: Option<String>,
    /// `resources.script_runtime.exports` as canonical JSON text, if any. Informational: its
    /// shape is the API's, not the config's, so the planner compares declared exports through
    /// [`crate::KnownVersion::exports`] instead.
    #[serde(default)]
    pub exports: Option<String>,
    /// `resources.script.etag`: Cloudflare's hash of the script content. Two versions with the
    /// same etag, bindings and compatibility settings run the same thing, which is how a
    /// version uploaded outside flaresync with Git's exact content is recognised (a human's
    /// `wrangler deploy` of the committed config). `None` when details were not read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

/// One deployment (`GET …/deployments`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LiveDeployment {
    pub id: String,
    #[serde(default)]
    pub created_on: String,
    #[serde(default)]
    pub source: Option<String>,
    /// `author_email`.
    #[serde(default)]
    pub author: Option<String>,
    /// `annotations["workers/message"]`.
    #[serde(default)]
    pub message: Option<String>,
    /// `annotations["workers/triggered_by"]` (`upload`, `rollback`, `secret`, `deployment`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub triggered_by: Option<String>,
    /// One or two versions with their traffic share.
    #[serde(default)]
    pub versions: Vec<DeploymentVersion>,
}

/// A version's share of a deployment's traffic.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeploymentVersion {
    pub version_id: String,
    /// 0.01..=100.
    pub percentage: f64,
}

/// Account resources that bindings refer to. `None` = not fetched (unknown), which disables the
/// checks that need it; `Some(empty)` = fetched and there are none.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LiveResources {
    /// KV namespace ids.
    #[serde(default)]
    pub kv: Option<BTreeSet<String>>,
    /// R2 buckets, per jurisdiction (buckets are namespaced by jurisdiction).
    #[serde(default)]
    pub r2: Option<BTreeSet<R2Bucket>>,
    /// D1 database ids (uuid).
    #[serde(default)]
    pub d1: Option<BTreeSet<String>>,
    /// Queue names (bindings refer to queues by name).
    #[serde(default)]
    pub queues: Option<BTreeSet<String>>,
}

/// An R2 bucket. `jurisdiction` is `None` for the default jurisdiction.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct R2Bucket {
    pub name: String,
    #[serde(default)]
    pub jurisdiction: Option<String>,
}
