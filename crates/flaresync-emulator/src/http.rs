//! The thin axum shell: routes under `/client/v4`, the Cloudflare envelope, bearer auth, the
//! per-token rate limit, fault injection, the request log and the `/__emulator` admin API.
//! Every handler parses its input into values and calls one state-core function inside one
//! SQLite transaction on a blocking thread.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rusqlite::Transaction;
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::config::EmulatorConfig;
use crate::error::ApiError;
use crate::faults::{FaultKind, FaultSpec, FaultTable};
use crate::ratelimit::RateLimiter;
use crate::state::account::{self, Identity};
use crate::state::upload::{ModulePart, Upload};
use crate::state::{
    Ctx, Db, Reply, deployments, format_ts, resources, schedules, scripts, secrets, versions,
};

/// Marker put on a response to make the connection layer close the socket without answering.
#[derive(Debug, Clone, Copy)]
pub struct DropConnection;

/// One logged API request (`GET /__emulator/requests`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LoggedRequest {
    pub seq: u64,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub status: u16,
    /// The injected fault, if one fired (`status`, `rate_limit`, `latency`, `drop`,
    /// `fail_after_commit`).
    pub fault: Option<String>,
    pub at: String,
}

const LOG_CAPACITY: usize = 10_000;

#[derive(Debug, Default)]
pub(crate) struct RequestLog {
    next: u64,
    entries: VecDeque<LoggedRequest>,
}

/// Shared state of a running emulator.
pub struct Shared {
    pub(crate) config: EmulatorConfig,
    pub(crate) db: Db,
    pub(crate) faults: Mutex<FaultTable>,
    pub(crate) limiter: Mutex<RateLimiter>,
    pub(crate) log: Mutex<RequestLog>,
    pub(crate) user_id: String,
    /// Requests the data plane served (GraphQL analytics).
    pub(crate) invocations: crate::dataplane::InvocationLog,
}

pub type AppState = Arc<Shared>;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    pub(crate) fn new(config: EmulatorConfig, db: Db) -> Self {
        let user_id = fingerprint("user", &config.user_email);
        Self {
            limiter: Mutex::new(RateLimiter::new(config.rate_limit)),
            config,
            db,
            faults: Mutex::new(FaultTable::default()),
            log: Mutex::new(RequestLog::default()),
            user_id,
            invocations: crate::dataplane::InvocationLog::default(),
        }
    }

    pub(crate) fn ctx(&self, headers: &HeaderMap) -> Ctx {
        let from_wrangler = headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ua| ua.starts_with("wrangler"));
        Ctx {
            now: chrono::Utc::now(),
            source: if from_wrangler { "wrangler" } else { "api" }.into(),
            author_email: self.config.user_email.clone(),
            author_id: self.user_id.clone(),
            version_window: self.config.version_window,
            max_script_bytes: self.config.max_script_bytes,
        }
    }

    pub(crate) fn requests(&self) -> Vec<LoggedRequest> {
        lock(&self.log).entries.iter().cloned().collect()
    }

    pub(crate) fn add_fault(&self, spec: FaultSpec) -> Result<u64, crate::faults::FaultError> {
        lock(&self.faults).add(spec)
    }

    pub(crate) fn clear_faults(&self) {
        lock(&self.faults).clear();
    }

    /// Clears faults, the request log, rate-limit counters and all stored state.
    pub(crate) fn reset(&self) -> Result<(), ApiError> {
        self.clear_faults();
        *lock(&self.log) = RequestLog::default();
        lock(&self.limiter).reset();
        self.invocations.clear();
        self.db.wipe()
    }

    fn record(
        &self,
        method: &str,
        path: &str,
        query: Option<String>,
        status: u16,
        fault: Option<String>,
    ) {
        let mut log = lock(&self.log);
        log.next += 1;
        let entry = LoggedRequest {
            seq: log.next,
            method: method.to_owned(),
            path: path.to_owned(),
            query,
            status,
            fault,
            at: format_ts(chrono::Utc::now()),
        };
        if log.entries.len() >= LOG_CAPACITY {
            log.entries.pop_front();
        }
        log.entries.push_back(entry);
    }
}

/// A non-reversible id derived from a secret (token) or a name; safe to log and return.
fn fingerprint(purpose: &str, value: &str) -> String {
    let digest = Sha256::digest(format!("flaresync-emulator:{purpose}:{value}").as_bytes());
    hex::encode(&digest[..16])
}

