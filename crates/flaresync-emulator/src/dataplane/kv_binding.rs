//! Serves the requests workerd's KV binding makes (`GET|PUT|DELETE /<key>`, `GET /?prefix=…`
//! for list; keys URL-encoded with `?urlencoded=true`; metadata in `CF-KV-Metadata`) from the
//! emulator's KV store, so a Worker and the REST API see the same pairs.

use axum::body::Body;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::http::AppState;
use crate::state::resources::kv_values::{self, Entry};

const METADATA_HEADER: &str = "cf-kv-metadata";
const MAX_VALUE_BYTES: usize = 25 * 1024 * 1024;

/// Answers one KV binding request for `namespace`.
pub async fn serve(app: AppState, namespace: String, req: Request<Incoming>) -> Response<Body> {
    let query: Vec<(String, String)> = req
        .uri()
        .query()
        .map(|q| {
            q.split('&')
                .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
                .map(|(k, v)| (decode(k), decode(v)))
                .collect()
        })
        .unwrap_or_default();
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let raw_key = req.uri().path().trim_start_matches('/').to_owned();
    let key = if param("urlencoded").as_deref() == Some("true") {
        decode(&raw_key)
    } else {
        raw_key
    };
    let now = chrono::Utc::now().timestamp();
    let method = req.method().clone();
    let result = match (method, key.is_empty()) {
        (Method::GET, true) => {
            let prefix = param("prefix").unwrap_or_default();
            let limit = param("key_count_limit")
                .and_then(|l| l.parse().ok())
                .unwrap_or(1000);
            let cursor = param("cursor").filter(|c| !c.is_empty());
            blocking(app, move |tx| {
                let (keys, cursor) =
                    kv_values::list(tx, &namespace, &prefix, limit, cursor.as_deref(), now)?;
                Ok(list_response(keys, cursor))
            })
            .await
        }
        (Method::GET, false) => {
            blocking(app, move |tx| {
                let entry = kv_values::get(tx, &namespace, &key, now)?;
                Ok(value_response(entry))
            })
            .await
        }
        (Method::PUT, false) => {
            let ttl = param("expiration_ttl").and_then(|t| t.parse::<i64>().ok());
            let expiration = param("expiration")
                .and_then(|t| t.parse::<i64>().ok())
                .or(ttl.map(|t| now + t));
            put(app, namespace, key, expiration, req).await
        }
        (Method::DELETE, false) => {
            blocking(app, move |tx| {
                kv_values::delete(tx, &namespace, &key)?;
                Ok(Response::new(Body::empty()))
            })
            .await
        }
        _ => Err(ApiError::new(405, 10000, "unsupported KV operation")),
    };
    result.unwrap_or_else(|e| {
        let mut response = Response::new(Body::from(e.message));
        *response.status_mut() = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
        response
    })
}

async fn put(
    app: AppState,
    namespace: String,
    key: String,
    expiration: Option<i64>,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let metadata = req
        .headers()
        .get(METADATA_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let value = axum::body::to_bytes(Body::new(req.into_body()), MAX_VALUE_BYTES)
        .await
        .map_err(|_| ApiError::new(413, 10011, "the value is too large or was cut off"))?;
    let entry = Entry {
        value: value.to_vec(),
        metadata,
        expiration,
    };
    blocking(app, move |tx| {
        kv_values::put(tx, &namespace, &key, &entry)?;
        Ok(Response::new(Body::empty()))
    })
    .await
}

async fn blocking(
    app: AppState,
    f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<Response<Body>, ApiError> + Send + 'static,
) -> Result<Response<Body>, ApiError> {
    tokio::task::spawn_blocking(move || app.db.write(f))
        .await
        .unwrap_or_else(|_| Err(ApiError::internal()))
}

fn value_response(entry: Entry) -> Response<Body> {
    let mut response = Response::new(Body::from(entry.value));
    if let Some(metadata) = entry.metadata.and_then(|m| m.parse().ok()) {
        response.headers_mut().insert(METADATA_HEADER, metadata);
    }
    if let Some(expiration) = entry.expiration.and_then(|e| e.to_string().parse().ok()) {
        response.headers_mut().insert("cf-expiration", expiration);
    }
    response
}

/// workerd wants each key's metadata as JSON text.
fn list_response(keys: Vec<Value>, cursor: Option<String>) -> Response<Body> {
    let keys: Vec<Value> = keys
        .into_iter()
        .map(|mut key| {
            if let Some(metadata) = key.get("metadata").map(Value::to_string) {
                key["metadata"] = json!(metadata);
            }
            key
        })
        .collect();
    let body = match cursor {
        Some(cursor) => {
            json!({"keys": keys, "list_complete": false, "cursor": cursor, "cacheStatus": null})
        }
        None => json!({"keys": keys, "list_complete": true, "cacheStatus": null}),
    };
    let mut response = Response::new(Body::from(body.to_string()));
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

/// Percent-decoding (`+` kept: workerd encodes with encodeURIComponent).
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn percent_decoding() {
        assert_eq!(decode("a%2Fb%20c%zz+"), "a/b c%zz+");
    }
}
