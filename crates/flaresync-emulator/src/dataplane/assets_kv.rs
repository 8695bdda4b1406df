//! Serves the reads an asset worker's `ASSETS_KV_NAMESPACE` binding makes (`GET /<content
//! hash>`) from the emulator's asset store, with the file's content type in `CF-KV-Metadata`
//! (`{"contentType": …}`, what Cloudflare's asset worker reads; none for files uploaded as
//! `application/null`).

use axum::body::Body;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::json;

use crate::error::ApiError;
use crate::http::AppState;
use crate::state::assets;

/// Answers one read of the asset store.
pub async fn serve(app: AppState, req: Request<Incoming>) -> Response<Body> {
    if req.method() != Method::GET {
        return status(StatusCode::METHOD_NOT_ALLOWED, "assets are read-only");
    }
    let hash = req.uri().path().trim_start_matches('/').to_owned();
    let joined = tokio::task::spawn_blocking(move || app.db.read(|tx| assets::content(tx, &hash)))
        .await
        .unwrap_or_else(|_| Err(ApiError::internal()));
    match joined {
        Ok(Some(file)) => {
            let mut response = Response::new(Body::from(file.bytes));
            let metadata = file
                .content_type
                .map(|t| json!({"contentType": t}).to_string())
                .and_then(|m| m.parse().ok());
            if let Some(metadata) = metadata {
                response.headers_mut().insert("cf-kv-metadata", metadata);
            }
            response
        }
        Ok(None) => status(StatusCode::NOT_FOUND, "Not Found"),
        Err(e) => status(StatusCode::INTERNAL_SERVER_ERROR, &e.message),
    }
}

fn status(code: StatusCode, text: &str) -> Response<Body> {
    let mut response = Response::new(Body::from(text.to_owned()));
    *response.status_mut() = code;
    response
}
