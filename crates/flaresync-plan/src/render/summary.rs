//! What the Markdown and text renderings both say about the whole plan: counts per action, the
//! verdict, one line per step, and which Workers get a details section.

use crate::model::{
    Action, DeployTarget, MigrationsPayload, Plan, RolloutPlan, Step, WorkerPlan, exit_code,
};
use crate::rules::numbered_version;

/// Counts per action, for summaries.
pub(super) fn summary(plan: &Plan) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for worker in &plan.workers {
        let key = match worker.action {
            Action::InSync => "in sync",
            Action::UpdateSettings { .. } => "settings update",
            Action::DeployForward { .. } => "deploy",
            Action::Rollback { .. } => "rollback",
            Action::Blocked { .. } => "blocked",
            Action::Removed => "removed",
        };
        match counts.iter_mut().find(|(k, _)| *k == key) {
            Some((_, n)) => *n += 1,
            None => counts.push((key, 1)),
        }
    }
    let order = [
        "deploy",
        "rollback",
        "settings update",
        "blocked",
        "removed",
        "in sync",
    ];
    counts.sort_by_key(|(k, _)| order.iter().position(|o| o == k));
    if counts.is_empty() {
        return "no Workers".to_owned();
    }
    counts
        .iter()
        .map(|(k, n)| format!("{n} {k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn verdict(plan: &Plan) -> &'static str {
    match exit_code(plan) {
        0 => "no changes",
        1 => "changes to apply",
        _ => "blocked: nothing is applied for blocked Workers until fixed",
    }
}

/// One step of `plan`, as a line: a deploy that goes out as a rollout's split deployments says
/// its steps, not "at 100%".
pub(super) fn plan_step_line(plan: &Plan, step: &Step) -> String {
    let rollout = plan
        .workers
        .iter()
        .find(|w| w.name == step.worker())
        .and_then(|w| w.rollout.as_ref());
    describe_step_line(step, rollout)
}

fn describe_step_line(step: &Step, rollout: Option<&RolloutPlan>) -> String {
    match step {
        Step::ScriptUpload { worker, migrations } => match migrations {
            Some(payload) => format!(
                "{worker}: script upload (PUT) with migrations {}",
                payload_summary(payload)
            ),
            None => format!("{worker}: script upload (PUT), deployed at 100%"),
        },
        Step::UploadVersion { worker } => format!("{worker}: upload new version"),
        Step::Deploy {
            worker,
            version,
            force,
        } => {
            let what = match version {
                DeployTarget::Uploaded => "the uploaded version".to_owned(),
                DeployTarget::Existing(v) => format!(
                    "existing {}",
                    numbered_version(v.number, &v.version_id, &v.commit)
                ),
            };
            let how = match rollout.and_then(|r| r.steps.as_deref()) {
                Some(steps) => format!(
                    "as split deployments beside the live version: {}",
                    steps
                        .iter()
                        .map(|s| format!("{s}%"))
                        .collect::<Vec<_>>()
                        .join(" -> ")
                ),
                None => "at 100%".to_owned(),
            };
            format!(
                "{worker}: deploy {what} {how}{}",
                if *force { " with force=true" } else { "" }
            )
        }
        Step::SyncSettings { worker, fields } => {
            format!(
                "{worker}: apply non-versioned settings ({})",
                fields.join(", ")
            )
        }
    }
}

pub(super) fn payload_summary(payload: &MigrationsPayload) -> String {
    format!(
        "old_tag={} new_tag={} steps=[{}]",
        payload.old_tag.as_deref().unwrap_or("(none)"),
        payload.new_tag,
        payload
            .steps
            .iter()
            .map(|s| s.tag.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// Whether a Worker gets a details section: anything but in sync, or with findings.
pub(super) fn has_details(worker: &WorkerPlan) -> bool {
    !matches!(worker.action, Action::InSync) || !worker.findings.is_empty()
}

/// Where the live state came from: the plan's note, `observed`, or not fetched.
pub(super) fn live_state(plan: &Plan) -> &str {
    if let Some(note) = &plan.live_note {
        note.as_str()
    } else if plan.live_observed {
        "observed"
    } else {
        "not fetched (the base commit stands in for it)"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deploy_that_goes_out_as_a_rollout_says_its_split_steps() {
        let deploy = Step::Deploy {
            worker: "api".into(),
            version: DeployTarget::Uploaded,
            force: false,
        };
        let split = RolloutPlan {
            steps: Some(vec![10, 50, 100]),
            full_reason: None,
            no_automatic_rollback: None,
        };
        assert_eq!(
            describe_step_line(&deploy, Some(&split)),
            "api: deploy the uploaded version as split deployments beside the live version: 10% -> 50% -> 100%"
        );
        let whole = RolloutPlan {
            steps: None,
            full_reason: Some("no rollout strategy for this Worker".into()),
            no_automatic_rollback: None,
        };
        for rollout in [None, Some(&whole)] {
            assert_eq!(
                describe_step_line(&deploy, rollout),
                "api: deploy the uploaded version at 100%"
            );
        }
    }
}
