//! Account storage resources that bindings point at, one file per kind: KV namespaces, R2
//! buckets, D1 databases and Queues (list / create / get / delete, SPEC.md §8), plus the
//! existence lookups that binding validation and the deployment rules use. This file holds what
//! the kinds share.

pub mod consumers;
pub mod d1;
pub mod kv;
pub mod kv_values;
pub mod queues;
pub mod r2;

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Params, Transaction};
use serde_json::{Value, json};

use super::Reply;
use super::page_info;
use super::rules::ResourceRef;
use crate::error::ApiError;

/// Whether the resource a binding references exists in the account.
pub fn exists(tx: &Transaction<'_>, resource: &ResourceRef) -> Result<bool, ApiError> {
    match resource {
        ResourceRef::Kv(id) => kv::exists(tx, id),
        ResourceRef::R2 { name, jurisdiction } => r2::exists(tx, name, jurisdiction),
        ResourceRef::Queue(name) => queues::exists(tx, name),
        ResourceRef::D1(id) => d1::exists(tx, id),
    }
}

/// Whether `sql` (a `SELECT 1 …`) finds a row.
fn found(tx: &Transaction<'_>, sql: &str, params: impl Params) -> Result<bool, ApiError> {
    Ok(tx.query_row(sql, params, |_| Ok(())).optional()?.is_some())
}

/// Runs the `DELETE` of one resource and answers `{}`; `not_found` when it deleted nothing.
fn delete_one(
    tx: &Transaction<'_>,
    sql: &str,
    params: impl Params,
    not_found: impl FnOnce() -> ApiError,
) -> Result<Reply, ApiError> {
    if tx.execute(sql, params)? == 0 {
        return Err(not_found());
    }
    Ok(Reply::new(json!({})))
}

/// The `direction` query value: `asc` (the default) or `desc`; true for descending.
fn descending(direction: Option<&str>) -> Result<bool, ApiError> {
    match direction {
        None | Some("asc") => Ok(false),
        Some("desc") => Ok(true),
        Some(other) => Err(ApiError::new(
            400,
            10004,
            format!("invalid direction {other:?}: expected asc or desc"),
        )),
    }
}

/// 1 to `max` ASCII letters, digits, `-` and `_` (D1 database and queue names).
fn is_plain_name(name: &str, max: usize) -> bool {
    !name.is_empty()
        && name.len() <= max
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A creation time with millisecond precision, as R2 and D1 report it.
fn millis(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// One page of a page-style listing: `items` of `total` in all.
fn page(items: Vec<Value>, page: usize, per_page: usize, total: usize) -> Reply {
    let count = items.len();
    Reply::paged(Value::Array(items), page_info(page, per_page, count, total))
}
