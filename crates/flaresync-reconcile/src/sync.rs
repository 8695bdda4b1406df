//! One reconcile pass: Git head -> live state -> plan -> apply -> verify -> journal -> status.
//!
//! # Expected flow
//!
//! 1. **Source.** Fetch the branch (remote) or re-read it (local) and compute the desired state
//!    at the head with the git layer's incremental cache (blocking work, off the async threads).
//! 2. **Recover.** Once per process: journal intents without an outcome (a crash between an
//!    API write and its outcome entry) are resolved against Cloudflare by version tag and the
//!    active deployment, and their outcome is recorded.
//! 3. **Live, in O(1) calls.** One `GET …/workers/scripts` per pass. Only Workers whose script
//!    fingerprint (etag, modified_on, migration_tag) or desired digest changed since the last
//!    pass are refreshed (deployments, deployable versions, secrets, the active and candidate
//!    versions in full); the others reuse the cached live state.
//! 4. **History.** Which version holds which commit is rebuilt from version tags and Git (never
//!    trusted from local state alone); what flaresync last applied comes from the journal.
//! 5. **Plan** with the pure planner, then per Worker: drift (policy `report` holds the Worker,
//!    `heal` lets the plan restore Git's version), health-check rejections, blocked findings.
//! 6. **Apply** the planner's steps in its order. Every write is preceded by a journal intent
//!    (`started`) and followed by its outcome; a deploy is verified by re-reading deployments.
//! 7. **Health check** after a Worker's deploy or rollback; on failure the previous version is
//!    deployed again and the commit is recorded as rejected until Git changes.
//! 8. **Summarize** (always): status conditions, metrics, the report.
//!
//! # Guarantees
//!
//! - No duplicate versions: uploads carry the head commit in `workers/tag`; a version already
//!   carrying the desired content is found through the history and deployed instead of
//!   uploaded again, and the client re-checks by tag before repeating an upload.
//! - Writes happen only for Workers whose plan action mutates something.
//! - A dry run performs no write, journal entry included.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{Arc, Mutex, RwLock},
    time::Duration,
};

use flaresync_cloudflare::{Client, NewDeployment, Script, ScriptSettingsPatch, Version};
use flaresync_config::{
    MigrationStep, MigrationsUpload, RepoConfig, UploadKind, UploadOptions, WorkerPolicy,
    WorkerSpec,
};
use flaresync_git::{DesiredState, DesiredStateCache, GitSource, HeadUpdateKind};
use flaresync_journal::{Action as JournalAction, Entry, Journal, Outcome, Trigger};
use flaresync_plan::{
    Action as PlanAction, DeployTarget, Desired, History, KnownVersion, LiveAccount, LiveResources,
    LiveWorker, Plan, Step, WorkerHistory,
};
use serde::Serialize;
use tokio::time::Instant;
use tracing::{debug, error, info, warn};

use crate::{
    convert::{self, ScriptFingerprint},
    drift::{self, DriftPolicy},
    error::Error,
    health::{self, HealthOutcome},
    metrics::{ApiSnapshot, Metrics, ResultLabel},
    policy::Class,
    runner::{PassOutcome, Reconciler, Scope},
    server::ApiSnapshotFn,
    status::{
        ConditionType, DriftStatus, HealthStatus, HistoryEntry, LastResult, StatusBoard,
        now_rfc3339,
    },
    trigger::TriggerSource,
};

/// Journal action name of a health-check rejection.
const HEALTH_REJECTED: &str = "health_check_failed";

/// Options of one pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncOptions {
    /// Plan only: no Cloudflare write and no journal entry.
    pub dry_run: bool,
    /// Why the pass runs (journal and logs only).
    pub trigger: TriggerSource,
}

/// Tunables of a [`Context`].
#[derive(Debug, Clone)]
pub struct ContextOptions {
    /// Refresh every Worker's live state at least this often, even when the scripts listing
    /// shows no change (insurance against changes the listing does not reflect). `None`: never.
    pub full_refresh_every: Option<Duration>,
    /// HTTP client for health checks.
    pub health_http: reqwest::Client,
    /// Attempts and pause of each health check.
    pub health_attempts: u32,
    pub health_interval: Duration,
}

impl Default for ContextOptions {
    fn default() -> Self {
        ContextOptions {
            full_refresh_every: Some(Duration::from_secs(600)),
            health_http: reqwest::Client::new(),
            health_attempts: 3,
            health_interval: Duration::from_secs(2),
        }
    }
}

/// The git side, used only inside blocking tasks.
struct GitState {
    source: GitSource,
    cache: DesiredStateCache,
}

/// Per-Worker memory between passes.
#[derive(Debug, Clone)]
struct CachedWorker {
    fingerprint: Option<ScriptFingerprint>,
    desired_digest: Option<String>,
    live: LiveWorker,
    known: Vec<KnownVersion>,
    /// version id -> commit, for every mapped version.
    commits: BTreeMap<String, String>,
}

/// What the journal says about a Worker, loaded once and then kept current in memory.
#[derive(Debug, Clone, Default)]
struct Applied {
    /// `digest` of the last successful deploy / rollback / settings update.
    digest: Option<String>,
    /// Version of the last successful deploy / rollback.
    version: Option<String>,
    /// Digest rejected by a failed health check, while no later apply succeeded.
    rejected: Option<(String, String)>,
}

#[derive(Default)]
struct Memory {
    workers: BTreeMap<String, CachedWorker>,
    applied: BTreeMap<String, Applied>,
    /// Worker directory -> script name, so a broken config keeps its Worker's name.
    dir_names: BTreeMap<String, String>,
    /// Worker -> commit for which a `blocked` entry was journaled (no repeats per pass).
    blocked_recorded: BTreeMap<String, String>,
    /// Worker -> active versions for which a `drift` entry was journaled.
    drift_recorded: BTreeMap<String, Vec<String>>,
    last_full_refresh: Option<Instant>,
    intents_recovered: bool,
}

/// Everything a pass needs. Create it once; share it (`Arc`) between the loop and the CLI.
pub struct Context {
    git: Arc<Mutex<GitState>>,
    branch: String,
    client: Client,
    journal: Arc<Journal>,
    repo_config: RwLock<Arc<RepoConfig>>,
    status: Arc<StatusBoard>,
    metrics: Arc<Metrics>,
    options: ContextOptions,
    /// Held for the whole pass: at most one pass at a time per context.
    memory: tokio::sync::Mutex<Memory>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("branch", &self.branch)
            .field("journal", &self.journal)
            .finish_non_exhaustive()
    }
}

impl Context {
    /// A context over `source` (already opened; it is fetched at every pass), talking to
    /// Cloudflare through `client`, journaling to the SQLite file at `journal_path` (created if
    /// missing).
    ///
    /// `repo_config` is the `flaresync.toml` the caller validated; each pass re-reads it at the
    /// head commit (policies are versioned with the code), and [`Context::repo_config`] returns
    /// the one in effect.
    ///
    /// # Errors
    ///
    /// [`Error::Journal`] when the journal cannot be opened.
    pub fn new(
        source: GitSource,
        client: Client,
        journal_path: impl AsRef<std::path::Path>,
        repo_config: RepoConfig,
    ) -> Result<Self, Error> {
        Self::with_options(
            source,
            client,
            journal_path,
            repo_config,
            ContextOptions::default(),
        )
    }

