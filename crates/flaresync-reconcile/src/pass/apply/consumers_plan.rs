//! Queue consumers (SPEC-2 §3): what Git declares for one Worker (`[[queues.consumers]]`)
//! against what the account's queues list, as a list of writes. Pure.
//!
//! The request body is wrangler's (`updateQueueConsumers`): `max_batch_size` → `batch_size`,
//! `max_batch_timeout` (s) → `max_wait_time_ms`, `max_retries`, `max_concurrency`,
//! `retry_delay` (s), `dead_letter_queue`; `type = "http_pull"` sends `visibility_timeout_ms`
//! instead of the push settings. Unlike wrangler, a consumer of this Worker that Git no longer
//! declares is removed. A consumer is compared with Cloudflare's documented defaults filled
//! in, so an unset key equals its default.

use flaresync_cloudflare::{NewQueueConsumer, Queue, QueueConsumer as LiveConsumer};
use flaresync_config::QueueConsumer;
use serde_json::{Map, Value, json};

/// One write.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum ConsumerWrite {
    Create {
        queue: String,
        queue_id: String,
        body: NewQueueConsumer,
    },
    Update {
        queue: String,
        queue_id: String,
        consumer_id: String,
        body: NewQueueConsumer,
    },
    Delete {
        queue: String,
        queue_id: String,
        consumer_id: String,
    },
}

/// Builds wrangler's body for one declared consumer; `Err` names what is wrong.
pub(super) fn body(worker: &str, consumer: &QueueConsumer) -> Result<NewQueueConsumer, String> {
    let given: Map<String, Value> = if consumer.settings.is_empty() {
        Map::new()
    } else {
        serde_json::from_str(&consumer.settings).map_err(|e| format!("unreadable settings: {e}"))?
    };
    let number = |key: &str| -> Result<Option<f64>, String> {
        match given.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => value.as_f64().map(Some).ok_or_else(|| {
                format!(
                    "`{key}` of the consumer of queue {} must be a number",
                    consumer.queue
                )
            }),
        }
    };
    let seconds_to_ms = |s: Option<f64>| s.map(|s| json!((s * 1000.0).round() as i64));
    let whole = |n: Option<f64>| n.map(|n| json!(n as i64));
    let kind = given
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("worker");
    let mut settings = Map::new();
    let mut put = |key: &str, value: Option<Value>| {
        if let Some(value) = value {
            settings.insert(key.to_owned(), value);
        }
    };
    put("batch_size", whole(number("max_batch_size")?));
    put("max_retries", whole(number("max_retries")?));
    put("retry_delay", whole(number("retry_delay")?));
    let script_name = match kind {
        "worker" => {
            put(
                "max_wait_time_ms",
                seconds_to_ms(number("max_batch_timeout")?),
            );
            put("max_concurrency", whole(number("max_concurrency")?));
            Some(worker.to_owned())
        }
        "http_pull" => {
            put(
                "visibility_timeout_ms",
                whole(number("visibility_timeout_ms")?),
            );
            None
        }
        other => {
            return Err(format!(
                "consumer of queue {} has type {other:?}; use \"worker\" or \"http_pull\"",
                consumer.queue
            ));
        }
    };
    Ok(NewQueueConsumer {
        kind: kind.to_owned(),
        script_name,
        dead_letter_queue: given
            .get("dead_letter_queue")
            .and_then(Value::as_str)
            .map(str::to_owned),
        settings: Value::Object(settings),
    })
}

/// Cloudflare's documented defaults (SPEC-2 §3.3) for the settings of a consumer of `kind`.
fn with_defaults(kind: &str, settings: &Value) -> Value {
    let defaults: &[(&str, Value)] = if kind == "http_pull" {
        &[
            ("batch_size", json!(10)),
            ("max_retries", json!(3)),
            ("visibility_timeout_ms", json!(30_000)),
            ("retry_delay", json!(0)),
        ]
    } else {
        &[
            ("batch_size", json!(10)),
            ("max_retries", json!(3)),
            ("max_wait_time_ms", json!(5000)),
            ("max_concurrency", Value::Null),
            ("retry_delay", json!(0)),
        ]
    };
    let mut out = Map::new();
    for (key, default) in defaults {
        let value = settings
            .get(*key)
            .filter(|v| !v.is_null())
            .cloned()
            .unwrap_or_else(|| default.clone());
        out.insert((*key).to_owned(), value);
    }
    Value::Object(out)
}

