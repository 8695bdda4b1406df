//! KV values over REST: `GET|PUT|DELETE …/storage/kv/namespaces/{id}/values/{key}` (the value is
//! the raw body; `expiration`/`expiration_ttl` query parameters) and `GET …/keys` (prefix,
//! limit, cursor), `PUT …/bulk` (many keys with their metadata in one JSON array). The data
//! plane's KV binding uses the same store.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use serde_json::json;

use super::ACCOUNT;
use super::app::AppState;
use super::endpoint::{Access, OnePath, run};
use super::envelope::error_response;
use super::input::{Params, param, parse_json};
use crate::error::ApiError;
use crate::state::Reply;
use crate::state::resources::kv_values::{self, Entry};

type KeyPath = Path<(String, String, String)>;

pub(super) fn routes() -> Router<AppState> {
    let ns = format!("{ACCOUNT}/storage/kv/namespaces/{{namespace}}");
    Router::new()
        .route(
            &format!("{ns}/values/{{key}}"),
            get(value_get).put(value_put).delete(value_delete),
        )
        .route(&format!("{ns}/keys"), get(keys_list))
        .route(&format!("{ns}/bulk"), axum::routing::put(bulk_put))
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

async fn value_get(State(app): State<AppState>, Path((_, ns, key)): KeyPath) -> Response {
    let joined =
        tokio::task::spawn_blocking(move || app.db.read(|tx| kv_values::get(tx, &ns, &key, now())))
            .await;
    match joined.unwrap_or_else(|_| Err(ApiError::internal())) {
        Ok(entry) => Response::new(Body::from(entry.value)),
        Err(e) => error_response(&e),
    }
}

async fn value_put(
    State(app): State<AppState>,
    Path((_, ns, key)): KeyPath,
    Query(q): Params,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ttl = param(&q, "expiration_ttl").and_then(|t| t.parse::<i64>().ok());
    let expiration = param(&q, "expiration")
        .and_then(|t| t.parse::<i64>().ok())
        .or(ttl.map(|t| now() + t));
    let entry = Entry {
        value: body.to_vec(),
        metadata: None,
        expiration,
    };
    run(&app, &headers, Access::Write, move |tx, _| {
        kv_values::put(tx, &ns, &key, &entry)?;
        Ok(Reply::new(json!({})))
    })
    .await
}

async fn value_delete(
    State(app): State<AppState>,
    Path((_, ns, key)): KeyPath,
    headers: HeaderMap,
) -> Response {
    run(&app, &headers, Access::Write, move |tx, _| {
        kv_values::delete(tx, &ns, &key)?;
        Ok(Reply::new(json!({})))
    })
    .await
}

async fn keys_list(
    State(app): State<AppState>,
    Path((_, ns)): OnePath,
    Query(q): Params,
    headers: HeaderMap,
) -> Response {
    let prefix = param(&q, "prefix").unwrap_or_default().to_owned();
    let limit = param(&q, "limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(1000);
    let cursor = param(&q, "cursor")
        .filter(|c| !c.is_empty())
        .map(str::to_owned);
    run(&app, &headers, Access::Read, move |tx, _| {
        let (keys, cursor) = kv_values::list(tx, &ns, &prefix, limit, cursor.as_deref(), now())?;
        let info = json!({"count": keys.len(), "cursor": cursor.unwrap_or_default()});
        Ok(Reply::paged(json!(keys), info))
    })
    .await
}

/// `PUT …/bulk`: `[{key, value, metadata?, expiration?, expiration_ttl?, base64?}]`, at most
/// 10,000 pairs, all written or none.
async fn bulk_put(
    State(app): State<AppState>,
    Path((_, ns)): OnePath,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let pairs = match parse_json(&body).and_then(|value| kv_values::bulk_entries(&value, now())) {
        Ok(pairs) => pairs,
        Err(e) => return error_response(&e),
    };
    run(&app, &headers, Access::Write, move |tx, _| {
        let count = pairs.len();
        for (key, entry) in &pairs {
            kv_values::put(tx, &ns, key, entry)?;
        }
        Ok(Reply::new(
            json!({"successful_key_count": count, "unsuccessful_keys": []}),
        ))
    })
    .await
}
