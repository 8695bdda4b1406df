//! Properties over generated scenarios: small alphabets of digests, migration tags, secrets and
//! resources, so rollbacks, blocks and redeploys all occur often.

use std::collections::{BTreeMap, BTreeSet};

use flaresync_config::{Binding, BindingKind, MigrationStep};
use flaresync_plan::{
    Action, DeployTarget, DeploymentVersion, Desired, DesiredEntry, DesiredWorker, History,
    KnownVersion, LiveAccount, LiveDeployment, LiveResources, LiveVersion, LiveWorker, Plan,
    Policies, Policy, RollbackPolicy, Step, WorkerHistory, exit_code, plan, render_json,
    render_markdown, render_text,
};
use proptest::prelude::*;

use crate::support::spec;

const WORKERS: [&str; 3] = ["api", "auth", "queue"];

#[derive(Debug, Clone)]
struct VersionSeed {
    digest: u8,
    migration: u8,
    kv: bool,
    d1: bool,
    secret: bool,
    known: bool,
}

#[derive(Debug, Clone)]
struct WorkerSeed {
    present: bool,
    broken: bool,
    exists: bool,
    desired_digest: u8,
    desired_migrations: u8,
    live_tag: u8,
    versions: Vec<VersionSeed>,
    active: usize,
    split: bool,
    secrets: Vec<bool>,
    redeploy: bool,
    force: bool,
    d1_blocks: bool,
    window: usize,
    binds_next: bool,
}

fn version_seed() -> impl Strategy<Value = VersionSeed> {
    (
        0u8..4,
        0u8..3,
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        prop::bool::weighted(0.8),
    )
        .prop_map(|(digest, migration, kv, d1, secret, known)| VersionSeed {
            digest,
            migration,
            kv,
            d1,
            secret,
            known,
        })
}

fn worker_seed() -> impl Strategy<Value = WorkerSeed> {
    (
        (
            prop::bool::weighted(0.85),
            prop::bool::weighted(0.1),
            prop::bool::weighted(0.85),
        ),
        (0u8..4, 0u8..4, 0u8..4),
        prop::collection::vec(version_seed(), 0..6),
        (0usize..6, prop::bool::weighted(0.15)),
        prop::collection::vec(any::<bool>(), 2),
        (
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            1usize..6,
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                (present, broken, exists),
                (desired_digest, desired_migrations, live_tag),
                versions,
                (active, split),
                secrets,
                (redeploy, force, d1_blocks, window, binds_next),
            )| WorkerSeed {
                present,
                broken,
                exists,
                desired_digest,
                desired_migrations,
                live_tag,
                versions,
                active,
                split,
                secrets,
                redeploy,
                force,
                d1_blocks,
                window,
                binds_next,
            },
        )
}

fn migrations(count: u8) -> Vec<MigrationStep> {
    (1..=count)
        .map(|n| MigrationStep {
            tag: format!("v{n}"),
            new_sqlite_classes: vec![format!("Class{n}")],
            ..MigrationStep::default()
        })
        .collect()
}

fn tag(n: u8) -> Option<String> {
    (n > 0).then(|| format!("v{n}"))
}

struct Inputs {
    desired: Desired,
    live: LiveAccount,
    history: History,
    policies: Policies,
}

