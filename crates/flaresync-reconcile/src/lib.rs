//! The flaresync reconcile loop: keep Cloudflare equal to Git, continuously.
//!
//! # Layout
//!
//! - [`policy`]: the error taxonomy (Stalled / Waiting / Transient), reason codes, the pure
//!   [`policy::error_policy`] and the backoff.
//! - [`scheduler`]: per-key dedupe + debounce, one run per key at a time (pure state machine).
//! - [`trigger`]: [`ReconcileRequest`], what every trigger sends.
//! - [`webhook`]: GitHub push webhook verification (HMAC-SHA256, constant time) and filtering.
//! - [`watcher`]: notify-based file-system trigger for a local repository.
//! - [`server`]: the status server (`/healthz`, `/status`, `/metrics`, `/webhook`,
//!   `/reconcile`) and the webhook listener; its guards (admin token, rate limit, body bounds)
//!   in [`server::admin`] and [`server::throttle`].
//! - [`runner`]: the loop: triggers, scheduler, passes, requeues, graceful shutdown.
//! - [`metrics`], [`status`]: what the server publishes; [`live_view`]: the live split and
//!   Cloudflare's deployments as status shows them (pure).
//! - [`pass`]: [`Context`], [`sync_once`] (one pass, a folder of stages) and [`run`] (the loop
//!   over it).
//! - [`observe`]: the one observation of live state (`sync`, `run` and `plan --live`).
//! - [`progress`]: Workers done out of those the running pass writes to, for progress displays.
//! - [`conditions`]: Flux-style conditions of a Worker from its pass report (pure).
//! - [`convert`]: pure mapping of client/git answers to the planner's types.
//! - [`error`]: the crate [`Error`] and its classification.
//! - [`health`], [`drift`]: post-deploy health checks and out-of-band deployment detection.
//! - [`rollout`]: progressive delivery, pure (state machine, verdicts, journal record) plus the
//!   analysis providers; the pass drives it from `pass/rollout*.rs`; [`github`] opens the pull
//!   request for the revert of an aborted commit.
//! - [`notify`]: events of each pass to a JSON webhook, Slack and GitHub (statuses,
//!   Deployments), delivered in the background with retries.
//!
//! # Usage (what the CLI calls)
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use flaresync_reconcile::{
//!     Context, RunConfig, SyncOptions, TriggerSource, run, server, shutdown_signal, sync_once,
//! };
//!
//! let source = flaresync_git::GitSource::open_local("/srv/config-repo", "main")?;
//! let client = flaresync_cloudflare::Client::from_env()?;
//! let ctx = Arc::new(Context::new(
//!     source,
//!     client,
//!     "/var/lib/flaresync/journal.sqlite",
//!     flaresync_config::RepoConfig::default(),
//! )?);
//!
//! // `flaresync apply [--dry-run]`: one pass.
//! let report = sync_once(&ctx, SyncOptions { dry_run: true, trigger: TriggerSource::Cli }).await?;
//! println!("{}", serde_json::to_string_pretty(&report)?);
//!
//! // `flaresync run`: the loop, until SIGTERM or ctrl-c.
//! let config = RunConfig {
//!     status_listener: Some(server::bind(None).await?),
//!     ..RunConfig::default()
//! };
//! run(ctx, config, shutdown_signal()).await?;
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

pub mod conditions;
pub mod convert;
pub mod drift;
pub mod error;
pub mod github;
pub mod health;
pub mod live_view;
pub mod metrics;
pub mod notify;
pub mod observe;
pub mod pass;
pub mod policy;
pub mod progress;
pub mod rollout;
pub mod runner;
pub mod scheduler;
pub mod server;
pub mod status;
pub mod trigger;
pub mod watcher;
pub mod webhook;

pub use error::Error;
pub use observe::{beyond_window, fetch_resources, known_versions, observe_workers, version_tags};
pub use pass::{
    Context, ContextOptions, LAST_GOOD_NAME_DEPTH, ReportedError, SyncOptions, SyncReport,
    WorkerOutcome, WorkerReport, run, sync_once, sync_scoped, sync_scoped_by,
};
pub use policy::{Action, BackoffConfig, Class, Reason, error_policy};
pub use progress::Progress;
pub use runner::{PassOutcome, Reconciler, RunConfig, RunError, Scope, run_with, shutdown_signal};
pub use trigger::{ReconcileRequest, Target, TriggerSource};