/// Whether a live consumer already is what `wanted` asks for.
fn matches(live: &LiveConsumer, wanted: &NewQueueConsumer) -> bool {
    live.kind == wanted.kind
        && live.dead_letter_queue.as_deref().filter(|d| !d.is_empty())
            == wanted.dead_letter_queue.as_deref()
        && with_defaults(&live.kind, &live.settings)
            == with_defaults(&wanted.kind, &wanted.settings)
}

/// The writes that make `worker`'s consumers on `queues` equal to `declared`. `Err` lists what
/// cannot be done (a missing queue, a queue consumed by another Worker).
///
/// An HTTP pull consumer names no Worker, so it is removed only from a queue that `previous`
/// (what flaresync last applied for this Worker, when known) declared as pulled: a pull
/// consumer set up by hand is never touched.
pub(super) fn plan(
    worker: &str,
    declared: &[QueueConsumer],
    previous: &[QueueConsumer],
    queues: &[Queue],
) -> Result<Vec<ConsumerWrite>, Vec<String>> {
    let mut writes = Vec::new();
    let mut problems = Vec::new();
    for consumer in declared {
        let Some(queue) = queues.iter().find(|q| q.queue_name == consumer.queue) else {
            problems.push(format!(
                "queue {} does not exist: create it first (wrangler queues create {})",
                consumer.queue, consumer.queue
            ));
            continue;
        };
        let wanted = match body(worker, consumer) {
            Ok(wanted) => wanted,
            Err(problem) => {
                problems.push(problem);
                continue;
            }
        };
        let live = queue.typed_consumers();
        let ours = live.iter().find(|c| owned_by(c, worker, &wanted));
        match ours {
            Some(existing) if matches(existing, &wanted) => {}
            Some(existing) => writes.push(ConsumerWrite::Update {
                queue: queue.queue_name.clone(),
                queue_id: queue.queue_id.clone(),
                consumer_id: existing.consumer_id.clone(),
                body: wanted,
            }),
            None => match live.iter().find(|c| c.worker().is_some_and(|w| w != worker)) {
                Some(other) => problems.push(format!(
                    "queue {} is consumed by Worker {}; remove that consumer first (flaresync never takes it over)",
                    queue.queue_name,
                    other.worker().unwrap_or_default()
                )),
                None => writes.push(ConsumerWrite::Create {
                    queue: queue.queue_name.clone(),
                    queue_id: queue.queue_id.clone(),
                    body: wanted,
                }),
            },
        }
    }
    for queue in queues {
        if declared.iter().any(|c| c.queue == queue.queue_name) {
            continue;
        }
        let pulled_before = previous
            .iter()
            .any(|c| c.queue == queue.queue_name && is_pull(c));
        for consumer in queue.typed_consumers() {
            let ours_pull =
                pulled_before && consumer.worker().is_none() && consumer.kind == "http_pull";
            if consumer.worker() == Some(worker) || ours_pull {
                writes.push(ConsumerWrite::Delete {
                    queue: queue.queue_name.clone(),
                    queue_id: queue.queue_id.clone(),
                    consumer_id: consumer.consumer_id,
                });
            }
        }
    }
    if problems.is_empty() {
        Ok(writes)
    } else {
        Err(problems)
    }
}

/// Whether a declared consumer is an HTTP pull consumer.
fn is_pull(consumer: &QueueConsumer) -> bool {
    serde_json::from_str::<Value>(&consumer.settings)
        .ok()
        .and_then(|v| {
            v.get("type")
                .and_then(Value::as_str)
                .map(|t| t == "http_pull")
        })
        .unwrap_or(false)
}

