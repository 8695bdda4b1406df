//! The `/__emulator` admin API: fault rules, the request log and reset. It sits outside the
//! gate (no faults, rate limit or log) and needs the admin token.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::app::{AppState, lock};
use super::auth::is_admin;
use super::envelope::{error_response, reply_response};
use crate::error::ApiError;
use crate::faults::FaultSpec;
use crate::state::Reply;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/__emulator/faults",
            get(faults_list).post(faults_add).delete(faults_clear),
        )
        .route("/__emulator/requests", get(requests))
        .route("/__emulator/reset", post(reset))
}

/// 401 unless the request carries the admin token.
fn admin_only(app: &AppState, headers: &HeaderMap) -> Result<(), Box<Response>> {
    if is_admin(app, headers) {
        return Ok(());
    }
    Err(Box::new(error_response(&ApiError::new(
        401,
        10000,
        "Authentication error: /__emulator needs the admin token (or an API token when no \
         admin token is configured)",
    ))))
}

async fn faults_list(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(r) = admin_only(&app, &headers) {
        return *r;
    }
    let faults: Vec<Value> = lock(&app.faults)
        .list()
        .into_iter()
        .map(|(id, spec, remaining)| json!({"id": id, "spec": spec, "remaining": remaining}))
        .collect();
    reply_response(Ok(Reply::new(Value::Array(faults))))
}

async fn faults_add(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = admin_only(&app, &headers) {
        return *r;
    }
    let added = serde_json::from_slice::<FaultSpec>(&body)
        .map_err(|e| e.to_string())
        .and_then(|spec| app.add_fault(spec).map_err(|e| e.to_string()));
    match added {
        Ok(id) => reply_response(Ok(Reply::new(json!({"id": id})))),
        Err(e) => error_response(&ApiError::bad_request(format!("invalid fault spec: {e}"))),
    }
}

async fn faults_clear(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(r) = admin_only(&app, &headers) {
        return *r;
    }
    app.clear_faults();
    reply_response(Ok(Reply::new(json!({}))))
}

async fn requests(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(r) = admin_only(&app, &headers) {
        return *r;
    }
    reply_response(Ok(Reply::new(json!(app.requests()))))
}

async fn reset(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(r) = admin_only(&app, &headers) {
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
