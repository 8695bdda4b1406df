//! The planner end to end on small inputs (the snapshot cases under `tests/` cover more).

use std::collections::BTreeMap;

use super::plan;
use crate::input::{
    Desired, DesiredEntry, DesiredWorker, History, KnownVersion, Policies, Policy, WorkerHistory,
};
use crate::live::{LiveAccount, LiveWorker};
use crate::model::{Action, Plan, ScriptUploadReason, Step, UploadMode, exit_code};
use crate::test_support::{known, live_worker, spec};

fn desired(workers: &[(&str, &str)]) -> Desired {
    Desired {
        commit: "head".into(),
        workers: workers
            .iter()
            .map(|(name, digest)| {
                (
                    name.to_string(),
                    DesiredEntry::Ok(Box::new(DesiredWorker {
                        spec: spec(name),
                        digest: (*digest).into(),
                        version_digest: (*digest).into(),
                        dependencies: Vec::new(),
                    })),
                )
            })
            .collect(),
    }
}

/// The plan of `head` against `live` without a base commit, with default policies.
fn plan_head(head: &Desired, live: &LiveAccount, history: &History) -> Plan {
    plan(head, None, live, history, &Policies::default())
}

/// An observed account holding `workers`.
fn live_account(workers: Vec<LiveWorker>) -> LiveAccount {
    LiveAccount {
        workers: workers.into_iter().map(|w| (w.name.clone(), w)).collect(),
        ..LiveAccount::default()
    }
}

fn history(name: &str, versions: Vec<KnownVersion>) -> History {
    History {
        workers: BTreeMap::from([(
            name.to_string(),
            WorkerHistory {
                versions,
                applied_digest: None,
            },
        )]),
    }
}

#[test]
fn worker_absent_from_observed_live_map_is_a_first_deploy() {
    let live = LiveAccount::default();
    let plan = plan_head(&desired(&[("api", "d1")]), &live, &History::default());
    assert!(matches!(
        plan.workers[0].action,
        Action::DeployForward {
            mode: UploadMode::ScriptUpload {
                reason: ScriptUploadReason::FirstDeploy
            },
            ..
        }
    ));
    assert!(
        matches!(plan.steps[0], Step::ScriptUpload { .. }),
        "{:?}",
        plan.steps
    );
    assert!(
        matches!(&plan.steps[1], Step::SyncSettings { fields, .. } if fields == &["workers_dev"]),
        "{:?}",
        plan.steps
    );
    assert_eq!(plan.steps.len(), 2);
}

#[test]
fn history_only_worker_that_no_longer_exists_is_not_reported() {
    let live = live_account(vec![live_worker("api", &["v1"])]);
    let mut hist = history("api", vec![known("v1", "d1")]);
    hist.workers.insert("gone".into(), WorkerHistory::default());
    let plan = plan_head(&desired(&[("api", "d1")]), &live, &hist);
    assert_eq!(plan.workers.len(), 1);
    assert_eq!(plan.workers[0].action, Action::InSync);
    assert_eq!(exit_code(&plan), 0);
}

#[test]
fn history_only_worker_that_still_exists_is_reported_removed() {
    let live = live_account(vec![live_worker("old", &["o1"])]);
    let plan = plan_head(
        &desired(&[]),
        &live,
        &history("old", vec![known("o1", "x")]),
    );
    assert_eq!(plan.workers[0].action, Action::Removed);
    assert!(plan.steps.is_empty());
    assert_eq!(plan.workers[0].findings[0].rule, "FS014");
}

#[test]
fn without_live_state_a_known_version_is_hinted_but_not_rolled_back() {
    let base = Desired {
        commit: "base".into(),
        ..desired(&[("api", "d2")])
    };
    let plan = plan(
        &desired(&[("api", "d1")]),
        Some(&base),
        &LiveAccount::unobserved(),
        &history("api", vec![known("v1", "d1")]),
        &Policies::default(),
    );
    let worker = &plan.workers[0];
    assert!(matches!(worker.action, Action::DeployForward { .. }));
    assert!(
        worker.reason.contains("may be a rollback"),
        "{}",
        worker.reason
    );
}

#[test]
fn an_outside_upload_of_the_same_content_is_in_sync_but_different_code_is_not() {
    // "manual" was uploaded outside flaresync (e.g. `wrangler deploy` of the committed
    // config) and is active; "v1" is flaresync's version of the desired content.
    let mut worker = live_worker("api", &["manual", "v1"]);
    for version in &mut worker.versions {
        version.etag = Some("etag-same".into());
        version.compatibility_date = Some("2025-01-01".into());
    }
    let live = |worker: &LiveWorker| live_account(vec![worker.clone()]);
    let hist = history("api", vec![known("v1", "d1")]);
    let head = desired(&[("api", "d1")]);
    let same = plan_head(&head, &live(&worker), &hist);
    assert_eq!(
        same.workers[0].action,
        Action::InSync,
        "{:?}",
        same.workers[0]
    );

    // Different code (etag) or settings: a rollback to flaresync's version, as before.
    worker.versions[0].etag = Some("etag-other".into());
    let other = plan_head(&head, &live(&worker), &hist);
    assert!(
        matches!(other.workers[0].action, Action::Rollback { .. }),
        "{:?}",
        other.workers[0]
    );
    worker.versions[0].etag = Some("etag-same".into());
    worker.versions[0].compatibility_date = Some("2026-01-01".into());
    let other = plan_head(&head, &live(&worker), &hist);
    assert!(matches!(other.workers[0].action, Action::Rollback { .. }));

    // Without details (no etag read) nothing is assumed.
    worker.versions[0].compatibility_date = Some("2025-01-01".into());
    worker.versions[0].etag = None;
    let unknown = plan_head(&head, &live(&worker), &hist);
    assert!(matches!(unknown.workers[0].action, Action::Rollback { .. }));
}