    /// [`Context::new`] with explicit [`ContextOptions`].
    pub fn with_options(
        source: GitSource,
        client: Client,
        journal_path: impl AsRef<std::path::Path>,
        repo_config: RepoConfig,
        options: ContextOptions,
    ) -> Result<Self, Error> {
        let journal = Journal::open(journal_path)?;
        let branch = source.branch().to_owned();
        Ok(Context {
            git: Arc::new(Mutex::new(GitState {
                source,
                cache: DesiredStateCache::new(),
            })),
            branch,
            client,
            journal: Arc::new(journal),
            repo_config: RwLock::new(Arc::new(repo_config)),
            status: Arc::new(StatusBoard::new()),
            metrics: Arc::new(Metrics::new()),
            options,
            memory: tokio::sync::Mutex::new(Memory::default()),
        })
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    pub fn status_board(&self) -> Arc<StatusBoard> {
        self.status.clone()
    }

    pub fn metrics_registry(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    pub fn branch(&self) -> &str {
        &self.branch
    }

    /// The `flaresync.toml` in effect (from the last head read).
    pub fn repo_config(&self) -> Arc<RepoConfig> {
        self.repo_config
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// API figures for `/metrics`.
    pub fn api_snapshot(&self) -> ApiSnapshot {
        let metrics = self.client.metrics();
        ApiSnapshot {
            requests: metrics
                .requests_total
                .iter()
                .map(|((method, class), count)| ((method.clone(), (*class).to_owned()), *count))
                .collect(),
            budget_available: Some(f64::from(metrics.budget_available)),
        }
    }
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
    #[serde(skip)]
    class: Option<Class>,
    /// The Worker that held this one back in this pass (see [`PassOutcome::deferred`]).
    #[serde(skip)]
    deferred_by: Option<String>,
}

impl WorkerReport {
    fn new(worker: &str, action: &str) -> Self {
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
            class: None,
            deferred_by: None,
        }
    }

    fn fail(&mut self, error: &Error) {
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

/// Runs one reconcile pass over every Worker.
///
/// # Errors
///
/// Pass-level failures only: the repository or the scripts listing could not be read, or the
/// journal failed. Per-Worker failures are in [`SyncReport::workers`].
pub async fn sync_once(ctx: &Context, opts: SyncOptions) -> Result<SyncReport, Error> {
    sync_scoped(ctx, opts, &Scope::All).await
}

/// [`sync_once`] limited to `scope` (live state of the others is still read for planning).
pub async fn sync_scoped(
    ctx: &Context,
    opts: SyncOptions,
    scope: &Scope,
) -> Result<SyncReport, Error> {
    let mut memory = ctx.memory.lock().await;
    let started = Instant::now();
    let requests_before = ctx.client.metrics().requests_sum();
    let span = tracing::info_span!("reconcile", trigger = %opts.trigger, dry_run = opts.dry_run);
    let result = tracing::Instrument::instrument(pass(ctx, &mut memory, opts, scope), span).await;
    ctx.metrics.observe_duration(started.elapsed());
    match result {
        Ok(mut report) => {
            report.api_requests = ctx
                .client
                .metrics()
                .requests_sum()
                .saturating_sub(requests_before);
            let eventful = report.head != "unchanged"
                || report
                    .workers
                    .iter()
                    .any(|w| !matches!(w.outcome, WorkerOutcome::InSync));
            if eventful {
                info!(
                    commit = %short(&report.commit),
                    workers = report.workers.len(),
                    api_requests = report.api_requests,
                    dry_run = opts.dry_run,
                    "Reconcile pass done."
                );
            } else {
                debug!(
                    commit = %short(&report.commit),
                    workers = report.workers.len(),
                    api_requests = report.api_requests,
                    "Reconcile pass done; everything in sync."
                );
            }
            Ok(report)
        }
        Err(error) => {
            ctx.metrics.record_error(error.reason());
            ctx.status.record_pass_error(
                error.reason().as_str(),
                &error.to_string(),
                &now_rfc3339(),
            );
            error!(error = %error, reason = %error.reason(), "Reconcile pass failed.");
            Err(error)
        }
    }
}

fn short(commit: &str) -> &str {
    commit.get(..7).unwrap_or(commit)
}

/// Output of the git phase.
struct SourceRead {
    head: HeadUpdateKind,
    /// Full id of the head commit.
    head_commit: String,
    state: DesiredState,
    /// Broken Worker directory -> the script name it had at the nearest ancestor where it
    /// loaded (so a broken config keeps its Worker's identity in a fresh process too).
    last_good_names: BTreeMap<String, String>,
    tag: String,
    message: String,
}

/// How far back a broken Worker's last good name is looked for.
pub const LAST_GOOD_NAME_DEPTH: usize = 200;

async fn read_source(git: Arc<Mutex<GitState>>) -> Result<SourceRead, Error> {
    tokio::task::spawn_blocking(move || {
        let mut guard = git.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let GitState { source, cache } = &mut *guard;
        let update = source.fetch()?;
        let state = cache.desired_state(source.repo(), update.new)?;
        let last_good_names = if state.errors().is_empty() {
            BTreeMap::new()
        } else {
            cache
                .last_good_names(source.repo(), update.new, LAST_GOOD_NAME_DEPTH)
                .unwrap_or_default()
        };
        let tag = source.version_tag(update.new, flaresync_git::stamp::TAG_LIMIT)?;
        let message = source.version_message(update.new, flaresync_git::stamp::MESSAGE_LIMIT)?;
        Ok(SourceRead {
            head: update.kind,
            head_commit: update.new.to_string(),
            state,
            last_good_names,
            tag,
            message,
        })
    })
    .await
    .map_err(|error| Error::Task(error.to_string()))?
}

/// `(version id, workers/tag)` as listed.
type ListedVersion = (String, Option<String>);

/// Versions of one Worker mapped to commits (git side of the history).
struct MappedWorker {
    known: Vec<KnownVersion>,
    commits: BTreeMap<String, String>,
}

async fn map_versions(
    git: Arc<Mutex<GitState>>,
    requests: Vec<(String, Vec<ListedVersion>)>,
) -> Result<BTreeMap<String, MappedWorker>, Error> {
    tokio::task::spawn_blocking(move || {
        let mut guard = git.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let GitState { source, cache } = &mut *guard;
        let mut out = BTreeMap::new();
        for (worker, versions) in requests {
            let known = known_versions(source.repo(), cache, &worker, &versions)?;
            let commits = known
                .iter()
                .map(|version| (version.version_id.clone(), version.commit.clone()))
                .collect();
            out.insert(worker, MappedWorker { known, commits });
        }
        Ok(out)
    })
    .await
    .map_err(|error| Error::Task(error.to_string()))?
}

/// Cloudflare versions of `worker` (id, `workers/tag`) mapped to the commits they were built
/// from, with the digests, migrations and exports of the desired state at each commit. Versions
/// whose tag names no commit of the repository are left out (they were uploaded elsewhere).
///
/// # Errors
///
/// Reading a commit's desired state failed.
pub fn known_versions(
    repo: &flaresync_git::Repository,
    cache: &mut flaresync_git::DesiredStateCache,
    worker: &str,
    versions: &[(String, Option<String>)],
) -> Result<Vec<KnownVersion>, flaresync_git::DesiredError> {
    let mapping = flaresync_git::rebuild_mapping(repo, cache, worker, versions)?;
    let mut known = Vec::new();
    for version in mapping.known {
        let (migrations, exports): (Vec<MigrationStep>, Option<String>) = cache
            .desired_state(repo, version.commit)
            .ok()
            .and_then(|state| {
                state
                    .worker(worker)
                    .map(|w| (w.spec.migrations.clone(), w.spec.exports.clone()))
            })
            .unwrap_or_default();
        known.push(KnownVersion {
            version_id: version.version_id,
            commit: version.commit.to_string(),
            digest: version.digest,
            version_digest: version.version_digest,
            migrations,
            exports,
            secrets_fingerprint: None,
        });
    }
    Ok(known)
}

/// `(id, commit tag)` of each listed version, in list order: the input of [`known_versions`].
/// Use it rather than the raw `workers/tag` annotations (`plan --live` and the loop must agree).
///
/// A secret change (`wrangler secret put`, the dashboard) makes Cloudflare copy the latest
/// version, which must be fully deployed, with only the secret changed, and deploy the copy
/// (`workers/triggered_by = "secret"`, no `workers/tag`). Such a copy holds the same code and
/// bindings as the version numbered just before it, so it carries that version's tag: flaresync
/// sees the content Git deployed (in sync, a rollback candidate) rather than an unmanaged
/// version to replace, which would silently drop the new secret.
pub fn version_tags(
    versions: &[flaresync_cloudflare::VersionSummary],
) -> Vec<(String, Option<String>)> {
    let mut by_number: Vec<(u64, &flaresync_cloudflare::VersionSummary)> = versions
        .iter()
        .filter_map(|v| v.number.map(|n| (n, v)))
        .collect();
    by_number.sort_by_key(|(number, _)| *number);
    let mut inherited: BTreeMap<&str, String> = BTreeMap::new();
    let mut previous: Option<(u64, Option<String>)> = None;
    for (number, version) in by_number {
        let own = version.tag().map(str::to_owned);
        let is_secret_copy =
            own.is_none() && version.annotations.triggered_by.as_deref() == Some("secret");
        let effective = match (&previous, is_secret_copy) {
            (Some((before, Some(tag))), true) if before + 1 == number => {
                inherited.insert(version.id.as_str(), tag.clone());
                Some(tag.clone())
            }
            _ => own,
        };
        previous = Some((number, effective));
    }
    versions
        .iter()
        .map(|v| {
            let tag = v
                .tag()
                .map(str::to_owned)
                .or_else(|| inherited.get(v.id.as_str()).cloned());
            (v.id.clone(), tag)
        })
        .collect()
}

/// Versions flaresync built (journal: successful uploads and deploys, with their commit) that
/// Cloudflare no longer lists as deployable, as `(id, commit)`.
///
/// They can never be deployed again, but knowing them lets the planner tell a revert to old
/// content (refused with FS001, or redeployed under `rollback_policy = "redeploy"`) from a new
/// change; without them such a revert would silently become an upload. Only used to refuse or
/// explain, never to deploy, so local state is enough here.
///
/// Append the result to [`version_tags`] before [`known_versions`] (as `plan --live` should).
///
/// # Errors
///
/// The journal could not be read.
pub fn beyond_window(
    journal: &Journal,
    worker: &str,
    listed: &[flaresync_cloudflare::VersionSummary],
) -> Result<Vec<(String, Option<String>)>, Error> {
    let listed: BTreeSet<&str> = listed.iter().map(|v| v.id.as_str()).collect();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut out = Vec::new();
    for recorded in journal.history(worker)? {
        let entry = recorded.entry;
        // A rollback entry's commit is the head, not the commit the version was built from.
        if entry.outcome != Outcome::Success
            || !matches!(entry.action, JournalAction::Upload | JournalAction::Deploy)
        {
            continue;
        }
        let (Some(version), Some(commit)) = (entry.version_id, entry.commit) else {
            continue;
        };
        if listed.contains(version.as_str()) || !seen.insert(version.clone()) {
            continue;
        }
        out.push((version, Some(commit)));
    }
    Ok(out)
}

/// Reads one Worker's live state in full (deployments, deployable versions, secrets).
struct FetchedLists {
    deployments: Vec<flaresync_cloudflare::Deployment>,
    versions: Vec<flaresync_cloudflare::VersionSummary>,
    secrets: Vec<String>,
}

async fn fetch_lists(client: &Client, worker: &str) -> Result<FetchedLists, Error> {
    let deployments = client
        .list_deployments(worker)
        .await
        .map_err(|e| Error::api(format!("listing deployments of {worker}"), e))?;
    let versions = client
        .list_deployable_versions(worker)
        .await
        .map_err(|e| Error::api(format!("listing versions of {worker}"), e))?;
    let secrets = client
        .list_secrets(worker)
        .await
        .map_err(|e| Error::api(format!("listing secrets of {worker}"), e))?
        .into_iter()
        .map(|secret| secret.name)
        .collect();
    Ok(FetchedLists {
        deployments,
        versions,
        secrets,
    })
}

/// `v1 (commit abc1234), v2 (commit unknown)`: versions in Git terms.
fn describe_versions(versions: &[String], cached: Option<&CachedWorker>) -> String {
    versions
        .iter()
        .map(|id| match cached.and_then(|c| c.commits.get(id)) {
            Some(commit) => format!("{id} (commit {})", short(commit)),
            None => format!("{id} (commit unknown)"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The desired `digest` of a Worker, if its config resolved.
fn digest_of(desired: &Desired, name: &str) -> Option<String> {
    desired
        .workers
        .get(name)
        .and_then(|entry| entry.worker())
        .map(|worker| worker.digest.clone())
}

fn policy_of<'a>(state: &'a DesiredState, worker: &str) -> Option<&'a WorkerPolicy> {
    state.worker(worker).map(|loaded| &loaded.policy)
}

fn load_applied(journal: &Journal, worker: &str) -> Result<Applied, Error> {
    let mut applied = Applied::default();
    let history = journal.history(worker)?;
    let mut rejection_settled = false;
    for recorded in history.iter().rev() {
        let entry = &recorded.entry;
        let success = entry.outcome == Outcome::Success;
        match &entry.action {
            JournalAction::Other(name) if name == HEALTH_REJECTED && !rejection_settled => {
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

/// Brings the cached live state of `names` up to date: Workers whose script fingerprint or
/// desired digest changed (or all, when a full refresh is due) are read again. Returns the
/// Workers that could not be read, and whether anything was read at all.
async fn refresh_live(
    ctx: &Context,
    memory: &mut Memory,
    names: &BTreeSet<String>,
    scripts: &BTreeMap<String, Script>,
    desired: &Desired,
) -> Result<(BTreeMap<String, Error>, bool), Error> {
    let now = Instant::now();
    let full_refresh = match (ctx.options.full_refresh_every, memory.last_full_refresh) {
        (Some(every), Some(last)) => now.saturating_duration_since(last) >= every,
        (Some(_), None) => true,
        (None, _) => false,
    };
    if full_refresh {
        memory.last_full_refresh = Some(now);
    }

    let mut to_refresh: Vec<String> = Vec::new();
    for name in names {
        let fingerprint = scripts.get(name).map(ScriptFingerprint::of);
        let digest = digest_of(desired, name);
        let fresh = memory.workers.get(name).is_some_and(|cached| {
            cached.fingerprint == fingerprint && cached.desired_digest == digest
        });
        if fresh && !full_refresh {
            continue;
        }
        match scripts.get(name) {
            None => {
                memory.workers.insert(
                    name.clone(),
                    CachedWorker {
                        fingerprint: None,
                        desired_digest: digest,
                        live: LiveWorker::missing(name),
                        known: Vec::new(),
                        commits: BTreeMap::new(),
                    },
                );
            }
            Some(_) => to_refresh.push(name.clone()),
        }
    }

    // Refresh changed Workers: lists, then the git mapping, then full versions where needed.
    let mut lists: BTreeMap<String, FetchedLists> = BTreeMap::new();
    let mut refresh_errors: BTreeMap<String, Error> = BTreeMap::new();
    for name in &to_refresh {
        match fetch_lists(&ctx.client, name).await {
            Ok(fetched) => {
                lists.insert(name.clone(), fetched);
            }
            Err(error) => {
                warn!(worker = %name, error = %error, "Cannot read live state.");
                memory.workers.remove(name);
                refresh_errors.insert(name.clone(), error);
            }
        }
    }
    let mut requests = Vec::new();
    for (name, fetched) in &lists {
        let mut tags = version_tags(&fetched.versions);
        tags.extend(beyond_window(&ctx.journal, name, &fetched.versions)?);
        requests.push((name.clone(), tags));
    }
    let mapped = map_versions(ctx.git.clone(), requests).await?;
    for (name, fetched) in lists {
        let wanted_version_digest = desired
            .workers
            .get(&name)
            .and_then(|entry| entry.worker())
            .map(|worker| worker.version_digest.clone());
        let detail_ids = convert::detail_ids(
            &fetched.deployments,
            &fetched.versions,
            mapped.get(&name).map_or(&[][..], |m| &m.known),
            wanted_version_digest.as_deref(),
        );
        let mut details: BTreeMap<String, Version> = BTreeMap::new();
        let mut failed = None;
        for id in detail_ids {
            // Only versions still listed (deployable) can matter; the active one always does.
            match ctx.client.get_version(&name, &id).await {
                Ok(version) => {
                    details.insert(id, version);
                }
                Err(error) if error.is_not_found() => {}
                Err(error) => {
                    failed = Some(Error::api(format!("reading version {id} of {name}"), error));
                    break;
                }
            }
        }
        if let Some(error) = failed {
            memory.workers.remove(&name);
            refresh_errors.insert(name.clone(), error);
            continue;
        }
        let live = convert::live_worker(
            &name,
            scripts.get(&name).and_then(|s| s.migration_tag.clone()),
            &fetched.deployments,
            &fetched.versions,
            &details,
            fetched.secrets,
        );
        let (known, commits) = match mapped.get(&name) {
            Some(mapping) => (mapping.known.clone(), mapping.commits.clone()),
            None => (Vec::new(), BTreeMap::new()),
        };
        memory.workers.insert(
            name.clone(),
            CachedWorker {
                fingerprint: scripts.get(&name).map(ScriptFingerprint::of),
                desired_digest: digest_of(desired, &name),
                live,
                known,
                commits,
            },
        );
    }

    Ok((refresh_errors, !to_refresh.is_empty()))
}

/// Per-Worker decisions between planning and applying: scope, drift and its policy, health
/// rejections, blocked findings, Workers whose live state could not be read. Returns the
/// reports and the Workers whose steps must not run.
#[allow(clippy::too_many_arguments)]
fn decide(
    ctx: &Context,
    memory: &mut Memory,
    plan: &Plan,
    source: &SourceRead,
    desired: &Desired,
    opts: SyncOptions,
    scope: &Scope,
    trigger: &Trigger,
    mut refresh_errors: BTreeMap<String, Error>,
    mut recovered_notes: BTreeMap<String, Vec<String>>,
) -> Result<(BTreeMap<String, WorkerReport>, BTreeSet<String>), Error> {
    let head = source.head_commit.as_str();
    let mut reports: BTreeMap<String, WorkerReport> = BTreeMap::new();
    let mut hold: BTreeSet<String> = BTreeSet::new();
    for worker_plan in &plan.workers {
        let name = &worker_plan.name;
        let mut report = WorkerReport::new(name, worker_plan.action.label());
        report.desired_commit = Some(head.to_owned());
        if let Some(notes) = recovered_notes.remove(name) {
            report.notes.extend(notes);
        }
        let cached = memory.workers.get(name);
        let active_ids = cached
            .and_then(|c| c.live.active.as_ref())
            .map(convert::deployment_version_ids)
            .unwrap_or_default();
        report.live_version = active_ids.first().cloned();
        report.live_commit = report
            .live_version
            .as_ref()
            .and_then(|id| cached.and_then(|c| c.commits.get(id).cloned()));

        if !scope.includes(name) {
            report.outcome = WorkerOutcome::Skipped;
            hold.insert(name.clone());
            reports.insert(name.clone(), report);
            continue;
        }

        // Drift: the active deployment is not what flaresync last applied.
        let applied = memory.applied.get(name).cloned().unwrap_or_default();
        let policy = policy_of(&source.state, name);
        let drift_policy = policy.map(convert::drift_policy).unwrap_or_default();
        // Live differs from Git only when the plan wants to change traffic; a manual change
        // that already matches Git (say, a hand rollback later committed as a revert) is not
        // drift.
        let changes_traffic = matches!(
            worker_plan.action,
            PlanAction::DeployForward { .. } | PlanAction::Rollback { .. }
        );
        let detected = if changes_traffic {
            drift::detect(
                applied.version.as_ref().map(std::slice::from_ref),
                &active_ids,
            )
            // A version of the same commit (a secret change copies the active version) serves
            // what flaresync applied: not drift.
            .filter(|found| {
                let commits = |ids: &[String]| -> Option<BTreeSet<String>> {
                    ids.iter()
                        .map(|id| cached.and_then(|c| c.commits.get(id).cloned()))
                        .collect()
                };
                commits(&found.expected).is_none()
                    || commits(&found.expected) != commits(&found.actual)
            })
        } else {
            None
        };
        if let Some(found) = detected {
            let desired_changed = applied.digest.as_deref() != digest_of(desired, name).as_deref();
            let held = drift_policy == DriftPolicy::Report && !desired_changed;
            let actual_commits = found
                .actual
                .iter()
                .map(|id| cached.and_then(|c| c.commits.get(id).cloned()))
                .collect();
            report.drift = Some(DriftStatus {
                expected_versions: found.expected.clone(),
                actual_versions: found.actual.clone(),
                actual_commits,
                policy: drift_policy.as_str().to_owned(),
                healed: false,
            });
            let new_drift = memory.drift_recorded.get(name) != Some(&found.actual);
            if new_drift {
                warn!(
                    worker = %name,
                    expected = ?found.expected,
                    actual = ?found.actual,
                    policy = drift_policy.as_str(),
                    "Drift: the active deployment was changed outside flaresync."
                );
            } else {
                debug!(worker = %name, actual = ?found.actual, "Drift persists.");
            }
            if !opts.dry_run && new_drift {
                let entry = Entry::new(
                    name,
                    JournalAction::Drift,
                    Outcome::Skipped,
                    trigger.clone(),
                )
                .commit(head)
                .message(format!(
                    "active deployment serves {} but flaresync last applied {}; policy {}",
                    describe_versions(&found.actual, cached),
                    describe_versions(&found.expected, cached),
                    drift_policy.as_str()
                ));
                ctx.journal.record(&entry)?;
                memory
                    .drift_recorded
                    .insert(name.clone(), found.actual.clone());
            }
            if held && worker_plan.action.mutates() {
                report.outcome = WorkerOutcome::HeldForDrift;
                hold.insert(name.clone());
            }
        } else {
            memory.drift_recorded.remove(name);
        }

        // A commit whose content failed its health check stays rejected until Git changes.
        if let (Some((digest, commit)), Some(current)) =
            (&applied.rejected, digest_of(desired, name))
            && *digest == current
            && worker_plan.action.mutates()
        {
            let error = Error::HealthCheckFailed {
                worker: name.clone(),
                commit: commit.clone(),
                message: "this content failed its health check before; push a new commit".into(),
            };
            report.fail(&error);
            report.outcome = WorkerOutcome::Blocked;
            hold.insert(name.clone());
        }

        if let Some(error) = refresh_errors.remove(name) {
            report.fail(&error);
            hold.insert(name.clone());
        }

        match &worker_plan.action {
            PlanAction::Blocked { .. } => {
                let findings = worker_plan
                    .findings
                    .iter()
                    .filter(|f| f.is_blocking())
                    .map(|f| match &f.hint {
                        // The fix belongs with the reason: a blocked Worker needs a human.
                        Some(hint) => format!("{}: {} (to fix: {hint})", f.rule, f.message),
                        None => format!("{}: {}", f.rule, f.message),
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                // The plan's reason says what was attempted (rollback, redeploy, deploy); the
                // findings say why each is refused and how to fix it.
                let findings = if findings.is_empty() {
                    worker_plan.reason.clone()
                } else {
                    format!("{}: {findings}", worker_plan.reason)
                };
                let broken = matches!(
                    desired.workers.get(name),
                    Some(flaresync_plan::DesiredEntry::Broken { .. })
                );
                let error = if broken {
                    Error::ConfigInvalid {
                        worker: name.clone(),
                        message: findings,
                    }
                } else {
                    Error::Blocked {
                        worker: name.clone(),
                        findings,
                    }
                };
                report.fail(&error);
                report.outcome = WorkerOutcome::Blocked;
                if !opts.dry_run
                    && memory.blocked_recorded.get(name).map(String::as_str) != Some(head)
                {
                    error!(
                        worker = %name,
                        commit = %short(head),
                        reason = %error.reason(),
                        error = %error,
                        "Blocked; a commit is needed."
                    );
                    let entry = Entry::new(
                        name,
                        JournalAction::Blocked,
                        Outcome::Skipped,
                        trigger.clone(),
                    )
                    .commit(head)
                    .message(error.to_string());
                    ctx.journal.record(&entry)?;
                    memory
                        .blocked_recorded
                        .insert(name.clone(), head.to_owned());
                }
            }
            PlanAction::Removed => report.outcome = WorkerOutcome::Removed,
            action if action.mutates() && report.outcome == WorkerOutcome::InSync => {
                report.outcome = if opts.dry_run {
                    WorkerOutcome::Planned
                } else {
                    // Set when the steps succeed.
                    WorkerOutcome::Skipped
                };
            }
            _ => {}
        }
        reports.insert(name.clone(), report);
    }
    // Workers that failed to refresh have no plan entry.
    for (name, error) in refresh_errors {
        let mut report = WorkerReport::new(&name, "unknown");
        report.desired_commit = Some(head.to_owned());
        report.fail(&error);
        hold.insert(name.clone());
        reports.insert(name, report);
    }

    Ok((reports, hold))
}

async fn pass(
    ctx: &Context,
    memory: &mut Memory,
    opts: SyncOptions,
    scope: &Scope,
) -> Result<SyncReport, Error> {
    let trigger = Trigger::new(opts.trigger.journal_kind(), None);

    // 1. Source.
    let source = read_source(ctx.git.clone()).await?;
    let head = source.state.commit.to_string();
    {
        let mut config = ctx
            .repo_config
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *config = source.state.repo_config.clone();
    }
    for (dir, result) in &source.state.workers {
        if let Ok(loaded) = result.as_ref() {
            memory
                .dir_names
                .insert(dir.clone(), loaded.spec.name.clone());
        }
    }
    for (dir, name) in &source.last_good_names {
        memory
            .dir_names
            .entry(dir.clone())
            .or_insert_with(|| name.clone());
    }
    let mut desired = convert::desired(&source.state, &memory.dir_names);
    convert::restrict_to_account(&mut desired, &source.state, ctx.client.account_id());
    let policies = convert::policies(&source.state);
    debug!(commit = %short(&head), workers = desired.workers.len(), head = ?source.head, "Desired state read.");

    // 2. Recover intents of an earlier, interrupted run.
    let mut recovered_notes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if !opts.dry_run && !memory.intents_recovered {
        recover_intents(ctx, &mut recovered_notes).await?;
        memory.intents_recovered = true;
        // Journal state changed: reload lazily.
        memory.applied.clear();
    }

    // 3. Live state, one listing call.
    let scripts: BTreeMap<String, Script> = ctx
        .client
        .list_scripts()
        .await
        .map_err(|e| Error::api("listing worker scripts", e))?
        .into_iter()
        .map(|script| (script.id.clone(), script))
        .collect();

    let mut names: BTreeSet<String> = desired.workers.keys().cloned().collect();
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

    let (refresh_errors, refreshed_any) =
        refresh_live(ctx, memory, &names, &scripts, &desired).await?;

    // Resources: only when something changed, or (below) when the plan is not idle: they
    // matter only to Workers whose version changes or is blocked.
    let resources = if !refreshed_any {
        LiveResources::default()
    } else {
        fetch_resources(&ctx.client, &desired).await
    };

    // 4. Live account and history for the planner.
    let mut live = LiveAccount {
        observed: true,
        workers: BTreeMap::new(),
        resources,
        scripts: Some(scripts.keys().cloned().collect()),
    };
    let mut history = History::default();
    for name in &names {
        if let Some(cached) = memory.workers.get(name) {
            live.workers.insert(name.clone(), cached.live.clone());
            history.workers.insert(
                name.clone(),
                WorkerHistory {
                    versions: cached.known.clone(),
                    applied_digest: memory.applied.get(name).and_then(|a| a.digest.clone()),
                },
            );
        }
    }
    // Workers whose live state could not be read must not be planned as missing: drop them
    // from the desired state for this pass (they are reported as failed below).
    let mut planned_desired: Desired = desired.clone();
    for name in refresh_errors.keys() {
        planned_desired.workers.remove(name);
    }

    // 5. Plan.
    let mut plan = flaresync_plan::plan(&planned_desired, None, &live, &history, &policies);
    if !refreshed_any && plan_needs_resources(&plan) {
        // Nothing changed since the last pass but a Worker still wants to change (or is
        // blocked): unknown resources would skip FS004 and let a rollback to a version bound to
        // a deleted resource through. Plan again with them.
        live.resources = fetch_resources(&ctx.client, &desired).await;
        plan = flaresync_plan::plan(&planned_desired, None, &live, &history, &policies);
    }

    // 6. Per-Worker decisions before applying.
    let (mut reports, hold) = decide(
        ctx,
        memory,
        &plan,
        &source,
        &desired,
        opts,
        scope,
        &trigger,
        refresh_errors,
        recovered_notes,
    )?;

    // 7. Apply, in the planner's order.
    if !opts.dry_run {
        apply(
            ctx,
            memory,
            &plan,
            &source,
            &desired,
            &trigger,
            &hold,
            &mut reports,
        )
        .await?;
    }

    // 8. Summarize.
    let at = now_rfc3339();
    for report in reports.values() {
        summarize(ctx, report, &at, opts.dry_run);
    }
    let head_text = match source.head {
        HeadUpdateKind::Unchanged => "unchanged",
        HeadUpdateKind::Rewritten => "rewritten",
        _ => "moved",
    };
    ctx.status.record_pass(&ctx.branch, Some(&head), &at);
    let known: BTreeSet<String> = reports.keys().cloned().collect();
    ctx.status.retain_workers(|name| known.contains(name));
    Ok(SyncReport {
        branch: ctx.branch.clone(),
        commit: head,
        head: head_text.to_owned(),
        dry_run: opts.dry_run,
        plan,
        workers: reports.into_values().collect(),
        api_requests: 0,
    })
}

/// Whether a plan has a Worker whose version would change or is blocked: its legality may
/// depend on which KV namespaces, R2 buckets, D1 databases and queues exist.
fn plan_needs_resources(plan: &Plan) -> bool {
    plan.workers.iter().any(|worker| {
        matches!(
            worker.action,
            PlanAction::DeployForward { .. }
                | PlanAction::Rollback { .. }
                | PlanAction::Blocked { .. }
        )
    })
}

/// Lists the account's KV namespaces, D1 databases, queues and R2 buckets (per jurisdiction),
/// only for the kinds the desired Workers bind. A failed listing stays `None` ("unknown"), so
/// the planner skips that existence check instead of calling every resource missing.
pub async fn fetch_resources(client: &Client, desired: &Desired) -> LiveResources {
    use flaresync_config::BindingKind;
    let mut kinds = BTreeSet::new();
    let mut jurisdictions: BTreeSet<Option<String>> = BTreeSet::new();
    for entry in desired.workers.values() {
        let Some(worker) = entry.worker() else {
            continue;
        };
        for binding in &worker.spec.bindings {
            match &binding.kind {
                BindingKind::KvNamespace { .. } => {
                    kinds.insert("kv");
                }
                BindingKind::D1 { .. } => {
                    kinds.insert("d1");
                }
                BindingKind::Queue { .. } => {
                    kinds.insert("queue");
                }
                BindingKind::R2Bucket { jurisdiction, .. } => {
                    jurisdictions.insert(jurisdiction.clone());
                }
                _ => {}
            }
        }
    }
    let mut resources = LiveResources::default();
    if kinds.contains("kv") {
        match client.list_kv_namespaces().await {
            Ok(list) => resources.kv = Some(list.into_iter().map(|ns| ns.id).collect()),
            Err(error) => warn!(error = %error, "Cannot list KV namespaces; skipping the check."),
        }
    }
    if kinds.contains("d1") {
        match client.list_d1_databases().await {
            Ok(list) => resources.d1 = Some(list.into_iter().map(|db| db.uuid).collect()),
            Err(error) => warn!(error = %error, "Cannot list D1 databases; skipping the check."),
        }
    }
    if kinds.contains("queue") {
        match client.list_queues().await {
            Ok(list) => resources.queues = Some(list.into_iter().map(|q| q.queue_name).collect()),
            Err(error) => warn!(error = %error, "Cannot list queues; skipping the check."),
        }
    }
    if !jurisdictions.is_empty() {
        let mut buckets = BTreeSet::new();
        let mut complete = true;
        for jurisdiction in &jurisdictions {
            match client.list_r2_buckets(jurisdiction.as_deref()).await {
                Ok(list) => {
                    buckets.extend(list.into_iter().map(|bucket| flaresync_plan::R2Bucket {
                        name: bucket.name,
                        jurisdiction: jurisdiction.clone(),
                    }))
                }
                Err(error) => {
                    warn!(error = %error, "Cannot list R2 buckets; skipping the check.");
                    complete = false;
                }
            }
        }
        if complete {
            resources.r2 = Some(buckets);
        }
    }
    resources
}

/// The desired spec of a Worker (must be resolved for a write step).
fn spec_of<'a>(desired: &'a Desired, worker: &str) -> Result<(&'a WorkerSpec, &'a str), Error> {
    desired
        .workers
        .get(worker)
        .and_then(|entry| entry.worker())
        .map(|resolved| (&resolved.spec, resolved.digest.as_str()))
        .ok_or_else(|| {
            Error::Internal(format!(
                "the plan has a write step for {worker} but its desired state is not resolved"
            ))
        })
}

/// What the steps of one Worker did so far in this pass.
#[derive(Debug, Default, Clone)]
struct WorkerWrites {
    uploaded: Option<String>,
    deployed: Option<(String, String)>,
    /// The commit the deployed version was built from.
    deployed_commit: Option<String>,
    traffic_changed: bool,
}

/// Runs one step. Journal failures abort the pass (no write without its intent on disk).
#[allow(clippy::too_many_arguments)]
async fn apply_step(
    ctx: &Context,
    step: &Step,
    source: &SourceRead,
    desired: &Desired,
    trigger: &Trigger,
    writes: &mut WorkerWrites,
    report: &mut WorkerReport,
) -> Result<(), Error> {
    let head = source.state.commit.to_string();
    let worker = step.worker().to_owned();
    let (spec, digest) = spec_of(desired, &worker)?;
    let record = |action: JournalAction, outcome: Outcome| {
        Entry::new(&worker, action, outcome, trigger.clone())
            .commit(&head)
            .digest(digest)
    };
    match step {
        Step::UploadVersion { .. } => {
            ctx.journal.record(
                &record(JournalAction::Upload, Outcome::Started)
                    .message(format!("uploading a version of commit {}", short(&head))),
            )?;
            let metadata = spec.upload_metadata(&UploadOptions {
                kind: UploadKind::Version,
                tag: Some(source.tag.clone()),
                message: Some(source.message.clone()),
                migrations: None,
            });
            match ctx
                .client
                .upload_version(&worker, &metadata, &spec.modules)
                .await
            {
                Ok(version) => {
                    ctx.journal.record(
                        &record(JournalAction::Upload, Outcome::Success)
                            .version(&version.id)
                            .message(format!(
                                "uploaded version {} of commit {}",
                                version.id,
                                short(&head)
                            )),
                    )?;
                    info!(worker = %worker, commit = %short(&head), version = %version.id, "Uploaded version.");
                    writes.uploaded = Some(version.id);
                    Ok(())
                }
                Err(source_error) => {
                    let error =
                        Error::api(format!("uploading a version of {worker}"), source_error);
                    ctx.journal.record(
                        &record(JournalAction::Upload, Outcome::Failure).message(error.to_string()),
                    )?;
                    Err(error)
                }
            }
        }
        Step::Deploy { version, force, .. } => {
            writes.deployed_commit = Some(match version {
                DeployTarget::Existing(target) => target.commit.clone(),
                DeployTarget::Uploaded => head.clone(),
            });
            let (version_id, action, description) = match version {
                DeployTarget::Uploaded => {
                    let id = writes.uploaded.clone().ok_or_else(|| {
                        Error::Internal(format!(
                            "deploy step for {worker} without a preceding upload"
                        ))
                    })?;
                    let text = format!("deploy commit {}", short(&head));
                    (id, JournalAction::Deploy, text)
                }
                DeployTarget::Existing(target) if target.commit == head => (
                    target.version_id.clone(),
                    JournalAction::Deploy,
                    format!("deploy existing version of commit {}", short(&head)),
                ),
                DeployTarget::Existing(target) => (
                    target.version_id.clone(),
                    JournalAction::Rollback,
                    format!(
                        "rollback to the version of commit {} (head {})",
                        short(&target.commit),
                        short(&head)
                    ),
                ),
            };
            deploy(
                ctx,
                &worker,
                &version_id,
                *force,
                action,
                &description,
                record,
                writes,
                report,
            )
            .await
        }
        Step::ScriptUpload { migrations, .. } => {
            ctx.journal
                .record(
                    &record(JournalAction::Deploy, Outcome::Started).message(format!(
                        "script upload of commit {} (creates and deploys)",
                        short(&head)
                    )),
                )?;
            let metadata = spec.upload_metadata(&UploadOptions {
                kind: UploadKind::Script,
                tag: Some(source.tag.clone()),
                message: Some(source.message.clone()),
                migrations: migrations.as_ref().map(|payload| MigrationsUpload {
                    old_tag: payload.old_tag.clone(),
                    new_tag: payload.new_tag.clone(),
                    steps: payload.steps.clone(),
                }),
            });
            let uploaded = match ctx
                .client
                .upload_script(&worker, &metadata, &spec.modules)
                .await
            {
                Ok(uploaded) => uploaded,
                Err(source_error) => {
                    let error = Error::api(format!("uploading script {worker}"), source_error);
                    ctx.journal.record(
                        &record(JournalAction::Deploy, Outcome::Failure).message(error.to_string()),
                    )?;
                    return Err(error);
                }
            };
            let Some(version_id) = uploaded.version_id() else {
                let error = Error::Internal(format!(
                    "script upload of {worker} answered without a version id"
                ));
                ctx.journal.record(
                    &record(JournalAction::Deploy, Outcome::Failure).message(error.to_string()),
                )?;
                return Err(error);
            };
            let expected = NewDeployment::single(&version_id, None);
            let active = verify(ctx, &worker, &expected).await;
            match active {
                Ok(deployment_id) => {
                    ctx.journal.record(
                        &record(JournalAction::Deploy, Outcome::Success)
                            .version(&version_id)
                            .deployment(&deployment_id)
                            .message(format!(
                                "script upload deployed version {version_id} of commit {}",
                                short(&head)
                            )),
                    )?;
                    info!(worker = %worker, commit = %short(&head), version = %version_id, "Script uploaded and deployed.");
                    writes.uploaded = Some(version_id.clone());
                    writes.deployed = Some((version_id, deployment_id));
                    writes.deployed_commit = Some(head.clone());
                    writes.traffic_changed = true;
                    Ok(())
                }
                Err(error) => {
                    ctx.journal.record(
                        &record(JournalAction::Deploy, Outcome::Failure)
                            .version(&version_id)
                            .message(error.to_string()),
                    )?;
                    Err(error)
                }
            }
        }
        Step::SyncSettings { fields, .. } => {
            const PATCHED: [&str; 3] = ["logpush", "observability", "tail_consumers"];
            let unsupported: Vec<&str> = fields
                .iter()
                .map(String::as_str)
                .filter(|field| {
                    !PATCHED.contains(field)
                        && !matches!(*field, "crons" | "workers_dev" | "script_settings")
                })
                .collect();
            if !unsupported.is_empty() {
                report.notes.push(format!(
                    "not applied by the reconcile loop: {}",
                    unsupported.join(", ")
                ));
            }
            ctx.journal.record(
                &record(JournalAction::Settings, Outcome::Started)
                    .message(format!("updating settings: {}", fields.join(", "))),
            )?;
            let result = apply_settings(ctx, &worker, spec, fields).await;
            match result {
                Ok(()) => {
                    ctx.journal.record(
                        &record(JournalAction::Settings, Outcome::Success)
                            .message(format!("updated settings: {}", fields.join(", "))),
                    )?;
                    Ok(())
                }
                Err(error) => {
                    ctx.journal.record(
                        &record(JournalAction::Settings, Outcome::Failure)
                            .message(error.to_string()),
                    )?;
                    Err(error)
                }
            }
        }
    }
}

/// Writes the non-versioned settings named in `fields`: cron triggers through
/// `PUT …/schedules` (the whole set), logpush / observability / tail consumers through
/// `PATCH …/script-settings`, the workers.dev route through `POST …/subdomain`. Routes are
/// zone-level and left to the caller's note.
/// `script_settings` is the planner's "something outside the version changed, field unknown":
/// everything is written (each write replaces the whole value, so this is idempotent).
async fn apply_settings(
    ctx: &Context,
    worker: &str,
    spec: &WorkerSpec,
    fields: &[String],
) -> Result<(), Error> {
    let all = fields.iter().any(|field| field == "script_settings");
    let wants = |name: &str| all || fields.iter().any(|field| field == name);
    if wants("crons") {
        let applied = ctx
            .client
            .put_schedules(worker, &spec.crons)
            .await
            .map_err(|e| Error::api(format!("updating the cron triggers of {worker}"), e))?;
        info!(worker = %worker, crons = applied.len(), "Cron triggers updated.");
    }
    if wants("workers_dev") {
        // wrangler's default: on unless the Worker is reached through routes.
        let enabled = spec.workers_dev.unwrap_or(spec.routes.is_empty());
        ctx.client
            .set_workers_dev(worker, enabled)
            .await
            .map_err(|e| Error::api(format!("updating the workers.dev route of {worker}"), e))?;
        info!(worker = %worker, enabled, "workers.dev route updated.");
    }
    if wants("logpush") || wants("observability") || wants("tail_consumers") {
        let patch = ScriptSettingsPatch {
            logpush: spec.settings.logpush,
            observability: spec
                .settings
                .observability
                .as_deref()
                .and_then(|text| serde_json::from_str(text).ok()),
            tags: None,
            tail_consumers: Some(spec.settings.tail_consumers.clone()),
        };
        ctx.client
            .patch_script_settings(worker, &patch)
            .await
            .map_err(|e| Error::api(format!("updating settings of {worker}"), e))?;
    }
    Ok(())
}

/// Creates a deployment of `version_id` at 100%, journaled and verified.
#[allow(clippy::too_many_arguments)]
async fn deploy(
    ctx: &Context,
    worker: &str,
    version_id: &str,
    force: bool,
    action: JournalAction,
    description: &str,
    record: impl Fn(JournalAction, Outcome) -> Entry,
    writes: &mut WorkerWrites,
    _report: &mut WorkerReport,
) -> Result<(), Error> {
    ctx.journal.record(
        &record(action.clone(), Outcome::Started)
            .version(version_id)
            .message(description.to_owned()),
    )?;
    let request = NewDeployment::single(version_id, Some(format!("flaresync: {description}")));
    let created = match ctx.client.create_deployment(worker, &request, force).await {
        Ok(created) => created,
        Err(source_error) => {
            let error = Error::api(format!("deploying {worker}"), source_error);
            ctx.journal.record(
                &record(action, Outcome::Failure)
                    .version(version_id)
                    .message(error.to_string()),
            )?;
            return Err(error);
        }
    };
    match verify(ctx, worker, &request).await {
        Ok(deployment_id) => {
            ctx.journal.record(
                &record(action.clone(), Outcome::Success)
                    .version(version_id)
                    .deployment(&deployment_id)
                    .message(description.to_owned()),
            )?;
            info!(worker = %worker, version = %version_id, deployment = %created.id, action = action.as_str(), "Deployed.");
            writes.deployed = Some((version_id.to_owned(), deployment_id));
            writes.traffic_changed = true;
            Ok(())
        }
        Err(error) => {
            ctx.journal.record(
                &record(action, Outcome::Failure)
                    .version(version_id)
                    .deployment(&created.id)
                    .message(error.to_string()),
            )?;
            Err(error)
        }
    }
}

/// Re-reads the deployments until the active one serves `expected` (a few tries, for
/// eventually consistent reads). Returns the active deployment's id.
async fn verify(ctx: &Context, worker: &str, expected: &NewDeployment) -> Result<String, Error> {
    const ATTEMPTS: u32 = 3;
    let mut actual = String::from("no deployment");
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let active = ctx
            .client
            .active_deployment(worker)
            .await
            .map_err(|e| Error::api(format!("verifying the deployment of {worker}"), e))?;
        match active {
            Some(active) if expected.is_served_by(&active) => return Ok(active.id),
            Some(active) => {
                actual = active
                    .versions
                    .iter()
                    .map(|v| format!("{}@{}%", v.version_id, v.percentage))
                    .collect::<Vec<_>>()
                    .join(", ");
            }
            None => actual = "no deployment".into(),
        }
    }
    Err(Error::VerifyFailed {
        worker: worker.to_owned(),
        expected: expected
            .versions
            .iter()
            .map(|v| format!("{}@{}%", v.version_id, v.percentage))
            .collect::<Vec<_>>()
            .join(", "),
        actual,
    })
}

#[allow(clippy::too_many_arguments)]
async fn apply(
    ctx: &Context,
    memory: &mut Memory,
    plan: &Plan,
    source: &SourceRead,
    desired: &Desired,
    trigger: &Trigger,
    hold: &BTreeSet<String>,
    reports: &mut BTreeMap<String, WorkerReport>,
) -> Result<(), Error> {
    let head = source.state.commit.to_string();
    let mut last_index: BTreeMap<&str, usize> = BTreeMap::new();
    for (index, step) in plan.steps.iter().enumerate() {
        last_index.insert(step.worker(), index);
    }
    let rolling_back: BTreeSet<&str> = plan
        .workers
        .iter()
        .filter(|w| matches!(w.action, PlanAction::Rollback { .. }))
        .map(|w| w.name.as_str())
        .collect();
    // Who the live versions call (a revert may remove the binding from Git's state).
    let live_calls: BTreeMap<String, BTreeSet<String>> = memory
        .workers
        .iter()
        .filter_map(|(name, cached)| {
            let (id, _) = cached.live.active_version_id()?;
            let version = cached.live.version(id)?;
            Some((
                name.clone(),
                flaresync_plan::order::binding_targets(&version.bindings),
            ))
        })
        .collect();
    let changing: BTreeSet<&str> = plan
        .workers
        .iter()
        .filter(|w| {
            matches!(
                w.action,
                PlanAction::DeployForward { .. } | PlanAction::Rollback { .. }
            )
        })
        .map(|w| w.name.as_str())
        .collect();
    let depends: BTreeMap<&str, &[String]> = plan
        .workers
        .iter()
        .map(|w| (w.name.as_str(), w.depends_on.as_slice()))
        .collect();
    let previous_active: BTreeMap<String, Option<String>> = memory
        .workers
        .iter()
        .map(|(name, cached)| {
            (
                name.clone(),
                cached.live.active_version_id().map(|(id, _)| id.to_owned()),
            )
        })
        .collect();
    let mut failed: BTreeSet<String> = BTreeSet::new();
    let mut writes: BTreeMap<String, WorkerWrites> = BTreeMap::new();

    for (index, step) in plan.steps.iter().enumerate() {
        let worker = step.worker().to_owned();
        if hold.contains(&worker) || failed.contains(&worker) {
            continue;
        }
        let Some(report) = reports.get_mut(&worker) else {
            continue;
        };
        // Rollbacks run entry points first: a dependency rolls back only once every Worker
        // that uses it and rolls back in this plan has done so, or its older version would
        // serve a caller still running the newer code.
        if rolling_back.contains(worker.as_str())
            && let Some(dependent) = plan.workers.iter().find(|w| {
                rolling_back.contains(w.name.as_str())
                    && (w.depends_on.contains(&worker)
                        || live_calls
                            .get(&w.name)
                            .is_some_and(|targets| targets.contains(&worker)))
                    && (failed.contains(&w.name) || hold.contains(&w.name))
            })
        {
            report.outcome = WorkerOutcome::Skipped;
            report.notes.push(format!(
                "not rolled back: {} uses it and did not roll back in this pass, so it keeps its newer version until then",
                dependent.name
            ));
            report.deferred_by = Some(dependent.name.clone());
            failed.insert(worker);
            continue;
        }
        // Dependencies deploy first: a dependency that failed, or whose change was held back
        // (drift, scope, a health rejection), holds its dependents back too.
        // (A caller's rollback runs before its dependencies' on purpose: not held back here.)
        if !rolling_back.contains(worker.as_str())
            && let Some(dependency) = depends.get(worker.as_str()).and_then(|deps| {
                deps.iter().find(|d| {
                    failed.contains(*d) || (hold.contains(*d) && changing.contains(d.as_str()))
                })
            })
        {
            report.outcome = WorkerOutcome::Skipped;
            report.notes.push(format!(
                "not applied: dependency {dependency} did not deploy in this pass, and dependencies deploy first"
            ));
            report.deferred_by = Some(dependency.clone());
            failed.insert(worker);
            continue;
        }
        let worker_writes = writes.entry(worker.clone()).or_default();
        let result = apply_step(ctx, step, source, desired, trigger, worker_writes, report).await;
        if let Err(error) = result {
            if matches!(error, Error::Journal(_)) {
                return Err(error);
            }
            warn!(worker = %worker, error = %error, reason = %error.reason(), "Step failed.");
            report.fail(&error);
            failed.insert(worker.clone());
            // Whatever happened, read this Worker afresh next time.
            memory.workers.remove(&worker);
            continue;
        }
        if last_index.get(worker.as_str()) != Some(&index) {
            continue;
        }

        // Every step of this Worker succeeded.
        memory.workers.remove(&worker);
        let digest = spec_of(desired, &worker)?.1.to_owned();
        let done = writes.get(&worker).cloned().unwrap_or_default();
        let policy = policy_of(&source.state, &worker);
        let check = policy
            .and_then(convert::health_check)
            .map(|check| health::HealthCheck {
                attempts: ctx.options.health_attempts,
                interval: ctx.options.health_interval,
                ..check
            });
        if let (Some(check), true) = (check, done.traffic_changed) {
            let outcome = health::run_check(&ctx.options.health_http, &check).await;
            report.health = Some(outcome.clone());
            report.health_url = Some(health::display_url(&check.url));
            if !outcome.passed() {
                let previous = previous_active.get(&worker).cloned().flatten();
                handle_health_failure(
                    ctx, memory, &worker, &head, &digest, &done, previous, &outcome, trigger,
                    report,
                )
                .await?;
                failed.insert(worker.clone());
                continue;
            }
            info!(worker = %worker, url = %health::display_url(&check.url), "Health check passed.");
        }
        let applied = memory.applied.entry(worker.clone()).or_default();
        applied.digest = Some(digest);
        applied.rejected = None;
        if let Some((version, _)) = &done.deployed {
            applied.version = Some(version.clone());
        }
        if let Some(report) = reports.get_mut(&worker) {
            report.outcome = WorkerOutcome::Applied {
                version_id: done.deployed.as_ref().map(|(v, _)| v.clone()),
                deployment_id: done.deployed.as_ref().map(|(_, d)| d.clone()),
            };
            if let Some((version, _)) = &done.deployed {
                report.live_version = Some(version.clone());
                report.live_commit = done.deployed_commit.clone().or_else(|| Some(head.clone()));
                if let Some(drift) = report.drift.as_mut() {
                    drift.healed = true;
                }
            }
        }
    }
    Ok(())
}

/// A health check failed after deploying `head`: deploy the previous version again and record
/// the rejection in Git terms.
#[allow(clippy::too_many_arguments)]
async fn handle_health_failure(
    ctx: &Context,
    memory: &mut Memory,
    worker: &str,
    head: &str,
    digest: &str,
    done: &WorkerWrites,
    previous: Option<String>,
    outcome: &HealthOutcome,
    trigger: &Trigger,
    report: &mut WorkerReport,
) -> Result<(), Error> {
    let failed_version = done.deployed.as_ref().map(|(v, _)| v.clone());
    let message = outcome.message();
    warn!(worker = %worker, commit = %short(head), error = %message, "Health check failed.");
    let mut restored = None;
    match previous {
        Some(previous) if Some(&previous) != failed_version.as_ref() => {
            let record = |action: JournalAction, outcome: Outcome| {
                Entry::new(worker, action, outcome, trigger.clone())
            };
            let description = format!(
                "health check failed for commit {}: {message}; restoring version {previous}",
                short(head)
            );
            let mut restore_writes = WorkerWrites::default();
            match deploy(
                ctx,
                worker,
                &previous,
                false,
                JournalAction::Rollback,
                &description,
                record,
                &mut restore_writes,
                report,
            )
            .await
            {
                Ok(()) => restored = Some(previous),
                Err(Error::Journal(error)) => return Err(Error::Journal(error)),
                Err(error) => {
                    report
                        .notes
                        .push(format!("automatic rollback failed: {error}"));
                }
            }
        }
        _ => report
            .notes
            .push("no earlier version to roll back to after the failed health check".into()),
    }
    let mut entry = Entry::new(
        worker,
        JournalAction::Other(HEALTH_REJECTED.into()),
        Outcome::Failure,
        trigger.clone(),
    )
    .commit(head)
    .digest(digest)
    .message(match &restored {
        Some(version) => format!(
            "commit {} failed its health check ({message}); version {version} serves traffic again",
            short(head)
        ),
        None => format!("commit {} failed its health check ({message})", short(head)),
    });
    if let Some(version) = &failed_version {
        entry = entry.version(version);
    }
    ctx.journal.record(&entry)?;
    let applied = memory.applied.entry(worker.to_owned()).or_default();
    applied.rejected = Some((digest.to_owned(), head.to_owned()));
    if let Some(version) = &restored {
        applied.version = Some(version.clone());
    } else if let Some(version) = &failed_version {
        applied.version = Some(version.clone());
    }
    report.live_version = restored.clone().or(failed_version);
    report.live_commit = None;
    let error = Error::HealthCheckFailed {
        worker: worker.to_owned(),
        commit: head.to_owned(),
        message,
    };
    report.fail(&error);
    Ok(())
}

/// Resolves journal intents left without an outcome by a crash, using Cloudflare's state.
async fn recover_intents(
    ctx: &Context,
    notes: &mut BTreeMap<String, Vec<String>>,
) -> Result<(), Error> {
    for recorded in ctx.journal.in_flight()? {
        let entry = recorded.entry;
        let worker = entry.worker.clone();
        let tag = entry.commit.as_deref().and_then(|commit| {
            flaresync_git::version_tag(commit, flaresync_git::stamp::TAG_LIMIT).ok()
        });
        let by_tag = |tag: Option<String>| {
            let client = ctx.client.clone();
            let worker = worker.clone();
            async move {
                match tag {
                    Some(tag) => client
                        .find_version_by_tag(&worker, &tag)
                        .await
                        .map(|found| found.map(|v| v.id))
                        .map_err(|e| Error::api(format!("looking up versions of {worker}"), e)),
                    None => Ok(None),
                }
            }
        };
        let (outcome, version, deployment, detail) = match &entry.action {
            JournalAction::Upload => match by_tag(tag).await? {
                Some(version) => (
                    Outcome::Success,
                    Some(version),
                    None,
                    "the upload had completed".to_owned(),
                ),
                None => (
                    Outcome::Failure,
                    None,
                    None,
                    "the upload never reached cloudflare".to_owned(),
                ),
            },
            JournalAction::Deploy | JournalAction::Rollback => {
                let version = match &entry.version_id {
                    Some(version) => Some(version.clone()),
                    None => by_tag(tag).await?,
                };
                let active = ctx
                    .client
                    .active_deployment(&worker)
                    .await
                    .map_err(|e| Error::api(format!("reading deployments of {worker}"), e))?;
                match (version, active) {
                    (Some(version), Some(active))
                        if NewDeployment::single(&version, None).is_served_by(&active) =>
                    {
                        (
                            Outcome::Success,
                            Some(version),
                            Some(active.id),
                            "the deployment had been created".to_owned(),
                        )
                    }
                    (version, _) => (
                        Outcome::Failure,
                        version,
                        None,
                        "the deployment was not created".to_owned(),
                    ),
                }
            }
            _ => (
                Outcome::Failure,
                None,
                None,
                "interrupted; it is planned again".to_owned(),
            ),
        };
        let mut resolved = Entry::new(
            &worker,
            entry.action.clone(),
            outcome,
            entry.trigger.clone(),
        )
        .message(format!("recovered after an interruption: {detail}"));
        if let Some(commit) = &entry.commit {
            resolved = resolved.commit(commit);
        }
        if let Some(digest) = &entry.digest {
            resolved = resolved.digest(digest);
        }
        if let Some(version) = &version {
            resolved = resolved.version(version);
        }
        if let Some(deployment) = &deployment {
            resolved = resolved.deployment(deployment);
        }
        ctx.journal.record(&resolved)?;
        info!(
            worker = %worker,
            action = entry.action.as_str(),
            outcome = outcome.as_str(),
            "Recovered an interrupted action from the journal."
        );
        notes.entry(worker).or_default().push(format!(
            "recovered interrupted {}: {detail}",
            entry.action.as_str()
        ));
    }
    Ok(())
}

/// Writes one Worker's status and metrics (always, whatever happened).
fn summarize(ctx: &Context, report: &WorkerReport, at: &str, dry_run: bool) {
    let label = match (&report.outcome, &report.error) {
        (_, Some(_)) => ResultLabel::Error,
        (WorkerOutcome::InSync, _) => ResultLabel::InSync,
        (WorkerOutcome::Applied { .. }, _) => ResultLabel::Applied,
        (WorkerOutcome::Planned | WorkerOutcome::HeldForDrift, _) => ResultLabel::Planned,
        _ => ResultLabel::Skipped,
    };
    if report.outcome == WorkerOutcome::Skipped && report.error.is_none() && !dry_run {
        // Out of scope this pass: leave its status alone.
        if report.notes.is_empty() {
            return;
        }
    }
    ctx.metrics.record_reconcile(&report.worker, label);
    if let Some(class) = report.class {
        ctx.metrics.record_error(class.reason());
    }
    ctx.metrics
        .set_drift(&report.worker, report.drift.is_some());
    ctx.metrics.set_worker_info(
        &report.worker,
        report
            .live_commit
            .as_deref()
            .map(short)
            .unwrap_or("unknown"),
        report.live_version.as_deref().unwrap_or("none"),
    );
    ctx.status.update(&report.worker, |status| {
        status.desired_commit = report.desired_commit.clone();
        status.live_version = report.live_version.clone();
        status.live_commit = report.live_commit.clone();
        status.drift = report.drift.clone();
        let mutating = !matches!(
            report.outcome,
            WorkerOutcome::InSync | WorkerOutcome::Removed
        );
        if mutating && !dry_run {
            status.last_attempted_commit = report.desired_commit.clone();
        }
        if let WorkerOutcome::Applied { version_id, .. } = &report.outcome {
            status.last_applied_commit = report.desired_commit.clone();
            status.push_history(HistoryEntry {
                commit: report.desired_commit.clone(),
                version: version_id.clone(),
                action: report.action.clone(),
                result: label.as_str().to_owned(),
                at: at.to_owned(),
            });
        }
        if let Some(health) = &report.health {
            status.health = Some(HealthStatus {
                url: report.health_url.clone().unwrap_or_default(),
                passed: health.passed(),
                message: health.message(),
                rejected_commit: (!health.passed())
                    .then(|| report.desired_commit.clone())
                    .flatten(),
                checked_at: at.to_owned(),
            });
        }
        status.last_result = Some(LastResult {
            result: label.as_str().to_owned(),
            reason: report.error.as_ref().map(|e| e.reason.clone()),
            message: report
                .error
                .as_ref()
                .map(|e| e.message.clone())
                .unwrap_or_else(|| report.action.clone()),
            at: at.to_owned(),
        });
        for update in conditions(report) {
            match update {
                ConditionUpdate::Set {
                    kind,
                    status: value,
                    reason,
                    message,
                } => status.set_condition(kind, value, reason, &message, at),
                ConditionUpdate::Clear(kind) => status.clear_condition(kind),
            }
        }
    });
}

/// One change to a Worker's conditions.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ConditionUpdate {
    Set {
        kind: ConditionType,
        status: bool,
        reason: &'static str,
        message: String,
    },
    Clear(ConditionType),
}

fn set(
    kind: ConditionType,
    status: bool,
    reason: &'static str,
    message: impl Into<String>,
) -> ConditionUpdate {
    ConditionUpdate::Set {
        kind,
        status,
        reason,
        message: message.into(),
    }
}

/// The pure summary: which conditions a Worker's report sets (Flux style: `Ready`,
/// `Reconciling`, `Stalled` always; `Drifted`, `RollbackBlocked`, `HealthCheckFailed` only
/// while true).
fn conditions(report: &WorkerReport) -> Vec<ConditionUpdate> {
    use ConditionType::{Drifted, HealthCheckFailed, Ready, Reconciling, RollbackBlocked, Stalled};
    let mut updates = Vec::new();
    let (ready, reconciling, stalled) = match (&report.outcome, &report.error, report.class) {
        (_, Some(error), class) => {
            let reason = class.map(|c| c.reason().as_str()).unwrap_or("Internal");
            let is_stalled = matches!(class, Some(Class::Stalled { .. }));
            (
                set(Ready, false, reason, error.message.clone()),
                set(
                    Reconciling,
                    !is_stalled,
                    if is_stalled { "Stalled" } else { "Retrying" },
                    "",
                ),
                set(
                    Stalled,
                    is_stalled,
                    reason,
                    if is_stalled {
                        error.message.as_str()
                    } else {
                        ""
                    },
                ),
            )
        }
        (WorkerOutcome::InSync | WorkerOutcome::Applied { .. }, None, _) => (
            set(
                Ready,
                true,
                "Succeeded",
                format!(
                    "version {} of commit {} is live",
                    report.live_version.as_deref().unwrap_or("?"),
                    report.live_commit.as_deref().map(short).unwrap_or("?")
                ),
            ),
            set(Reconciling, false, "Succeeded", ""),
            set(Stalled, false, "Succeeded", ""),
        ),
        (WorkerOutcome::Removed, None, _) => (
            set(
                Ready,
                false,
                "Removed",
                "gone from Git; flaresync never deletes a Worker, delete it by hand if intended",
            ),
            set(Reconciling, false, "Removed", ""),
            set(Stalled, false, "Removed", ""),
        ),
        (WorkerOutcome::HeldForDrift, None, _) => (
            set(
                Ready,
                false,
                "DriftDetected",
                "the active deployment was changed outside flaresync; drift_policy = report",
            ),
            set(Reconciling, false, "DriftDetected", ""),
            set(Stalled, false, "DriftDetected", ""),
        ),
        (_, None, _) => (
            set(Ready, false, "Progressing", report.action.clone()),
            set(Reconciling, true, "Progressing", ""),
            set(Stalled, false, "Progressing", ""),
        ),
    };
    updates.extend([ready, reconciling, stalled]);
    updates.push(match &report.drift {
        Some(drift) => set(
            Drifted,
            true,
            "DriftDetected",
            format!(
                "serving {} instead of {}",
                drift.actual_versions.join(", "),
                drift.expected_versions.join(", ")
            ),
        ),
        None => ConditionUpdate::Clear(Drifted),
    });
    let reason = report.class.map(|class| class.reason());
    updates.push(match (&report.error, reason) {
        (Some(error), Some(crate::Reason::RollbackBlocked)) => set(
            RollbackBlocked,
            true,
            "RollbackBlocked",
            error.message.clone(),
        ),
        _ => ConditionUpdate::Clear(RollbackBlocked),
    });
    match (&report.error, reason) {
        (Some(error), Some(crate::Reason::HealthCheckFailed)) => updates.push(set(
            HealthCheckFailed,
            true,
            "HealthCheckFailed",
            error.message.clone(),
        )),
        // A failure for another reason says nothing about health: keep what is known.
        (Some(_), _) => {}
        (None, _) => updates.push(ConditionUpdate::Clear(HealthCheckFailed)),
    }
    updates
}

impl Reconciler for Context {
    async fn reconcile(
        self: Arc<Self>,
        scope: Scope,
        source: TriggerSource,
    ) -> Result<PassOutcome, Class> {
        let options = SyncOptions {
            dry_run: false,
            trigger: source,
        };
        match sync_scoped(&self, options, &scope).await {
            Ok(report) => {
                let mut outcome = PassOutcome::default();
                for worker in report.workers {
                    if !scope.includes(&worker.worker) {
                        // Not reconciled in this pass: its backoff state stays as it is.
                        continue;
                    }
                    if let Some(blocker) = worker.deferred_by.clone() {
                        outcome.deferred.push((worker.worker.clone(), blocker));
                    }
                    match worker.class {
                        Some(class) => outcome.failed.push((worker.worker, class)),
                        None => outcome.succeeded.push(worker.worker),
                    }
                }
                Ok(outcome)
            }
            Err(error) => Err(error.class()),
        }
    }

    fn status(&self) -> Arc<StatusBoard> {
        self.status.clone()
    }

    fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    fn api_snapshot(&self) -> ApiSnapshotFn {
        let client = self.client.clone();
        Arc::new(move || {
            let metrics = client.metrics();
            ApiSnapshot {
                requests: metrics
                    .requests_total
                    .iter()
                    .map(|((method, class), count)| ((method.clone(), (*class).to_owned()), *count))
                    .collect(),
                budget_available: Some(f64::from(metrics.budget_available)),
            }
        })
    }
}

/// Runs the reconcile loop for `ctx` until `shutdown` completes (see [`crate::runner`]).
///
/// # Errors
///
/// Only setup failures of the loop (watcher, signal handler).
pub async fn run(
    ctx: Arc<Context>,
    config: crate::runner::RunConfig,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), Error> {
    let mut config = config;
    // flaresync's own journal writes must never trigger a reconcile.
    if let Some(watch) = config.watch.as_mut() {
        watch.ignore.push(ctx.journal.path().to_owned());
    }
    crate::runner::run_with(ctx, config, crate::trigger::channel(), shutdown)
        .await
        .map_err(Error::Run)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(updates: &[ConditionUpdate], kind: ConditionType) -> Option<(bool, &'static str)> {
        updates.iter().find_map(|update| match update {
            ConditionUpdate::Set {
                kind: found,
                status,
                reason,
                ..
            } if *found == kind => Some((*status, *reason)),
            _ => None,
        })
    }

    fn cleared(updates: &[ConditionUpdate], kind: ConditionType) -> bool {
        updates.contains(&ConditionUpdate::Clear(kind))
    }

    fn summary(
        id: &str,
        number: u64,
        tag: Option<&str>,
        triggered_by: &str,
    ) -> flaresync_cloudflare::VersionSummary {
        serde_json::from_value(serde_json::json!({
            "id": id,
            "number": number,
            "metadata": {},
            "annotations": {"workers/tag": tag, "workers/triggered_by": triggered_by},
        }))
        .expect("a version summary")
    }

    #[test]
    fn a_secret_copy_carries_the_tag_of_the_version_it_copies() {
        // Newest first, as listed.
        let versions = vec![
            summary("v6", 6, None, "secret"),
            summary("v5", 5, None, "upload"),
            summary("v4", 4, None, "secret"),
            summary("v3", 3, None, "secret"),
            summary("v2", 2, Some("c2"), "upload"),
            summary("v1", 1, Some("c1"), "upload"),
        ];
        let tags = version_tags(&versions);
        let tag = |id: &str| {
            tags.iter()
                .find(|(v, _)| v == id)
                .and_then(|(_, t)| t.clone())
        };
        assert_eq!(tags.len(), 6);
        assert_eq!(tags[0].0, "v6", "list order is kept");
        assert_eq!(tag("v1").as_deref(), Some("c1"));
        assert_eq!(tag("v3").as_deref(), Some("c2"), "copy of v2");
        assert_eq!(tag("v4").as_deref(), Some("c2"), "copy of a copy");
        assert_eq!(tag("v5"), None, "an upload from elsewhere stays unknown");
        assert_eq!(
            tag("v6"),
            None,
            "a copy of an unknown version stays unknown"
        );
        // A gap in the numbers: the copied version is not listed, nothing is inherited.
        let gap = version_tags(&[
            summary("v9", 9, None, "secret"),
            summary("v7", 7, Some("c7"), "upload"),
        ]);
        assert_eq!(gap[0].1, None);
    }

    #[test]
    fn a_worker_in_sync_is_ready_and_clears_negative_conditions() {
        let mut report = WorkerReport::new("api", "in sync");
        report.live_version = Some("v1".into());
        let updates = conditions(&report);
        assert_eq!(
            find(&updates, ConditionType::Ready),
            Some((true, "Succeeded"))
        );
        assert_eq!(
            find(&updates, ConditionType::Stalled),
            Some((false, "Succeeded"))
        );
        assert!(cleared(&updates, ConditionType::Drifted));
        assert!(cleared(&updates, ConditionType::RollbackBlocked));
        assert!(cleared(&updates, ConditionType::HealthCheckFailed));
    }

    #[test]
    fn a_blocked_rollback_stalls_and_sets_rollback_blocked() {
        let mut report = WorkerReport::new("api", "blocked");
        report.fail(&Error::Blocked {
            worker: "api".into(),
            findings: "FS001: migration crossed".into(),
        });
        report.outcome = WorkerOutcome::Blocked;
        let updates = conditions(&report);
        assert_eq!(
            find(&updates, ConditionType::Ready),
            Some((false, "RollbackBlocked"))
        );
        assert_eq!(
            find(&updates, ConditionType::Stalled),
            Some((true, "RollbackBlocked"))
        );
        assert_eq!(
            find(&updates, ConditionType::Reconciling),
            Some((false, "Stalled"))
        );
        assert_eq!(
            find(&updates, ConditionType::RollbackBlocked),
            Some((true, "RollbackBlocked"))
        );
    }

    #[test]
    fn a_transient_failure_keeps_reconciling_and_keeps_health_knowledge() {
        let mut report = WorkerReport::new("api", "deploy");
        report.fail(&Error::VerifyFailed {
            worker: "api".into(),
            expected: "v2@100%".into(),
            actual: "v1@100%".into(),
        });
        let updates = conditions(&report);
        assert_eq!(
            find(&updates, ConditionType::Reconciling),
            Some((true, "Retrying"))
        );
        assert_eq!(
            find(&updates, ConditionType::Stalled),
            Some((false, "VerifyFailed"))
        );
        assert!(!cleared(&updates, ConditionType::HealthCheckFailed));
        assert!(find(&updates, ConditionType::HealthCheckFailed).is_none());
    }

    #[test]
    fn drift_held_by_policy_is_not_ready_and_sets_drifted() {
        let mut report = WorkerReport::new("api", "rollback");
        report.outcome = WorkerOutcome::HeldForDrift;
        report.drift = Some(DriftStatus {
            expected_versions: vec!["v2".into()],
            actual_versions: vec!["v1".into()],
            actual_commits: vec![None],
            policy: "report".into(),
            healed: false,
        });
        let updates = conditions(&report);
        assert_eq!(
            find(&updates, ConditionType::Ready),
            Some((false, "DriftDetected"))
        );
        assert_eq!(
            find(&updates, ConditionType::Drifted),
            Some((true, "DriftDetected"))
        );
    }
}
