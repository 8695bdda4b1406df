//! The HTTP shell: builds requests, spends the budget, sends, and carries out the retry decision.
//!
//! Every call goes through [`Client::run`]: await a token from the shared [`Budget`], send once,
//! classify the answer, and ask [`crate::retry::decide`] what to do. Writes that are not
//! idempotent (uploads, deployment creation) pass a *verification*: before a write whose outcome
//! is unknown is sent again, the client looks at the live state (a version carrying the upload's
//! `workers/tag`, an active deployment equal to the requested one) and returns what it finds
//! instead of writing twice.
//!
//! Logging: one `debug` line per attempt, `warn` per retry, `info` per recovered write. Only
//! method, path, status and timings are logged; headers and bodies never are.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use flaresync_config::Module;
use reqwest::header::{AUTHORIZATION, HeaderValue, RETRY_AFTER};
use reqwest::multipart::{Form, Part};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use tracing::{debug, info, warn};

use crate::budget::{Budget, parse_ratelimit_header};
use crate::config::{ClientConfig, ConfigError};
use crate::error::{ApiError, Error};
use crate::metrics::{ClientMetrics, Recorder, StatusClass};
use crate::pagination::{MAX_PAGES, next_cursor, next_page};
use crate::retry::{Decision, Failure, Idempotency, RetryPolicy, StopReason, TransportFailure};
use crate::secret::Secret;
use crate::types::{
    D1Database, Deployment, DeploymentList, KvNamespace, NewDeployment, NewSchedule, Queue,
    R2Bucket, R2BucketList, RawEnvelope, ResultInfo, Schedule, ScheduleList, Script,
    ScriptSettings, ScriptSettingsPatch, ScriptUpload, SecretInfo, ServiceMetadata, Subdomain,
    Version, VersionItems, VersionSummary,
};

/// Page size for page-style lists (the largest every list endpoint accepts).
const PER_PAGE: u32 = 100;
/// Page size for R2's cursor-style list.
const R2_PER_PAGE: u32 = 1000;
/// Header selecting the R2 jurisdiction.
const R2_JURISDICTION_HEADER: &str = "cf-r2-jurisdiction";

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
    metrics: Recorder,
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

/// The body of one request.
enum Body<'a> {
    Empty,
    Json(serde_json::Value),
    Multipart {
        metadata: &'a serde_json::Value,
        modules: &'a [Module],
    },
}

