//! `POST /webhook`: a GitHub push delivery, on the status server or on a listener of its own
//! ([`super::webhook_router`]), so exposing it to GitHub exposes nothing else. A delivery
//! without a signature is refused before its body is read; a signed one may be as large as
//! GitHub sends (25 MB), with at most a few read at once.

use axum::{
    Json, Router,
    body::Body,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::post,
};
use tracing::{debug, info, warn};

use super::App;
use super::throttle::{WEBHOOK_MAX_BODY_BYTES, too_large};
use crate::{
    trigger::{ReconcileRequest, TriggerSource},
    webhook::{self, Decision},
};

/// The route, for the status server and for the webhook listener.
pub(super) fn routes() -> Router<App> {
    Router::new().route("/webhook", post(deliver))
}

async fn deliver(State(app): State<App>, headers: HeaderMap, body: Body) -> Response {
    let Some(config) = app.state.webhook.as_ref() else {
        return (
            StatusCode::NOT_FOUND,
            "webhook not configured: start flaresync run with FLARESYNC_WEBHOOK_SECRET set\n",
        )
            .into_response();
    };
    let signature = headers
        .get("x-hub-signature-256")
        .and_then(|value| value.to_str().ok());
    if signature.is_none() {
        return rejected(&app, webhook::Error::MissingSignature);
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    let limit = WEBHOOK_MAX_BODY_BYTES as u64;
    if declared.is_some_and(|length| length > limit) {
        return too_large(limit);
    }
    // Each payload read holds up to 25 MB: bound how many are read at once.
    let Ok(_slot) = app.guards.webhook_slots.clone().try_acquire_owned() else {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, "1")],
            "too many webhook deliveries in flight; retry later\n",
        )
            .into_response();
    };
    let Ok(body) = axum::body::to_bytes(body, WEBHOOK_MAX_BODY_BYTES).await else {
        return too_large(limit);
    };
    if let Err(error) = webhook::verify_signature(&config.secret, &body, signature) {
        return rejected(&app, error);
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
            super::send(&app.state, request)
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

/// 401 for an unauthenticated delivery; logged at most once a minute (the error texts are
/// flaresync's own, never the caller's).
fn rejected(app: &App, error: webhook::Error) -> Response {
    if let Some(refused) = app.guards.webhook_log.admit() {
        warn!(
            refused,
            error = %error,
            "Rejected webhook deliveries (logged at most once a minute)."
        );
    }
    (StatusCode::UNAUTHORIZED, format!("{error}\n")).into_response()
}
