//! Non-versioned settings: cron triggers, the workers.dev route, routes and custom domains,
//! script settings, queue consumers.

use flaresync_cloudflare::ScriptSettingsPatch;
use flaresync_config::{QueueConsumer, WorkerSpec};
use tracing::info;

use super::triggers::{sync_consumers, sync_routes};
use crate::{error::Error, pass::PassInput};

/// Writes the non-versioned settings named in `fields`, in wrangler's order: cron triggers
/// through `PUT …/schedules` (the whole set), the workers.dev route through `POST …/subdomain`,
/// routes and custom domains through the zone and domains APIs, logpush / observability / tail
/// consumers through `PATCH …/script-settings`, queue consumers through the queues API.
/// `script_settings` is the planner's "something outside the version changed, field unknown":
/// everything is written (each write replaces the whole value, so this is idempotent).
/// `previous_consumers`: the queue consumers flaresync last applied, when known.
pub(super) async fn apply_settings(
    input: &PassInput<'_>,
    worker: &str,
    spec: &WorkerSpec,
    fields: &[String],
    previous_consumers: &[QueueConsumer],
) -> Result<(), Error> {
    let ctx = input.ctx;
    let all = fields.iter().any(|field| field == "script_settings");
    let wants = |name: &str| all || fields.iter().any(|field| field == name);
    if wants("crons") {
        let applied = ctx
            .client
            .put_schedules(worker, &spec.crons)
            .await
            .map_err(|e| Error::api(format!("updating the cron triggers of {worker}"), e))?;
        info!(worker = %worker, crons = applied.len(), "Cron triggers updated.");
    }
    if wants("workers_dev") {
        // wrangler's default: on unless the Worker is reached through routes.
        let enabled = spec.workers_dev.unwrap_or(spec.routes.is_empty());
        ctx.client
            .set_workers_dev(worker, enabled)
            .await
            .map_err(|e| Error::api(format!("updating the workers.dev route of {worker}"), e))?;
        info!(worker = %worker, enabled, "workers.dev route updated.");
    }
    if wants("routes") {
        sync_routes(ctx, &input.zones, worker, spec, false).await?;
    }
    if wants("logpush") || wants("observability") || wants("tail_consumers") {
        let patch = ScriptSettingsPatch {
            logpush: spec.settings.logpush,
            observability: spec
                .settings
                .observability
                .as_deref()
                .and_then(|text| serde_json::from_str(text).ok()),
            tags: None,
            tail_consumers: Some(spec.settings.tail_consumers.clone()),
        };
        ctx.client
            .patch_script_settings(worker, &patch)
            .await
            .map_err(|e| Error::api(format!("updating settings of {worker}"), e))?;
    }
    if wants("queue_consumers") {
        sync_consumers(ctx, worker, spec, previous_consumers, false).await?;
    }
    Ok(())
}