// === Envelope ===

fn envelope(status: StatusCode, body: Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

pub(crate) fn error_response(error: &ApiError) -> Response {
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    envelope(
        status,
        json!({
            "success": false,
            "errors": [{"code": error.code, "message": error.message}],
            "messages": [],
            "result": Value::Null,
        }),
    )
}

fn reply_response(result: Result<Reply, ApiError>) -> Response {
    match result {
        Ok(reply) => {
            let mut body = json!({"success": true, "errors": [], "messages": []});
            if let Some(result) = reply.result {
                body["result"] = result;
            }
            if let Some(info) = reply.result_info {
                body["result_info"] = info;
            }
            envelope(StatusCode::OK, body)
        }
        Err(error) => error_response(&error),
    }
}

fn rate_limited(retry_after: u64, limit: u32, window: Duration) -> Response {
    let mut response = error_response(&ApiError::new(
        429,
        971,
        format!(
            "More than {limit} requests per {} seconds reached. Please wait and consider \
             throttling your request speed",
            window.as_secs()
        ),
    ));
    if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

// === Running core functions ===

/// Runs a state-core write in one transaction on a blocking thread.
async fn write<F>(app: &AppState, headers: &HeaderMap, f: F) -> Response
where
    F: FnOnce(&Transaction<'_>, &Ctx) -> Result<Reply, ApiError> + Send + 'static,
{
    let ctx = app.ctx(headers);
    let app = app.clone();
    let joined = tokio::task::spawn_blocking(move || app.db.write(|tx| f(tx, &ctx))).await;
    reply_response(joined.unwrap_or_else(|_| Err(ApiError::internal())))
}

/// Runs a state-core read in one transaction on a blocking thread.
async fn read<F>(app: &AppState, headers: &HeaderMap, f: F) -> Response
where
    F: FnOnce(&Transaction<'_>, &Ctx) -> Result<Reply, ApiError> + Send + 'static,
{
    let ctx = app.ctx(headers);
    let app = app.clone();
    let joined = tokio::task::spawn_blocking(move || app.db.read(|tx| f(tx, &ctx))).await;
    reply_response(joined.unwrap_or_else(|_| Err(ApiError::internal())))
}

type Params = Query<Vec<(String, String)>>;

fn param<'a>(q: &'a [(String, String)], key: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn flag(q: &[(String, String)], key: &str) -> bool {
    matches!(param(q, key), Some("true") | Some("1"))
}

fn parse_json(body: &Bytes) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))
}

async fn read_upload(req: Request) -> Result<Upload, ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if content_type.starts_with("application/javascript")
        || content_type.starts_with("text/javascript")
    {
        let bytes = Bytes::from_request(req, &())
            .await
            .map_err(|e| ApiError::bad_request(format!("failed to read the request body: {e}")))?;
        return Ok(Upload {
            metadata: json!({"body_part": "worker.js"}),
            modules: vec![ModulePart {
                name: "worker.js".into(),
                filename: Some("worker.js".into()),
                content_type: Some("application/javascript".into()),
                bytes: bytes.to_vec(),
            }],
        });
    }
    if !content_type.starts_with("multipart/form-data") {
        return Err(ApiError::new(
            415,
            10001,
            "the upload must be multipart/form-data (or application/javascript for a service \
             worker)",
        ));
    }
    let mut multipart = Multipart::from_request(req, &())
        .await
        .map_err(|e| ApiError::bad_request(format!("malformed multipart body: {e}")))?;
    let mut metadata = None;
    let mut modules = Vec::new();
    loop {
        let field = multipart
            .next_field()
            .await
            .map_err(|e| ApiError::bad_request(format!("malformed multipart body: {e}")))?;
        let Some(field) = field else { break };
        let name = field.name().unwrap_or_default().to_owned();
        let filename = field.file_name().map(str::to_owned);
        let part_type = field.content_type().map(str::to_owned);
        let bytes = field
            .bytes()
            .await
            .map_err(|e| ApiError::bad_request(format!("failed to read part {name:?}: {e}")))?;
        if name == "metadata" || name == "settings" {
            metadata = Some(serde_json::from_slice(&bytes).map_err(|e| {
                ApiError::validation(format!("the `{name}` part is not valid JSON: {e}"))
            })?);
        } else {
            modules.push(ModulePart {
                name,
                filename,
                content_type: part_type,
                bytes: bytes.to_vec(),
            });
        }
    }
    let metadata = metadata
        .ok_or_else(|| ApiError::validation("the multipart upload has no `metadata` part"))?;
    Ok(Upload { metadata, modules })
}

