//! Triggers that live outside versions, as Cloudflare answers about them: zones, Worker routes,
//! Workers Custom Domains and queue consumers (SPEC-2 §2–3).

use serde::{Deserialize, Serialize};

/// A zone of the account (`GET /zones`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Zone {
    pub id: String,
    pub name: String,
    pub account: Option<ZoneAccount>,
}

/// The account a zone belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneAccount {
    pub id: String,
}

/// A Worker route of a zone (`/zones/{z}/workers/routes`): `script` is absent for a route that
/// turns Workers off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerRoute {
    pub id: String,
    pub pattern: String,
    pub script: Option<String>,
}

/// A Workers Custom Domain (`/accounts/{a}/workers/domains`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomDomain {
    pub id: String,
    pub hostname: String,
    pub service: String,
    pub zone_id: Option<String>,
    pub zone_name: Option<String>,
    pub environment: Option<String>,
}

/// A consumer of a queue, as the queue's `consumers[]` and the consumers API list it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueConsumer {
    pub consumer_id: String,
    /// `worker` or `http_pull`.
    #[serde(rename = "type", default)]
    pub kind: String,
    pub script: Option<String>,
    pub script_name: Option<String>,
    pub service: Option<String>,
    pub dead_letter_queue: Option<String>,
    #[serde(default)]
    pub settings: serde_json::Value,
}

impl QueueConsumer {
    /// The Worker this consumer pushes to, if it is a Worker consumer.
    pub fn worker(&self) -> Option<&str> {
        self.script
            .as_deref()
            .or(self.script_name.as_deref())
            .or(self.service.as_deref())
    }
}

/// The body of a consumer create or update (`POST`/`PUT …/consumers`), as wrangler builds it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewQueueConsumer {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub script_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dead_letter_queue: Option<String>,
    pub settings: serde_json::Value,
}

impl super::Queue {
    /// The queue's consumers that decode (an entry of another shape is skipped).
    pub fn typed_consumers(&self) -> Vec<QueueConsumer> {
        self.consumers
            .iter()
            .filter_map(|value| serde_json::from_value(value.clone()).ok())
            .collect()
    }
}
