//! Which non-versioned settings (routes, crons, logpush, observability, tail and queue
//! consumers, `workers_dev`) a decision applies: those that differ, or that must be applied
//! because their live value is unknown.

use std::collections::BTreeSet;

use flaresync_config::{QueueConsumer, Route, WorkerSpec};

use super::case::Case;
use crate::input::DeclaredTriggers;

/// The routes, crons and queue consumers live, when known.
#[derive(Clone, Copy)]
struct LiveTriggers<'a> {
    routes: Option<&'a [Route]>,
    crons: Option<&'a [String]>,
    consumers: Option<&'a [QueueConsumer]>,
}

/// Non-versioned settings that differ (or must be applied because their live value is unknown).
/// `versions_equal`: what runs already has the desired versioned content.
pub(super) fn fields(case: &Case<'_>, versions_equal: bool) -> Vec<String> {
    let spec = case.spec();
    let live_worker = case.current.live_worker;
    let live = LiveTriggers {
        routes: live_worker.and_then(|w| w.routes.as_deref()),
        crons: live_worker.and_then(|w| w.crons.as_deref()),
        consumers: live_worker.and_then(|w| w.queue_consumers.as_deref()),
    };
    let mut fields = differing_from_live(live, spec);
    match case.input.base.map(|(_, w)| &w.spec) {
        Some(base) => fields.extend(differing_from_base(live, base, spec)),
        // A new version is going live and nothing says what the non-versioned settings are:
        // apply the ones Git declares (idempotent), as wrangler does after `versions deploy`,
        // and the routes / consumers the running version was applied with that Git dropped.
        None if !versions_equal => {
            fields.extend(declared(live, spec));
            let running = case
                .current
                .active
                .and_then(|active| active.known)
                .and_then(|known| known.declared.as_ref());
            if let Some(running) = running {
                fields.extend(dropped_since(live, running, spec));
            }
        }
        None => {}
    }
    if fields.is_empty()
        && versions_equal
        && case
            .current
            .digest
            .is_some_and(|d| d != case.worker.digest.as_str())
    {
        // Digests say something outside the version changed, but neither live values nor a base
        // commit tell which field: apply all non-versioned settings.
        fields.insert("script_settings");
    }
    fields.into_iter().map(str::to_owned).collect()
}

/// The settings of a rollback: those of [`fields`], plus routes, custom domains and queue
/// consumers whenever nothing says what they are (no base commit, live values unknown): the
/// rollback must remove the ones the newer commit added, which Git's older content does not
/// name. The apply reads them and writes only what differs.
pub(super) fn rollback_fields(case: &Case<'_>) -> Vec<String> {
    let mut fields = fields(case, false);
    let live = case.current.live_worker;
    let routes_known = live.is_some_and(|w| w.routes.is_some());
    let consumers_known = live.is_some_and(|w| w.queue_consumers.is_some());
    if case.input.base.is_none() {
        for (field, unknown) in [
            ("routes", !routes_known),
            ("queue_consumers", !consumers_known),
        ] {
            if unknown && !fields.iter().any(|f| f == field) {
                fields.push(field.to_owned());
            }
        }
    }
    fields
}

fn same_set<T: Ord>(a: &[T], b: &[T]) -> bool {
    a.iter().collect::<BTreeSet<_>>() == b.iter().collect::<BTreeSet<_>>()
}

/// Routes, crons and queue consumers whose known live values differ from Git's.
fn differing_from_live(live: LiveTriggers<'_>, spec: &WorkerSpec) -> BTreeSet<&'static str> {
    let mut fields = BTreeSet::new();
    if live
        .routes
        .is_some_and(|routes| !same_set(routes, &spec.routes))
    {
        fields.insert("routes");
    }
    if live
        .crons
        .is_some_and(|crons| !same_set(crons, &spec.crons))
    {
        fields.insert("crons");
    }
    if live
        .consumers
        .is_some_and(|consumers| !same_set(consumers, &spec.queue_consumers))
    {
        fields.insert("queue_consumers");
    }
    fields
}

/// Settings changed since the base commit (routes and crons only where live values are unknown).
fn differing_from_base(
    live: LiveTriggers<'_>,
    base: &WorkerSpec,
    spec: &WorkerSpec,
) -> BTreeSet<&'static str> {
    let changed = [
        (
            "routes",
            live.routes.is_none() && base.routes != spec.routes,
        ),
        (
            "crons",
            live.crons.is_none() && !same_set(&base.crons, &spec.crons),
        ),
        ("logpush", base.settings.logpush != spec.settings.logpush),
        (
            "observability",
            base.settings.observability != spec.settings.observability,
        ),
        (
            "tail_consumers",
            base.settings.tail_consumers != spec.settings.tail_consumers,
        ),
        (
            "queue_consumers",
            live.consumers.is_none() && base.queue_consumers != spec.queue_consumers,
        ),
        ("workers_dev", base.workers_dev != spec.workers_dev),
    ];
    selected(changed)
}

/// Routes and queue consumers the running version was applied with (`running`, from its
/// commit) that Git no longer declares, where live values are unknown: a commit that changes
/// the code and drops the last route must still remove it.
fn dropped_since(
    live: LiveTriggers<'_>,
    running: &DeclaredTriggers,
    spec: &WorkerSpec,
) -> BTreeSet<&'static str> {
    selected([
        (
            "routes",
            live.routes.is_none() && !same_set(&running.routes, &spec.routes),
        ),
        (
            "queue_consumers",
            live.consumers.is_none() && !same_set(&running.queue_consumers, &spec.queue_consumers),
        ),
    ])
}

/// Settings Git declares (routes and crons only where live values are unknown).
fn declared(live: LiveTriggers<'_>, spec: &WorkerSpec) -> BTreeSet<&'static str> {
    let declared = [
        ("routes", live.routes.is_none() && !spec.routes.is_empty()),
        (
            "queue_consumers",
            live.consumers.is_none() && !spec.queue_consumers.is_empty(),
        ),
        ("crons", live.crons.is_none() && !spec.crons.is_empty()),
        ("logpush", spec.settings.logpush.is_some()),
        ("observability", spec.settings.observability.is_some()),
        ("tail_consumers", !spec.settings.tail_consumers.is_empty()),
        // wrangler sets the workers.dev route whenever `workers_dev` is written.
        ("workers_dev", spec.workers_dev.is_some()),
    ];
    selected(declared)
}

fn selected<const N: usize>(table: [(&'static str, bool); N]) -> BTreeSet<&'static str> {
    table
        .into_iter()
        .filter(|(_, on)| *on)
        .map(|(field, _)| field)
        .collect()
}