/// Whether `live` is this Worker's consumer of its queue: a Worker consumer of `worker`, or,
/// when Git declares an HTTP pull consumer, the queue's pull consumer.
fn owned_by(live: &LiveConsumer, worker: &str, wanted: &NewQueueConsumer) -> bool {
    match live.worker() {
        Some(name) => name == worker,
        None => wanted.kind == "http_pull" && live.kind == "http_pull",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared(queue: &str, settings: &str) -> QueueConsumer {
        QueueConsumer {
            queue: queue.into(),
            settings: settings.into(),
        }
    }

    fn queue(name: &str, consumers: Value) -> Queue {
        serde_json::from_value(
            json!({"queue_id": format!("id-{name}"), "queue_name": name, "consumers": consumers}),
        )
        .expect("queue")
    }

    #[test]
    fn the_body_is_wranglers() {
        let consumer = declared(
            "jobs",
            r#"{"dead_letter_queue":"dlq","max_batch_size":50,"max_batch_timeout":2.5,"max_concurrency":4,"max_retries":7,"retry_delay":30}"#,
        );
        let body = body("api", &consumer).expect("body");
        assert_eq!(
            serde_json::to_value(&body).expect("json"),
            json!({"type": "worker", "script_name": "api", "dead_letter_queue": "dlq",
                   "settings": {"batch_size": 50, "max_wait_time_ms": 2500, "max_concurrency": 4,
                                "max_retries": 7, "retry_delay": 30}})
        );
        let pull = body_of(
            "jobs",
            r#"{"type":"http_pull","visibility_timeout_ms":60000}"#,
        );
        assert_eq!(pull.script_name, None);
        assert_eq!(pull.settings, json!({"visibility_timeout_ms": 60000}));
        assert!(super::body("api", &declared("jobs", r#"{"type":"cron"}"#)).is_err());
    }

    fn body_of(queue: &str, settings: &str) -> NewQueueConsumer {
        body("api", &declared(queue, settings)).expect("body")
    }

    #[test]
    fn consumers_are_created_updated_and_removed_as_git_says() {
        let live = vec![
            queue(
                "jobs",
                json!([{"consumer_id": "c1", "type": "worker", "script": "api",
                                   "settings": {"batch_size": 10, "max_retries": 3}}]),
            ),
            queue(
                "old",
                json!([{"consumer_id": "c2", "type": "worker", "script": "api", "settings": {}}]),
            ),
            queue("mail", json!([])),
            queue(
                "theirs",
                json!([{"consumer_id": "c3", "type": "worker", "script": "web", "settings": {}}]),
            ),
        ];
        // Defaults equal unset keys: no write for `jobs`.
        let same = plan(
            "api",
            &[declared("jobs", r#"{"max_batch_size":10}"#)],
            &[],
            &live,
        )
        .expect("plan");
        assert!(matches!(same.as_slice(), [ConsumerWrite::Delete { queue, .. }] if queue == "old"));
        let writes = plan(
            "api",
            &[
                declared("jobs", r#"{"max_retries":5}"#),
                declared("mail", ""),
            ],
            &[],
            &live,
        )
        .expect("plan");
        let kinds: Vec<(&str, &str)> = writes
            .iter()
            .map(|w| match w {
                ConsumerWrite::Create { queue, .. } => ("create", queue.as_str()),
                ConsumerWrite::Update { queue, .. } => ("update", queue.as_str()),
                ConsumerWrite::Delete { queue, .. } => ("delete", queue.as_str()),
            })
            .collect();
        assert_eq!(
            kinds,
            [("update", "jobs"), ("create", "mail"), ("delete", "old")]
        );
    }

    #[test]
    fn another_workers_consumer_and_missing_queues_are_refused() {
        let live = vec![queue(
            "theirs",
            json!([{"consumer_id": "c3", "type": "worker", "script": "web"}]),
        )];
        let problems = plan(
            "api",
            &[declared("theirs", ""), declared("ghost", "")],
            &[],
            &live,
        )
        .expect_err("refused");
        assert!(
            problems[0].contains("consumed by Worker web"),
            "{problems:?}"
        );
        assert!(
            problems[1].contains("queue ghost does not exist"),
            "{problems:?}"
        );
    }

    #[test]
    fn a_pull_consumer_is_removed_only_where_git_declared_it_before() {
        let live = vec![
            queue(
                "pulled",
                json!([{"consumer_id": "p1", "type": "http_pull", "settings": {}}]),
            ),
            queue(
                "by-hand",
                json!([{"consumer_id": "p2", "type": "http_pull", "settings": {}}]),
            ),
        ];
        let before = [declared("pulled", r#"{"type":"http_pull"}"#)];
        let writes = plan("api", &[], &before, &live).expect("plan");
        assert!(
            matches!(writes.as_slice(), [ConsumerWrite::Delete { queue, consumer_id, .. }]
                if queue == "pulled" && consumer_id == "p1"),
            "{writes:?}"
        );
        // Without knowing what was applied before, no pull consumer is touched.
        assert_eq!(plan("api", &[], &[], &live), Ok(Vec::new()));
        // Still declared: kept (and compared).
        assert_eq!(plan("api", &before, &before, &live[..1]), Ok(Vec::new()));
    }
}
