//! The status server: `/` (the status page), `/healthz`, `/status`, `/metrics`, `/webhook`,
//! `/reconcile`; and the webhook listener, serving `/webhook` alone.
//!
//! It only reads shared state and *sends* [`ReconcileRequest`]s; it never reconciles. The
//! listener and the shutdown signal are injected (mini-redis style), so tests bind port 0 and
//! stop it with a oneshot.
//!
//! Guards, one concern per file: [`admin`] (the bearer token of mutating endpoints: without a
//! token configured they are refused with 403), [`throttle`] (a rate limit per listener, bounded
//! bodies, log lines about refusals at most once a minute) and `webhook_route` (deliveries up
//! to GitHub's 25 MB, unsigned ones refused before their body is read). The page's renderer is
//! [`page`], its access rule [`page_access`].

pub mod admin;
pub mod page;
pub mod page_access;
pub mod throttle;
mod webhook_route;

use std::{future::Future, sync::Arc};

use axum::{
    Json, Router,
    extract::{Query, State},
    http::{StatusCode, header},
    middleware::{from_fn, from_fn_with_state},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::Deserialize;
use tracing::info;

pub use admin::{ADMIN_TOKEN_VAR, AdminToken};
pub use page_access::{PageAccess, STATUS_PAGE_VAR};
pub use throttle::RateLimit;

use crate::{
    metrics::{ApiSnapshot, Metrics},
    status::StatusBoard,
    trigger::{ReconcileRequest, TriggerSender, TriggerSource},
    webhook::WebhookSecret,
};

/// Webhook settings: the shared secret and the branch whose pushes trigger a reconcile.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    pub secret: WebhookSecret,
    pub branch: String,
}

/// Records an operator's rollout command: `(command, worker or all, actor)` -> the Workers it
/// applies to, or the reason it failed.
pub type RolloutControlFn = Arc<
    dyn Fn(crate::rollout::Command, Option<&str>, &str) -> Result<Vec<String>, String>
        + Send
        + Sync,
>;

/// Reads API figures from the Cloudflare client at render time.
pub type ApiSnapshotFn = Arc<dyn Fn() -> ApiSnapshot + Send + Sync>;

/// What the handlers share.
#[derive(Clone)]
pub struct ServerState {
    pub status: Arc<StatusBoard>,
    pub metrics: Arc<Metrics>,
    pub api_snapshot: ApiSnapshotFn,
    pub triggers: TriggerSender,
    /// `None`: `/webhook` answers 404.
    pub webhook: Option<WebhookConfig>,
    /// `None`: mutating endpoints (`POST /reconcile`) answer 403.
    pub admin_token: Option<AdminToken>,
    /// `None`: `POST /rollout/<command>` answers 404.
    pub rollout_control: Option<RolloutControlFn>,
    /// Who may read the status page (`auto` is resolved against the listener's address).
    pub page_access: PageAccess,
}

/// What one listener's handlers share: the server state and that listener's guards.
#[derive(Clone)]
struct App {
    state: ServerState,
    guards: Arc<throttle::Guards>,
}

impl App {
    fn new(state: ServerState, limit: RateLimit) -> Self {
        App {
            state,
            guards: Arc::new(throttle::Guards::new(limit)),
        }
    }
}

impl std::fmt::Debug for ServerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerState")
            .field("webhook", &self.webhook)
            .field("admin_token", &self.admin_token)
            .field("page_access", &self.page_access)
            .finish_non_exhaustive()
    }
}

/// The default status address: loopback only.
pub const DEFAULT_STATUS_ADDR: std::net::SocketAddr =
    std::net::SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 9477);

/// Binds the status listener (`None`: [`DEFAULT_STATUS_ADDR`]).
///
/// # Errors
///
/// The bind error (address in use, permission denied).
pub async fn bind(
    address: Option<std::net::SocketAddr>,
) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(address.unwrap_or(DEFAULT_STATUS_ADDR)).await
}

/// The status server's router (rate-limited but for `/healthz`), for embedding or for tests.
pub fn router(state: ServerState) -> Router {
    let app = App::new(state, RateLimit::STATUS);
    let mutating = Router::new()
        .route("/reconcile", post(reconcile))
        .route("/rollout/{command}", post(rollout_command))
        .route_layer(from_fn_with_state(app.clone(), admin::require_admin));
    let page = Router::new()
        .route("/", get(page))
        .route_layer(from_fn_with_state(
            app.clone(),
            page_access::require_page_access,
        ));
    let bodiless = Router::new()
        .merge(page)
        .route("/status", get(status))
        .route("/metrics", get(metrics))
        .merge(mutating)
        .route_layer(from_fn(throttle::bound_body));
    Router::new()
        .merge(bodiless)
        .merge(webhook_route::routes())
        .route_layer(from_fn_with_state(app.clone(), throttle::rate_limit))
        .route("/healthz", get(healthz))
        .with_state(app)
}

