//! Applying a plan: its steps in the planner's order, with dependencies deploying first and
//! callers rolling back first, then the health check of each Worker whose traffic changed.
//!
//! Every write is preceded by a journal intent (`started`) and followed by its outcome; a
//! journal failure aborts the pass (no write without its intent on disk).

mod deploy;
mod restore;
mod settings;
mod settings_check;
mod step;

use std::collections::{BTreeMap, BTreeSet};

use flaresync_plan::{Action as PlanAction, Plan};
use tracing::{info, warn};

use self::step::{WorkerWrites, spec_of};
use super::{
    PassInput,
    memory::Memory,
    report::{WorkerOutcome, WorkerReport},
};
use crate::{convert, error::Error, health, progress};

/// Runs the plan's steps for every Worker not in `hold`, updating `reports` and `memory`.
///
/// # Errors
///
/// Only journal failures; per-Worker failures are in the reports.
pub(super) async fn apply(
    input: &PassInput<'_>,
    memory: &mut Memory,
    plan: &Plan,
    hold: &BTreeSet<String>,
    reports: &mut BTreeMap<String, WorkerReport>,
) -> Result<(), Error> {
    let order = Ordering::new(plan, memory, reports);
    let mut failed: BTreeSet<String> = BTreeSet::new();
    let mut writes: BTreeMap<String, WorkerWrites> = BTreeMap::new();
    let tracker = &input.ctx.progress;
    let _publishing = progress::Publishing(tracker);
    let written: BTreeMap<&str, usize> = order
        .last_index
        .iter()
        .filter(|(worker, _)| !hold.contains(**worker) && reports.contains_key(**worker))
        .map(|(worker, last)| (*worker, *last))
        .collect();

    for (index, step) in plan.steps.iter().enumerate() {
        let worker = step.worker().to_owned();
        if hold.contains(&worker) || failed.contains(&worker) {
            continue;
        }
        tracker.publish(progress::at_step(&written, &failed, index, Some(&worker)));
        let Some(report) = reports.get_mut(&worker) else {
            continue;
        };
        if let Some((by, note)) = order.deferral(plan, &worker, &failed, hold) {
            report.outcome = WorkerOutcome::Skipped;
            report.notes.push(note);
            report.deferred_by = Some(by);
            failed.insert(worker);
            continue;
        }
        let worker_writes = writes.entry(worker.clone()).or_default();
        if let Err(error) = step::apply_step(input, step, worker_writes, report).await {
            if matches!(error, Error::Journal(_)) {
                return Err(error);
            }
            warn!(worker = %worker, error = %error, reason = %error.reason(), "Step failed.");
            report.fail(&error);
            failed.insert(worker.clone());
            // Whatever happened, read this Worker afresh next time.
            memory.workers.remove(&worker);
            continue;
        }
        if order.last_index.get(worker.as_str()) != Some(&index) {
            continue;
        }
        // Every step of this Worker succeeded.
        let done = writes.get(&worker).cloned().unwrap_or_default();
        let previous = order.previous_active.get(&worker).cloned();
        if !worker_done(input, memory, &worker, &done, previous, report).await? {
            failed.insert(worker);
        }
    }
    Ok(())
}

/// A Worker's active version before the pass.
#[derive(Debug, Clone)]
pub(super) struct Previous {
    pub version: String,
    /// The commit it was built from, when known.
    pub commit: Option<String>,
}

/// What the order of a plan's steps depends on, computed once per pass.
struct Ordering<'p> {
    /// Worker -> index of its last step.
    last_index: BTreeMap<&'p str, usize>,
    rolling_back: BTreeSet<&'p str>,
    /// Workers whose version changes (forward or back).
    changing: BTreeSet<&'p str>,
    depends: BTreeMap<&'p str, &'p [String]>,
    /// Who the live versions call (a revert may remove the binding from Git's state).
    live_calls: BTreeMap<String, BTreeSet<String>>,
    /// Workers held for drift under `drift_policy = "report"`: a human's call with no end, so
    /// their dependencies do not wait for them.
    drift_held: BTreeSet<String>,
    /// Worker -> its active version before the pass and the commit it was built from (what a
    /// failed health check restores).
    previous_active: BTreeMap<String, Previous>,
}