/// One API request, reusable across attempts.
struct Request<'a> {
    method: Method,
    segments: Vec<String>,
    query: Vec<(&'static str, String)>,
    headers: Vec<(&'static str, String)>,
    body: Body<'a>,
    idempotency: Idempotency,
}

impl<'a> Request<'a> {
    fn new(method: Method, segments: Vec<String>) -> Self {
        let idempotency = if method == Method::GET || method == Method::PATCH {
            Idempotency::Idempotent
        } else {
            Idempotency::Unsafe
        };
        Request {
            method,
            segments,
            query: Vec::new(),
            headers: Vec::new(),
            body: Body::Empty,
            idempotency,
        }
    }

    fn query(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.query.push((name, value.into()));
        self
    }

    fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    fn body(mut self, body: Body<'a>) -> Self {
        self.body = body;
        self
    }

    fn idempotency(mut self, idempotency: Idempotency) -> Self {
        self.idempotency = idempotency;
        self
    }

    /// The path below the base, for messages and logs.
    fn path(&self) -> String {
        let mut path = String::new();
        for segment in &self.segments {
            path.push('/');
            path.push_str(segment);
        }
        path
    }
}

/// How one attempt ended, when it did not succeed.
enum AttemptError {
    /// Sending again cannot help (undecodable success, invalid request).
    Final(Error),
    /// Let the retry decision look at it.
    Failed { failure: Failure, error: Error },
}

/// Result of the retry loop: the answer, or what a verification found.
enum Outcome<T> {
    Answered(RawEnvelope),
    Recovered(T),
}

/// A verification that never finds anything (for requests that need none).
async fn nothing_to_verify() -> Result<Option<()>, Error> {
    Ok(None)
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
                retry: config.retry,
                budget: Budget::new(&config.budget),
                budget_limit: config.budget.limit,
                metrics: Recorder::default(),
            }),
        })
    }

    /// A client configured from `CLOUDFLARE_API_TOKEN`, `CLOUDFLARE_ACCOUNT_ID` and
    /// `CLOUDFLARE_API_BASE_URL`, with default timeouts, budget and retries.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::new(ClientConfig::from_env()?)
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

    // === typed calls: versions ===

    /// All versions of `script`, newest first (every page).
    pub async fn list_versions(&self, script: &str) -> Result<Vec<VersionSummary>, Error> {
        let mut all = Vec::new();
        let mut page = 1u32;
        loop {
            let request = Request::new(Method::GET, self.script(script, &["versions"]))
                .query("page", page.to_string())
                .query("per_page", PER_PAGE.to_string());
            let envelope = self.fetch(&request).await?;
            let info = envelope.result_info.clone();
            let items: VersionItems = decode_result(&request, envelope)?;
            let received = items.items.len();
            all.extend(items.items);
            match next_page(page, received, all.len(), PER_PAGE, info.as_ref()) {
                Some(next) => page = next,
                None => return Ok(all),
            }
        }
    }

    /// The versions that may be deployed or rolled back to (`?deployable=true`, the newest 100),
    /// newest first.
    pub async fn list_deployable_versions(
        &self,
        script: &str,
    ) -> Result<Vec<VersionSummary>, Error> {
        let request = Request::new(Method::GET, self.script(script, &["versions"]))
            .query("deployable", "true");
        let envelope = self.fetch(&request).await?;
        let items: VersionItems = decode_result(&request, envelope)?;
        Ok(items.items)
    }

    /// The newest version of `script` carrying `workers/tag` = `tag`, if any.
    ///
    /// Searches the deployable versions (the newest 100, in one request), as wrangler's
    /// `versions deploy --version-tag` does; an upload just made is always among them.
    pub async fn find_version_by_tag(
        &self,
        script: &str,
        tag: &str,
    ) -> Result<Option<VersionSummary>, Error> {
        Ok(self
            .list_deployable_versions(script)
            .await?
            .into_iter()
            .find(|v| v.tag() == Some(tag)))
    }

    /// One version with its bindings, annotations and runtime settings.
    pub async fn get_version(&self, script: &str, version_id: &str) -> Result<Version, Error> {
        let request = Request::new(Method::GET, self.script(script, &["versions", version_id]));
        let envelope = self.fetch(&request).await?;
        decode_result(&request, envelope)
    }

    /// Uploads a new version without deploying it (`POST …/versions?bindings_inherit=strict`).
    ///
    /// `metadata` is the multipart `metadata` part (build it with the config crate's
    /// `upload_metadata`); `modules` become one part each.
    ///
    /// # Guarantees
    /// When `metadata.annotations["workers/tag"]` is set, a retry never creates a second version:
    /// before re-sending an upload whose outcome is unknown (5xx, timeout, dropped connection),
    /// the client looks for a version carrying that tag and returns it if found. Without a tag,
    /// an upload with an unknown outcome is not repeated and fails with
    /// [`Error::OutcomeUnknown`].
    ///
    /// # Caveats
    /// The tag must be unique per upload: a version already carrying it (from an earlier upload)
    /// would be taken as this upload's result once an attempt's outcome is unknown. And a server
    /// still working on a timed-out attempt may commit it after the check found nothing; keep
    /// the request timeout well above Cloudflare's upload times to make that unlikely.
    pub async fn upload_version(
        &self,
        script: &str,
        metadata: &serde_json::Value,
        modules: &[Module],
    ) -> Result<Version, Error> {
        let tag = upload_tag(metadata);
        let request = Request::new(Method::POST, self.script(script, &["versions"]))
            .query("bindings_inherit", "strict")
            .body(Body::Multipart { metadata, modules })
            .idempotency(if tag.is_some() {
                Idempotency::Verifiable
            } else {
                Idempotency::Unsafe
            });
        let verify = || async {
            let Some(tag) = tag.as_deref() else {
                return Ok(None);
            };
            match self.find_version_by_tag(script, tag).await? {
                Some(found) => self.get_version(script, &found.id).await.map(Some),
                None => Ok(None),
            }
        };
        match self.run(&request, verify).await? {
            Outcome::Answered(envelope) => decode_result(&request, envelope),
            Outcome::Recovered(version) => Ok(version),
        }
    }

    /// Uploads and deploys at once (`PUT …/scripts/{name}?bindings_inherit=strict&excludeScript=true`).
    /// Required for a Worker's first upload and for Durable Object migrations.
    ///
    /// # Guarantees
    /// As for [`Client::upload_version`]: with a `workers/tag` annotation, a retry after an
    /// unknown outcome first looks for a version with that tag and, if found, returns a
    /// [`ScriptUpload`] describing it instead of uploading again.
    pub async fn upload_script(
        &self,
        script: &str,
        metadata: &serde_json::Value,
        modules: &[Module],
    ) -> Result<ScriptUpload, Error> {
        let tag = upload_tag(metadata);
        let request = Request::new(Method::PUT, self.script(script, &[]))
            .query("bindings_inherit", "strict")
            .query("excludeScript", "true")
            .body(Body::Multipart { metadata, modules })
            .idempotency(if tag.is_some() {
                Idempotency::Verifiable
            } else {
                Idempotency::Unsafe
            });
        let verify = || async {
            let Some(tag) = tag.as_deref() else {
                return Ok(None);
            };
            let Some(found) = self.find_version_by_tag(script, tag).await? else {
                return Ok(None);
            };
            let version = self.get_version(script, &found.id).await?;
            Ok(Some(ScriptUpload {
                id: Some(script.to_owned()),
                etag: version.resources.script.etag.clone(),
                deployment_id: Some(version.id.clone()),
                migration_tag: version.migration_tag().map(str::to_owned),
                modified_on: version.metadata.modified_on.clone(),
                handlers: version.resources.script.handlers.clone(),
                startup_time_ms: version.startup_time_ms,
            }))
        };
        match self.run(&request, verify).await? {
            Outcome::Answered(envelope) => decode_result(&request, envelope),
            Outcome::Recovered(upload) => Ok(upload),
        }
    }

    // === typed calls: deployments ===

    /// Deployments of `script`, newest (the active one) first.
    pub async fn list_deployments(&self, script: &str) -> Result<Vec<Deployment>, Error> {
        let request = Request::new(Method::GET, self.script(script, &["deployments"]));
        let envelope = self.fetch(&request).await?;
        let list: DeploymentList = decode_result(&request, envelope)?;
        Ok(list.deployments)
    }

    /// The deployment serving traffic now, if the Worker has any.
    pub async fn active_deployment(&self, script: &str) -> Result<Option<Deployment>, Error> {
        Ok(self.list_deployments(script).await?.into_iter().next())
    }

    /// Creates a deployment (`POST …/deployments`, with `?force=true` when `force`), which
    /// becomes active at once. `force` overrides the changed-secrets block (code 10220).
    ///
    /// # Guarantees
    /// Before re-sending a create whose outcome is unknown, the client checks whether the
    /// active deployment already serves exactly the requested versions and percentages, and
    /// returns it if so.
    pub async fn create_deployment(
        &self,
        script: &str,
        deployment: &NewDeployment,
        force: bool,
    ) -> Result<Deployment, Error> {
        let body = serde_json::to_value(deployment).map_err(|e| Error::InvalidRequest {
            method: "POST".into(),
            path: Request::new(Method::POST, self.script(script, &["deployments"])).path(),
            detail: format!("deployment request does not serialize: {e}"),
        })?;
        let mut request = Request::new(Method::POST, self.script(script, &["deployments"]))
            .body(Body::Json(body))
            .idempotency(Idempotency::Verifiable);
        if force {
            request = request.query("force", "true");
        }
        let verify = || async {
            Ok(self
                .active_deployment(script)
                .await?
                .filter(|active| deployment.is_served_by(active)))
        };
        match self.run(&request, verify).await? {
            Outcome::Answered(envelope) => decode_result(&request, envelope),
            Outcome::Recovered(active) => Ok(active),
        }
    }

    // === typed calls: scripts, settings, secrets ===

    /// All Worker scripts of the account (with their current `migration_tag`).
    pub async fn list_scripts(&self) -> Result<Vec<Script>, Error> {
        let request = Request::new(Method::GET, self.account(&["workers", "scripts"]));
        let envelope = self.fetch(&request).await?;
        decode_result(&request, envelope)
    }

    /// Services metadata of `script` (current migration tag, last deployer). `None` when the
    /// Worker does not exist (code 10007). Other 404s (a wrong base URL answers "no route",
    /// code 7003) stay errors, so a misconfiguration is never mistaken for a missing Worker.
    pub async fn service_metadata(&self, script: &str) -> Result<Option<ServiceMetadata>, Error> {
        let request = Request::new(Method::GET, self.account(&["workers", "services", script]));
        match self.fetch(&request).await {
            Ok(envelope) => decode_result(&request, envelope).map(Some),
            Err(error) if error.has_code(crate::error::codes::WORKER_NOT_FOUND) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Names and types of the secrets of `script` (never values).
    pub async fn list_secrets(&self, script: &str) -> Result<Vec<SecretInfo>, Error> {
        let request = Request::new(Method::GET, self.script(script, &["secrets"]));
        let envelope = self.fetch(&request).await?;
        decode_result(&request, envelope)
    }

    // === typed calls: cron triggers ===

    /// The Cron Triggers of `script` (`GET …/schedules`). Not versioned: they stay as they are
    /// across uploads, deployments and rollbacks. A missing Worker is an error with code 10007.
    pub async fn list_schedules(&self, script: &str) -> Result<Vec<Schedule>, Error> {
        let request = Request::new(Method::GET, self.script(script, &["schedules"]));
        let envelope = self.fetch(&request).await?;
        decode_result::<ScheduleList>(&request, envelope).map(|list| list.schedules)
    }

    /// Replaces the whole set of Cron Triggers of `script` with `crons` (`PUT …/schedules`; an
    /// empty slice removes them all) and returns the set Cloudflare now holds. The PUT states
    /// the full desired set, so sending it again is harmless: it is retried like a read.
    pub async fn put_schedules(
        &self,
        script: &str,
        crons: &[String],
    ) -> Result<Vec<Schedule>, Error> {
        let segments = self.script(script, &["schedules"]);
        let items: Vec<NewSchedule<'_>> = crons
            .iter()
            .map(|cron| NewSchedule {
                cron: cron.as_str(),
            })
            .collect();
        let body = serde_json::to_value(&items).map_err(|e| Error::InvalidRequest {
            method: "PUT".into(),
            path: Request::new(Method::PUT, segments.clone()).path(),
            detail: format!("schedules do not serialize: {e}"),
        })?;
        let request = Request::new(Method::PUT, segments)
            .body(Body::Json(body))
            .idempotency(Idempotency::Idempotent);
        let envelope = self.fetch(&request).await?;
        decode_result::<ScheduleList>(&request, envelope).map(|list| list.schedules)
    }

    /// Whether the script's workers.dev route is on (`GET …/subdomain`).
    pub async fn workers_dev(&self, script: &str) -> Result<Subdomain, Error> {
        let request = Request::new(Method::GET, self.script(script, &["subdomain"]));
        let envelope = self.fetch(&request).await?;
        decode_result::<Subdomain>(&request, envelope)
    }

    /// Turns the `<script>.<subdomain>.workers.dev` route on or off (`POST …/subdomain`), as
    /// wrangler does after a deploy (`workers_dev`, default on when the Worker has no routes).
    /// Returns the state Cloudflare now holds. Setting it again is harmless: it is retried
    /// like a read.
    pub async fn set_workers_dev(&self, script: &str, enabled: bool) -> Result<Subdomain, Error> {
        let request = Request::new(Method::POST, self.script(script, &["subdomain"]))
            .body(Body::Json(serde_json::json!({ "enabled": enabled })))
            .idempotency(Idempotency::Idempotent);
        let envelope = self.fetch(&request).await?;
        decode_result::<Subdomain>(&request, envelope)
    }

    /// Updates the non-versioned settings (`PATCH …/script-settings`); unset fields are left
    /// as they are.
    pub async fn patch_script_settings(
        &self,
        script: &str,
        patch: &ScriptSettingsPatch,
    ) -> Result<ScriptSettings, Error> {
        let segments = self.script(script, &["script-settings"]);
        let body = serde_json::to_value(patch).map_err(|e| Error::InvalidRequest {
            method: "PATCH".into(),
            path: Request::new(Method::PATCH, segments.clone()).path(),
            detail: format!("settings do not serialize: {e}"),
        })?;
        let request = Request::new(Method::PATCH, segments).body(Body::Json(body));
        let envelope = self.fetch(&request).await?;
        decode_result(&request, envelope)
    }

    // === typed calls: bound resources ===

    /// All KV namespaces of the account (every page).
    pub async fn list_kv_namespaces(&self) -> Result<Vec<KvNamespace>, Error> {
        self.list_pages(self.account(&["storage", "kv", "namespaces"]))
            .await
    }

    /// All D1 databases of the account (every page).
    pub async fn list_d1_databases(&self) -> Result<Vec<D1Database>, Error> {
        self.list_pages(self.account(&["d1", "database"])).await
    }

    /// All queues of the account (every page).
    pub async fn list_queues(&self) -> Result<Vec<Queue>, Error> {
        self.list_pages(self.account(&["queues"])).await
    }

    /// All R2 buckets of the account in `jurisdiction` (`None`: the default jurisdiction;
    /// otherwise `eu`, `fedramp`, ...), following the cursor to the end.
    pub async fn list_r2_buckets(
        &self,
        jurisdiction: Option<&str>,
    ) -> Result<Vec<R2Bucket>, Error> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut request = Request::new(Method::GET, self.account(&["r2", "buckets"]))
                .query("per_page", R2_PER_PAGE.to_string());
            if let Some(cursor) = &cursor {
                request = request.query("cursor", cursor.clone());
            }
            if let Some(jurisdiction) = jurisdiction {
                request = request.header(R2_JURISDICTION_HEADER, jurisdiction);
            }
            let envelope = self.fetch(&request).await?;
            let info = envelope.result_info.clone();
            let list: R2BucketList = decode_result(&request, envelope)?;
            let received = list.buckets.len();
            all.extend(list.buckets);
            match next_cursor(info.as_ref(), cursor.as_deref()) {
                Some(next) if received > 0 => cursor = Some(next),
                _ => break,
            }
        }
        Ok(all)
    }

    /// Follows page-style pagination of a list whose `result` is an array.
    async fn list_pages<T: DeserializeOwned>(
        &self,
        segments: Vec<String>,
    ) -> Result<Vec<T>, Error> {
        let mut all: Vec<T> = Vec::new();
        let mut page = 1u32;
        loop {
            let request = Request::new(Method::GET, segments.clone())
                .query("page", page.to_string())
                .query("per_page", PER_PAGE.to_string());
            let envelope = self.fetch(&request).await?;
            let info: Option<ResultInfo> = envelope.result_info.clone();
            let items: Vec<T> = decode_result(&request, envelope)?;
            let received = items.len();
            all.extend(items);
            match next_page(page, received, all.len(), PER_PAGE, info.as_ref()) {
                Some(next) => page = next,
                None => return Ok(all),
            }
        }
    }

    // === the retry loop ===

    /// Runs a request that needs no verification.
    async fn fetch(&self, request: &Request<'_>) -> Result<RawEnvelope, Error> {
        match self.run(request, nothing_to_verify).await? {
            Outcome::Answered(envelope) => Ok(envelope),
            Outcome::Recovered(()) => Err(Error::InvalidRequest {
                method: request.method.to_string(),
                path: request.path(),
                detail: "internal: a request without verification reported a recovery".into(),
            }),
        }
    }

    /// Sends `request` until it succeeds or the retry decision gives up. `verify` is consulted
    /// before re-sending a [`Idempotency::Verifiable`] request whose previous outcome is unknown.
    async fn run<T, F, Fut>(&self, request: &Request<'_>, verify: F) -> Result<Outcome<T>, Error>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Option<T>, Error>>,
    {
        let method = request.method.as_str();
        let path = request.path();
        let policy = &self.inner.retry;
        let mut attempt = 1u32;
        loop {
            let waited = self.inner.budget.acquire().await;
            self.inner.metrics.throttled(waited);
            if !waited.is_zero() {
                debug!(
                    method,
                    path = %path,
                    waited_ms = waited.as_millis() as u64,
                    "Waited for the request budget."
                );
            }
            let (failure, error) = match self.attempt(request, &path).await {
                Ok(envelope) => return Ok(Outcome::Answered(envelope)),
                Err(AttemptError::Final(error)) => return Err(error),
                Err(AttemptError::Failed { failure, error }) => (failure, error),
            };
            if let Failure::Status {
                status: 429,
                retry_after,
            } = failure
            {
                self.inner.metrics.rate_limited();
                // The lockout is account-wide: hold every clone back, not just this call.
                let hold = retry_after
                    .unwrap_or(policy.rate_limit_floor)
                    .min(policy.max_retry_after);
                self.inner.budget.block_for(hold);
            }
            let jitter: f64 = rand::random();
            match crate::retry::decide(policy, attempt, &failure, request.idempotency, jitter) {
                Decision::Retry {
                    delay,
                    verify_first,
                } => {
                    warn!(
                        method,
                        path = %path,
                        attempt,
                        delay_ms = delay.as_millis() as u64,
                        error = %error,
                        "Retrying Cloudflare API request."
                    );
                    tokio::time::sleep(delay).await;
                    if verify_first
                        && let (Some(found), _) =
                            self.verify(request, &path, &verify, error).await?
                    {
                        return Ok(Outcome::Recovered(found));
                    }
                    self.inner.metrics.retry();
                    attempt += 1;
                }
                Decision::Stop(reason) => {
                    let mut error = error;
                    if failure.outcome_unknown() && request.idempotency == Idempotency::Verifiable {
                        // Giving up must not hide a write that did happen: the caller would
                        // upload again on its next pass and create a duplicate.
                        match self.verify(request, &path, &verify, error).await? {
                            (Some(found), _) => return Ok(Outcome::Recovered(found)),
                            (None, unchanged) => error = unchanged,
                        }
                    }
                    return Err(self.give_up(request, &path, attempt, reason, error));
                }
            }
        }
    }

    /// Runs a verification after `error` left the outcome of `request` open. `Ok(Some)` means
    /// the write had taken effect; a failing verification leaves the outcome unknown.
    async fn verify<T, F, Fut>(
        &self,
        request: &Request<'_>,
        path: &str,
        verify: &F,
        error: Error,
    ) -> Result<(Option<T>, Error), Error>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Option<T>, Error>>,
    {
        match verify().await {
            Ok(Some(found)) => {
                self.inner.metrics.recovered();
                info!(
                    method = request.method.as_str(),
                    path = %path,
                    "Write had already taken effect; not sending it again."
                );
                Ok((Some(found), error))
            }
            Ok(None) => Ok((None, error)),
            Err(verify_error) => Err(Error::VerificationFailed {
                method: request.method.to_string(),
                path: path.to_owned(),
                attempt_error: Box::new(error),
                source: Box::new(verify_error),
            }),
        }
    }

    fn give_up(
        &self,
        request: &Request<'_>,
        path: &str,
        attempt: u32,
        reason: StopReason,
        error: Error,
    ) -> Error {
        match reason {
            StopReason::NotRetryable => error,
            StopReason::AttemptsExhausted if attempt <= 1 => error,
            StopReason::AttemptsExhausted => Error::RetriesExhausted {
                attempts: attempt,
                last: Box::new(error),
            },
            StopReason::RetryAfterTooLong { retry_after } => Error::RateLimited {
                method: request.method.to_string(),
                path: path.to_owned(),
                retry_after,
                max: self.inner.retry.max_retry_after,
            },
            StopReason::OutcomeUnknown => Error::OutcomeUnknown {
                method: request.method.to_string(),
                path: path.to_owned(),
                reason: "the request is not safe to repeat",
                last: Box::new(error),
            },
        }
    }

    /// Sends `request` once and classifies the answer.
    async fn attempt(
        &self,
        request: &Request<'_>,
        path: &str,
    ) -> Result<RawEnvelope, AttemptError> {
        let method = request.method.as_str();
        let invalid = |detail: String| {
            AttemptError::Final(Error::InvalidRequest {
                method: method.to_owned(),
                path: path.to_owned(),
                detail,
            })
        };
        let mut url = self.inner.base.clone();
        url.path_segments_mut()
            .map_err(|()| invalid("the api base url cannot take a path".into()))?
            .pop_if_empty()
            .extend(&request.segments);
        let mut builder = self
            .inner
            .http
            .request(request.method.clone(), url)
            .header(AUTHORIZATION, self.inner.authorization.clone());
        if !request.query.is_empty() {
            builder = builder.query(&request.query);
        }
        for (name, value) in &request.headers {
            builder = builder.header(*name, value.as_str());
        }
        builder = match &request.body {
            Body::Empty => builder,
            Body::Json(value) => builder.json(value),
            Body::Multipart { metadata, modules } => {
                builder.multipart(build_form(metadata, modules).map_err(invalid)?)
            }
        };
        debug!(method, path = %path, "Sending Cloudflare API request.");
        let response = match builder.send().await {
            Ok(response) => response,
            Err(source) => return Err(self.transport_failure(method, path, source)),
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| crate::retry::parse_retry_after(v, SystemTime::now()));
        if let Some(quota) = response
            .headers()
            .get("ratelimit")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_ratelimit_header)
        {
            self.inner.budget.observe_quota(quota);
        }
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(source) => return Err(self.transport_failure(method, path, source)),
        };
        self.inner
            .metrics
            .request(method, StatusClass::of(status.as_u16()));
        debug!(method, path = %path, status = status.as_u16(), "Cloudflare API answered.");
        interpret(method, path, status, retry_after, &body)
    }

    fn transport_failure(&self, method: &str, path: &str, source: reqwest::Error) -> AttemptError {
        self.inner.metrics.request(method, StatusClass::Transport);
        let kind = if source.is_connect() {
            TransportFailure::Connect
        } else if source.is_timeout() {
            TransportFailure::Timeout
        } else {
            TransportFailure::Dropped
        };
        AttemptError::Failed {
            failure: Failure::Transport(kind),
            error: Error::Transport {
                method: method.to_owned(),
                path: path.to_owned(),
                base_url: redacted_base(self.inner.base.as_str()),
                kind,
                source: source.without_url(),
            },
        }
    }
}

