//! The HTTP shell: builds requests, spends the budget, sends, and carries out the retry decision.
//!
//! Every call goes through [`Client::run`]: await a token from the shared [`Budget`], send once,
//! classify the answer, and ask [`crate::retry::decide`] what to do. Writes that are not
//! idempotent (uploads, deployment creation) pass a *verification*: before a write whose outcome
//! is unknown is sent again, the client looks at the live state (a version carrying the upload's
//! `workers/tag`, an active deployment equal to the requested one) and returns what it finds
//! instead of writing twice.
//!
//! Files: [`request`] (one request as data), [`retry_loop`] (the loop and its verification),
//! [`send`] (one attempt), [`interpret`] (classifying an answer, pure), [`form`] (upload
//! bodies), [`pages`] (page-style lists); one file per API family for the typed calls:
//! [`graphql`] (the analytics API), [`versions`], [`uploads`], [`assets`] (static assets),
//! [`deployments`], [`scripts`], [`secrets`], [`settings`] (schedules, workers.dev, script
//! settings), [`resources`] (KV, D1, Queues, R2), [`triggers`] (zones, zone routes, custom
//! domains, queue consumers).
//!
//! Logging: one `debug` line per attempt, `warn` per retry, `info` per recovered write. Only
//! method, path, status and timings are logged; headers and bodies never are.

mod assets;
mod content;
mod deployments;
mod form;
mod graphql;
mod interpret;
mod kv;
mod pages;
mod request;
mod resources;
mod retry_loop;
mod scripts;
mod secrets;
mod send;
mod settings;
mod triggers;
mod uploads;
mod versions;

use std::fmt;
use std::sync::Arc;

use reqwest::header::HeaderValue;

use crate::Secret;
use crate::budget::Budget;
use crate::config::{ClientConfig, ConfigError};
use crate::metrics::{ClientMetrics, Recorder};
use crate::retry::RetryPolicy;
use crate::retry_quota::RetryQuota;

pub use assets::{AssetsSession, AssetsSync};
pub use content::{ContentPart, parse_parts};

/// Client for the Cloudflare Workers API (or the emulator behind `CLOUDFLARE_API_BASE_URL`).
///
/// Cheap to clone; clones share the connection pool, the request budget and the metrics.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base: url::Url,
    account_id: String,
    /// Kept only so `Debug` can show that a token is configured.
    token: Secret,
    authorization: HeaderValue,
    retry: RetryPolicy,
    budget: Budget,
    budget_limit: u32,
    /// Shared by every clone, like the budget: an outage seen by one call throttles the others.
    quota: std::sync::Mutex<RetryQuota>,
    metrics: Recorder,
    /// Checked before every write; set once (see [`Client::set_write_guard`]).
    write_guard: std::sync::OnceLock<Arc<dyn crate::WriteGuard>>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base.as_str())
            .field("account_id", &self.inner.account_id)
            .field("token", &self.inner.token)
            .field("retry", &self.inner.retry)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Builds a client. Fails on an invalid configuration (see [`ClientConfig::validate`]).
    pub fn new(config: ClientConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let base = config.parsed_base_url()?;
        let mut authorization = HeaderValue::try_from(format!("Bearer {}", config.token.expose()))
            .map_err(|_| ConfigError::InvalidToken {
                reason: "it is not a valid http header value",
            })?;
        authorization.set_sensitive(true);
        let http = reqwest::Client::builder()
            .connect_timeout(config.timeouts.connect)
            .timeout(config.timeouts.request)
            .user_agent(concat!("flaresync/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(ConfigError::Http)?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base,
                account_id: config.account_id,
                token: config.token,
                authorization,
                retry: config.retry.clone(),
                budget: Budget::new(&config.budget),
                budget_limit: config.budget.limit,
                quota: std::sync::Mutex::new(RetryQuota::new(config.retry.quota)),
                metrics: Recorder::default(),
                write_guard: std::sync::OnceLock::new(),
            }),
        })
    }

    /// A client configured from `CLOUDFLARE_API_TOKEN`, `CLOUDFLARE_ACCOUNT_ID` and
    /// `CLOUDFLARE_API_BASE_URL`, with default timeouts, budget and retries.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::new(ClientConfig::from_env()?)
    }

    /// Makes every write of this client and its clones pass `guard` first (the lease's
    /// fencing check). Set once; `false` when a guard was set already (it stays).
    pub fn set_write_guard(&self, guard: Arc<dyn crate::WriteGuard>) -> bool {
        self.inner.write_guard.set(guard).is_ok()
    }

    /// The account every call addresses.
    pub fn account_id(&self) -> &str {
        &self.inner.account_id
    }

    /// The API base URL.
    pub fn base_url(&self) -> &str {
        self.inner.base.as_str()
    }

    /// A snapshot of the counters shared by all clones of this client.
    pub fn metrics(&self) -> ClientMetrics {
        self.inner.metrics.snapshot(
            self.inner.budget.available(),
            self.inner.budget.capacity(),
            self.inner.budget_limit,
        )
    }

    /// Requests of all clones waiting for the request budget right now (0 when none is): a
    /// large first deploy is paced by the budget, and a progress display says so.
    pub fn budget_waiting(&self) -> usize {
        self.inner.budget.waiting()
    }

    // === paths ===

    fn account(&self, rest: &[&str]) -> Vec<String> {
        let mut segments = vec!["accounts".to_owned(), self.inner.account_id.clone()];
        segments.extend(rest.iter().map(|s| (*s).to_owned()));
        segments
    }

    fn script(&self, script: &str, rest: &[&str]) -> Vec<String> {
        let mut segments = self.account(&["workers", "scripts", script]);
        segments.extend(rest.iter().map(|s| (*s).to_owned()));
        segments
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::NewDeployment;

    #[test]
    fn debug_of_client_redacts_the_token() {
        let client = Client::new(ClientConfig::new(
            "http://127.0.0.1:9/client/v4",
            "0123456789abcdef0123456789abcdef",
            Secret::new("tok-never-print-me"),
        ))
        .expect("valid config");
        let text = format!("{client:?}");
        assert!(!text.contains("tok-never-print-me"), "{text}");
        assert!(text.contains("[REDACTED]"));
    }

    #[test]
    fn client_futures_are_send() {
        fn assert_send<T: Send>(_: T) {}
        let client = Client::new(ClientConfig::new(
            "http://127.0.0.1:9/client/v4",
            "0123456789abcdef0123456789abcdef",
            Secret::new("tok"),
        ))
        .expect("valid config");
        let metadata = serde_json::json!({});
        assert_send(client.upload_version("s", &metadata, &[]));
        assert_send(client.create_deployment("s", &NewDeployment::single("v", None), false));
        assert_send(client.list_r2_buckets(Some("eu")));
        let assets = flaresync_config::Assets {
            directory: "public".into(),
            config: flaresync_config::AssetsConfig::default(),
            files: Vec::new(),
        };
        assert_send(client.sync_assets("s", &assets));
    }
}
