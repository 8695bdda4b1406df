//! Cloudflare Workers API client for flaresync: the real API at
//! `https://api.cloudflare.com/client/v4` or the emulator behind `CLOUDFLARE_API_BASE_URL`.
//!
//! - [`Client`]: typed calls for everything the reconciler needs (versions, deployments,
//!   uploads, scripts, services metadata, KV/R2/D1/Queues lists, secrets, script settings, and
//!   Cron Triggers, which Cloudflare does not version: [`Client::put_schedules`] replaces the set).
//! - Every request first takes a token from an account-wide [`Budget`] shared by all clones, so
//!   flaresync stays well below Cloudflare's 1200-requests-per-5-minutes lockout.
//! - Failures are retried by a pure decision ([`retry::decide`]): backoff with full jitter on
//!   5xx and transport errors, `Retry-After` on 429. Uploads and deployment creation are made
//!   safe to retry by checking the live state before sending them again.
//! - Static assets go up as wrangler sends them ([`Client::sync_assets`]): an upload session
//!   with the manifest, then only the buckets Cloudflare asks for ([`plan_upload`], pure).
//! - The API token is a [`Secret`]: it never appears in `Debug`, `Display`, errors or logs.
//!
//! What this crate does not do: decide *what* to upload or deploy (flaresync-plan), or build the
//! upload metadata (flaresync-config's `upload_metadata`).
//!
//! ```no_run
//! # async fn demo(metadata: serde_json::Value, modules: Vec<flaresync_config::Module>)
//! #     -> Result<(), Box<dyn std::error::Error>> {
//! use flaresync_cloudflare::{Client, NewDeployment};
//!
//! // CLOUDFLARE_API_TOKEN, CLOUDFLARE_ACCOUNT_ID, optional CLOUDFLARE_API_BASE_URL.
//! let client = Client::from_env()?;
//! // `metadata` carries annotations {"workers/tag": <commit>}, which makes retries safe.
//! let version = client.upload_version("my-worker", &metadata, &modules).await?;
//! let deployment = NewDeployment::single(version.id.clone(), Some("deploy abc1234".into()));
//! match client.create_deployment("my-worker", &deployment, false).await {
//!     Err(error) if error.has_code(10220) => {
//!         // Secrets changed since the target was active: force only when that is intended.
//!         client.create_deployment("my-worker", &deployment, true).await?;
//!     }
//!     other => {
//!         other?;
//!     }
//! }
//! println!("{:?}", client.metrics());
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]

pub mod assets_plan;
pub mod budget;
mod client;
pub mod config;
pub mod error;
mod lock;
pub mod metrics;
pub mod pagination;
pub mod ratelimit_headers;
pub mod retry;
pub mod retry_quota;
pub mod types;
pub mod write_guard;

pub use assets_plan::{AssetsProblem, UploadPlan, plan_upload};
pub use budget::{Budget, BudgetConfig, BudgetConfigError, Lane, in_lane};
pub use client::{AssetsSession, AssetsSync, Client, ContentPart, parse_parts};
pub use config::{ClientConfig, ConfigError, Timeouts};
pub use error::{ApiError, Error};
pub use flaresync_config::Secret;
pub use metrics::ClientMetrics;
pub use retry::RetryPolicy;
pub use types::*;
pub use write_guard::WriteGuard;