/// Classifies one HTTP answer. Pure apart from decoding.
fn interpret(
    method: &str,
    path: &str,
    status: StatusCode,
    retry_after: Option<Duration>,
    body: &[u8],
) -> Result<RawEnvelope, AttemptError> {
    let code = status.as_u16();
    let envelope: Option<Result<RawEnvelope, serde_json::Error>> =
        (!body.iter().all(u8::is_ascii_whitespace)).then(|| serde_json::from_slice(body));
    if status.is_success() {
        let envelope = match envelope {
            // 204/205 or an empty body: wrangler treats it as `{success: true, result: {}}`.
            None => {
                return Ok(RawEnvelope {
                    success: true,
                    errors: Vec::new(),
                    result: None,
                    result_info: None,
                });
            }
            Some(Ok(envelope)) => envelope,
            Some(Err(e)) => {
                return Err(AttemptError::Final(Error::Decode {
                    method: method.to_owned(),
                    path: path.to_owned(),
                    status: code,
                    detail: format!("the body is not a json envelope ({e})"),
                }));
            }
        };
        if envelope.success {
            return Ok(envelope);
        }
        return Err(AttemptError::Final(Error::Api(ApiError {
            status: code,
            errors: envelope.errors,
            method: method.to_owned(),
            path: path.to_owned(),
        })));
    }
    let errors = match envelope {
        Some(Ok(envelope)) => envelope.errors,
        _ => Vec::new(),
    };
    Err(AttemptError::Failed {
        failure: Failure::Status {
            status: code,
            retry_after,
        },
        error: Error::Api(ApiError {
            status: code,
            errors,
            method: method.to_owned(),
            path: path.to_owned(),
        }),
    })
}

