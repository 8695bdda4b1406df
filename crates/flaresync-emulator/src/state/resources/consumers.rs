//! Queue consumers (SPEC-2 §3): `POST`/`GET /accounts/{a}/queues/{queue_id}/consumers`,
//! `GET`/`PUT`/`DELETE …/consumers/{consumer_id}`. A Worker consumer (`type: "worker"`,
//! `script_name`) is pushed batches; an HTTP pull consumer (`type: "http_pull"`) is polled.
//! Consumers also appear in their queue's `consumers[]` (where wrangler looks them up).
//!
//! Rules: settings within Cloudflare's limits (batch size 1–100, retries 0–100, batch wait up
//! to 60 s, concurrency 1–250 or null, retry delay up to 24 h, visibility timeout up to 12 h),
//! else 400 / 100127 (the code wrangler's queue CLI maps to "consumer settings are invalid");
//! missing settings take Cloudflare's documented defaults; a dead-letter queue that does not
//! exist is created (as the docs say). Emulator choices (undocumented): one consumer per queue
//! (the historical rule; 409 / [`QUEUE_HAS_CONSUMER`]), an unknown consumer id is 404 /
//! [`CONSUMER_NOT_FOUND`], a PUT replaces the whole consumer.

use rusqlite::{OptionalExtension, Transaction, params};
use serde_json::{Map, Value, json};

use super::queues;
use crate::error::ApiError;
use crate::state::{Ctx, Reply, hex_id, next_timestamp, store};

/// Consumer settings outside Cloudflare's limits, or an unknown type.
pub const INVALID_SETTINGS: u32 = 100127;
/// The queue already has a consumer.
pub const QUEUE_HAS_CONSUMER: u32 = 100129;
/// Unknown consumer id.
pub const CONSUMER_NOT_FOUND: u32 = 100126;

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(400, INVALID_SETTINGS, message)
}

/// One setting: key, default, bounds (inclusive), and whether `null` is allowed.
struct Limit {
    key: &'static str,
    default: Option<i64>,
    min: i64,
    max: i64,
}

impl Limit {
    const fn new(key: &'static str, default: Option<i64>, min: i64, max: i64) -> Self {
        Self {
            key,
            default,
            min,
            max,
        }
    }
}

// Settings both consumer types take, with the same limits.
const BATCH_SIZE: Limit = Limit::new("batch_size", Some(10), 1, 100);
const MAX_RETRIES: Limit = Limit::new("max_retries", Some(3), 0, 100);
const RETRY_DELAY: Limit = Limit::new("retry_delay", Some(0), 0, 86_400);

const WORKER_SETTINGS: &[Limit] = &[
    BATCH_SIZE,
    MAX_RETRIES,
    Limit::new("max_wait_time_ms", Some(5000), 0, 60_000),
    Limit::new("max_concurrency", None, 1, 250),
    RETRY_DELAY,
];

const PULL_SETTINGS: &[Limit] = &[
    BATCH_SIZE,
    MAX_RETRIES,
    Limit::new("visibility_timeout_ms", Some(30_000), 0, 43_200_000),
    RETRY_DELAY,
];

/// The settings of a consumer body with defaults filled in, checked against the limits.
pub fn normalized_settings(kind: &str, settings: Option<&Value>) -> Result<Value, ApiError> {
    let limits = match kind {
        "worker" => WORKER_SETTINGS,
        "http_pull" => PULL_SETTINGS,
        other => {
            return Err(invalid(format!(
                "consumer type {other:?} is not valid: use \"worker\" or \"http_pull\""
            )));
        }
    };
    let given = settings.and_then(Value::as_object);
    let mut out = Map::new();
    for limit in limits {
        let value = given
            .and_then(|s| s.get(limit.key))
            .filter(|v| !v.is_null());
        let number = match value {
            None => limit.default,
            Some(v) => Some(
                v.as_f64()
                    .filter(|n| n.fract() == 0.0)
                    .map(|n| n as i64)
                    .ok_or_else(|| {
                        invalid(format!(
                            "consumer setting {} must be a whole number, found {v}",
                            limit.key
                        ))
                    })?,
            ),
        };
        if let Some(n) = number
            && !(limit.min..=limit.max).contains(&n)
        {
            return Err(invalid(format!(
                "consumer setting {} = {n} is out of range: it must be between {} and {}",
                limit.key, limit.min, limit.max
            )));
        }
        out.insert(
            limit.key.to_owned(),
            number.map_or(Value::Null, Value::from),
        );
    }
    Ok(Value::Object(out))
}

