//! Workers: list, upload (`PUT`, the non-versioned deploy), download the content, delete, and
//! the `services` view.

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use axum::routing::get;

use super::app::AppState;
use super::endpoint::{Access, OnePath, on_script, run, run_upload};
use super::envelope::error_response;
use super::input::{Params, param, strict_inherit};
use super::{ACCOUNT, SCRIPT};
use crate::error::ApiError;
use crate::state::scripts::{self, Content};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(&format!("{ACCOUNT}/workers/scripts"), get(scripts_list))
        .route(
            SCRIPT,
            get(script_content)
                .put(script_put)
                .delete(on_script(Access::Write, scripts::delete)),
        )
        .route(&format!("{SCRIPT}/content/v2"), get(script_content))
        .route(
            &format!("{ACCOUNT}/workers/services/{{script}}"),
            get(on_script(Access::Read, scripts::service)),
        )
}

async fn scripts_list(State(app): State<AppState>, headers: HeaderMap) -> Response {
    run(&app, &headers, Access::Read, |tx, _| scripts::list(tx)).await
}

async fn script_put(
    State(app): State<AppState>,
    Path((_, script)): OnePath,
    Query(q): Params,
    req: Request,
) -> Response {
    let refused = param(&q, "rollback_to").map(|_| {
        ApiError::validation(
            "the legacy `rollback_to` deployments API is not emulated; create a deployment \
             with POST …/deployments instead",
        )
    });
    let strict = strict_inherit(&q);
    run_upload(&app, req, refused, move |tx, ctx, upload| {
        scripts::put(tx, ctx, &script, upload, strict)
    })
    .await
}

/// The Worker's code: the raw script of a service worker, or its modules as multipart with the
/// entry point in `cf-entrypoint`.
async fn script_content(
    State(app): State<AppState>,
    Path((_, script)): OnePath,
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
        Ok(Content::Raw {
            content_type,
            bytes,
        }) => with_content_type(Response::new(Body::from(bytes)), &content_type),
        Ok(Content::Modules { entrypoint, parts }) => multipart(&entrypoint, parts),
        Err(e) => error_response(&e),
    }
}

fn with_content_type(mut response: Response, content_type: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    response
}

/// `parts` (name, content type, bytes) as a `multipart/form-data` body.
fn multipart(entrypoint: &str, parts: Vec<(String, String, Vec<u8>)>) -> Response {
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
    let mut r = with_content_type(
        Response::new(Body::from(body)),
        &format!("multipart/form-data; boundary={boundary}"),
    );
    if let Ok(v) = HeaderValue::from_str(entrypoint) {
        r.headers_mut().insert("cf-entrypoint", v);
    }
    r
}
