//! Decision 3: the Worker does not exist yet, so it is created by a script upload carrying
//! every migration step.

use crate::migrations::PendingMigrations;
use crate::model::{Action, Finding, ScriptUploadReason, Step, UploadMode};
use crate::rules::Subject;

use super::case::Case;
use super::outcome::Outcome;
use super::reasons::blocking_ids;

pub(super) fn decide(case: &Case<'_>) -> Outcome {
    let spec = case.spec();
    let name = case.name();
    let findings = case.findings(Subject::Forward { spec });
    let diff = case.diff(None);
    if findings.iter().any(Finding::is_blocking) {
        let reason = format!("first deploy refused ({})", blocking_ids(&findings));
        return Outcome::new(
            name,
            Action::Blocked { target: None },
            reason,
            findings,
            diff,
        );
    }
    // Normally `None` for a Worker that does not exist; using the observed tag keeps the
    // payload consistent with what the migration rules checked.
    let payload = match &case.pending {
        PendingMigrations::Pending(payload) => Some(payload.clone()),
        _ => None,
    };
    let mut reason = if case.input.live.observed {
        "the Worker does not exist yet: first deploy by script upload".to_owned()
    } else {
        "not in the base commit and live state not fetched: planned as a first deploy by script upload"
            .to_owned()
    };
    if let Some(payload) = &payload {
        reason.push_str(&format!(
            " with {} Durable Object migration step(s) up to `{}`",
            payload.steps.len(),
            payload.new_tag
        ));
    }
    let mut fields = Vec::new();
    if !spec.routes.is_empty() {
        fields.push("routes".to_owned());
    }
    if !spec.crons.is_empty() {
        fields.push("crons".to_owned());
    }
    if !spec.queue_consumers.is_empty() {
        fields.push("queue_consumers".to_owned());
    }
    // As `wrangler deploy` does for a new Worker: its workers.dev route is set (on by default
    // when the Worker has no routes, or as `workers_dev` says).
    fields.push("workers_dev".to_owned());
    let steps = vec![
        Step::ScriptUpload {
            worker: name.to_owned(),
            migrations: payload.clone(),
        },
        Step::SyncSettings {
            worker: name.to_owned(),
            fields,
        },
    ];
    let action = Action::DeployForward {
        mode: UploadMode::ScriptUpload {
            reason: ScriptUploadReason::FirstDeploy,
        },
        migrations: payload,
        redeploy_of: None,
    };
    Outcome::new(name, action, reason, findings, diff).with_steps(steps)
}
