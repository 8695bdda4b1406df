//! Cloudflare's JSON envelope: `{success, errors, messages, result[, result_info]}` for replies
//! and errors, and the 429 answer of the rate limit.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::state::Reply;

fn envelope(status: StatusCode, body: Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

pub(super) fn error_response(error: &ApiError) -> Response {
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

pub(super) fn reply_response(result: Result<Reply, ApiError>) -> Response {
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

/// 429 (code 971) with `Retry-After: retry_after`.
pub(super) fn rate_limited(retry_after: u64, limit: u32, window: Duration) -> Response {
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
