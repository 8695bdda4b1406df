//! Applying routes, custom domains and queue consumers (not versioned): reads what Cloudflare
//! holds, asks [`routes_plan`](super::routes_plan) / [`consumers_plan`](super::consumers_plan)
//! for the writes, and sends them. With `dry_run` nothing is written and the answer says only
//! whether something would be (the check before a digest-only settings write).
//!
//! Zones are listed once per pass ([`ZoneCache`]); the routes of every zone are read, so a
//! route removed from Git is found wherever it is.

use std::collections::BTreeMap;

use flaresync_cloudflare::{Error as CfError, Zone};
use flaresync_config::{QueueConsumer, WorkerSpec};
use tokio::sync::OnceCell;
use tracing::info;

use super::consumers_plan::{self, ConsumerWrite};
use super::routes_plan::{self, DomainWrite, RouteWrite};
use crate::{error::Error, pass::Context};

/// The account's zones, listed at most once per pass.
#[derive(Debug, Default)]
pub(crate) struct ZoneCache(OnceCell<Vec<Zone>>);

impl ZoneCache {
    async fn zones(&self, ctx: &Context) -> Result<&[Zone], Error> {
        self.0
            .get_or_try_init(|| async {
                ctx.client
                    .list_zones()
                    .await
                    .map_err(|e| Error::api("listing the zones of the account", e))
            })
            .await
            .map(Vec::as_slice)
    }
}

fn refused(worker: &str, problems: Vec<String>) -> Error {
    Error::Triggers {
        worker: worker.to_owned(),
        message: problems.join("; "),
    }
}

/// A delete that finds nothing is done.
fn gone_is_done(result: Result<(), CfError>) -> Result<(), CfError> {
    match result {
        Err(error) if error.is_not_found() => Ok(()),
        other => other,
    }
}

/// Makes the Worker's routes and custom domains Git's; returns whether anything differed.
pub(super) async fn sync_routes(
    ctx: &Context,
    zones: &ZoneCache,
    worker: &str,
    spec: &WorkerSpec,
    dry_run: bool,
) -> Result<bool, Error> {
    let zones = zones.zones(ctx).await?;
    let mut wanted_routes = Vec::new();
    let mut wanted_domains = Vec::new();
    let mut problems = Vec::new();
    for route in &spec.routes {
        match routes_plan::zone_of(route, zones) {
            Ok(zone) if route.custom_domain => {
                wanted_domains.push((route.pattern.to_ascii_lowercase(), zone.id.clone()));
            }
            Ok(zone) => wanted_routes.push((zone.id.clone(), route.pattern.clone())),
            Err(problem) => problems.push(problem),
        }
    }
    if !problems.is_empty() {
        return Err(refused(worker, problems));
    }
    let mut live = BTreeMap::new();
    for zone in zones {
        let routes = ctx
            .client
            .list_zone_routes(&zone.id)
            .await
            .map_err(|e| Error::api(format!("reading the routes of zone {}", zone.name), e))?;
        live.insert(zone.id.clone(), routes);
    }
    let route_writes =
        routes_plan::plan_routes(worker, &wanted_routes, &live).map_err(|p| refused(worker, p))?;
    let domain_writes = plan_domains(ctx, worker, &wanted_domains).await?;
    let differs = !route_writes.is_empty() || !domain_writes.is_empty();
    if dry_run {
        return Ok(differs);
    }
    for write in &route_writes {
        write_route(ctx, worker, write).await?;
    }
    for write in &domain_writes {
        write_domain(ctx, worker, write).await?;
    }
    Ok(differs)
}

async fn plan_domains(
    ctx: &Context,
    worker: &str,
    wanted: &[(String, String)],
) -> Result<Vec<DomainWrite>, Error> {
    let read = |e| Error::api(format!("reading the custom domains of {worker}"), e);
    let mine = ctx.client.list_custom_domains(worker).await.map_err(read)?;
    let mut owners = BTreeMap::new();
    for (hostname, _) in wanted {
        if mine
            .iter()
            .any(|d| d.hostname.eq_ignore_ascii_case(hostname))
        {
            continue;
        }
        if let Some(domain) = ctx.client.custom_domain(hostname).await.map_err(read)? {
            owners.insert(hostname.clone(), domain.service);
        }
    }
    routes_plan::plan_domains(worker, wanted, &mine, &owners).map_err(|p| refused(worker, p))
}

