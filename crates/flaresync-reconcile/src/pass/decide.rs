//! Per-Worker decisions between planning and applying: scope, drift and its policy, health
//! rejections, blocked findings, Workers whose live state could not be read.

use std::collections::{BTreeMap, BTreeSet};

use flaresync_config::Digest;
use flaresync_journal::{Action as JournalAction, Entry, Outcome};
use flaresync_plan::{Action as PlanAction, Plan, WorkerPlan};
use tracing::{debug, error, warn};

use super::{
    PassInput, commit_hold,
    memory::{Applied, CachedWorker, Memory},
    report::{WorkerOutcome, WorkerReport},
    short,
};
use crate::{
    convert,
    drift::{self, DriftPolicy},
    error::Error,
    live_view::LiveView,
    status::{BlockedRule, DriftStatus},
};

/// Returns the reports and the Workers whose steps must not run.
///
/// # Errors
///
/// Only journal failures.
pub(super) fn decide(
    input: &PassInput<'_>,
    memory: &mut Memory,
    plan: &Plan,
    mut refresh_errors: BTreeMap<String, Error>,
    mut recovered_notes: BTreeMap<String, Vec<String>>,
) -> Result<(BTreeMap<String, WorkerReport>, BTreeSet<String>), Error> {
    let head = input.head();
    let mut reports: BTreeMap<String, WorkerReport> = BTreeMap::new();
    let mut hold: BTreeSet<String> = BTreeSet::new();
    for worker_plan in &plan.workers {
        let name = &worker_plan.name;
        let mut report = initial_report(worker_plan, head, memory.workers.get(name));
        if let Some(notes) = recovered_notes.remove(name) {
            report.notes.extend(notes);
        }
        if !input.scope.includes(name) {
            report.outcome = WorkerOutcome::Skipped;
            hold.insert(name.clone());
            reports.insert(name.clone(), report);
            continue;
        }
        let applied = memory.applied.get(name).cloned().unwrap_or_default();
        if check_drift(input, memory, worker_plan, &applied, &mut report)? {
            hold.insert(name.clone());
        }
        if rejected_by_health(input, worker_plan, &applied, &mut report) {
            hold.insert(name.clone());
        }
        if let Some(error) = refresh_errors.remove(name) {
            report.fail(&error);
            hold.insert(name.clone());
        }
        match &worker_plan.action {
            PlanAction::Blocked { .. } => record_blocked(input, memory, worker_plan, &mut report)?,
            PlanAction::Removed => report.outcome = WorkerOutcome::Removed,
            action if action.mutates() && report.outcome == WorkerOutcome::InSync => {
                report.outcome = if input.opts.dry_run {
                    WorkerOutcome::Planned
                } else {
                    // Set when the steps succeed.
                    WorkerOutcome::Skipped
                };
            }
            _ => {}
        }
        reports.insert(name.clone(), report);
    }
    // Workers that failed to refresh have no plan entry.
    for (name, error) in refresh_errors {
        let mut report = WorkerReport::new(&name, "unknown");
        report.desired_commit = Some(head.to_owned());
        report.fail(&error);
        hold.insert(name.clone());
        reports.insert(name, report);
    }
    Ok((reports, hold))
}

/// A Worker's report before anything is decided: what is live and which commit it holds.
fn initial_report(
    worker_plan: &WorkerPlan,
    head: &str,
    cached: Option<&CachedWorker>,
) -> WorkerReport {
    let mut report = WorkerReport::new(&worker_plan.name, worker_plan.action.label());
    report.desired_commit = Some(head.to_owned());
    report.live_version = active_ids(cached).first().cloned();
    report.live_commit = report
        .live_version
        .as_ref()
        .and_then(|id| cached.and_then(|c| c.commits.get(id).cloned()));
    if let Some(cached) = cached {
        report.live_view = LiveView::observe(&cached.live, &cached.commits);
    }
    report
}

fn active_ids(cached: Option<&CachedWorker>) -> Vec<String> {
    cached
        .and_then(|c| c.live.active.as_ref())
        .map(convert::deployment_version_ids)
        .unwrap_or_default()
}

