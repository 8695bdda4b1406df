//! `queues`: producers are bindings, consumers are script settings. Both are read from the
//! same (non-inheritable) table.

use std::collections::BTreeMap;

use super::BindingReader;
use super::shapes::Items;
use crate::error::ConfigError;
use crate::model::{BindingKind, QueueConsumer, canonical_json_text};
use crate::reader::tables;

impl BindingReader<'_, '_, '_> {
    pub(super) fn read_queue_producers(&mut self) -> Result<(), ConfigError> {
        // consumers are read by `read_queue_consumers`.
        let items = Items::new("producers").inside("queues", &["consumers"]);
        self.items(items, |cx, p, _| {
            let queue_name = p.req_nonempty(cx, "queue", "name the queue")?;
            Ok(BindingKind::Queue {
                queue_name,
                delivery_delay: p.u64(cx, "delivery_delay")?,
            })
        })
    }

    pub(super) fn read_queue_consumers(&mut self) -> Result<Vec<QueueConsumer>, ConfigError> {
        let cx = &mut *self.cx;
        let table = self.layer.local(cx, "queues");
        let Some(node) = table.get("queues") else {
            return Ok(Vec::new());
        };
        let Some(consumers) = node
            .entries()
            .and_then(|entries| entries.iter().find(|e| e.key == "consumers"))
        else {
            return Ok(Vec::new());
        };
        let path = format!("{}.consumers", table.key_path("queues"));
        let mut out = Vec::new();
        for mut c in tables(cx, &consumers.node, &path)? {
            let queue = c.req_nonempty(cx, "queue", "name the queue to consume")?;
            let mut settings: BTreeMap<String, serde_json::Value> = BTreeMap::new();
            for entry in c.entries {
                if entry.key != "queue" {
                    settings.insert(entry.key.clone(), entry.node.to_json());
                }
            }
            let settings = if settings.is_empty() {
                String::new()
            } else {
                canonical_json_text(&serde_json::Value::Object(settings.into_iter().collect()))
            };
            out.push(QueueConsumer { queue, settings });
        }
        out.sort();
        Ok(out)
    }
}
