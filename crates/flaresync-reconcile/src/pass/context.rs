//! [`Context`]: everything a pass needs, created once and shared by the loop and the CLI.

use std::sync::{
    Arc, Mutex, RwLock,
    atomic::{AtomicBool, Ordering},
};
use std::time::Duration;

use flaresync_cloudflare::Client;
use flaresync_config::RepoConfig;
use flaresync_git::{DesiredStateCache, GitSource};
use flaresync_journal::Journal;

use super::memory::Memory;
use crate::{
    error::Error,
    metrics::{ApiSnapshot, Metrics},
    progress::ProgressTracker,
    status::StatusBoard,
};

/// Tunables of a [`Context`].
#[derive(Debug, Clone)]
pub struct ContextOptions {
    /// Read a Worker's live state again once its last full read is this old, even when the
    /// scripts listing shows no change (insurance against changes the listing does not
    /// reflect). `None`: never.
    pub full_refresh_every: Option<Duration>,
    /// At most this many Workers are read again per pass for that refresh (oldest first), so
    /// the refresh never holds a pass for minutes.
    pub refresh_slice: usize,
    /// HTTP client for health checks.
    pub health_http: reqwest::Client,
    /// Attempts and pause of each health check.
    pub health_attempts: u32,
    pub health_interval: Duration,
    /// Who runs one-shot CLI passes (`user@host`), resolved by the binary; the journal's actor
    /// of a [`TriggerSource::Cli`](crate::TriggerSource::Cli) pass names them. `None`: unknown.
    pub operator: Option<String>,
    /// Where to open a pull request for the revert of an aborted rollout (`None`: the revert
    /// branch is pushed, no pull request).
    pub github: Option<crate::github::GithubConfig>,
    /// The title of the KV namespace holding the state record (`None`: no record; see
    /// `pass::record`).
    pub state_record: Option<String>,
    /// The record is kept only in an account listing at least this many Workers (`0`: always).
    /// The binary's default keeps it where the free plan cannot be (over its 100 Workers), so
    /// its KV writes never eat into a free plan's 1,000 a day.
    pub state_record_min_workers: usize,
    /// Where to send notifications (GitHub's sink uses `github`).
    pub notify: crate::notify::NotifyConfig,
    /// HTTP client of GitHub calls, with timeouts of its own ([`crate::github::http_client`]).
    pub github_http: reqwest::Client,
}

impl Default for ContextOptions {
    fn default() -> Self {
        // One client for health checks and GitHub: each client loads the system's certificate
        // store (~0.6 MiB resident). Health checks set their own timeout per request.
        let http = crate::github::http_client();
        ContextOptions {
            full_refresh_every: Some(Duration::from_secs(600)),
            refresh_slice: 10,
            health_http: http.clone(),
            health_attempts: 3,
            health_interval: Duration::from_secs(2),
            operator: None,
            github: None,
            state_record: None,
            state_record_min_workers: 0,
            notify: crate::notify::NotifyConfig::default(),
            github_http: http,
        }
    }
}

/// The git side, used only inside blocking tasks.
pub(super) struct GitState {
    pub source: GitSource,
    pub cache: DesiredStateCache,
}

