//! Applying a plan: its steps in the planner's order, with dependencies deploying first and
//! callers rolling back first, then the health check of each Worker whose traffic changed.
//!
//! Every write is preceded by a journal intent (`started`) and followed by its outcome; a
//! journal failure aborts the pass (no write without its intent on disk).

mod assets;
mod consumers_plan;
pub(super) mod deploy;
pub(super) mod own_writes;
pub(super) mod restore;
mod routes_plan;
mod settings;
mod settings_check;
pub(super) mod step;
mod triggers;

pub(crate) use self::triggers::ZoneCache;

use std::collections::{BTreeMap, BTreeSet};

use flaresync_cloudflare::{Lane, in_lane};
use flaresync_config::Digest;
use flaresync_plan::{Action as PlanAction, Desired, Plan};
use tracing::{info, warn};

use self::step::{WorkerWrites, spec_of};
use super::{
    PassInput,
    memory::Memory,
    preempt::{self, Preemption},
    report::{WorkerOutcome, WorkerReport},
    source,
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
    gradual: &super::rollout::Gradual,
    reports: &mut BTreeMap<String, WorkerReport>,
) -> Result<(), Error> {
    let order = Ordering::new(plan, memory, reports);
    let mut failed: BTreeSet<String> = BTreeSet::new();
    let mut writes: BTreeMap<String, WorkerWrites> = BTreeMap::new();
    let mut preempted: Option<Preemption> = None;
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
        // A Worker boundary: a newer commit that rolls a Worker back goes first.
        if !writes.contains_key(&worker) && preempted.is_none() {
            preempted = preemption(input, memory).await;
        }
        if let Some(preemption) = preempted.as_ref().filter(|_| !writes.contains_key(&worker)) {
            preemption.leave(report);
            failed.insert(worker);
            continue;
        }
        if let Some((by, note)) = order.deferral(plan, &worker, &failed, hold) {
            report.outcome = WorkerOutcome::Skipped;
            report.notes.push(note);
            report.deferred_by = Some(by);
            failed.insert(worker);
            continue;
        }
        let worker_writes = writes.entry(worker.clone()).or_default();
        let view = own_writes::step_view(memory.workers.get(&worker));
        // A rollback spends the budget's reserve: it never waits behind forward deploys.
        let lane = if order.rolling_back.contains(worker.as_str()) {
            Lane::Rollback
        } else {
            Lane::Normal
        };
        let result = match (gradual.get(&worker), step) {
            // A forward deploy of a Worker with a rollout strategy: its first step.
            (Some(rollout), flaresync_plan::Step::Deploy { version, .. }) => {
                let stable = order.previous_active.get(&worker);
                super::rollout::start(
                    input,
                    &worker,
                    rollout,
                    version,
                    stable,
                    worker_writes,
                    report,
                )
                .await
            }
            _ => {
                in_lane(
                    lane,
                    step::apply_step(input, step, &view, worker_writes, report),
                )
                .await
            }
        };
        if let Err(error) = result {
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

/// Whether something more urgent than the rest of this pass came in: an aborted rollout, or a
/// newer commit that rolls a Worker back.
async fn preemption(input: &PassInput<'_>, memory: &Memory) -> Option<Preemption> {
    match aborted_rollouts(input) {
        Some(abort) => Some(abort),
        None => newer_rollback(input, memory).await,
    }
}

/// Whether an operator aborted a rollout during the pass: its set rollback pre-empts the rest
/// of this pass.
fn aborted_rollouts(input: &PassInput<'_>) -> Option<Preemption> {
    let workers = input.ctx.take_rollout_aborts();
    if workers.is_empty() {
        return None;
    }
    info!(workers = ?workers, "A rollout abort was requested: it pre-empts the rest of this pass.");
    Some(Preemption::Abort { workers })
}

/// When a request came in during the pass: whether the branch moved to a commit that rolls a
/// Worker back ([`preempt::rollback_waiting`]), which then pre-empts the rest of this pass.
async fn newer_rollback(input: &PassInput<'_>, memory: &Memory) -> Option<Preemption> {
    let ctx = input.ctx;
    if !ctx.take_newer_head() {
        return None;
    }
    let (commit, state) = match source::peek_newer(ctx.git.clone(), input.head().to_owned()).await {
        Ok(Some(newer)) => newer,
        Ok(None) => return None,
        Err(error) => {
            warn!(error = %error, "Cannot look at the branch during the pass; the next pass reads it.");
            return None;
        }
    };
    let mut next = convert::desired(&state, &memory.dir_names);
    convert::restrict_to_account(&mut next, &state, ctx.client.account_id());
    let known: BTreeMap<&str, Vec<&Digest>> = memory
        .workers
        .iter()
        .map(|(name, cached)| {
            let digests = cached.known.iter().map(|known| &known.digest).collect();
            (name.as_str(), digests)
        })
        .collect();
    let (current, next) = (digests(input.desired), digests(&next));
    let worker = preempt::rollback_waiting(&current, &next, &known)?.to_owned();
    info!(commit = %super::short(&commit), worker = %worker, "A newer commit rolls a Worker back: it pre-empts the rest of this pass.");
    Some(Preemption::Revert { commit, worker })
}

/// Each resolved Worker's desired digest.
fn digests(desired: &Desired) -> BTreeMap<&str, &Digest> {
    desired
        .workers
        .keys()
        .filter_map(|name| Some((name.as_str(), desired.digest_of(name)?)))
        .collect()
}

/// A Worker's active version before the pass.
#[derive(Debug, Clone)]
pub(in crate::pass) struct Previous {
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
    /// Workers held for drift under `drift_policy = "report"`, or by a rejected commit: a
    /// human's call with no end, so their dependencies do not wait for them.
    held_indefinitely: BTreeSet<String>,
    /// Workers held by a rejected commit ([`super::commit_hold`]): they stay on the version
    /// they serve, which their dependents deploy against.
    commit_held: BTreeSet<String>,
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
            held_indefinitely: reports
                .values()
                .filter(|report| {
                    report.outcome == WorkerOutcome::HeldForDrift || report.held_by_commit.is_some()
                })
                .map(|report| report.worker.clone())
                .collect(),
            commit_held: reports
                .values()
                .filter(|report| report.held_by_commit.is_some())
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
                        || (hold.contains(&w.name)
                            && !self.held_indefinitely.contains(w.name.as_str())))
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
        // (drift, scope), holds its dependents back too. One held by a rejected commit stays on
        // the version it serves until Git changes it, which its dependents deploy against.
        // (A caller's rollback runs before its dependencies' on purpose: not held back here.)
        let dependency = self.depends.get(worker).and_then(|deps| {
            deps.iter().find(|d| {
                failed.contains(*d)
                    || (hold.contains(*d)
                        && self.changing.contains(d.as_str())
                        && !self.commit_held.contains(*d))
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

/// The probe of the Worker's rollout strategy, if it has one.
fn rollout_probe(input: &PassInput<'_>, worker: &str) -> Option<flaresync_config::Probe> {
    input
        .policy(worker)?
        .rollout
        .as_ref()?
        .analysis
        .probe
        .clone()
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
    let before = memory.workers.remove(worker);
    let digest = spec_of(input.desired, worker)?.1.to_owned();
    let check = input
        .policy(worker)
        .and_then(convert::health_check)
        .map(|check| health::HealthCheck {
            attempts: ctx.options.health_attempts,
            interval: ctx.options.health_interval,
            ..check
        });
    // A rollout's first step: its analysis (probes included) replaces the health check. A
    // change that goes out at 100% is checked with the rollout's probe when one is configured
    // (sent to the new version), else with the health check.
    let checked = if !done.traffic_changed || done.gradual {
        None
    } else if let (Some(probe), Some((version, _))) = (rollout_probe(input, worker), &done.deployed)
    {
        let check =
            crate::rollout::analysis::run_probe(&ctx.options.health_http, &probe, worker, version)
                .await;
        let outcome = match check.result {
            crate::rollout::Verdict::Passed => health::HealthOutcome::Passed {
                status: probe.expected_status,
            },
            _ => health::HealthOutcome::Failed {
                message: check.detail,
            },
        };
        Some((outcome, health::display_url(&probe.url)))
    } else if let Some(check) = check {
        let outcome = health::run_check(&ctx.options.health_http, &check).await;
        Some((outcome, health::display_url(&check.url)))
    } else {
        None
    };
    if let Some((outcome, url)) = checked {
        report.health = Some(outcome.clone());
        report.health_url = Some(url.clone());
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
        info!(worker = %worker, url = %url, "Health check passed.");
    }
    // What the writes answered is the next pass's view of the Worker, which the scripts
    // listing then confirms without re-reading it.
    if let Some(desired) = input.desired.worker(worker)
        && let Some(cached) = own_writes::cached_after(before, done, worker, desired, input.head())
    {
        memory.workers.insert(worker.to_owned(), cached);
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
            deployment_id: done.deployed.as_ref().and_then(|(_, d)| d.clone()),
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