/// One stored consumer.
struct Stored {
    id: String,
    queue_id: String,
    queue_name: String,
    kind: String,
    script: Option<String>,
    dead_letter_queue: Option<String>,
    settings: String,
    created_on: String,
}

impl Stored {
    fn render(&self) -> Value {
        let mut value = json!({
            "consumer_id": self.id,
            "queue_id": self.queue_id,
            "queue_name": self.queue_name,
            "type": self.kind,
            "created_on": self.created_on,
            "settings": serde_json::from_str::<Value>(&self.settings).unwrap_or_else(|_| json!({})),
        });
        if let Some(script) = &self.script {
            value["script"] = json!(script);
            value["script_name"] = json!(script);
        }
        if let Some(dlq) = &self.dead_letter_queue {
            value["dead_letter_queue"] = json!(dlq);
        }
        value
    }
}

const SELECT: &str = "SELECT c.consumer_id, c.queue_id, q.queue_name, c.type, c.script,
                             c.dead_letter_queue, c.settings, c.created_on
                      FROM queue_consumers c JOIN queues q ON q.queue_id = c.queue_id";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Stored> {
    Ok(Stored {
        id: r.get(0)?,
        queue_id: r.get(1)?,
        queue_name: r.get(2)?,
        kind: r.get(3)?,
        script: r.get(4)?,
        dead_letter_queue: r.get(5)?,
        settings: r.get(6)?,
        created_on: r.get(7)?,
    })
}

fn of_queue(tx: &Transaction<'_>, queue_id: &str) -> Result<Vec<Stored>, ApiError> {
    let mut stmt = tx.prepare(&format!(
        "{SELECT} WHERE c.queue_id = ?1 ORDER BY c.created_on"
    ))?;
    Ok(stmt
        .query_map([queue_id], row)?
        .collect::<Result<Vec<_>, _>>()?)
}

/// The consumers of a queue as its `consumers[]` shows them.
pub fn rendered_of_queue(tx: &Transaction<'_>, queue_id: &str) -> Result<Vec<Value>, ApiError> {
    Ok(of_queue(tx, queue_id)?.iter().map(Stored::render).collect())
}

fn one(tx: &Transaction<'_>, queue_id: &str, id: &str) -> Result<Stored, ApiError> {
    tx.query_row(
        &format!("{SELECT} WHERE c.queue_id = ?1 AND c.consumer_id = ?2"),
        [queue_id, id],
        row,
    )
    .optional()?
    .ok_or_else(|| ApiError::new(404, CONSUMER_NOT_FOUND, format!("Consumer {id} not found")))
}

/// The checked content of a consumer body.
struct Wanted {
    kind: String,
    script: Option<String>,
    dead_letter_queue: Option<String>,
    settings: Value,
}

fn wanted(
    tx: &Transaction<'_>,
    ctx: &Ctx,
    queue_name: &str,
    body: &Value,
) -> Result<Wanted, ApiError> {
    let kind = body
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("worker")
        .to_owned();
    let settings = normalized_settings(&kind, body.get("settings"))?;
    let script = if kind == "worker" {
        let name = body
            .get("script_name")
            .or_else(|| body.get("script"))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| invalid("a Worker consumer needs `script_name`"))?;
        if store::get_script(tx, name)?.is_none() {
            return Err(ApiError::worker_not_found());
        }
        Some(name.to_owned())
    } else {
        None
    };
    let dead_letter_queue = body
        .get("dead_letter_queue")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    if let Some(dlq) = &dead_letter_queue {
        if dlq == queue_name {
            return Err(invalid(format!(
                "queue {queue_name} cannot be its own dead letter queue"
            )));
        }
        if !queues::exists(tx, dlq)? {
            queues::create(tx, ctx, dlq)?;
        }
    }
    Ok(Wanted {
        kind,
        script,
        dead_letter_queue,
        settings,
    })
}