#[test]
fn newest_live_version_with_the_content_is_the_rollback_target() {
    let live = live_account(vec![live_worker("api", &["v3", "v2", "v1"])]);
    let hist = history(
        "api",
        vec![
            known("v1", "d1"),
            known("v3", "d3"),
            known("v2", "d1"),
            known("old", "d1"),
        ],
    );
    let plan = plan_head(&desired(&[("api", "d1")]), &live, &hist);
    match &plan.workers[0].action {
        Action::Rollback { to, force } => {
            assert_eq!(to.version_id, "v2");
            assert_eq!(to.number, Some(2));
            assert!(!force);
        }
        other => panic!("expected rollback, got {other:?}"),
    }
}

#[test]
fn a_callee_does_not_roll_back_under_a_blocked_caller() {
    // web depends on api; both revert. web's old version is gone (FS001), api's is live.
    let live = live_account(vec![
        live_worker("api", &["a2", "a1"]),
        live_worker("web", &["w2"]),
    ]);
    let mut hist = history("api", vec![known("a1", "api-1"), known("a2", "api-2")]);
    hist.workers.insert(
        "web".into(),
        WorkerHistory {
            versions: vec![known("w1", "web-1"), known("w2", "web-2")],
            applied_digest: None,
        },
    );
    let mut policies = Policies::default();
    policies.workers.insert(
        "web".into(),
        Policy {
            depends_on: vec!["api".into()],
            ..Policy::default()
        },
    );
    let head = desired(&[("api", "api-1"), ("web", "web-1")]);
    let plan = plan(&head, None, &live, &hist, &policies);
    let by_name = |name: &str| {
        plan.workers
            .iter()
            .find(|w| w.name == name)
            .expect("planned")
    };
    assert!(matches!(
        by_name("web").action,
        Action::Blocked { target: Some(_) }
    ));
    let api = by_name("api");
    assert!(
        matches!(&api.action, Action::Blocked { target: Some(to) } if to.version_id == "a1"),
        "{api:?}"
    );
    assert!(api.reason.contains("held back"), "{}", api.reason);
    assert!(
        api.findings
            .iter()
            .any(|f| f.rule == "FS018" && f.is_blocking() && f.message.contains("`web`")),
        "{:?}",
        api.findings
    );
    assert!(plan.steps.is_empty(), "{:?}", plan.steps);

    // Without the dependency, api's rollback runs alone.
    let plan = plan_head(&head, &live, &hist);
    assert!(
        plan.workers
            .iter()
            .any(|w| w.name == "api" && matches!(w.action, Action::Rollback { .. }))
    );
}

#[test]
fn same_code_with_new_digest_and_no_detail_updates_all_settings() {
    let live = live_account(vec![live_worker("api", &["v1"])]);
    let mut hist = history("api", vec![known("v1", "d1")]);
    if let Some(worker) = hist.workers.get_mut("api") {
        worker.applied_digest = Some("whole-1".into());
    }
    let mut head = desired(&[("api", "d1")]);
    if let Some(DesiredEntry::Ok(worker)) = head.workers.get_mut("api") {
        worker.digest = "whole-2".into();
    }
    let plan = plan_head(&head, &live, &hist);
    assert_eq!(
        plan.workers[0].action,
        Action::UpdateSettings {
            fields: vec!["script_settings".into()]
        }
    );
}

#[test]
fn a_code_change_that_drops_the_last_route_or_consumer_applies_them_without_a_base() {
    // "v1" runs, applied by flaresync from a commit that declared a route and a consumer; the
    // head changes the code (digest d2) and declares neither. Live routes are not known.
    let live = live_account(vec![live_worker("api", &["v1"])]);
    let mut running = known("v1", "d1");
    running.declared = Some(crate::input::DeclaredTriggers {
        routes: vec![flaresync_config::Route {
            pattern: "api.example.com/*".into(),
            zone_id: None,
            zone_name: Some("example.com".into()),
            custom_domain: false,
        }],
        queue_consumers: vec![flaresync_config::QueueConsumer {
            queue: "jobs".into(),
            settings: String::new(),
        }],
    });
    let settings_of = |plan: &Plan| -> Vec<String> {
        plan.steps
            .iter()
            .find_map(|step| match step {
                Step::SyncSettings { fields, .. } => Some(fields.clone()),
                _ => None,
            })
            .unwrap_or_default()
    };
    let plan = plan_head(
        &desired(&[("api", "d2")]),
        &live,
        &history("api", vec![running.clone()]),
    );
    assert!(matches!(
        plan.workers[0].action,
        Action::DeployForward { .. }
    ));
    let fields = settings_of(&plan);
    assert!(fields.contains(&"routes".to_owned()), "{fields:?}");
    assert!(fields.contains(&"queue_consumers".to_owned()), "{fields:?}");
    // The running version declared nothing either: nothing to remove, nothing read.
    running.declared = Some(crate::input::DeclaredTriggers::default());
    let plan = plan_head(
        &desired(&[("api", "d2")]),
        &live,
        &history("api", vec![running]),
    );
    let fields = settings_of(&plan);
    assert!(
        !fields
            .iter()
            .any(|f| f == "routes" || f == "queue_consumers"),
        "{fields:?}"
    );
}