// === Routes ===

/// Builds the router (API + admin) for `app`.
pub fn router(app: AppState) -> Router {
    let a = "/client/v4/accounts/{account_id}";
    let s = "/client/v4/accounts/{account_id}/workers/scripts/{script}";
    let api = Router::new()
        .route("/client/v4/user/tokens/verify", get(token_verify))
        .route("/client/v4/user", get(user))
        .route("/client/v4/accounts", get(accounts))
        .route(a, get(account_get))
        .route("/client/v4/memberships", get(memberships))
        .route(&format!("{a}/workers/scripts"), get(scripts_list))
        .route(s, get(script_content).put(script_put).delete(script_delete))
        .route(&format!("{s}/content/v2"), get(script_content))
        .route(
            &format!("{a}/workers/services/{{script}}"),
            get(service_get),
        )
        .route(&format!("{a}/workers/subdomain"), get(account_subdomain))
        .route(
            &format!("{s}/subdomain"),
            get(subdomain_get)
                .post(subdomain_post)
                .delete(subdomain_delete),
        )
        .route(
            &format!("{s}/versions"),
            get(versions_list).post(versions_post),
        )
        .route(&format!("{s}/versions/{{version}}"), get(version_get))
        .route(
            &format!("{s}/deployments"),
            get(deployments_list).post(deployments_post),
        )
        .route(
            &format!("{s}/deployments/{{deployment}}"),
            get(deployment_get).delete(deployment_delete),
        )
        .route(
            &format!("{s}/settings"),
            get(settings_get).patch(settings_patch),
        )
        .route(
            &format!("{s}/script-settings"),
            get(script_settings_get).patch(script_settings_patch),
        )
        .route(&format!("{s}/secrets"), get(secrets_list).put(secret_put))
        .route(
            &format!("{s}/schedules"),
            get(schedules_get).put(schedules_put),
        )
        .route(
            &format!("{s}/secrets/{{secret}}"),
            get(secret_get).delete(secret_delete),
        )
        .route(
            &format!("{a}/storage/kv/namespaces"),
            get(kv_list).post(kv_create),
        )
        .route(
            &format!("{a}/storage/kv/namespaces/{{id}}"),
            get(kv_get).delete(kv_delete),
        )
        .route(&format!("{a}/r2/buckets"), get(r2_list).post(r2_create))
        .route(
            &format!("{a}/r2/buckets/{{name}}"),
            get(r2_get).delete(r2_delete),
        )
        .route(&format!("{a}/d1/database"), get(d1_list).post(d1_create))
        .route(
            &format!("{a}/d1/database/{{id}}"),
            get(d1_get).delete(d1_delete),
        )
        .route(&format!("{a}/queues"), get(queues_list).post(queue_create))
        .route(
            &format!("{a}/queues/{{id}}"),
            get(queue_get).delete(queue_delete),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(app.clone(), gate));
    let admin = Router::new()
        .route(
            "/__emulator/faults",
            get(admin_faults_list)
                .post(admin_faults_add)
                .delete(admin_faults_clear),
        )
        .route("/__emulator/requests", get(admin_requests))
        .route("/__emulator/reset", axum::routing::post(admin_reset));
    api.merge(admin)
        .layer(axum::extract::DefaultBodyLimit::max(
            app.config.max_body_bytes,
        ))
        .with_state(app)
}

async fn not_found(req: Request) -> Response {
    error_response(&ApiError::new(
        404,
        7003,
        format!(
            "Could not route to {}, perhaps your object identifier is invalid?",
            req.uri().path()
        ),
    ))
}

async fn method_not_allowed(req: Request) -> Response {
    error_response(&ApiError::new(
        405,
        7001,
        format!(
            "Method {} not allowed for {}",
            req.method(),
            req.uri().path()
        ),
    ))
}

// === Gate: faults, auth, rate limit, log ===

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
}

/// Constant-time string comparison (tokens).
fn same(a: &str, b: &str) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.bytes()
        .zip(b.bytes())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

