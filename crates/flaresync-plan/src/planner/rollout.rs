//! A commit's progressive rollout, said up front: which Workers go out as Cloudflare split
//! deployments, which at 100% and why (Cloudflare will not split a first deploy or a Durable
//! Object migration; a rollback goes at once), and which an abort could not put back ("no
//! automatic rollback possible for X because …").

use crate::input::Policies;
use crate::model::{
    Action, DeployTarget, RolloutPlan, ScriptUploadReason, Step, UploadMode, WorkerPlan,
};

/// Sets [`WorkerPlan::rollout`] on every Worker the plan writes to, when any Worker of the plan
/// has a rollout strategy (otherwise nothing changes: behaviour as without rollouts).
pub(super) fn annotate(workers: &mut [WorkerPlan], steps: &[Step], policies: &Policies) {
    let any_rollout = workers
        .iter()
        .any(|w| policies.for_worker(&w.name).rollout_steps.is_some() && w.action.mutates());
    if !any_rollout {
        return;
    }
    for worker in workers.iter_mut() {
        let own: Vec<&Step> = steps.iter().filter(|s| s.worker() == worker.name).collect();
        let first_deploy = matches!(
            worker.action,
            Action::DeployForward {
                mode: UploadMode::ScriptUpload {
                    reason: ScriptUploadReason::FirstDeploy
                },
                ..
            }
        );
        let strategy = policies.for_worker(&worker.name).rollout_steps.as_deref();
        worker.rollout = plan_for(&worker.name, &own, first_deploy, strategy);
    }
}

/// Pure: one Worker's rollout plan from its steps and strategy.
fn plan_for(
    name: &str,
    steps: &[&Step],
    first_deploy: bool,
    strategy: Option<&[u8]>,
) -> Option<RolloutPlan> {
    let upload = steps.iter().find_map(|s| match s {
        // A first deploy's migrations are not the reason it cannot be split or rolled back.
        Step::ScriptUpload { migrations, .. } => {
            Some(migrations.as_ref().filter(|_| !first_deploy))
        }
        _ => None,
    });
    let deploy = steps.iter().find_map(|s| match s {
        Step::Deploy { version, .. } => Some(version),
        _ => None,
    });
    let (full_reason, no_rollback) = match (upload, deploy) {
        (Some(Some(migrations)), _) => (
            format!(
                "applies Durable Object migration `{}`: Cloudflare does not split such a change",
                migrations.new_tag
            ),
            Some(format!(
                "no automatic rollback possible for {name} because this deploy applies Durable Object migration `{}` and Cloudflare refuses a rollback across it (FS002)",
                migrations.new_tag
            )),
        ),
        (Some(None), _) => (
            "first deploy: there is no version to split traffic with".to_owned(),
            Some(format!(
                "no automatic rollback possible for {name} because it is a first deploy: there is no earlier version"
            )),
        ),
        (None, Some(DeployTarget::Existing(target))) if steps.len() == 1 && strategy.is_some() => {
            // A move to an existing version of another commit: a rollback goes at once.
            (
                format!(
                    "moves to the existing version of commit {} at once",
                    crate::rules::short(&target.commit)
                ),
                None,
            )
        }
        (None, Some(_)) => match strategy {
            Some(steps) => {
                return Some(RolloutPlan {
                    steps: Some(steps.to_vec()),
                    full_reason: None,
                    no_automatic_rollback: None,
                });
            }
            None => ("no rollout strategy for this Worker".to_owned(), None),
        },
        (None, None) if steps.is_empty() => return None,
        (None, None) => ("settings only: they are not versioned".to_owned(), None),
    };
    Some(RolloutPlan {
        steps: None,
        full_reason: Some(full_reason),
        no_automatic_rollback: no_rollback,
    })
}

/// One line for the text and Markdown plans.
pub fn describe(rollout: &RolloutPlan) -> String {
    let delivery = match (&rollout.steps, &rollout.full_reason) {
        (Some(steps), _) => format!(
            "rollout: {} (split deployments, analysed at every step)",
            steps
                .iter()
                .map(|s| format!("{s}%"))
                .collect::<Vec<_>>()
                .join(" -> ")
        ),
        (None, Some(reason)) => format!("goes out at 100%: {reason}"),
        (None, None) => "goes out at 100%".to_owned(),
    };
    match &rollout.no_automatic_rollback {
        Some(why) => format!("{delivery}; {why}"),
        None => delivery,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{MigrationsPayload, VersionRef};

    fn payload() -> MigrationsPayload {
        serde_json::from_value(serde_json::json!({
            "old_tag": "v1", "new_tag": "v2", "steps": []
        }))
        .expect("payload")
    }

    #[test]
    fn a_version_deploy_is_split_and_uploads_go_out_whole_and_say_why() {
        let deploy = Step::Deploy {
            worker: "api".into(),
            version: DeployTarget::Uploaded,
            force: false,
        };
        let upload = Step::UploadVersion {
            worker: "api".into(),
        };
        let split =
            plan_for("api", &[&upload, &deploy], false, Some(&[10, 50, 100])).expect("plan");
        assert_eq!(split.steps, Some(vec![10, 50, 100]));
        assert_eq!(
            describe(&split),
            "rollout: 10% -> 50% -> 100% (split deployments, analysed at every step)"
        );

        let migrate = Step::ScriptUpload {
            worker: "counter".into(),
            migrations: Some(payload()),
        };
        let whole = plan_for("counter", &[&migrate], false, Some(&[10, 100])).expect("plan");
        assert_eq!(whole.steps, None);
        assert_eq!(
            describe(&whole),
            "goes out at 100%: applies Durable Object migration `v2`: Cloudflare does not split such a change; \
             no automatic rollback possible for counter because this deploy applies Durable Object migration `v2` \
             and Cloudflare refuses a rollback across it (FS002)"
        );
        let first = Step::ScriptUpload {
            worker: "new".into(),
            migrations: None,
        };
        let first = plan_for("new", &[&first], true, None).expect("plan");
        assert!(
            first
                .no_automatic_rollback
                .as_deref()
                .is_some_and(|w| w.contains("first deploy"))
        );

        let back = Step::Deploy {
            worker: "api".into(),
            version: DeployTarget::Existing(VersionRef {
                version_id: "v1".into(),
                number: None,
                commit: "0123456789".into(),
            }),
            force: false,
        };
        let rollback = plan_for("api", &[&back], false, Some(&[10, 100])).expect("plan");
        assert_eq!(
            rollback.full_reason.as_deref(),
            Some("moves to the existing version of commit 01234567 at once")
        );
        assert_eq!(plan_for("api", &[], false, Some(&[10])), None);
    }
}