/// Everything a pass needs. Create it once; share it (`Arc`) between the loop and the CLI.
pub struct Context {
    pub(super) git: Arc<Mutex<GitState>>,
    pub(super) branch: String,
    pub(super) client: Client,
    pub(super) journal: Arc<Journal>,
    pub(super) repo_config: RwLock<Arc<RepoConfig>>,
    pub(super) status: Arc<StatusBoard>,
    pub(super) metrics: Arc<Metrics>,
    pub(super) options: ContextOptions,
    /// Held for the whole pass: at most one pass at a time per context.
    pub(super) memory: tokio::sync::Mutex<Memory>,
    /// A request for every Worker arrived while a pass ran: the branch may have moved, and a
    /// newer commit that rolls a Worker back pre-empts the pass (see `pass::preempt`).
    pub(super) newer_head: AtomicBool,
    /// Workers whose rollout an operator aborted while a pass ran: that pass stops at its next
    /// Worker (see `pass::preempt`).
    pub(super) rollout_aborts: Mutex<Vec<String>>,
    pub(super) progress: ProgressTracker,
    pub(super) notifier: crate::notify::Notifier,
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
        Ok(Self::with_journal(
            source,
            client,
            journal,
            repo_config,
            options,
        ))
    }

    /// [`Context::with_options`] over a journal the caller opened (SQLite or PostgreSQL).
    pub fn with_journal(
        source: GitSource,
        client: Client,
        journal: Journal,
        repo_config: RepoConfig,
        options: ContextOptions,
    ) -> Self {
        let branch = source.branch().to_owned();
        let status = Arc::new(StatusBoard::new());
        let metrics = Arc::new(Metrics::new());
        let notifier = crate::notify::Notifier::new(
            &options.notify,
            options.github.as_ref(),
            status.clone(),
            metrics.clone(),
        );
        Context {
            git: Arc::new(Mutex::new(GitState {
                source,
                cache: DesiredStateCache::new(),
            })),
            branch,
            client,
            journal: Arc::new(journal),
            repo_config: RwLock::new(Arc::new(repo_config)),
            status,
            metrics,
            options,
            memory: tokio::sync::Mutex::new(Memory::default()),
            newer_head: AtomicBool::new(false),
            rollout_aborts: Mutex::new(Vec::new()),
            progress: ProgressTracker::default(),
            notifier,
        }
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

    /// How far the running pass's apply stage is, from now on (see [`crate::progress`]).
    pub fn progress(&self) -> tokio::sync::watch::Receiver<crate::Progress> {
        self.progress.subscribe()
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

    /// Tells a pass in flight that the branch may have moved: at its next Worker boundary it
    /// looks at the head, and stops there when the newer commit rolls a Worker back.
    pub fn note_newer_head(&self) {
        self.newer_head.store(true, Ordering::SeqCst);
    }

    /// Takes the note of [`Context::note_newer_head`].
    pub(super) fn take_newer_head(&self) -> bool {
        self.newer_head.swap(false, Ordering::SeqCst)
    }

    /// Where this context's notifications stand (queued events, sinks).
    pub fn notifier(&self) -> &crate::notify::Notifier {
        &self.notifier
    }

    /// Hands the events of a pass's `report` to the notification sinks; returns at once.
    pub(super) fn notify(&self, report: &super::SyncReport) {
        if !self.notifier.is_active() || report.dry_run {
            return;
        }
        let origin = crate::notify::Origin {
            account: self.client.account_id().to_owned(),
            env: self.repo_config().env.clone(),
        };
        self.notifier.publish(report, &origin);
    }

    /// Waits up to `within` for queued notifications (a one-shot `sync` before it exits);
    /// returns whether all were delivered or given up.
    pub async fn flush_notifications(&self, within: Duration) -> bool {
        self.notifier.flush(within).await
    }

    /// Tells a pass in flight that the rollouts of `workers` were aborted: at its next Worker
    /// boundary it stops, so that the abort (a set rollback) goes first.
    pub(super) fn note_rollout_aborts(&self, workers: &[String]) {
        self.rollout_aborts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .extend_from_slice(workers);
    }

    /// Takes the note of [`Context::note_rollout_aborts`].
    pub(super) fn take_rollout_aborts(&self) -> Vec<String> {
        std::mem::take(
            &mut *self
                .rollout_aborts
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }

    /// API figures for `/metrics`.
    pub fn api_snapshot(&self) -> ApiSnapshot {
        api_snapshot(&self.client)
    }
}

/// The client's request counters and budget, as `/metrics` publishes them.
pub(super) fn api_snapshot(client: &Client) -> ApiSnapshot {
    let metrics = client.metrics();
    ApiSnapshot {
        requests: metrics
            .requests_total
            .iter()
            .map(|((method, class), count)| ((method.clone(), (*class).to_owned()), *count))
            .collect(),
        budget_available: Some(f64::from(metrics.budget_available)),
    }
}
