//! A Worker's status and metrics after a pass, whatever happened.

use super::{
    Context,
    report::{WorkerOutcome, WorkerReport},
    short,
};
use crate::{
    conditions::{ConditionUpdate, conditions},
    metrics::ResultLabel,
    status::{HealthStatus, HistoryEntry, LastResult, WorkerStatus},
};

pub(super) fn summarize(ctx: &Context, report: &WorkerReport, at: &str, dry_run: bool) {
    let label = match (&report.outcome, &report.error) {
        (_, Some(_)) => ResultLabel::Error,
        (WorkerOutcome::InSync, _) => ResultLabel::InSync,
        (WorkerOutcome::Applied { .. }, _) => ResultLabel::Applied,
        (WorkerOutcome::Planned | WorkerOutcome::HeldForDrift, _) => ResultLabel::Planned,
        _ => ResultLabel::Skipped,
    };
    if report.outcome == WorkerOutcome::Skipped && report.error.is_none() && !dry_run {
        // Out of scope this pass: leave its status alone.
        if report.notes.is_empty() {
            return;
        }
    }
    ctx.metrics.record_reconcile(&report.worker, label);
    if let Some(class) = report.class {
        ctx.metrics.record_error(class.reason());
    }
    ctx.metrics
        .set_drift(&report.worker, report.drift.is_some());
    if let Some(rollout) = &report.rollout {
        ctx.metrics.set_rollout(&report.worker, rollout);
    }
    ctx.metrics.set_worker_info(
        &report.worker,
        report
            .live_commit
            .as_deref()
            .map(short)
            .unwrap_or("unknown"),
        report.live_version.as_deref().unwrap_or("none"),
    );
    ctx.status.update(&report.worker, |status| {
        status.desired_commit = report.desired_commit.clone();
        status.live_version = report.live_version.clone();
        status.live_commit = report.live_commit.clone();
        status.drift = report.drift.clone();
        observed(status, report);
        let mutating = !matches!(
            report.outcome,
            WorkerOutcome::InSync | WorkerOutcome::Removed
        );
        if mutating && !dry_run {
            status.last_attempted_commit = report.desired_commit.clone();
        }
        if let WorkerOutcome::Applied { version_id, .. } = &report.outcome {
            status.last_applied_commit = report.desired_commit.clone();
            status.push_history(HistoryEntry {
                commit: report.desired_commit.clone(),
                version: version_id.clone(),
                action: report.action.clone(),
                result: label.as_str().to_owned(),
                at: at.to_owned(),
                message: None,
            });
        }
        if let Some(health) = &report.health {
            status.health = Some(HealthStatus {
                url: report.health_url.clone().unwrap_or_default(),
                passed: health.passed(),
                message: health.message(),
                rejected_commit: (!health.passed())
                    .then(|| report.desired_commit.clone())
                    .flatten(),
                checked_at: at.to_owned(),
            });
        }
        status.last_result = Some(LastResult {
            result: label.as_str().to_owned(),
            reason: report.error.as_ref().map(|e| e.reason.clone()),
            message: report
                .error
                .as_ref()
                .map(|e| e.message.clone())
                .unwrap_or_else(|| report.action.clone()),
            at: at.to_owned(),
        });
        for update in conditions(report) {
            match update {
                ConditionUpdate::Set {
                    kind,
                    status: value,
                    reason,
                    message,
                } => status.set_condition(kind, value, reason, &message, at),
                ConditionUpdate::Clear(kind) => status.clear_condition(kind),
            }
        }
    });
}

/// What the pass observed: the live split and deployments (kept when this pass read nothing),
/// the blocking rules, and the rollout (keeping the last analysis of the same commit).
fn observed(status: &mut WorkerStatus, report: &WorkerReport) {
    if !report.live_view.split.is_empty() || !report.live_view.deployments.is_empty() {
        status.live_split = report.live_view.split.clone();
        status.deployments = report.live_view.deployments.clone();
    }
    status.blocked = report.blocked.clone();
    if let Some(rollout) = &report.rollout {
        let last = status
            .rollout
            .take()
            .filter(|previous| previous.commit == rollout.commit)
            .and_then(|previous| previous.last_analysis);
        let mut rollout = rollout.clone();
        rollout.last_analysis = rollout.last_analysis.or(last);
        status.rollout = Some(rollout);
    }
}