/// Decodes the envelope's `result` into `T`. A missing `result` decodes as JSON `null`, so
/// `Option`/defaulted targets accept it.
fn decode_result<T: DeserializeOwned>(
    request: &Request<'_>,
    envelope: RawEnvelope,
) -> Result<T, Error> {
    let value = envelope.result.unwrap_or(serde_json::Value::Null);
    serde_json::from_value(value).map_err(|e| Error::Decode {
        method: request.method.to_string(),
        path: request.path(),
        status: 200,
        detail: format!("the result does not have the expected shape ({e})"),
    })
}

/// The `workers/tag` annotation of an upload's metadata.
fn upload_tag(metadata: &serde_json::Value) -> Option<String> {
    metadata
        .get("annotations")?
        .get("workers/tag")?
        .as_str()
        .filter(|tag| !tag.is_empty())
        .map(str::to_owned)
}

/// The multipart body of an upload: a `metadata` JSON part, then one part per module named by
/// its path (as wrangler sends it: part name and file name both the module path).
fn build_form(metadata: &serde_json::Value, modules: &[Module]) -> Result<Form, String> {
    let metadata =
        serde_json::to_vec(metadata).map_err(|e| format!("metadata does not serialize: {e}"))?;
    let metadata = Part::bytes(metadata)
        .mime_str("application/json")
        .map_err(|e| format!("metadata content type: {e}"))?;
    // Module paths go verbatim into the part name, like wrangler's FormData does; the default
    // percent-encoding would turn `lib/util.js` into `name*=utf-8''lib%2Futil.js`.
    let mut form = Form::new().percent_encode_noop().part("metadata", metadata);
    for module in modules {
        if module.name.is_empty()
            || module.name == "metadata"
            || module
                .name
                .chars()
                .any(|c| c.is_control() || c == '"' || c == '\\')
        {
            return Err(format!(
                "module name {:?} cannot be a multipart part name",
                module.name
            ));
        }
        let content = Bytes::from_owner(Arc::clone(&module.content));
        let length = content.len() as u64;
        let part = Part::stream_with_length(reqwest::Body::from(content), length)
            .file_name(module.name.clone())
            .mime_str(&module.content_type)
            .map_err(|e| {
                format!(
                    "module {:?} has an invalid content type {:?}: {e}",
                    module.name, module.content_type
                )
            })?;
        form = form.part(module.name.clone(), part);
    }
    Ok(form)
}

