//! The account's resources that rollback legality depends on (FS004): KV namespaces, D1
//! databases, queues and R2 buckets.

use std::collections::BTreeSet;

use flaresync_cloudflare::Client;
use flaresync_plan::{Desired, LiveResources};
use tracing::warn;

/// Lists the account's KV namespaces, D1 databases, queues and R2 buckets (per jurisdiction),
/// only for the kinds the desired Workers bind. A failed listing stays `None` ("unknown"), so
/// the planner skips that existence check instead of calling every resource missing.
pub async fn fetch_resources(client: &Client, desired: &Desired) -> LiveResources {
    use flaresync_config::BindingKind;
    let mut kinds = BTreeSet::new();
    let mut jurisdictions: BTreeSet<Option<String>> = BTreeSet::new();
    for entry in desired.workers.values() {
        let Some(worker) = entry.worker() else {
            continue;
        };
        for binding in &worker.spec.bindings {
            match &binding.kind {
                BindingKind::KvNamespace { .. } => {
                    kinds.insert("kv");
                }
                BindingKind::D1 { .. } => {
                    kinds.insert("d1");
                }
                BindingKind::Queue { .. } => {
                    kinds.insert("queue");
                }
                BindingKind::R2Bucket { jurisdiction, .. } => {
                    jurisdictions.insert(jurisdiction.clone());
                }
                _ => {}
            }
        }
    }
    let mut resources = LiveResources::default();
    if kinds.contains("kv") {
        match client.list_kv_namespaces().await {
            Ok(list) => resources.kv = Some(list.into_iter().map(|ns| ns.id).collect()),
            Err(error) => warn!(error = %error, "Cannot list KV namespaces; skipping the check."),
        }
    }
    if kinds.contains("d1") {
        match client.list_d1_databases().await {
            Ok(list) => resources.d1 = Some(list.into_iter().map(|db| db.uuid).collect()),
            Err(error) => warn!(error = %error, "Cannot list D1 databases; skipping the check."),
        }
    }
    if kinds.contains("queue") {
        match client.list_queues().await {
            Ok(list) => resources.queues = Some(list.into_iter().map(|q| q.queue_name).collect()),
            Err(error) => warn!(error = %error, "Cannot list queues; skipping the check."),
        }
    }
    if !jurisdictions.is_empty() {
        let mut buckets = BTreeSet::new();
        let mut complete = true;
        for jurisdiction in &jurisdictions {
            match client.list_r2_buckets(jurisdiction.as_deref()).await {
                Ok(list) => {
                    buckets.extend(list.into_iter().map(|bucket| flaresync_plan::R2Bucket {
                        name: bucket.name,
                        jurisdiction: jurisdiction.clone(),
                    }))
                }
                Err(error) => {
                    warn!(error = %error, "Cannot list R2 buckets; skipping the check.");
                    complete = false;
                }
            }
        }
        if complete {
            resources.r2 = Some(buckets);
        }
    }
    resources
}
