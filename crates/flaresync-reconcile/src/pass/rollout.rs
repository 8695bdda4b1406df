//! Rollouts in a pass: the thin shell around [`crate::rollout`]. Before the plan is applied,
//! every open rollout of the head commit takes its next action (its Worker is held from the
//! plan's deploy at 100%), a rollout Git moved away from is closed, and aborts are carried out
//! ([`super::rollout_abort`]). While the plan is applied, a forward deploy of a Worker with a
//! `rollout` strategy becomes the rollout's first step ([`start`]).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use flaresync_config::Rollout;
use flaresync_journal::{Action as JournalAction, Entry, Outcome, Recorded};
use flaresync_plan::{DeployTarget, LiveDeployment, Plan, Step};
use tracing::{info, warn};

use super::{
    PassInput,
    apply::{
        Previous,
        deploy::{DeployRequest, Split, deploy},
        own_writes,
        step::WorkerWrites,
    },
    memory::Memory,
    report::{WorkerOutcome, WorkerReport},
    short,
};
use crate::{
    error::Error,
    rollout::{
        Analysed, Next, Observed, RolloutReport,
        analysis::{self, Subject},
        machine,
        record::{self, Record},
    },
};

/// Workers whose deploy in this pass starts a rollout, with their strategy.
pub(super) type Gradual = BTreeMap<String, Rollout>;

/// Advances open rollouts and carries out aborts; returns the Workers whose deploy starts a
/// rollout in this pass.
///
/// # Errors
///
/// Journal failures; a Worker whose deployments cannot be read fails alone.
pub(super) async fn stage(
    input: &PassInput<'_>,
    memory: &mut Memory,
    plan: &Plan,
    hold: &mut BTreeSet<String>,
    reports: &mut BTreeMap<String, WorkerReport>,
) -> Result<Gradual, Error> {
    let mut gradual = Gradual::new();
    let mut aborts: Vec<(String, String, String)> = Vec::new();
    for worker_plan in &plan.workers {
        let name = &worker_plan.name;
        let Some(rollout) = input.policy(name).and_then(|p| p.rollout.clone()) else {
            continue;
        };
        if !input.scope.includes(name) || hold.contains(name) {
            continue;
        }
        let entries = input.ctx.journal.history(name)?;
        let open = record::read(&entries, &|_| None, Utc::now())
            .filter(|found| found.observed.finished.is_none());
        match open {
            Some(found) if found.commit == input.head() => {
                hold.insert(name.clone());
                let Some(report) = reports.get_mut(name) else {
                    continue;
                };
                match advance(input, memory, name, &rollout, &entries, report).await {
                    Ok(Some(reason)) => aborts.push((name.clone(), found.commit, reason)),
                    Ok(None) => {}
                    Err(error @ Error::Journal(_)) => return Err(error),
                    Err(error) => report.fail(&error),
                }
            }
            other => {
                if let Some(found) = other {
                    supersede(input, name, &found)?;
                }
                if starts_gradually(input, plan, name) {
                    gradual.insert(name.clone(), rollout);
                }
            }
        }
    }
    for (worker, commit, reason) in aborts {
        let abort = super::rollout_abort::Abort {
            worker: &worker,
            commit: &commit,
            reason: &reason,
        };
        super::rollout_abort::abort_commit(input, memory, plan, &abort, hold, reports).await?;
    }
    Ok(gradual)
}

/// Whether the plan's change of `worker` can go out as a split: a version deploy of the head
/// commit over an existing version (not a script upload: a first deploy or a Durable Object
/// migration goes out at 100%, and the plan says so; not a rollback: those go at once).
fn starts_gradually(input: &PassInput<'_>, plan: &Plan, worker: &str) -> bool {
    let steps: Vec<&Step> = plan.steps.iter().filter(|s| s.worker() == worker).collect();
    let script_upload = steps.iter().any(|s| matches!(s, Step::ScriptUpload { .. }));
    let forward_deploy = steps.iter().any(|s| match s {
        Step::Deploy {
            version: DeployTarget::Uploaded,
            ..
        } => true,
        Step::Deploy {
            version: DeployTarget::Existing(target),
            ..
        } => target.commit == input.head(),
        _ => false,
    });
    forward_deploy && !script_upload
}