fn path_account(path: &str) -> Option<&str> {
    path.strip_prefix("/client/v4/accounts/")
        .map(|rest| rest.split('/').next().unwrap_or_default())
}

async fn authorize_and_run(app: AppState, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let is_verify = path == "/client/v4/user/tokens/verify";
    let Some(token) = bearer(req.headers()).map(str::to_owned) else {
        return error_response(&ApiError::new(
            401,
            10000,
            "Authentication error: missing `Authorization: Bearer <api token>` header",
        ));
    };
    let Some(index) = app.config.tokens.iter().position(|t| same(t, &token)) else {
        return if is_verify {
            error_response(&ApiError::new(401, 1000, "Invalid API Token"))
        } else {
            error_response(&ApiError::new(
                403,
                10000,
                "Authentication error: the API token is not valid for this emulator",
            ))
        };
    };
    if let Some(account) = path_account(&path)
        && account != app.config.account_id
    {
        return error_response(&ApiError::new(
            403,
            9109,
            format!(
                "Unauthorized to access requested resource: this token has no access to \
                     account {account}"
            ),
        ));
    }
    let key = format!("token-{index}");
    let decision = lock(&app.limiter).check(&key, tokio::time::Instant::now());
    let policy = lock(&app.limiter).policy();
    let mut response = if decision.allowed {
        req.extensions_mut().insert(Identity {
            account_id: app.config.account_id.clone(),
            account_name: app.config.account_name.clone(),
            user_email: app.config.user_email.clone(),
            user_id: app.user_id.clone(),
            token_id: fingerprint("token", &token),
        });
        next.run(req).await
    } else {
        rate_limited(decision.reset_secs, policy.requests, policy.window)
    };
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "\"default\";r={};t={}",
        decision.remaining, decision.reset_secs
    )) {
        headers.insert("ratelimit", v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!(
        "\"default\";q={};w={}",
        policy.requests,
        policy.window.as_secs()
    )) {
        headers.insert("ratelimit-policy", v);
    }
    response
}

async fn gate(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().map(str::to_owned);
    let hit = lock(&app.faults).take(&method, &path, rand::random::<f64>());
    let fault_name = hit.as_ref().map(|h| {
        serde_json::to_value(h.spec.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    });
    let response = match hit.map(|h| h.spec) {
        None => authorize_and_run(app.clone(), req, next).await,
        Some(spec) => match spec.kind {
            FaultKind::Latency => {
                tokio::time::sleep(Duration::from_millis(spec.latency_ms.unwrap_or(0))).await;
                authorize_and_run(app.clone(), req, next).await
            }
            FaultKind::Status => {
                let status = spec.status.unwrap_or(500);
                let mut r = error_response(&ApiError::new(
                    status,
                    spec.code.unwrap_or(if status == 429 { 971 } else { 10002 }),
                    spec.message
                        .clone()
                        .unwrap_or_else(|| "An internal error occurred (injected fault).".into()),
                ));
                if let Some(secs) = spec.retry_after
                    && let Ok(v) = HeaderValue::from_str(&secs.to_string())
                {
                    r.headers_mut().insert(header::RETRY_AFTER, v);
                }
                r
            }
            FaultKind::RateLimit => {
                let policy = lock(&app.limiter).policy();
                rate_limited(
                    spec.retry_after.unwrap_or(1),
                    policy.requests,
                    policy.window,
                )
            }
            FaultKind::Drop => {
                let mut r = Response::new(Body::empty());
                r.extensions_mut().insert(DropConnection);
                r
            }
            FaultKind::FailAfterCommit => {
                let r = authorize_and_run(app.clone(), req, next).await;
                if r.status().is_success() {
                    error_response(&ApiError::new(
                        spec.status.unwrap_or(500),
                        spec.code.unwrap_or(10002),
                        spec.message.clone().unwrap_or_else(|| {
                            "An internal error occurred (injected fault: the change was \
                             committed)."
                                .into()
                        }),
                    ))
                } else {
                    r
                }
            }
        },
    };
    let response = envelope_plain_errors(response).await;
    let status = if response.extensions().get::<DropConnection>().is_some() {
        0
    } else {
        response.status().as_u16()
    };
    app.record(&method, &path, query, status, fault_name);
    response
}

/// Framework rejections (bad path encoding, body over the limit, ...) come as plain text;
/// Cloudflare always answers with the JSON envelope, so wrap them.
async fn envelope_plain_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if status.as_u16() < 400 || is_json || response.extensions().get::<DropConnection>().is_some() {
        return response;
    }
    let retry_after = response.headers().get(header::RETRY_AFTER).cloned();
    let text = axum::body::to_bytes(response.into_body(), 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let code = match status.as_u16() {
        413 => 10027,
        _ => 10001,
    };
    let message = if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("request failed")
            .to_owned()
    } else {
        text
    };
    let mut wrapped = error_response(&ApiError::new(status.as_u16(), code, message));
    if let Some(v) = retry_after {
        wrapped.headers_mut().insert(header::RETRY_AFTER, v);
    }
    wrapped
}