async fn write_route(ctx: &Context, worker: &str, write: &RouteWrite) -> Result<(), Error> {
    let client = &ctx.client;
    let (what, result) = match write {
        RouteWrite::Create { zone_id, pattern } => (
            format!("creating route {pattern}"),
            client
                .create_zone_route(zone_id, pattern, worker)
                .await
                .map(|_| ()),
        ),
        RouteWrite::Update {
            zone_id,
            route_id,
            pattern,
        } => (
            format!("pointing route {pattern} at {worker}"),
            client
                .update_zone_route(zone_id, route_id, pattern, worker)
                .await
                .map(|_| ()),
        ),
        RouteWrite::Delete {
            zone_id,
            route_id,
            pattern,
        } => (
            format!("deleting route {pattern}"),
            gone_is_done(client.delete_zone_route(zone_id, route_id).await),
        ),
    };
    result.map_err(|e| Error::api(format!("{what} of {worker}"), e))?;
    info!(worker = %worker, change = %what, "Route updated.");
    Ok(())
}

async fn write_domain(ctx: &Context, worker: &str, write: &DomainWrite) -> Result<(), Error> {
    let client = &ctx.client;
    let (what, result) = match write {
        DomainWrite::Attach { hostname, zone_id } => (
            format!("attaching custom domain {hostname}"),
            client
                .attach_custom_domain(hostname, worker, zone_id)
                .await
                .map(|_| ()),
        ),
        DomainWrite::Detach { id, hostname } => (
            format!("detaching custom domain {hostname}"),
            gone_is_done(client.detach_custom_domain(id).await),
        ),
    };
    result.map_err(|e| Error::api(format!("{what} of {worker}"), e))?;
    info!(worker = %worker, change = %what, "Custom domain updated.");
    Ok(())
}

/// Makes the Worker's queue consumers Git's; returns whether anything differed. `previous`:
/// the consumers flaresync last applied for it, when known (an HTTP pull consumer Git dropped
/// is removed only then).
pub(super) async fn sync_consumers(
    ctx: &Context,
    worker: &str,
    spec: &WorkerSpec,
    previous: &[QueueConsumer],
    dry_run: bool,
) -> Result<bool, Error> {
    let queues = ctx
        .client
        .list_queues()
        .await
        .map_err(|e| Error::api(format!("reading the queues {worker} consumes"), e))?;
    let writes = consumers_plan::plan(worker, &spec.queue_consumers, previous, &queues)
        .map_err(|p| refused(worker, p))?;
    if dry_run {
        return Ok(!writes.is_empty());
    }
    let client = &ctx.client;
    for write in &writes {
        let (what, result) = match write {
            ConsumerWrite::Create {
                queue,
                queue_id,
                body,
            } => (
                format!("adding the consumer of queue {queue}"),
                client
                    .create_queue_consumer(queue_id, body)
                    .await
                    .map(|_| ()),
            ),
            ConsumerWrite::Update {
                queue,
                queue_id,
                consumer_id,
                body,
            } => (
                format!("updating the consumer of queue {queue}"),
                client
                    .update_queue_consumer(queue_id, consumer_id, body)
                    .await
                    .map(|_| ()),
            ),
            ConsumerWrite::Delete {
                queue,
                queue_id,
                consumer_id,
            } => (
                format!("removing the consumer of queue {queue}"),
                gone_is_done(client.delete_queue_consumer(queue_id, consumer_id).await),
            ),
        };
        result.map_err(|e| Error::api(format!("{what} for {worker}"), e))?;
        info!(worker = %worker, change = %what, "Queue consumer updated.");
    }
    Ok(!writes.is_empty())
}
