//! The status server: `/healthz`, `/status`, `/metrics`, `/webhook`, `/reconcile`.
//!
//! It only reads shared state and *sends* [`ReconcileRequest`]s; it never reconciles. The
//! listener and the shutdown signal are injected (mini-redis style), so tests bind port 0 and
//! stop it with a oneshot. Bind it to loopback unless it sits behind something that
//! authenticates `/reconcile` (webhook deliveries authenticate themselves by signature).

use std::{future::Future, sync::Arc};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::Deserialize;
use tracing::{debug, info, warn};

use crate::{
    metrics::{ApiSnapshot, Metrics},
    status::StatusBoard,
    trigger::{ReconcileRequest, TriggerSender, TriggerSource},
    webhook::{self, Decision, WebhookSecret},
};

/// Webhook settings: the shared secret and the branch whose pushes trigger a reconcile.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    pub secret: WebhookSecret,
    pub branch: String,
}

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
}

impl std::fmt::Debug for ServerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerState")
            .field("webhook", &self.webhook)
            .finish_non_exhaustive()
    }
}

/// The default status address: loopback only, so `/reconcile` is not reachable from outside.
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

/// The router, for embedding or for tests.
pub fn router(state: ServerState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/status", get(status))
        .route("/metrics", get(metrics))
        .route("/webhook", post(webhook_handler))
        .route("/reconcile", post(reconcile))
        .with_state(state)
}

/// Serves until `shutdown` completes, then finishes in-flight requests and returns.
///
/// # Errors
///
/// Returns the I/O error that stopped the accept loop.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: ServerState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if let Ok(address) = listener.local_addr() {
        info!(address = %address, "Status server listening.");
    }
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn status(State(state): State<ServerState>) -> Json<crate::status::StatusSnapshot> {
    Json(state.status.snapshot())
}

async fn metrics(State(state): State<ServerState>) -> Response {
    let text = state.metrics.render(&(state.api_snapshot)());
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

async fn reconcile(
    State(state): State<ServerState>,
    Query(query): Query<ReconcileQuery>,
) -> Response {
    let request = match query.worker {
        Some(worker) if !worker.is_empty() => {
            ReconcileRequest::worker(worker, TriggerSource::Manual)
        }
        _ => ReconcileRequest::all(TriggerSource::Manual),
    };
    info!(target_workers = ?request.target, "Manual reconcile requested.");
    send(&state, request)
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

async fn webhook_handler(
    State(state): State<ServerState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(config) = state.webhook.as_ref() else {
        return (
            StatusCode::NOT_FOUND,
            "webhook not configured: start flaresync run with FLARESYNC_WEBHOOK_SECRET set\n",
        )
            .into_response();
    };
    let signature = headers
        .get("x-hub-signature-256")
        .and_then(|value| value.to_str().ok());
    if let Err(error) = webhook::verify_signature(&config.secret, &body, signature) {
        warn!(error = %error, "Rejected webhook delivery.");
        return (StatusCode::UNAUTHORIZED, format!("{error}\n")).into_response();
    }
    let event = headers
        .get("x-github-event")
        .and_then(|value| value.to_str().ok());
    match webhook::decide(event, &body, &config.branch) {
        Ok(Decision::Reconcile { commit, pusher }) => {
            info!(
                commit = commit.as_deref().unwrap_or("-"),
                "Push webhook received."
            );
            let request = ReconcileRequest::all(TriggerSource::Webhook)
                .by(pusher.map(|p| format!("pushed by {p}")));
            send(&state, request)
        }
        Ok(Decision::Ignore { why }) => {
            debug!(why = %why, "Ignored webhook delivery.");
            (
                StatusCode::OK,
                Json(serde_json::json!({"accepted": false, "ignored": why})),
            )
                .into_response()
        }
        Err(error) => (StatusCode::BAD_REQUEST, format!("{error}\n")).into_response(),
    }
}