/// The base URL for messages: any `user:password@` part is dropped.
fn redacted_base(base: &str) -> String {
    match base.split_once("://") {
        Some((scheme, rest)) => {
            let host_end = rest.find('/').unwrap_or(rest.len());
            match rest[..host_end].rfind('@') {
                Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
                None => base.to_owned(),
            }
        }
        None => base.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpret_classifies_answers() {
        let ok = br#"{"success":true,"errors":[],"messages":[],"result":{"id":"x"}}"#;
        let envelope = interpret("GET", "/p", StatusCode::OK, None, ok)
            .ok()
            .expect("success");
        assert_eq!(envelope.result, Some(serde_json::json!({"id": "x"})));

        assert!(interpret("DELETE", "/p", StatusCode::NO_CONTENT, None, b"").is_ok());

        match interpret("GET", "/p", StatusCode::OK, None, b"<html>") {
            Err(AttemptError::Final(Error::Decode { status: 200, .. })) => {}
            _ => panic!("html on 200 is a decode error"),
        }

        let failed = br#"{"success":false,"errors":[{"code":10007,"message":"This Worker does not exist on your account."}],"result":null}"#;
        match interpret("GET", "/p", StatusCode::NOT_FOUND, None, failed) {
            Err(AttemptError::Failed {
                failure: Failure::Status { status: 404, .. },
                error,
            }) => assert!(error.has_code(10007)),
            _ => panic!("404 is a failure for the retry decision"),
        }

        match interpret(
            "GET",
            "/p",
            StatusCode::TOO_MANY_REQUESTS,
            Some(Duration::from_secs(3)),
            b"rate limited",
        ) {
            Err(AttemptError::Failed {
                failure:
                    Failure::Status {
                        status: 429,
                        retry_after: Some(after),
                    },
                error,
            }) => {
                assert_eq!(after, Duration::from_secs(3));
                assert!(error.api().is_some_and(|api| api.errors.is_empty()));
            }
            _ => panic!("429 keeps its retry-after"),
        }

        let success_false = br#"{"success":false,"errors":[{"code":1,"message":"odd"}]}"#;
        match interpret("POST", "/p", StatusCode::OK, None, success_false) {
            Err(AttemptError::Final(Error::Api(api))) => assert!(api.has_code(1)),
            _ => panic!("success:false on 200 is final"),
        }
    }

    #[test]
    fn upload_tag_reads_the_annotation() {
        let metadata = serde_json::json!({"annotations": {"workers/tag": "abc123"}});
        assert_eq!(upload_tag(&metadata).as_deref(), Some("abc123"));
        assert_eq!(upload_tag(&serde_json::json!({})), None);
        assert_eq!(
            upload_tag(&serde_json::json!({"annotations": {"workers/tag": ""}})),
            None
        );
    }

    #[test]
    fn module_names_that_break_part_headers_are_rejected() {
        let module = |name: &str| Module {
            name: name.into(),
            content_type: "application/javascript+module".into(),
            sha256: String::new(),
            size: 0,
            content: Arc::from(&b""[..]),
        };
        let metadata = serde_json::json!({"main_module": "index.js"});
        assert!(build_form(&metadata, &[module("index.js"), module("lib/util.js")]).is_ok());
        for bad in ["", "metadata", "a\"b.js", "a\nb.js"] {
            assert!(build_form(&metadata, &[module(bad)]).is_err(), "{bad:?}");
        }
        let mut bad_type = module("x.js");
        bad_type.content_type = "not a mime".into();
        assert!(build_form(&metadata, &[bad_type]).is_err());
    }

    #[test]
    fn debug_of_client_redacts_the_token() {
        let client = Client::new(ClientConfig::new(
            "http://127.0.0.1:9/client/v4",
            "acc",
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
            "acc",
            Secret::new("tok"),
        ))
        .expect("valid config");
        let metadata = serde_json::json!({});
        assert_send(client.upload_version("s", &metadata, &[]));
        assert_send(client.create_deployment("s", &NewDeployment::single("v", None), false));
        assert_send(client.list_r2_buckets(Some("eu")));
    }
}
