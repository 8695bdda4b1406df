//! The middleware in front of every API route: fires an injected fault if one matches, else
//! authorizes and runs the request; wraps framework errors in the envelope and logs the request.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use super::app::{AppState, lock};
use super::auth::authorize_and_run;
use super::envelope::{error_response, rate_limited};
use crate::error::ApiError;
use crate::faults::{FaultKind, FaultSpec};

/// Marker put on a response to make the connection layer close the socket without answering.
#[derive(Debug, Clone, Copy)]
pub struct DropConnection;

pub(super) async fn gate(State(app): State<AppState>, req: Request, next: Next) -> Response {
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
        Some(spec) => with_fault(&app, spec, req, next).await,
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

/// Answers the request as the fault `spec` says: late, with an error instead, rate-limited,
/// not at all, or with an error after the change was made.
async fn with_fault(app: &AppState, spec: FaultSpec, req: Request, next: Next) -> Response {
    match spec.kind {
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
            if !r.status().is_success() {
                return r;
            }
            error_response(&ApiError::new(
                spec.status.unwrap_or(500),
                spec.code.unwrap_or(10002),
                spec.message.clone().unwrap_or_else(|| {
                    "An internal error occurred (injected fault: the change was committed).".into()
                }),
            ))
        }
    }
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