/// Drift: the active deployment is not what flaresync last applied. Records it in the report
/// (and once in the journal); returns whether the Worker is held (policy `report`).
fn check_drift(
    input: &PassInput<'_>,
    memory: &mut Memory,
    worker_plan: &WorkerPlan,
    applied: &Applied,
    report: &mut WorkerReport,
) -> Result<bool, Error> {
    let name = &worker_plan.name;
    let cached = memory.workers.get(name);
    // Live differs from Git only when the plan wants to change traffic; a manual change that
    // already matches Git (say, a hand rollback later committed as a revert) is not drift.
    let changes_traffic = matches!(
        worker_plan.action,
        PlanAction::DeployForward { .. } | PlanAction::Rollback { .. }
    );
    let commits = |ids: &[String]| -> Option<BTreeSet<String>> {
        ids.iter()
            .map(|id| cached.and_then(|c| c.commits.get(id).cloned()))
            .collect()
    };
    let last = LastApplied::of(cached, applied);
    let detected = changes_traffic
        .then(|| drift::detect(last.versions.as_deref(), &active_ids(cached)))
        .flatten()
        // A version of the same commit (a secret change copies the active version) serves
        // what flaresync applied: not drift.
        .filter(|found| {
            commits(&found.expected).is_none() || commits(&found.expected) != commits(&found.actual)
        });
    let Some(found) = detected else {
        memory.drift_recorded.remove(name);
        return Ok(false);
    };
    let drift_policy = input
        .policy(name)
        .map(convert::drift_policy)
        .unwrap_or_default();
    let desired_changed = last.digest.as_ref() != input.desired.digest_of(name);
    let held = drift_policy == DriftPolicy::Report && !desired_changed;
    report.drift = Some(DriftStatus {
        expected_versions: found.expected.clone(),
        actual_versions: found.actual.clone(),
        actual_commits: found
            .actual
            .iter()
            .map(|id| cached.and_then(|c| c.commits.get(id).cloned()))
            .collect(),
        policy: drift_policy.as_str().to_owned(),
        healed: false,
    });
    let new_drift = memory.drift_recorded.get(name) != Some(&found.actual);
    if new_drift {
        warn!(
            worker = %name,
            expected = ?found.expected,
            actual = ?found.actual,
            policy = drift_policy.as_str(),
            "Drift: the active deployment was changed outside flaresync."
        );
    } else {
        debug!(worker = %name, actual = ?found.actual, "Drift persists.");
    }
    if !input.opts.dry_run && new_drift {
        let entry = Entry::new(
            name,
            JournalAction::Drift,
            Outcome::Skipped,
            input.trigger.clone(),
        )
        .commit(input.head())
        .message(format!(
            "active deployment serves {} but flaresync last applied {}; policy {}",
            describe_versions(&found.actual, cached),
            describe_versions(&found.expected, cached),
            drift_policy.as_str()
        ));
        input.ctx.journal.record(&entry)?;
        memory.drift_recorded.insert(name.clone(), found.actual);
    }
    if held && worker_plan.action.mutates() {
        report.outcome = WorkerOutcome::HeldForDrift;
        return Ok(true);
    }
    Ok(false)
}

/// What flaresync last applied to a Worker: from Cloudflare's own deployment record (the newest
/// deployment flaresync made), else from this state directory's journal.
struct LastApplied {
    versions: Option<Vec<String>>,
    /// The desired digest those versions were built from.
    digest: Option<Digest>,
}

impl LastApplied {
    fn of(cached: Option<&CachedWorker>, journal: &Applied) -> Self {
        let own = cached.and_then(|c| {
            drift::last_applied(&c.live.deployments, |id| c.commits.contains_key(id))
        });
        let (Some(deployment), Some(cached)) = (own, cached) else {
            return LastApplied {
                versions: journal.version.clone().map(|version| vec![version]),
                digest: journal.digest.clone(),
            };
        };
        let main = deployment
            .versions
            .iter()
            .max_by(|a, b| a.percentage.total_cmp(&b.percentage));
        let digest = main.and_then(|main| {
            cached
                .known
                .iter()
                .find(|known| known.version_id == main.version_id)
                .map(|known| known.digest.clone())
        });
        LastApplied {
            versions: Some(
                deployment
                    .versions
                    .iter()
                    .map(|v| v.version_id.clone())
                    .collect(),
            ),
            digest: digest.or_else(|| journal.digest.clone()),
        }
    }
}

