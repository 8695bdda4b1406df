//! Before writing non-versioned settings whose difference only a digest suggests: which of them
//! really differ on Cloudflare. A state directory that did not apply them itself (a fresh CI
//! runner, a new replica) must not rewrite what another flaresync already applied.

use std::collections::BTreeSet;

use flaresync_cloudflare::{Schedule, ScriptSettings};
use flaresync_config::{QueueConsumer, ScriptSettings as DesiredSettings, WorkerSpec};

use super::triggers::{sync_consumers, sync_routes};
use crate::{error::Error, pass::PassInput};

/// The settings `script_settings` stands for (every one flaresync writes).
pub(super) const ALL: [&str; 7] = [
    "crons",
    "workers_dev",
    "routes",
    "logpush",
    "observability",
    "tail_consumers",
    "queue_consumers",
];

/// The concrete fields of `fields` (expanding `script_settings`) whose live value differs
/// from `spec`, read from Cloudflare (schedules, workers.dev, routes and custom domains, script
/// settings, queue consumers).
pub(super) async fn differing(
    input: &PassInput<'_>,
    worker: &str,
    spec: &WorkerSpec,
    fields: &[String],
    previous_consumers: &[QueueConsumer],
) -> Result<Vec<String>, Error> {
    let wanted: BTreeSet<&str> = fields
        .iter()
        .flat_map(|field| match field.as_str() {
            "script_settings" => ALL.to_vec(),
            other => vec![other],
        })
        .collect();
    let ctx = input.ctx;
    let read = |what: &str, error| Error::api(format!("reading the {what} of {worker}"), error);
    let mut differ = Vec::new();
    if wanted.contains("crons") {
        let live = ctx
            .client
            .list_schedules(worker)
            .await
            .map_err(|e| read("cron triggers", e))?;
        if !crons_match(&live, &spec.crons) {
            differ.push("crons".to_owned());
        }
    }
    if wanted.contains("workers_dev") {
        let live = ctx
            .client
            .workers_dev(worker)
            .await
            .map_err(|e| read("workers.dev route", e))?;
        // wrangler's default: on unless the Worker is reached through routes.
        if live.enabled != spec.workers_dev.unwrap_or(spec.routes.is_empty()) {
            differ.push("workers_dev".to_owned());
        }
    }
    if wanted.contains("routes") && sync_routes(ctx, &input.zones, worker, spec, true).await? {
        differ.push("routes".to_owned());
    }
    if wanted.contains("queue_consumers")
        && sync_consumers(ctx, worker, spec, previous_consumers, true).await?
    {
        differ.push("queue_consumers".to_owned());
    }
    let script_fields = ["logpush", "observability", "tail_consumers"];
    if script_fields.iter().any(|field| wanted.contains(field)) {
        let live = ctx
            .client
            .script_settings(worker)
            .await
            .map_err(|e| read("script settings", e))?;
        for field in script_fields {
            if wanted.contains(field) && !script_setting_matches(field, &live, &spec.settings) {
                differ.push(field.to_owned());
            }
        }
    }
    // What cannot be read here is left to the caller as asked.
    differ.extend(
        wanted
            .iter()
            .filter(|field| !ALL.contains(field))
            .map(|field| (*field).to_owned()),
    );
    Ok(differ)
}

fn crons_match(live: &[Schedule], desired: &[String]) -> bool {
    let live: BTreeSet<&str> = live.iter().map(|s| s.cron.as_str()).collect();
    let desired: BTreeSet<&str> = desired.iter().map(String::as_str).collect();
    live == desired
}

fn script_setting_matches(field: &str, live: &ScriptSettings, desired: &DesiredSettings) -> bool {
    match field {
        "logpush" => live.logpush.unwrap_or(false) == desired.logpush.unwrap_or(false),
        "observability" => {
            let desired = desired
                .observability
                .as_deref()
                .and_then(|text| serde_json::from_str::<serde_json::Value>(text).ok());
            match (&live.observability, desired) {
                (_, None) => true,
                (Some(live), Some(desired)) => *live == desired,
                (None, Some(_)) => false,
            }
        }
        "tail_consumers" => live.tail_consumers == desired.tail_consumers,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_settings_are_compared_as_cloudflare_holds_them() {
        let schedules: Vec<Schedule> = serde_json::from_value(serde_json::json!([
            {"cron": "0 * * * *"}, {"cron": "*/5 * * * *"}
        ]))
        .expect("schedules");
        let crons = |list: &[&str]| list.iter().map(|c| (*c).to_owned()).collect::<Vec<_>>();
        assert!(crons_match(
            &schedules,
            &crons(&["*/5 * * * *", "0 * * * *"])
        ));
        assert!(!crons_match(&schedules, &crons(&["0 * * * *"])));
        let live = ScriptSettings::default();
        let unset = DesiredSettings::default();
        for field in ["logpush", "observability", "tail_consumers"] {
            assert!(script_setting_matches(field, &live, &unset), "{field}");
        }
        let logpush = DesiredSettings {
            logpush: Some(true),
            ..DesiredSettings::default()
        };
        assert!(!script_setting_matches("logpush", &live, &logpush));
    }
}