fn build(seeds: &[WorkerSeed], resources_known: bool) -> Inputs {
    let mut desired = Desired {
        commit: "head".into(),
        workers: BTreeMap::new(),
    };
    let mut live = LiveAccount {
        observed: true,
        workers: BTreeMap::new(),
        resources: LiveResources {
            kv: resources_known.then(|| BTreeSet::from(["kv-live".to_string()])),
            r2: None,
            d1: resources_known.then(|| BTreeSet::from(["d1-live".to_string()])),
            queues: None,
        },
        // Only `api` is listed: bindings to the others may warn (FS019) when they are absent.
        scripts: resources_known.then(|| BTreeSet::from(["api".to_string()])),
    };
    let mut history = History::default();
    let mut policies = Policies::default();
    for (index, (name, seed)) in WORKERS.iter().zip(seeds).enumerate() {
        let mut worker_spec = spec(
            name,
            &serde_json::json!({"modules": {"index.js": format!("// {}", seed.desired_digest)}}),
        );
        worker_spec.migrations = migrations(seed.desired_migrations);
        if seed.binds_next {
            let next = WORKERS[(index + 1) % WORKERS.len()];
            worker_spec.bindings.push(Binding {
                name: "NEXT".into(),
                kind: BindingKind::Service {
                    service: next.into(),
                    environment: None,
                    entrypoint: None,
                },
            });
        }
        if seed.present {
            let entry = if seed.broken {
                DesiredEntry::Broken {
                    config_path: None,
                    error: "invalid toml".into(),
                }
            } else {
                DesiredEntry::Ok(Box::new(DesiredWorker {
                    spec: worker_spec,
                    digest: format!("d{}", seed.desired_digest).into(),
                    version_digest: format!("vd{}", seed.desired_digest).into(),
                    dependencies: Vec::new(),
                }))
            };
            desired.workers.insert(name.to_string(), entry);
        }
        let mut versions = Vec::new();
        let mut known = Vec::new();
        // A Worker that does not exist has no versions and no migration tag.
        let seed_versions: &[VersionSeed] = if seed.exists { &seed.versions } else { &[] };
        let total = seed_versions.len();
        for (position, version) in seed_versions.iter().enumerate() {
            let id = format!("{name}-{position}");
            let mut bindings = Vec::new();
            if version.kv {
                bindings.push(Binding {
                    name: "KV".into(),
                    kind: BindingKind::KvNamespace {
                        namespace_id: if position % 2 == 0 {
                            "kv-live"
                        } else {
                            "kv-gone"
                        }
                        .into(),
                    },
                });
            }
            if version.d1 {
                bindings.push(Binding {
                    name: "DB".into(),
                    kind: BindingKind::D1 {
                        id: "d1-live".into(),
                    },
                });
            }
            if version.secret {
                bindings.push(Binding {
                    name: "TOKEN".into(),
                    kind: BindingKind::SecretText,
                });
            }
            versions.push(LiveVersion {
                id: id.clone(),
                number: (total - position) as u64,
                bindings,
                migration_tag: tag(version.migration),
                ..LiveVersion::default()
            });
            if version.known {
                known.push(KnownVersion {
                    version_id: id,
                    commit: format!("commit-{name}-{position}"),
                    digest: format!("d{}", version.digest).into(),
                    version_digest: format!("vd{}", version.digest).into(),
                    migrations: migrations(version.migration),
                    exports: None,
                    secrets_fingerprint: None,
                    declared: None,
                });
            }
        }
        let active = (!versions.is_empty()).then(|| {
            let first = seed.active % versions.len();
            let mut shares = vec![DeploymentVersion {
                version_id: versions[first].id.clone(),
                percentage: if seed.split { 90.0 } else { 100.0 },
            }];
            if seed.split {
                shares.push(DeploymentVersion {
                    version_id: versions[(first + 1) % versions.len()].id.clone(),
                    percentage: 10.0,
                });
            }
            LiveDeployment {
                id: format!("dep-{name}"),
                versions: shares,
                ..LiveDeployment::default()
            }
        });
        let secrets = ["TOKEN", "OTHER"]
            .iter()
            .zip(&seed.secrets)
            .filter(|(_, on)| **on)
            .map(|(s, _)| s.to_string())
            .collect();
        live.workers.insert(
            name.to_string(),
            LiveWorker {
                name: name.to_string(),
                exists: seed.exists,
                migration_tag: if seed.exists {
                    tag(seed.live_tag)
                } else {
                    None
                },
                deployments: active.clone().into_iter().collect(),
                active,
                versions,
                secrets,
                routes: None,
                crons: None,
                queue_consumers: None,
            },
        );
        history.workers.insert(
            name.to_string(),
            WorkerHistory {
                versions: known,
                applied_digest: None,
            },
        );
        policies.workers.insert(
            name.to_string(),
            Policy {
                rollback_policy: if seed.redeploy {
                    RollbackPolicy::Redeploy
                } else {
                    RollbackPolicy::Refuse
                },
                allow_secret_change_rollback: seed.force,
                d1_blocks_rollback: seed.d1_blocks,
                version_window: seed.window,
                depends_on: Vec::new(),
                // Ranks that sometimes contradict the service bindings (cycles) on purpose.
                order: i64::from(seed.live_tag % 2),
                rollout_steps: None,
            },
        );
    }
    Inputs {
        desired,
        live,
        history,
        policies,
    }
}

fn run(inputs: &Inputs) -> Plan {
    plan(
        &inputs.desired,
        None,
        &inputs.live,
        &inputs.history,
        &inputs.policies,
    )
}