/// Starts a rollout: the plan's deploy of `worker` becomes a split at the first step's share.
pub(super) async fn start(
    input: &PassInput<'_>,
    worker: &str,
    rollout: &Rollout,
    target: &DeployTarget,
    stable: Option<&Previous>,
    writes: &mut WorkerWrites,
    report: &mut WorkerReport,
) -> Result<(), Error> {
    let canary = match target {
        DeployTarget::Uploaded => writes.uploaded.clone().ok_or_else(|| {
            Error::Internal(format!("rollout of {worker} without a preceding upload"))
        })?,
        DeployTarget::Existing(existing) => existing.version_id.clone(),
    };
    let stable = stable
        .map(|previous| previous.version.clone())
        .filter(|version| *version != canary);
    let step = StepRequest {
        worker,
        canary: &canary,
        stable: stable.as_deref(),
        index: 0,
        weight: rollout.steps.first().copied().unwrap_or(100),
    };
    deploy_step(input, rollout, &step, writes).await?;
    writes.deployed_commit = Some(input.head().to_owned());
    writes.gradual = true;
    let observed = Observed {
        steps: vec![machine::StepTaken {
            index: 0,
            weight: step.weight,
            at: Utc::now(),
        }],
        live_weight: Some(f64::from(step.weight)),
        paused: None,
        promote: false,
        abort: None,
        finished: None,
        now: Utc::now(),
    };
    report.rollout = Some(rollout_report(
        rollout,
        input.head(),
        &canary,
        stable.clone(),
        &observed,
        None,
    ));
    report.requeue_after = Some(wait_of(rollout, step.weight));
    Ok(())
}

/// One canary step to deploy.
struct StepRequest<'a> {
    worker: &'a str,
    canary: &'a str,
    stable: Option<&'a str>,
    index: usize,
    weight: u8,
}

/// Deploys one step (journaled as a rollout step, annotated for `wrangler deployments list`).
async fn deploy_step(
    input: &PassInput<'_>,
    rollout: &Rollout,
    step: &StepRequest<'_>,
    writes: &mut WorkerWrites,
) -> Result<(), Error> {
    let head = input.head();
    let what = match step.stable {
        Some(stable) if step.weight < 100 => format!(
            "version {} of commit {}, stable version {stable} keeps {}%",
            step.canary,
            short(head),
            100 - step.weight
        ),
        _ => format!("version {} of commit {}", step.canary, short(head)),
    };
    let description = record::step_message(step.index + 1, rollout.steps.len(), step.weight, &what);
    let split = step.stable.map(|stable| Split {
        stable,
        percent: step.weight,
    });
    if split.is_none() && step.weight < 100 {
        return Err(Error::Internal(format!(
            "rollout of {} at {}% without a stable version to keep the rest",
            step.worker, step.weight
        )));
    }
    let request = DeployRequest {
        worker: step.worker,
        version_id: step.canary,
        force: false,
        action: JournalAction::Other(record::STEP.into()),
        description: &description,
        split,
    };
    let digest = input.desired.digest_of(step.worker).cloned();
    let record = |action: JournalAction, outcome: Outcome| {
        let entry = Entry::new(step.worker, action, outcome, input.trigger.clone()).commit(head);
        match &digest {
            Some(digest) => entry.digest(digest),
            None => entry,
        }
    };
    deploy(input.ctx, &request, &record, writes).await?;
    info!(worker = %step.worker, commit = %short(head), weight = step.weight, step = step.index + 1, "Rollout step deployed.");
    Ok(())
}

/// Deploys the next step of an open rollout; returns when it is to be analysed. The cached view
/// of the Worker takes the deployment from the write's answer (the next pass's scripts listing
/// confirms it, as after any of flaresync's own deploys), so nothing is read again.
async fn set_weight(
    input: &PassInput<'_>,
    memory: &mut Memory,
    rollout: &Rollout,
    step: &StepRequest<'_>,
    observed: &mut Observed,
    report: &mut WorkerReport,
) -> Result<DateTime<Utc>, Error> {
    let mut writes = WorkerWrites::default();
    let result = deploy_step(input, rollout, step, &mut writes).await;
    let before = memory.workers.remove(step.worker);
    result?;
    if let Some(desired) = input.desired.worker(step.worker)
        && let Some(cached) =
            own_writes::cached_after(before, &writes, step.worker, desired, input.head())
    {
        memory.workers.insert(step.worker.to_owned(), cached);
    }
    observed.steps.push(machine::StepTaken {
        index: step.index,
        weight: step.weight,
        at: Utc::now(),
    });
    observed.promote = false;
    observed.paused = None;
    if let Some((version, deployment)) = writes.deployed {
        report.outcome = WorkerOutcome::Applied {
            version_id: Some(version),
            deployment_id: deployment,
        };
    }
    Ok(Utc::now() + chrono_of(wait_of(rollout, step.weight)))
}

/// How long a step at `weight` lasts before its analysis.
fn wait_of(rollout: &Rollout, weight: u8) -> Duration {
    if weight >= 100 {
        rollout.bake
    } else {
        rollout.step_interval
    }
}

