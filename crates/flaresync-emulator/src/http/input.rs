//! Reading request input into values: query parameters, JSON bodies, and Worker uploads
//! (multipart, or a bare service-worker script).

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Query, Request};
use axum::http::header;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::state::upload::{ModulePart, Upload};

/// The query string as `(key, value)` pairs, repeats kept.
pub(super) type Params = Query<Vec<(String, String)>>;

/// The first value of the query parameter `key`.
pub(super) fn param<'a>(q: &'a [(String, String)], key: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Whether the query parameter `key` is `true` or `1`.
pub(super) fn flag(q: &[(String, String)], key: &str) -> bool {
    matches!(param(q, key), Some("true") | Some("1"))
}

/// `bindings_inherit=strict`.
pub(super) fn strict_inherit(q: &[(String, String)]) -> bool {
    param(q, "bindings_inherit") == Some("strict")
}

/// The body as JSON; an empty body is `{}`.
pub(super) fn parse_json(body: &Bytes) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))
}

fn content_type(req: &Request) -> String {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// Reads a Worker upload: `multipart/form-data` with a `metadata` (or `settings`) part, or a bare
/// `application/javascript` service worker.
pub(super) async fn read_upload(req: Request) -> Result<Upload, ApiError> {
    let content_type = content_type(&req);
    if content_type.starts_with("application/javascript")
        || content_type.starts_with("text/javascript")
    {
        let bytes = Bytes::from_request(req, &())
            .await
            .map_err(|e| ApiError::bad_request(format!("failed to read the request body: {e}")))?;
        return Ok(Upload {
            metadata: json!({"body_part": "worker.js"}),
            modules: vec![ModulePart {
                name: "worker.js".into(),
                filename: Some("worker.js".into()),
                content_type: Some("application/javascript".into()),
                bytes: bytes.to_vec(),
            }],
        });
    }
    if !content_type.starts_with("multipart/form-data") {
        return Err(ApiError::new(
            415,
            10001,
            "the upload must be multipart/form-data (or application/javascript for a service \
             worker)",
        ));
    }
    let multipart = Multipart::from_request(req, &())
        .await
        .map_err(|e| ApiError::bad_request(format!("malformed multipart body: {e}")))?;
    read_parts(multipart).await
}

async fn read_parts(mut multipart: Multipart) -> Result<Upload, ApiError> {
    let mut metadata = None;
    let mut modules = Vec::new();
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| ApiError::bad_request(format!("malformed multipart body: {e}")))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        let filename = field.file_name().map(str::to_owned);
        let part_type = field.content_type().map(str::to_owned);
        let bytes = field
            .bytes()
            .await
            .map_err(|e| ApiError::bad_request(format!("failed to read part {name:?}: {e}")))?;
        if name == "metadata" || name == "settings" {
            metadata = Some(serde_json::from_slice(&bytes).map_err(|e| {
                ApiError::validation(format!("the `{name}` part is not valid JSON: {e}"))
            })?);
        } else {
            modules.push(ModulePart {
                name,
                filename,
                content_type: part_type,
                bytes: bytes.to_vec(),
            });
        }
    }
    let metadata = metadata
        .ok_or_else(|| ApiError::validation("the multipart upload has no `metadata` part"))?;
    Ok(Upload { metadata, modules })
}