impl<'p> Ordering<'p> {
    fn new(plan: &'p Plan, memory: &Memory, reports: &BTreeMap<String, WorkerReport>) -> Self {
        let mut last_index = BTreeMap::new();
        for (index, step) in plan.steps.iter().enumerate() {
            last_index.insert(step.worker(), index);
        }
        let with_action = |wanted: fn(&PlanAction) -> bool| -> BTreeSet<&'p str> {
            plan.workers
                .iter()
                .filter(|w| wanted(&w.action))
                .map(|w| w.name.as_str())
                .collect()
        };
        let live_calls = memory
            .workers
            .iter()
            .filter_map(|(name, cached)| {
                let (id, _) = cached.live.active_version_id()?;
                let version = cached.live.version(id)?;
                Some((
                    name.clone(),
                    flaresync_plan::order::binding_targets(&version.bindings),
                ))
            })
            .collect();
        let previous_active = memory
            .workers
            .iter()
            .filter_map(|(name, cached)| {
                let (id, _) = cached.live.active_version_id()?;
                let previous = Previous {
                    version: id.to_owned(),
                    commit: cached.commits.get(id).cloned(),
                };
                Some((name.clone(), previous))
            })
            .collect();
        // Only moves back to older versions run callers first; a move to a newer existing
        // version (a revert of a revert, a heal) runs dependencies first like a deploy.
        let rolling_back = plan
            .workers
            .iter()
            .filter(|w| {
                let live = memory.workers.get(&w.name).map(|cached| &cached.live);
                w.action.rolls_back(live)
            })
            .map(|w| w.name.as_str())
            .collect();
        Ordering {
            last_index,
            rolling_back,
            changing: with_action(|a| {
                matches!(
                    a,
                    PlanAction::DeployForward { .. } | PlanAction::Rollback { .. }
                )
            }),
            depends: plan
                .workers
                .iter()
                .map(|w| (w.name.as_str(), w.depends_on.as_slice()))
                .collect(),
            live_calls,
            drift_held: reports
                .values()
                .filter(|report| report.outcome == WorkerOutcome::HeldForDrift)
                .map(|report| report.worker.clone())
                .collect(),
            previous_active,
        }
    }

    /// Whether `worker` must wait for another Worker of the plan that did not get through in
    /// this pass: `(that Worker, the note saying so)`.
    fn deferral(
        &self,
        plan: &Plan,
        worker: &str,
        failed: &BTreeSet<String>,
        hold: &BTreeSet<String>,
    ) -> Option<(String, String)> {
        if self.rolling_back.contains(worker) {
            // Rollbacks run entry points first: a dependency rolls back only once every Worker
            // that uses it and rolls back in this plan has done so, or its older version would
            // serve a caller still running the newer code.
            let dependent = plan.workers.iter().find(|w| {
                self.rolling_back.contains(w.name.as_str())
                    && (w.depends_on.iter().any(|d| d == worker)
                        || self
                            .live_calls
                            .get(&w.name)
                            .is_some_and(|targets| targets.contains(worker)))
                    && (failed.contains(&w.name)
                        || (hold.contains(&w.name) && !self.drift_held.contains(w.name.as_str())))
            })?;
            return Some((
                dependent.name.clone(),
                format!(
                    "not rolled back: {} uses it and did not roll back in this pass, so it keeps its newer version until then",
                    dependent.name
                ),
            ));
        }
        // Dependencies deploy first: a dependency that failed, or whose change was held back
        // (drift, scope, a health rejection), holds its dependents back too.
        // (A caller's rollback runs before its dependencies' on purpose: not held back here.)
        let dependency = self.depends.get(worker).and_then(|deps| {
            deps.iter().find(|d| {
                failed.contains(*d) || (hold.contains(*d) && self.changing.contains(d.as_str()))
            })
        })?;
        Some((
            dependency.clone(),
            format!(
                "not applied: dependency {dependency} did not deploy in this pass, and dependencies deploy first"
            ),
        ))
    }
}

/// Every step of `worker` succeeded: health-check it when its traffic changed (restoring the
/// previous version on failure), then remember what was applied. Returns whether it passed.
async fn worker_done(
    input: &PassInput<'_>,
    memory: &mut Memory,
    worker: &str,
    done: &WorkerWrites,
    previous: Option<Previous>,
    report: &mut WorkerReport,
) -> Result<bool, Error> {
    let ctx = input.ctx;
    memory.workers.remove(worker);
    let digest = spec_of(input.desired, worker)?.1.to_owned();
    let check = input
        .policy(worker)
        .and_then(convert::health_check)
        .map(|check| health::HealthCheck {
            attempts: ctx.options.health_attempts,
            interval: ctx.options.health_interval,
            ..check
        });
    if let (Some(check), true) = (check, done.traffic_changed) {
        let outcome = health::run_check(&ctx.options.health_http, &check).await;
        report.health = Some(outcome.clone());
        report.health_url = Some(health::display_url(&check.url));
        if !outcome.passed() {
            let failure = restore::HealthFailure {
                worker,
                digest: &digest,
                done,
                previous,
                outcome: &outcome,
            };
            restore::restore_after_health_failure(input, memory, &failure, report).await?;
            return Ok(false);
        }
        info!(worker = %worker, url = %health::display_url(&check.url), "Health check passed.");
    }
    let applied = memory.applied.entry(worker.to_owned()).or_default();
    applied.digest = Some(digest);
    applied.rejected = None;
    if let Some((version, _)) = &done.deployed {
        applied.version = Some(version.clone());
    }
    let wrote = done.uploaded.is_some() || done.deployed.is_some() || !done.settings.is_empty();
    report.outcome = if wrote {
        WorkerOutcome::Applied {
            version_id: done.deployed.as_ref().map(|(v, _)| v.clone()),
            deployment_id: done.deployed.as_ref().map(|(_, d)| d.clone()),
        }
    } else {
        // Cloudflare already matched (settings another flaresync applied).
        WorkerOutcome::InSync
    };
    if let Some((version, _)) = &done.deployed {
        report.live_version = Some(version.clone());
        report.live_commit = done
            .deployed_commit
            .clone()
            .or_else(|| Some(input.head().to_owned()));
        if let Some(drift) = report.drift.as_mut() {
            drift.healed = true;
        }
    }
    Ok(true)
}