/// Takes the next action of an open rollout of the head commit. Returns the reason when the
/// rollout must be aborted (the caller puts every Worker of the commit back).
async fn advance(
    input: &PassInput<'_>,
    memory: &mut Memory,
    worker: &str,
    rollout: &Rollout,
    entries: &[Recorded],
    report: &mut WorkerReport,
) -> Result<Option<String>, Error> {
    let deployments = deployments_of(input, memory, worker).await?;
    let weight_of = |version: &str| share(deployments.first(), version);
    let Some(found) = record::read(entries, &weight_of, Utc::now()) else {
        return Ok(None);
    };
    let mut observed = found.observed.clone();
    let stable = previous_version(&deployments, &|id| id == found.canary);
    report.outcome = WorkerOutcome::InSync;
    report.live_version = Some(found.canary.clone());
    report.live_commit = Some(found.commit.clone());
    let mut analysed: Option<Analysed> = None;
    let next = loop {
        let next = machine::next(rollout, &observed, analysed.as_ref());
        let Next::Analyse { since } = next else {
            break next;
        };
        if analysed.is_some() {
            break Next::Idle;
        }
        let result = analyse(input, rollout, worker, &found, stable.as_deref(), since).await;
        journal_analysis(input, worker, &found, &result)?;
        analysed = Some(result);
    };
    let mut next_check: Option<DateTime<Utc>> = None;
    let mut abort = None;
    match &next {
        Next::WaitUntil(at) => next_check = Some(*at),
        Next::SetWeight { index, weight } => {
            let step = StepRequest {
                worker,
                canary: &found.canary,
                stable: stable.as_deref(),
                index: *index,
                weight: *weight,
            };
            next_check =
                Some(set_weight(input, memory, rollout, &step, &mut observed, report).await?);
        }
        Next::Complete => {
            record_ending(
                input,
                worker,
                &found,
                record::COMPLETED,
                Outcome::Success,
                "rollout completed: the canary passed its bake and serves 100%",
            )?;
            observed.finished = Some(machine::Finished::Completed);
            info!(worker = %worker, commit = %short(&found.commit), "Rollout completed.");
        }
        Next::Pause { reason } => {
            let command = record::Command::Pause;
            record_ending(
                input,
                worker,
                &found,
                record::COMMAND,
                Outcome::Success,
                &command.message(reason),
            )?;
            warn!(worker = %worker, reason = %reason, "Rollout paused.");
            observed.paused = Some(reason.clone());
        }
        Next::Abort { reason } => abort = Some(reason.clone()),
        Next::Analyse { .. } | Next::Idle => {}
    }
    if let Some(at) = next_check {
        let wait = (at - Utc::now()).to_std().unwrap_or(Duration::ZERO);
        report.requeue_after = Some(wait.max(Duration::from_millis(100)));
    }
    // Without an analysis in this pass, the journal's latest (status shows it after a restart).
    let analysed = analysed.or_else(|| record::last_analysis(entries, &found.commit));
    let mut status = rollout_report(
        rollout,
        &found.commit,
        &found.canary,
        stable,
        &observed,
        analysed,
    );
    status.next_check_at = next_check.map(|at| at.to_rfc3339());
    report.rollout = Some(status);
    Ok(abort)
}