/// The webhook listener's router: `POST /webhook` and nothing else, with its own rate limit.
pub fn webhook_router(state: ServerState) -> Router {
    let app = App::new(state, RateLimit::WEBHOOK);
    webhook_route::routes()
        .route_layer(from_fn_with_state(app.clone(), throttle::rate_limit))
        .with_state(app)
}

/// Which endpoints a listener serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoints {
    /// Every endpoint: the status server ([`router`]).
    All,
    /// `POST /webhook` alone: the webhook listener ([`webhook_router`]).
    WebhookOnly,
}

/// Serves the status server until `shutdown` completes, then finishes in-flight requests.
///
/// # Errors
///
/// Returns the I/O error that stopped the accept loop.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: ServerState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_endpoints(Endpoints::All, listener, state, shutdown).await
}

/// Serves `endpoints` until `shutdown` completes, then finishes in-flight requests.
///
/// # Errors
///
/// Returns the I/O error that stopped the accept loop.
pub async fn serve_endpoints(
    endpoints: Endpoints,
    listener: tokio::net::TcpListener,
    state: ServerState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut state = state;
    state.page_access = state.page_access.resolve(listener.local_addr().ok());
    let (router, what) = match endpoints {
        Endpoints::All => (router(state), "Status server"),
        Endpoints::WebhookOnly => (webhook_router(state), "Webhook listener"),
    };
    if let Ok(address) = listener.local_addr() {
        info!(address = %address, "{what} listening.");
    }
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// `GET /`: the status page (rendered by [`page::render`]).
async fn page(State(app): State<App>) -> Response {
    let html = page::render(&app.state.status.snapshot(), page::PageOptions::default());
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (
                header::CONTENT_SECURITY_POLICY,
                page::CONTENT_SECURITY_POLICY,
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        html,
    )
        .into_response()
}

async fn status(State(app): State<App>) -> Json<crate::status::StatusSnapshot> {
    Json(app.state.status.snapshot())
}

async fn metrics(State(app): State<App>) -> Response {
    let text = app.state.metrics.render(&(app.state.api_snapshot)());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
struct ReconcileQuery {
    worker: Option<String>,
}

async fn reconcile(State(app): State<App>, Query(query): Query<ReconcileQuery>) -> Response {
    let request = match query.worker {
        Some(worker) if !worker.is_empty() => {
            // Only a Worker name reaches the scheduler and the log (never arbitrary text).
            if let Err(reason) = flaresync_config::check_script_name(&worker) {
                return (
                    StatusCode::BAD_REQUEST,
                    format!(
                        "`worker` {reason}: Worker names are {}\n",
                        flaresync_config::SCRIPT_NAME_RULE
                    ),
                )
                    .into_response();
            }
            ReconcileRequest::worker(worker, TriggerSource::Manual)
        }
        _ => ReconcileRequest::all(TriggerSource::Manual),
    };
    info!(target_workers = ?request.target, "Manual reconcile requested.");
    send(&app.state, request)
}

/// `POST /rollout/<promote|abort|pause|resume>[?worker=NAME]`: records the command for the
/// open rollouts it names and runs a pass for their Workers at once.
async fn rollout_command(
    State(app): State<App>,
    axum::extract::Path(command): axum::extract::Path<String>,
    Query(query): Query<ReconcileQuery>,
) -> Response {
    let Some(command) = crate::rollout::Command::parse(&command) else {
        return (
            StatusCode::NOT_FOUND,
            "rollout commands are promote, abort, pause and resume\n",
        )
            .into_response();
    };
    let worker = query.worker.filter(|w| !w.is_empty());
    if let Some(worker) = &worker
        && let Err(reason) = flaresync_config::check_script_name(worker)
    {
        return (StatusCode::BAD_REQUEST, format!("`worker` {reason}\n")).into_response();
    }
    let Some(control) = app.state.rollout_control.clone() else {
        return (StatusCode::NOT_FOUND, "this loop runs no rollouts\n").into_response();
    };
    let affected = match control(command, worker.as_deref(), "the status API") {
        Ok(affected) => affected,
        Err(error) => {
            return (StatusCode::INTERNAL_SERVER_ERROR, format!("{error}\n")).into_response();
        }
    };
    if affected.is_empty() {
        return (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({
                "command": command.as_str(),
                "workers": affected,
                "error": "no rollout in progress for that worker",
            })),
        )
            .into_response();
    }
    info!(command = command.as_str(), workers = ?affected, "Rollout command recorded.");
    for worker in &affected {
        let _ = app.state.triggers.send(ReconcileRequest::worker(
            worker.clone(),
            TriggerSource::Manual,
        ));
    }
    (
        StatusCode::ACCEPTED,
        Json(serde_json::json!({"command": command.as_str(), "workers": affected})),
    )
        .into_response()
}

fn send(state: &ServerState, request: ReconcileRequest) -> Response {
    match state.triggers.send(request) {
        Ok(()) => (
            StatusCode::ACCEPTED,
            Json(serde_json::json!({"accepted": true})),
        )
            .into_response(),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(
                serde_json::json!({"accepted": false, "error": "reconcile loop is shutting down"}),
            ),
        )
            .into_response(),
    }
}
