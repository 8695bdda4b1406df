//! Changes of the settings outside bindings and compatibility (main module, usage model,
//! limits, placement, exports, workers.dev, logpush, observability, tail and queue consumers,
//! required secrets), and how a route is summarized.

use flaresync_config::{Route, WorkerSpec};

use super::model::SettingChange;

pub(super) fn route_summary(route: &Route) -> String {
    let mut text = route.pattern.clone();
    if route.custom_domain {
        text.push_str(" (custom domain)");
    }
    if let Some(zone) = route.zone_name.as_ref().or(route.zone_id.as_ref()) {
        text.push_str(&format!(" [zone {zone}]"));
    }
    text
}

pub(super) fn setting_changes(base: Option<&WorkerSpec>, after: &WorkerSpec) -> Vec<SettingChange> {
    let Some(base) = base else {
        return Vec::new();
    };
    let mut changes = Vec::new();
    let mut field = |name: &str, before: Option<String>, after: Option<String>| {
        if before != after {
            changes.push(SettingChange {
                field: name.to_owned(),
                before,
                after,
            });
        }
    };
    field(
        "main_module",
        Some(base.main_module.clone()),
        Some(after.main_module.clone()),
    );
    field(
        "usage_model",
        base.usage_model.clone(),
        after.usage_model.clone(),
    );
    field("limits", base.limits.clone(), after.limits.clone());
    field("placement", base.placement.clone(), after.placement.clone());
    field("exports", base.exports.clone(), after.exports.clone());
    field(
        "workers_dev",
        base.workers_dev.map(|b| b.to_string()),
        after.workers_dev.map(|b| b.to_string()),
    );
    field(
        "logpush",
        base.settings.logpush.map(|b| b.to_string()),
        after.settings.logpush.map(|b| b.to_string()),
    );
    field(
        "observability",
        base.settings.observability.clone(),
        after.settings.observability.clone(),
    );
    let tails = |s: &WorkerSpec| {
        let names: Vec<String> = s
            .settings
            .tail_consumers
            .iter()
            .map(|t| match &t.environment {
                Some(env) => format!("{}@{env}", t.service),
                None => t.service.clone(),
            })
            .collect();
        (!names.is_empty()).then(|| names.join(", "))
    };
    field("tail_consumers", tails(base), tails(after));
    let consumers = |s: &WorkerSpec| {
        let names: Vec<String> = s
            .queue_consumers
            .iter()
            .map(|q| {
                if q.settings.is_empty() {
                    q.queue.clone()
                } else {
                    format!("{} {}", q.queue, q.settings)
                }
            })
            .collect();
        (!names.is_empty()).then(|| names.join(", "))
    };
    field("queue_consumers", consumers(base), consumers(after));
    let required =
        |s: &WorkerSpec| (!s.secrets_required.is_empty()).then(|| s.secrets_required.join(", "));
    field("secrets_required", required(base), required(after));
    changes
}