// === Identity ===

async fn token_verify(axum::Extension(id): axum::Extension<Identity>) -> Response {
    reply_response(Ok(account::verify(&id)))
}
async fn user(axum::Extension(id): axum::Extension<Identity>) -> Response {
    reply_response(Ok(account::user(&id)))
}
async fn accounts(axum::Extension(id): axum::Extension<Identity>) -> Response {
    reply_response(Ok(account::accounts(&id)))
}
async fn account_get(axum::Extension(id): axum::Extension<Identity>) -> Response {
    reply_response(Ok(account::account_get(&id)))
}
async fn memberships(axum::Extension(id): axum::Extension<Identity>) -> Response {
    reply_response(Ok(account::memberships(&id)))
}

// === Scripts ===

async fn scripts_list(State(app): State<AppState>, headers: HeaderMap) -> Response {
    read(&app, &headers, |tx, _| scripts::list(tx)).await
}

async fn script_put(
    State(app): State<AppState>,
    Path((_, script)): Path<(String, String)>,
    Query(q): Params,
    req: Request,
) -> Response {
    let headers = req.headers().clone();
    let upload = match read_upload(req).await {
        Ok(u) => u,
        Err(e) => return error_response(&e),
    };
    if param(&q, "rollback_to").is_some() {
        return error_response(&ApiError::validation(
            "the legacy `rollback_to` deployments API is not emulated; create a deployment \
             with POST …/deployments instead",
        ));
    }
    let strict = param(&q, "bindings_inherit") == Some("strict");
    write(&app, &headers, move |tx, ctx| {
        scripts::put(tx, ctx, &script, &upload, strict)
    })
    .await
}