fn queue_name(tx: &Transaction<'_>, queue_id: &str) -> Result<String, ApiError> {
    queues::get(tx, queue_id)?
        .result
        .and_then(|q| q["queue_name"].as_str().map(str::to_owned))
        .ok_or_else(ApiError::internal)
}

/// `POST …/queues/{queue_id}/consumers`.
pub fn create(
    tx: &Transaction<'_>,
    ctx: &Ctx,
    queue_id: &str,
    body: &Value,
) -> Result<Reply, ApiError> {
    let name = queue_name(tx, queue_id)?;
    let wanted = wanted(tx, ctx, &name, body)?;
    if let Some(existing) = of_queue(tx, queue_id)?.first() {
        let by = existing
            .script
            .as_ref()
            .map_or("an HTTP pull consumer".to_owned(), |s| {
                format!("Worker {s:?}")
            });
        return Err(ApiError::new(
            409,
            QUEUE_HAS_CONSUMER,
            format!("Queue {name} already has a consumer ({by}); a queue has one consumer"),
        ));
    }
    let id = hex_id();
    let at = next_timestamp(tx, ctx.now)?;
    tx.execute(
        "INSERT INTO queue_consumers
           (consumer_id, queue_id, type, script, dead_letter_queue, settings, created_on)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            id,
            queue_id,
            wanted.kind,
            wanted.script,
            wanted.dead_letter_queue,
            wanted.settings.to_string(),
            at
        ],
    )?;
    Ok(Reply::new(one(tx, queue_id, &id)?.render()))
}

/// `GET …/queues/{queue_id}/consumers`.
pub fn list(tx: &Transaction<'_>, queue_id: &str) -> Result<Reply, ApiError> {
    queues::get(tx, queue_id)?;
    Ok(Reply::new(Value::Array(rendered_of_queue(tx, queue_id)?)))
}

/// `GET …/consumers/{consumer_id}`.
pub fn get(tx: &Transaction<'_>, queue_id: &str, id: &str) -> Result<Reply, ApiError> {
    queues::get(tx, queue_id)?;
    Ok(Reply::new(one(tx, queue_id, id)?.render()))
}

/// `PUT …/consumers/{consumer_id}`: replaces the consumer's type, Worker, DLQ and settings.
pub fn update(
    tx: &Transaction<'_>,
    ctx: &Ctx,
    queue_id: &str,
    id: &str,
    body: &Value,
) -> Result<Reply, ApiError> {
    let name = queue_name(tx, queue_id)?;
    one(tx, queue_id, id)?;
    let wanted = wanted(tx, ctx, &name, body)?;
    tx.execute(
        "UPDATE queue_consumers SET type = ?1, script = ?2, dead_letter_queue = ?3, settings = ?4
         WHERE consumer_id = ?5",
        params![
            wanted.kind,
            wanted.script,
            wanted.dead_letter_queue,
            wanted.settings.to_string(),
            id
        ],
    )?;
    Ok(Reply::new(one(tx, queue_id, id)?.render()))
}

/// `DELETE …/consumers/{consumer_id}`.
pub fn delete(tx: &Transaction<'_>, queue_id: &str, id: &str) -> Result<Reply, ApiError> {
    queues::get(tx, queue_id)?;
    one(tx, queue_id, id)?;
    tx.execute("DELETE FROM queue_consumers WHERE consumer_id = ?1", [id])?;
    Ok(Reply::new(json!({})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_take_defaults_and_limits() {
        let worker = normalized_settings("worker", Some(&json!({"batch_size": 50}))).expect("ok");
        assert_eq!(
            worker,
            json!({"batch_size": 50, "max_retries": 3, "max_wait_time_ms": 5000,
                   "max_concurrency": null, "retry_delay": 0})
        );
        let too_big = normalized_settings("worker", Some(&json!({"batch_size": 101})));
        assert_eq!(too_big.expect_err("refused").code, INVALID_SETTINGS);
        let pull = normalized_settings("http_pull", None).expect("ok");
        assert_eq!(pull["visibility_timeout_ms"], 30_000);
        assert!(normalized_settings("cron", None).is_err());
        assert!(normalized_settings("worker", Some(&json!({"max_retries": 1.5}))).is_err());
    }
}