fn scenario() -> impl Strategy<Value = (Vec<WorkerSeed>, bool)> {
    (
        prop::collection::vec(worker_seed(), WORKERS.len()),
        any::<bool>(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn blocked_workers_never_get_a_deploy_or_rollback_step((seeds, known) in scenario()) {
        let plan = run(&build(&seeds, known));
        for worker in &plan.workers {
            let has_steps = plan.steps.iter().any(|s| s.worker() == worker.name);
            match &worker.action {
                Action::Blocked { .. } => {
                    prop_assert!(!has_steps, "blocked {} has steps", worker.name);
                    prop_assert!(worker.findings.iter().any(|f| f.is_blocking()));
                }
                Action::InSync | Action::Removed => prop_assert!(!has_steps),
                _ => {
                    prop_assert!(has_steps, "{} mutates without steps", worker.name);
                    prop_assert!(!worker.findings.iter().any(|f| f.is_blocking()));
                }
            }
        }
        if exit_code(&plan) == 0 {
            prop_assert!(plan.steps.is_empty());
        }
    }

    #[test]
    fn planning_is_deterministic((seeds, known) in scenario()) {
        let inputs = build(&seeds, known);
        let first = run(&inputs);
        let second = run(&inputs);
        prop_assert_eq!(&first, &second);
        prop_assert_eq!(render_json(&first), render_json(&second));
        prop_assert_eq!(render_markdown(&first), render_markdown(&second));
        prop_assert_eq!(render_text(&first), render_text(&second));
    }

    #[test]
    fn rollbacks_only_name_versions_inside_the_window((seeds, known) in scenario()) {
        let inputs = build(&seeds, known);
        let plan = run(&inputs);
        for step in &plan.steps {
            if let Step::Deploy { worker, version: DeployTarget::Existing(target), .. } = step {
                let live = &inputs.live.workers[worker];
                let window = inputs.policies.for_worker(worker).version_window;
                let position = live.version_position(&target.version_id);
                prop_assert!(position.is_some_and(|p| p < window), "{worker}: {target:?} outside window");
                // And never across a migration.
                let version = live.version(&target.version_id).expect("listed");
                prop_assert_eq!(&version.migration_tag, &live.migration_tag);
            }
        }
    }

    #[test]
    fn each_worker_appears_once_and_steps_follow_the_order((seeds, known) in scenario()) {
        let inputs = build(&seeds, known);
        let plan = run(&inputs);
        let names: Vec<&str> = plan.workers.iter().map(|w| w.name.as_str()).collect();
        let unique: BTreeSet<&str> = names.iter().copied().collect();
        prop_assert_eq!(names.len(), unique.len());
        // Rollback steps precede forward steps; within each phase, steps follow the order.
        let mut last_index = None;
        let mut phase_is_rollback = true;
        for step in &plan.steps {
            let worker = plan.workers.iter().find(|w| w.name == step.worker()).expect("worker in plan");
            // A move to a newer existing version goes forward, in the deploy phase.
            let is_rollback = worker.action.rolls_back(inputs.live.workers.get(&worker.name));
            if !is_rollback && phase_is_rollback {
                phase_is_rollback = false;
                last_index = None;
            }
            prop_assert_eq!(is_rollback, phase_is_rollback, "rollback step after forward steps");
            let order = if is_rollback { &plan.order.rollback } else { &plan.order.deploy };
            let index = order.iter().position(|n| n == step.worker());
            prop_assert!(index.is_some());
            if let (Some(last), Some(index)) = (last_index, index) {
                prop_assert!(index >= last, "steps out of order");
            }
            last_index = index;
        }
    }
}

/// Carry out a plan's steps on the simulated account, the way the Cloudflare API would.
fn apply(plan: &Plan, inputs: &mut Inputs) {
    let mut uploaded: BTreeMap<String, String> = BTreeMap::new();
    let mut applied: BTreeSet<String> = BTreeSet::new();
    for step in &plan.steps {
        let name = step.worker().to_owned();
        applied.insert(name.clone());
        let Some(DesiredEntry::Ok(desired)) = inputs.desired.workers.get(&name) else {
            panic!("step for a Worker without desired state: {step:?}");
        };
        let live = inputs
            .live
            .workers
            .entry(name.clone())
            .or_insert_with(|| LiveWorker::missing(&name));
        let history = inputs.history.workers.entry(name.clone()).or_default();
        let mut new_version = |live: &mut LiveWorker, tag: Option<String>| {
            let number = live.versions.iter().map(|v| v.number).max().unwrap_or(0) + 1;
            let id = format!("{name}-new-{number}");
            let mut bindings = desired.spec.bindings.clone();
            bindings.extend(live.secrets.iter().map(|s| Binding {
                name: s.clone(),
                kind: BindingKind::SecretText,
            }));
            live.versions.insert(
                0,
                LiveVersion {
                    id: id.clone(),
                    number,
                    bindings,
                    migration_tag: tag,
                    ..LiveVersion::default()
                },
            );
            history.versions.push(KnownVersion {
                version_id: id.clone(),
                commit: inputs.desired.commit.clone(),
                digest: desired.digest.clone(),
                version_digest: desired.version_digest.clone(),
                migrations: desired.spec.migrations.clone(),
                exports: None,
                secrets_fingerprint: None,
                declared: None,
            });
            id
        };
        let deploy = |live: &mut LiveWorker, id: &str| {
            let deployment = LiveDeployment {
                id: format!("dep-{id}"),
                versions: vec![DeploymentVersion {
                    version_id: id.to_owned(),
                    percentage: 100.0,
                }],
                ..LiveDeployment::default()
            };
            live.deployments.insert(0, deployment.clone());
            live.active = Some(deployment);
        };
        match step {
            Step::UploadVersion { .. } => {
                let tag = live.migration_tag.clone();
                let id = new_version(live, tag);
                uploaded.insert(name.clone(), id);
            }
            Step::ScriptUpload { migrations, .. } => {
                if let Some(payload) = migrations {
                    assert_eq!(
                        payload.old_tag, live.migration_tag,
                        "old_tag must match live"
                    );
                    live.migration_tag = Some(payload.new_tag.clone());
                }
                live.exists = true;
                let tag = live.migration_tag.clone();
                let id = new_version(live, tag);
                deploy(live, &id);
            }
            Step::Deploy { version, .. } => {
                let id = match version {
                    DeployTarget::Uploaded => uploaded.get(&name).cloned().expect("uploaded first"),
                    DeployTarget::Existing(target) => target.version_id.clone(),
                };
                assert!(live.version(&id).is_some(), "deploying an unknown version");
                deploy(live, &id);
            }
            Step::SyncSettings { .. } => {
                live.routes = Some(desired.spec.routes.clone());
                live.crons = Some(desired.spec.crons.clone());
            }
        }
    }
    for name in applied {
        if let Some(DesiredEntry::Ok(desired)) = inputs.desired.workers.get(&name) {
            inputs
                .history
                .workers
                .entry(name)
                .or_default()
                .applied_digest = Some(desired.digest.clone());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn applying_a_plan_then_planning_again_finds_nothing_to_do((seeds, known) in scenario()) {
        let mut inputs = build(&seeds, known);
        let first = run(&inputs);
        apply(&first, &mut inputs);
        let second = run(&inputs);
        for (before, after) in first.workers.iter().zip(&second.workers) {
            prop_assert_eq!(&before.name, &after.name);
            if before.action.mutates() {
                prop_assert!(
                    matches!(after.action, Action::InSync),
                    "{} was {:?}, after applying it is {:?}", before.name, before.action, after.action
                );
            }
        }
        prop_assert!(second.steps.iter().all(|s| {
            !first.steps.iter().any(|f| f.worker() == s.worker())
        }), "applied Workers need more steps");
    }
}

/// The base commit for a preview run: each Worker's content is its first live version's.
fn base_from(seeds: &[WorkerSeed]) -> Desired {
    let mut base = Desired {
        commit: "base".into(),
        workers: BTreeMap::new(),
    };
    for (name, seed) in WORKERS.iter().zip(seeds) {
        let Some(first) = seed.versions.first().filter(|_| seed.exists) else {
            continue;
        };
        let mut worker_spec = spec(
            name,
            &serde_json::json!({"modules": {"index.js": format!("// {}", first.digest)}}),
        );
        worker_spec.migrations = migrations(seed.live_tag);
        base.workers.insert(
            name.to_string(),
            DesiredEntry::Ok(Box::new(DesiredWorker {
                spec: worker_spec,
                digest: format!("d{}", first.digest).into(),
                version_digest: format!("vd{}", first.digest).into(),
                dependencies: Vec::new(),
            })),
        );
    }
    base
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn previews_without_live_state_are_deterministic_and_never_roll_back((seeds, _) in scenario()) {
        let inputs = build(&seeds, false);
        let base = base_from(&seeds);
        let live = LiveAccount::unobserved();
        let run = || plan(&inputs.desired, Some(&base), &live, &inputs.history, &inputs.policies);
        let first = run();
        prop_assert_eq!(&first, &run());
        prop_assert_eq!(render_markdown(&first), render_markdown(&run()));
        prop_assert!(!first.live_observed);
        for worker in &first.workers {
            // Rollbacks need the live version window; without it flaresync never claims one.
            let is_rollback = matches!(worker.action, Action::Rollback { .. });
            prop_assert!(!is_rollback, "rollback without live state");
            let is_blocked = matches!(worker.action, Action::Blocked { .. });
            if is_blocked {
                prop_assert!(!first.steps.iter().any(|s| s.worker() == worker.name));
            }
        }
    }
}
