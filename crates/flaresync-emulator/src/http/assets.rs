//! Workers static assets (SPEC-2 §1.3, §1.4): the upload session of a Worker and the bucketed
//! upload authorised by the session's JWT.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use serde_json::json;

use super::app::AppState;
use super::auth::bearer;
use super::endpoint::{Access, OnePath, run_json};
use super::envelope::{error_response, reply_response};
use super::input::{Params, flag};
use super::{ACCOUNT, SCRIPT};
use crate::error::ApiError;
use crate::state::Reply;
use crate::state::assets::{self, Progress, UploadedFile, token::TokenError};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            &format!("{SCRIPT}/assets-upload-session"),
            post(upload_session),
        )
        .route(&format!("{ACCOUNT}/workers/assets/upload"), post(upload))
}

async fn upload_session(
    State(app): State<AppState>,
    Path((account, script)): OnePath,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    run_json(
        &app,
        &headers,
        Access::Write,
        &body,
        move |tx, ctx, body| assets::open_session(tx, ctx, &account, &script, body),
    )
    .await
}

/// `POST …/workers/assets/upload`: 202 with `result: {}` while files are missing, 201 with the
/// completion token once the manifest is complete.
async fn upload(State(app): State<AppState>, Query(q): Params, req: Request) -> Response {
    let headers = req.headers().clone();
    let Some(jwt) = bearer(&headers).map(str::to_owned) else {
        return error_response(&assets::unauthorized(&TokenError::Invalid));
    };
    let base64 = flag(&q, "base64");
    let files = match read_files(req).await {
        Ok(files) => files,
        Err(e) => return error_response(&e),
    };
    let ctx = app.ctx(&headers);
    let app2 = app.clone();
    let joined = tokio::task::spawn_blocking(move || {
        app2.db
            .write(|tx| assets::upload(tx, &ctx, &jwt, &files, base64))
    })
    .await;
    let (status, result) = match joined.unwrap_or_else(|_| Err(ApiError::internal())) {
        Ok(Progress::Partial) => (StatusCode::ACCEPTED, json!({})),
        Ok(Progress::Complete(jwt)) => (StatusCode::CREATED, json!({"jwt": jwt})),
        Err(e) => return error_response(&e),
    };
    let mut response = reply_response(Ok(Reply::new(result)));
    *response.status_mut() = status;
    response
}

/// The multipart parts: each named by its hash.
async fn read_files(req: Request) -> Result<Vec<UploadedFile>, ApiError> {
    let mut multipart = Multipart::from_request(req, &()).await.map_err(|e| {
        ApiError::bad_request(format!(
            "the assets upload must be multipart/form-data, one part per file hash: {e}"
        ))
    })?;
    let mut files = Vec::new();
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| ApiError::bad_request(format!("malformed multipart body: {e}")))?
    {
        let hash = field.name().unwrap_or_default().to_owned();
        let content_type = field.content_type().map(str::to_owned);
        let bytes = field
            .bytes()
            .await
            .map_err(|e| ApiError::bad_request(format!("failed to read part {hash:?}: {e}")))?;
        files.push(UploadedFile {
            hash,
            content_type,
            bytes: bytes.to_vec(),
        });
    }
    Ok(files)
}