/// `v1 (commit abc1234), v2 (commit unknown)`: versions in Git terms.
fn describe_versions(versions: &[String], cached: Option<&CachedWorker>) -> String {
    versions
        .iter()
        .map(|id| match cached.and_then(|c| c.commits.get(id)) {
            Some(commit) => format!("{id} (commit {})", short(commit)),
            None => format!("{id} (commit unknown)"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A commit whose content failed its health check or rollout analysis stays rejected until Git
/// changes ([`super::commit_hold`]). Returns whether the Worker is held for that reason.
fn rejected_by_health(
    input: &PassInput<'_>,
    worker_plan: &WorkerPlan,
    applied: &Applied,
    report: &mut WorkerReport,
) -> bool {
    let name = &worker_plan.name;
    let Some(commit) = commit_hold::held_by(
        applied.rejected.as_ref(),
        input.desired.digest_of(name),
        worker_plan.action.mutates(),
    ) else {
        return false;
    };
    let error = Error::HealthCheckFailed {
        worker: name.clone(),
        commit: commit.to_owned(),
        message: format!(
            "commit {} was rejected (a failed health check or rollout analysis) and this Worker's content at the head is still its content, so it stays on its earlier version; push a commit that changes it (or merge the revert flaresync proposed)",
            short(commit)
        ),
    };
    report.fail(&error);
    report.outcome = WorkerOutcome::Blocked;
    report.held_by_commit = Some(commit.to_owned());
    true
}

/// A blocked Worker: the reason and the fix in its report, and once per commit in the journal.
fn record_blocked(
    input: &PassInput<'_>,
    memory: &mut Memory,
    worker_plan: &WorkerPlan,
    report: &mut WorkerReport,
) -> Result<(), Error> {
    let name = &worker_plan.name;
    let head = input.head();
    let error = blocked_error(input, worker_plan);
    report.fail(&error);
    report.outcome = WorkerOutcome::Blocked;
    report.blocked = worker_plan
        .findings
        .iter()
        .filter(|f| f.is_blocking())
        .map(|f| BlockedRule {
            rule: f.rule.clone(),
            message: f.message.clone(),
            fix: f.hint.clone(),
        })
        .collect();
    if input.opts.dry_run || memory.blocked_recorded.get(name).map(String::as_str) == Some(head) {
        return Ok(());
    }
    error!(
        worker = %name,
        commit = %short(head),
        reason = %error.reason(),
        error = %error,
        "Blocked; a commit is needed."
    );
    if already_journaled(input, name, head, &error)? {
        memory
            .blocked_recorded
            .insert(name.clone(), head.to_owned());
        return Ok(());
    }
    let entry = Entry::new(
        name,
        JournalAction::Blocked,
        Outcome::Skipped,
        input.trigger.clone(),
    )
    .commit(head)
    .message(error.to_string());
    input.ctx.journal.record(&entry)?;
    memory
        .blocked_recorded
        .insert(name.clone(), head.to_owned());
    Ok(())
}

/// Whether the journal's newest entry for `name` already says it is blocked at `head` for
/// this reason: a restarted process (whose memory is empty) does not write it again.
fn already_journaled(
    input: &PassInput<'_>,
    name: &str,
    head: &str,
    error: &Error,
) -> Result<bool, Error> {
    let last = input.ctx.journal.last_entry(name)?;
    Ok(last.is_some_and(|last| {
        last.entry.action == JournalAction::Blocked
            && last.entry.commit.as_deref() == Some(head)
            && last.entry.message == error.to_string()
    }))
}

/// The error of a blocked Worker: the plan's reason says what was attempted (rollback,
/// redeploy, deploy); the findings say why each is refused and how to fix it.
fn blocked_error(input: &PassInput<'_>, worker_plan: &WorkerPlan) -> Error {
    let name = &worker_plan.name;
    let findings = worker_plan
        .findings
        .iter()
        .filter(|f| f.is_blocking())
        .map(|f| match &f.hint {
            // The fix belongs with the reason: a blocked Worker needs a human.
            Some(hint) => format!("{}: {} (to fix: {hint})", f.rule, f.message),
            None => format!("{}: {}", f.rule, f.message),
        })
        .collect::<Vec<_>>()
        .join("; ");
    let findings = if findings.is_empty() {
        worker_plan.reason.clone()
    } else {
        format!("{}: {findings}", worker_plan.reason)
    };
    let broken = matches!(
        input.desired.workers.get(name),
        Some(flaresync_plan::DesiredEntry::Broken { .. })
    );
    if broken {
        Error::ConfigInvalid {
            worker: name.clone(),
            message: findings,
        }
    } else {
        Error::Blocked {
            worker: name.clone(),
            findings,
        }
    }
}
