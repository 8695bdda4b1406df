//! Queues, keyed by id and unique by name: list (page-style, exact-name filter), create, get,
//! delete.

use rusqlite::{OptionalExtension, Transaction, params};
use serde_json::{Value, json};

use super::{delete_one, found, is_plain_name, page};
use crate::error::ApiError;
use crate::state::{Ctx, Reply, hex_id, next_timestamp, paging};

fn queue_json(row: &rusqlite::Row<'_>) -> rusqlite::Result<Value> {
    let settings: String = row.get(4)?;
    Ok(json!({
        "queue_id": row.get::<_, String>(0)?,
        "queue_name": row.get::<_, String>(1)?,
        "created_on": row.get::<_, String>(2)?,
        "modified_on": row.get::<_, String>(3)?,
        "producers": [],
        "producers_total_count": 0,
        "consumers": [],
        "consumers_total_count": 0,
        "settings": serde_json::from_str::<Value>(&settings).unwrap_or_else(|_| json!({})),
    }))
}

/// Fills a queue's `consumers[]` and `consumers_total_count` from its stored consumers.
fn with_consumers(tx: &Transaction<'_>, mut queue: Value) -> Result<Value, ApiError> {
    let id = queue["queue_id"].as_str().unwrap_or_default().to_owned();
    let consumers = super::consumers::rendered_of_queue(tx, &id)?;
    queue["consumers_total_count"] = json!(consumers.len());
    queue["consumers"] = Value::Array(consumers);
    Ok(queue)
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(404, 10104, format!("Queue {id} does not exist."))
}

/// Lists queues; `names` (the repeatable `name` parameter) filters by exact name.
pub fn list(
    tx: &Transaction<'_>,
    names: &[&str],
    page_no: Option<&str>,
    per_page: Option<&str>,
) -> Result<Reply, ApiError> {
    let (page_no, per_page) = paging(page_no, per_page, 100, 1000)?;
    let mut stmt = tx.prepare(
        "SELECT queue_id, queue_name, created_on, modified_on, settings FROM queues
         ORDER BY created_on, queue_name",
    )?;
    let all = stmt
        .query_map([], queue_json)?
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .map(|queue| with_consumers(tx, queue))
        .collect::<Result<Vec<_>, _>>()?;
    let filtered: Vec<Value> = all
        .into_iter()
        .filter(|q| {
            names.is_empty()
                || names
                    .iter()
                    .any(|n| q.get("queue_name").and_then(Value::as_str) == Some(n))
        })
        .collect();
    let total = filtered.len();
    let items: Vec<Value> = filtered
        .into_iter()
        .skip((page_no - 1) * per_page)
        .take(per_page)
        .collect();
    Ok(page(items, page_no, per_page, total))
}

pub fn create(tx: &Transaction<'_>, ctx: &Ctx, name: &str) -> Result<Reply, ApiError> {
    if !is_plain_name(name, 63) {
        return Err(ApiError::new(
            400,
            11002,
            format!("Queue name {name:?} is not valid: use letters, digits, - and _"),
        ));
    }
    if exists(tx, name)? {
        return Err(ApiError::new(
            409,
            11009,
            format!("Queue name {name} is already taken"),
        ));
    }
    let id = hex_id();
    let at = next_timestamp(tx, ctx.now)?;
    let settings = json!({
        "delivery_delay": 0, "delivery_paused": false, "message_retention_period": 345600
    });
    tx.execute(
        "INSERT INTO queues (queue_id, queue_name, created_on, modified_on, settings)
         VALUES (?1, ?2, ?3, ?3, ?4)",
        params![id, name, at, settings.to_string()],
    )?;
    get(tx, &id)
}

pub fn get(tx: &Transaction<'_>, id: &str) -> Result<Reply, ApiError> {
    tx.query_row(
        "SELECT queue_id, queue_name, created_on, modified_on, settings FROM queues
         WHERE queue_id = ?1",
        [id],
        queue_json,
    )
    .optional()?
    .map(|queue| with_consumers(tx, queue).map(Reply::new))
    .transpose()?
    .ok_or_else(|| not_found(id))
}

pub fn delete(tx: &Transaction<'_>, id: &str) -> Result<Reply, ApiError> {
    tx.execute("DELETE FROM queue_consumers WHERE queue_id = ?1", [id])?;
    delete_one(tx, "DELETE FROM queues WHERE queue_id = ?1", [id], || {
        not_found(id)
    })
}

/// Whether a queue named `name` exists (bindings reference queues by name).
pub fn exists(tx: &Transaction<'_>, name: &str) -> Result<bool, ApiError> {
    found(tx, "SELECT 1 FROM queues WHERE queue_name = ?1", [name])
}
