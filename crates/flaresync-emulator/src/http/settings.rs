//! A Worker's settings: versioned `settings`, non-versioned `script-settings`, the workers.dev
//! subdomain (the account's and the Worker's) and Cron Triggers (`schedules`).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::header;
use axum::response::Response;
use axum::routing::get;
use serde_json::json;

use super::app::AppState;
use super::endpoint::{Access, OnePath, on_script, on_script_json, run};
use super::envelope::{error_response, reply_response};
use super::input::{parse_json, read_upload};
use super::{ACCOUNT, SCRIPT};
use crate::error::ApiError;
use crate::state::{Reply, schedules, scripts};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            &format!("{SCRIPT}/settings"),
            get(on_script(Access::Read, scripts::settings_get)).patch(settings_patch),
        )
        .route(
            &format!("{SCRIPT}/script-settings"),
            get(on_script(Access::Read, scripts::script_settings_get)).patch(on_script_json(
                |tx, _, s, body| scripts::script_settings_patch(tx, s, body),
            )),
        )
        .route(
            &format!("{ACCOUNT}/workers/subdomain"),
            get(account_subdomain),
        )
        .route(
            &format!("{SCRIPT}/subdomain"),
            get(on_script(Access::Read, scripts::subdomain_get))
                .post(on_script_json(|tx, _, s, body| {
                    scripts::subdomain_post(tx, s, body)
                }))
                .delete(on_script(Access::Write, scripts::subdomain_delete)),
        )
        .route(
            &format!("{SCRIPT}/schedules"),
            get(on_script(Access::Read, schedules::get)).put(on_script_json(schedules::put)),
        )
}

/// `PATCH …/settings`: a JSON patch, or multipart with the patch in its `settings` part.
async fn settings_patch(
    State(app): State<AppState>,
    Path((_, script)): OnePath,
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
    run(&app, &headers, Access::Write, move |tx, ctx| {
        scripts::settings_patch(tx, ctx, &script, &patch)
    })
    .await
}

async fn account_subdomain(State(app): State<AppState>) -> Response {
    reply_response(Ok(Reply::new(json!({"subdomain": app.config.subdomain}))))
}