fn chrono_of(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

/// Runs the configured analysis of the window since `since`.
async fn analyse(
    input: &PassInput<'_>,
    rollout: &Rollout,
    worker: &str,
    found: &Record,
    stable: Option<&str>,
    since: DateTime<Utc>,
) -> Analysed {
    let until = Utc::now();
    let steps = &found.observed.steps;
    // During the bake the stable version serves nothing: compare with its numbers over the
    // step before 100%.
    let baseline = match (steps.last(), steps.len()) {
        (Some(last), count) if last.weight >= 100 && count >= 2 => {
            stable.map(|stable| (stable, steps[count - 2].at, last.at))
        }
        (Some(last), _) if last.weight >= 100 => None,
        _ => stable.map(|stable| (stable, since, until)),
    };
    let subject = Subject {
        script: worker,
        canary: &found.canary,
        stable: baseline,
        since,
        until,
    };
    let ctx = input.ctx;
    analysis::analyse(
        &ctx.client,
        &ctx.options.health_http,
        &rollout.analysis,
        &subject,
    )
    .await
}

fn journal_analysis(
    input: &PassInput<'_>,
    worker: &str,
    found: &Record,
    analysed: &Analysed,
) -> Result<(), Error> {
    let outcome = match analysed.verdict {
        crate::rollout::Verdict::Passed => Outcome::Success,
        crate::rollout::Verdict::Failed => Outcome::Failure,
        crate::rollout::Verdict::Inconclusive => Outcome::Skipped,
    };
    let weight = found.observed.steps.last().map(|s| s.weight).unwrap_or(0);
    let entry = Entry::new(
        worker,
        JournalAction::Other(record::ANALYSIS.into()),
        outcome,
        input.trigger.clone(),
    )
    .commit(&found.commit)
    .version(&found.canary)
    .message(record::analysis_message(weight, analysed));
    input.ctx.journal.record(&entry)?;
    info!(worker = %worker, verdict = analysed.verdict.as_str(), weight, "Rollout analysed.");
    Ok(())
}

/// Records an entry of the rollout `found` of `worker` (an ending, or flaresync's own pause).
pub(super) fn record_ending(
    input: &PassInput<'_>,
    worker: &str,
    found: &Record,
    action: &str,
    outcome: Outcome,
    message: &str,
) -> Result<(), Error> {
    let entry = Entry::new(
        worker,
        JournalAction::Other(action.into()),
        outcome,
        input.trigger.clone(),
    )
    .commit(&found.commit)
    .version(&found.canary)
    .message(message);
    input.ctx.journal.record(&entry)?;
    Ok(())
}

/// Git moved on while a rollout of an older commit was open: it ends here; the plan decides
/// what the new head needs (a new rollout, or a rollback when the commit was reverted).
fn supersede(input: &PassInput<'_>, worker: &str, found: &Record) -> Result<(), Error> {
    info!(worker = %worker, commit = %short(&found.commit), head = %short(input.head()), "Rollout superseded by a newer commit.");
    record_ending(
        input,
        worker,
        found,
        record::SUPERSEDED,
        Outcome::Skipped,
        &format!(
            "rollout of commit {} ended: Git moved to commit {}",
            short(&found.commit),
            short(input.head())
        ),
    )
}

/// The deployments of `worker`, newest first: the pass's view of it (read this pass, or built
/// from flaresync's own write answers and confirmed by this pass's scripts listing), read from
/// Cloudflare only when the pass has none.
///
/// # Errors
///
/// The deployments could not be read.
pub(super) async fn deployments_of(
    input: &PassInput<'_>,
    memory: &Memory,
    worker: &str,
) -> Result<Vec<LiveDeployment>, Error> {
    if let Some(cached) = memory.workers.get(worker)
        && cached.live.exists
        && !cached.live.deployments.is_empty()
    {
        return Ok(cached.live.deployments.clone());
    }
    let read = input
        .ctx
        .client
        .list_deployments(worker)
        .await
        .map_err(|e| Error::api(format!("reading the deployments of {worker}"), e))?;
    Ok(read.iter().map(crate::convert::live_deployment).collect())
}

/// The share of `version` in `deployment`, if it serves any.
fn share(deployment: Option<&LiveDeployment>, version: &str) -> Option<f64> {
    deployment?
        .versions
        .iter()
        .find(|v| v.version_id == version)
        .map(|v| v.percentage)
}

/// The version that served before the versions `is_new` names: the largest share of the
/// newest deployment (newest first) serving none of them.
pub(super) fn previous_version(
    deployments: &[LiveDeployment],
    is_new: &dyn Fn(&str) -> bool,
) -> Option<String> {
    deployments
        .iter()
        .find(|d| !d.versions.iter().any(|v| is_new(&v.version_id)))
        .and_then(|d| {
            d.versions
                .iter()
                .max_by(|a, b| a.percentage.total_cmp(&b.percentage))
        })
        .map(|v| v.version_id.clone())
}

fn rollout_report(
    rollout: &Rollout,
    commit: &str,
    canary: &str,
    stable: Option<String>,
    observed: &Observed,
    analysed: Option<Analysed>,
) -> RolloutReport {
    let phase = machine::phase(rollout, observed);
    RolloutReport {
        commit: commit.to_owned(),
        canary_version: canary.to_owned(),
        stable_version: stable,
        weight: phase.weight(),
        phase,
        next_check_at: None,
        last_analysis: analysed,
    }
}

#[cfg(test)]
mod tests {
    use flaresync_plan::DeploymentVersion;

    use super::*;

    fn deployment(versions: &[(&str, f64)]) -> LiveDeployment {
        LiveDeployment {
            id: "d".into(),
            created_on: "2026-01-01T00:00:00Z".into(),
            versions: versions
                .iter()
                .map(|(id, p)| DeploymentVersion {
                    version_id: (*id).into(),
                    percentage: *p,
                })
                .collect(),
            ..LiveDeployment::default()
        }
    }

    #[test]
    fn the_previous_version_is_the_newest_deployment_without_the_commit() {
        let deployments = vec![
            deployment(&[("canary", 50.0), ("stable", 50.0)]),
            deployment(&[("canary", 10.0), ("stable", 90.0)]),
            deployment(&[("stable", 100.0)]),
            deployment(&[("older", 100.0)]),
        ];
        let is_new = |id: &str| id == "canary";
        assert_eq!(
            previous_version(&deployments, &is_new).as_deref(),
            Some("stable")
        );
        assert_eq!(previous_version(&deployments[..2], &is_new), None);
        assert_eq!(share(deployments.first(), "canary"), Some(50.0));
        assert_eq!(share(deployments.last(), "canary"), None);
    }
}