async fn script_delete(
    State(app): State<AppState>,
    Path((_, script)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    write(&app, &headers, move |tx, _| scripts::delete(tx, &script)).await
}

async fn script_content(
    State(app): State<AppState>,
    Path((_, script)): Path<(String, String)>,
    Query(q): Params,
) -> Response {
    let version = param(&q, "version").map(str::to_owned);
    let app2 = app.clone();
    let joined = tokio::task::spawn_blocking(move || {
        app2.db
            .read(|tx| scripts::content(tx, &script, version.as_deref()))
    })
    .await;
    match joined.unwrap_or_else(|_| Err(ApiError::internal())) {
        Ok(scripts::Content::Raw {
            content_type,
            bytes,
        }) => {
            let mut r = Response::new(Body::from(bytes));
            if let Ok(v) = HeaderValue::from_str(&content_type) {
                r.headers_mut().insert(header::CONTENT_TYPE, v);
            }
            r
        }
        Ok(scripts::Content::Modules { entrypoint, parts }) => {
            let boundary = format!("flaresync-{}", uuid::Uuid::new_v4().simple());
            let mut body = Vec::new();
            for (name, content_type, bytes) in parts {
                let name = name.replace('"', "%22");
                body.extend_from_slice(
                    format!(
                        "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; \
                         filename=\"{name}\"\r\nContent-Type: {content_type}\r\n\r\n"
                    )
                    .as_bytes(),
                );
                body.extend_from_slice(&bytes);
                body.extend_from_slice(b"\r\n");
            }
            body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
            let mut r = Response::new(Body::from(body));
            if let Ok(v) =
                HeaderValue::from_str(&format!("multipart/form-data; boundary={boundary}"))
            {
                r.headers_mut().insert(header::CONTENT_TYPE, v);
            }
            if let Ok(v) = HeaderValue::from_str(&entrypoint) {
                r.headers_mut().insert("cf-entrypoint", v);
            }
            r
        }
        Err(e) => error_response(&e),
    }
}

async fn service_get(
    State(app): State<AppState>,
    Path((_, script)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    read(&app, &headers, move |tx, _| scripts::service(tx, &script)).await
}

async fn account_subdomain(State(app): State<AppState>) -> Response {
    reply_response(Ok(Reply::new(json!({"subdomain": app.config.subdomain}))))
}

async fn subdomain_get(
    State(app): State<AppState>,
    Path((_, script)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    read(&app, &headers, move |tx, _| {
        scripts::subdomain_get(tx, &script)
    })
    .await
}

async fn subdomain_post(
    State(app): State<AppState>,
    Path((_, script)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = match parse_json(&body) {
        Ok(b) => b,
        Err(e) => return error_response(&e),
    };
    write(&app, &headers, move |tx, _| {
        scripts::subdomain_post(tx, &script, &body)
    })
    .await
}

async fn subdomain_delete(
    State(app): State<AppState>,
    Path((_, script)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    write(&app, &headers, move |tx, _| {
        scripts::subdomain_delete(tx, &script)
    })
    .await
}

// === Versions ===

async fn versions_list(
    State(app): State<AppState>,
    Path((_, script)): Path<(String, String)>,
    Query(q): Params,
    headers: HeaderMap,
) -> Response {
    read(&app, &headers, move |tx, ctx| {
        versions::list(
            tx,
            ctx,
            &script,
            flag(&q, "deployable"),
            param(&q, "page"),
            param(&q, "per_page"),
        )
    })
    .await
}

async fn versions_post(
    State(app): State<AppState>,
    Path((_, script)): Path<(String, String)>,
    Query(q): Params,
    req: Request,
) -> Response {
    let headers = req.headers().clone();
    let upload = match read_upload(req).await {
        Ok(u) => u,
        Err(e) => return error_response(&e),
    };
    let strict = param(&q, "bindings_inherit") == Some("strict");
    write(&app, &headers, move |tx, ctx| {
        versions::upload(tx, ctx, &script, &upload, strict)
    })
    .await
}

async fn version_get(
    State(app): State<AppState>,
    Path((_, script, version)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    read(&app, &headers, move |tx, _| {
        versions::get(tx, &script, &version)
    })
    .await
}

// === Deployments ===

async fn deployments_list(
    State(app): State<AppState>,
    Path((_, script)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    read(&app, &headers, move |tx, _| deployments::list(tx, &script)).await
}

async fn deployments_post(
    State(app): State<AppState>,
    Path((_, script)): Path<(String, String)>,
    Query(q): Params,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = match parse_json(&body) {
        Ok(b) => b,
        Err(e) => return error_response(&e),
    };
    let force = flag(&q, "force");
    write(&app, &headers, move |tx, ctx| {
        deployments::create(tx, ctx, &script, &body, force)
    })
    .await
}

async fn deployment_get(
    State(app): State<AppState>,
    Path((_, script, id)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    read(&app, &headers, move |tx, _| {
        deployments::get(tx, &script, &id)
    })
    .await
}

async fn deployment_delete(
    State(app): State<AppState>,
    Path((_, script, id)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    write(&app, &headers, move |tx, _| {
        deployments::delete(tx, &script, &id)
    })
    .await
}

// === Settings ===

async fn settings_get(
    State(app): State<AppState>,
    Path((_, script)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    read(&app, &headers, move |tx, _| {
        scripts::settings_get(tx, &script)
    })
    .await
}

async fn settings_patch(
    State(app): State<AppState>,
    Path((_, script)): Path<(String, String)>,
    req: Request,
) -> Response {
    let headers = req.headers().clone();
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let patch = if is_json {
        match Bytes::from_request(req, &()).await {
            Ok(b) => parse_json(&b),
            Err(e) => Err(ApiError::bad_request(format!(
                "failed to read the body: {e}"
            ))),
        }
    } else {
        read_upload(req).await.map(|u| u.metadata)
    };
    let patch = match patch {
        Ok(p) => p,
        Err(e) => return error_response(&e),
    };
    write(&app, &headers, move |tx, ctx| {
        scripts::settings_patch(tx, ctx, &script, &patch)
    })
    .await
}

async fn script_settings_get(
    State(app): State<AppState>,
    Path((_, script)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    read(&app, &headers, move |tx, _| {
        scripts::script_settings_get(tx, &script)
    })
    .await
}

async fn script_settings_patch(
    State(app): State<AppState>,
    Path((_, script)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = match parse_json(&body) {
        Ok(b) => b,
        Err(e) => return error_response(&e),
    };
    write(&app, &headers, move |tx, _| {
        scripts::script_settings_patch(tx, &script, &body)
    })
    .await
}

// === Secrets ===

async fn secrets_list(
    State(app): State<AppState>,
    Path((_, script)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    read(&app, &headers, move |tx, _| secrets::list(tx, &script)).await
}

async fn secret_put(
    State(app): State<AppState>,
    Path((_, script)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = match parse_json(&body) {
        Ok(b) => b,
        Err(e) => return error_response(&e),
    };
    write(&app, &headers, move |tx, ctx| {
        secrets::put(tx, ctx, &script, &body)
    })
    .await
}

async fn secret_get(
    State(app): State<AppState>,
    Path((_, script, name)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    read(&app, &headers, move |tx, _| {
        secrets::get(tx, &script, &name)
    })
    .await
}

async fn secret_delete(
    State(app): State<AppState>,
    Path((_, script, name)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    write(&app, &headers, move |tx, ctx| {
        secrets::delete(tx, ctx, &script, &name)
    })
    .await
}

// === Cron Triggers ===

async fn schedules_get(
    State(app): State<AppState>,
    Path((_, script)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    read(&app, &headers, move |tx, _| schedules::get(tx, &script)).await
}

async fn schedules_put(
    State(app): State<AppState>,
    Path((_, script)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = match parse_json(&body) {
        Ok(b) => b,
        Err(e) => return error_response(&e),
    };
    write(&app, &headers, move |tx, ctx| {
        schedules::put(tx, ctx, &script, &body)
    })
    .await
}

// === Resources ===

fn body_str(body: &Value, key: &str) -> Option<String> {
    body.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn jurisdiction_header(headers: &HeaderMap) -> Option<String> {
    headers
        .get("cf-r2-jurisdiction")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

async fn kv_list(State(app): State<AppState>, Query(q): Params, headers: HeaderMap) -> Response {
    read(&app, &headers, move |tx, _| {
        resources::kv_list(
            tx,
            &resources::KvListQuery {
                page: param(&q, "page"),
                per_page: param(&q, "per_page"),
                order: param(&q, "order"),
                direction: param(&q, "direction"),
            },
        )
    })
    .await
}

async fn kv_create(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let body = match parse_json(&body) {
        Ok(b) => b,
        Err(e) => return error_response(&e),
    };
    let title = body_str(&body, "title").unwrap_or_default();
    write(&app, &headers, move |tx, ctx| {
        resources::kv_create(tx, ctx, &title)
    })
    .await
}

async fn kv_get(
    State(app): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    read(&app, &headers, move |tx, _| resources::kv_get(tx, &id)).await
}

async fn kv_delete(
    State(app): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    write(&app, &headers, move |tx, _| resources::kv_delete(tx, &id)).await
}

async fn r2_list(State(app): State<AppState>, Query(q): Params, headers: HeaderMap) -> Response {
    let j = jurisdiction_header(&headers);
    read(&app, &headers, move |tx, _| {
        resources::r2_list(
            tx,
            &resources::R2ListQuery {
                jurisdiction: j.as_deref(),
                name_contains: param(&q, "name_contains"),
                start_after: param(&q, "start_after"),
                per_page: param(&q, "per_page"),
                cursor: param(&q, "cursor"),
                direction: param(&q, "direction"),
            },
        )
    })
    .await
}

async fn r2_create(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let body = match parse_json(&body) {
        Ok(b) => b,
        Err(e) => return error_response(&e),
    };
    let j = jurisdiction_header(&headers);
    write(&app, &headers, move |tx, ctx| {
        resources::r2_create(
            tx,
            ctx,
            &body_str(&body, "name").unwrap_or_default(),
            j.as_deref(),
            body_str(&body, "locationHint").as_deref(),
            body_str(&body, "storageClass").as_deref(),
        )
    })
    .await
}

async fn r2_get(
    State(app): State<AppState>,
    Path((_, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let j = jurisdiction_header(&headers);
    read(&app, &headers, move |tx, _| {
        resources::r2_get(tx, &name, j.as_deref())
    })
    .await
}

async fn r2_delete(
    State(app): State<AppState>,
    Path((_, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let j = jurisdiction_header(&headers);
    write(&app, &headers, move |tx, _| {
        resources::r2_delete(tx, &name, j.as_deref())
    })
    .await
}

async fn d1_list(State(app): State<AppState>, Query(q): Params, headers: HeaderMap) -> Response {
    read(&app, &headers, move |tx, _| {
        resources::d1_list(
            tx,
            param(&q, "name"),
            param(&q, "page"),
            param(&q, "per_page"),
        )
    })
    .await
}

async fn d1_create(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let body = match parse_json(&body) {
        Ok(b) => b,
        Err(e) => return error_response(&e),
    };
    write(&app, &headers, move |tx, ctx| {
        resources::d1_create(
            tx,
            ctx,
            &body_str(&body, "name").unwrap_or_default(),
            body_str(&body, "jurisdiction").as_deref(),
        )
    })
    .await
}

async fn d1_get(
    State(app): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    read(&app, &headers, move |tx, _| resources::d1_get(tx, &id)).await
}

async fn d1_delete(
    State(app): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    write(&app, &headers, move |tx, _| resources::d1_delete(tx, &id)).await
}

async fn queues_list(
    State(app): State<AppState>,
    Query(q): Params,
    headers: HeaderMap,
) -> Response {
    read(&app, &headers, move |tx, _| {
        let names: Vec<&str> = q
            .iter()
            .filter(|(k, _)| k == "name")
            .map(|(_, v)| v.as_str())
            .collect();
        resources::queues_list(tx, &names, param(&q, "page"), param(&q, "per_page"))
    })
    .await
}

async fn queue_create(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let body = match parse_json(&body) {
        Ok(b) => b,
        Err(e) => return error_response(&e),
    };
    let name = body_str(&body, "queue_name").unwrap_or_default();
    write(&app, &headers, move |tx, ctx| {
        resources::queue_create(tx, ctx, &name)
    })
    .await
}

async fn queue_get(
    State(app): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    read(&app, &headers, move |tx, _| resources::queue_get(tx, &id)).await
}

async fn queue_delete(
    State(app): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    write(&app, &headers, move |tx, _| {
        resources::queue_delete(tx, &id)
    })
    .await
}

// === Admin ===

fn admin_ok(app: &AppState, headers: &HeaderMap) -> Result<(), Box<Response>> {
    let token = bearer(headers).unwrap_or_default();
    let ok = match &app.config.admin_token {
        Some(admin) => same(admin, token),
        None => app.config.tokens.iter().any(|t| same(t, token)),
    };
    if ok {
        Ok(())
    } else {
        Err(Box::new(error_response(&ApiError::new(
            401,
            10000,
            "Authentication error: /__emulator needs the admin token (or an API token when no \
             admin token is configured)",
        ))))
    }
}

async fn admin_faults_list(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(r) = admin_ok(&app, &headers) {
        return *r;
    }
    let faults: Vec<Value> = lock(&app.faults)
        .list()
        .into_iter()
        .map(|(id, spec, remaining)| json!({"id": id, "spec": spec, "remaining": remaining}))
        .collect();
    reply_response(Ok(Reply::new(Value::Array(faults))))
}

async fn admin_faults_add(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = admin_ok(&app, &headers) {
        return *r;
    }
    let spec: FaultSpec = match serde_json::from_slice(&body) {
        Ok(s) => s,
        Err(e) => {
            return error_response(&ApiError::bad_request(format!("invalid fault spec: {e}")));
        }
    };
    match app.add_fault(spec) {
        Ok(id) => reply_response(Ok(Reply::new(json!({"id": id})))),
        Err(e) => error_response(&ApiError::bad_request(format!("invalid fault spec: {e}"))),
    }
}

async fn admin_faults_clear(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(r) = admin_ok(&app, &headers) {
        return *r;
    }
    app.clear_faults();
    reply_response(Ok(Reply::new(json!({}))))
}

async fn admin_requests(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(r) = admin_ok(&app, &headers) {
        return *r;
    }
    reply_response(Ok(Reply::new(json!(app.requests()))))
}

async fn admin_reset(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(r) = admin_ok(&app, &headers) {
        return *r;
    }
    let app2 = app.clone();
    let joined = tokio::task::spawn_blocking(move || app2.reset()).await;
    reply_response(
        joined
            .unwrap_or_else(|_| Err(ApiError::internal()))
            .map(|_| Reply::new(json!({}))),
    )
}
