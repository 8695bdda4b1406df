//! The decision: desired state + live state + history + policy -> [`Plan`].
//!
//! Pure and deterministic: the same inputs always give the same plan (maps are ordered, ties are
//! broken by name). Nothing here performs I/O.
//!
//! # Per Worker, exactly one action
//!
//! 1. Not in Git but known (base commit or history): [`Action::Removed`], never a delete.
//! 2. Config does not load: [`Action::Blocked`] (FS011).
//! 3. Worker does not exist: [`Action::DeployForward`] with a script upload carrying every
//!    migration step.
//! 4. The active version already has the desired `version_digest` (and no migration is pending):
//!    [`Action::InSync`], or [`Action::UpdateSettings`] when only non-versioned settings differ.
//! 5. A known version with the desired `version_digest` is still listed live: [`Action::Rollback`]
//!    when every rule passes; otherwise [`Action::Blocked`], or, with `rollback_policy =
//!    "redeploy"`, a forward deploy of the same content when that is legal.
//! 6. Otherwise: [`Action::DeployForward`] (version upload, or script upload when a migration or
//!    an `exports` change is pending), unless a rule blocks it.
//!
//! # Order
//!
//! Rollbacks run first, in reverse dependency order (entry points first; the dependencies of the
//! live versions count too, since the revert may remove the binding), then forward deploys and
//! settings updates, dependencies first. A rollback whose caller is blocked is held back (FS018).
//! See [`crate::order`].

use std::collections::{BTreeMap, BTreeSet};

use flaresync_config::{MigrationStep, WorkerSpec};

use crate::diff::{self, After, Before, DiffBase, WorkerDiff};
use crate::input::{
    Desired, DesiredEntry, DesiredWorker, History, KnownVersion, Policies, Policy, RollbackPolicy,
    WorkerHistory,
};
use crate::live::{LiveAccount, LiveResources, LiveVersion, LiveWorker};
use crate::migrations::{self, PendingMigrations};
use crate::model::{
    Action, DeployTarget, Finding, Order, Plan, ScriptUploadReason, Severity, Step, UploadMode,
    VersionRef, WorkerPlan,
};
use crate::order;
use crate::rules::{self, ActiveVersion, Context, Subject, Target, short};

/// Plan the desired commit against live state.
///
/// - `desired`: the state at the commit to apply (head).
/// - `base`: the state at the base commit (PR preview), used for module diffs and, when `live`
///   is not observed, as a stand-in for what is deployed.
/// - `live`: what Cloudflare runs ([`LiveAccount::unobserved`] when not fetched).
/// - `history`: which versions flaresync built from which commit.
/// - `policies`: `flaresync.toml` policies.
pub fn plan(
    desired: &Desired,
    base: Option<&Desired>,
    live: &LiveAccount,
    history: &History,
    policies: &Policies,
) -> Plan {
    // Which Workers take part.
    let mut names: BTreeSet<&str> = desired.workers.keys().map(String::as_str).collect();
    let mut removed: BTreeSet<&str> = BTreeSet::new();
    let known_elsewhere =
        base.into_iter()
            .flat_map(|b| b.workers.keys())
            .chain(history.workers.keys().filter(|name| {
                // History alone only counts while the Worker still exists (or live is unknown).
                !live.observed || live.workers.get(*name).is_some_and(|w| w.exists)
            }));
    for name in known_elsewhere {
        if !desired.workers.contains_key(name) && names.insert(name.as_str()) {
            removed.insert(name.as_str());
        }
    }

    // Ordering over the Workers still in Git.
    let specs: BTreeMap<String, Option<&WorkerSpec>> = desired
        .workers
        .iter()
        .map(|(name, entry)| (name.clone(), entry.worker().map(|w| &w.spec)))
        .collect();
    let extra: BTreeMap<String, Vec<String>> = desired
        .workers
        .iter()
        .filter_map(|(name, entry)| {
            entry
                .worker()
                .map(|w| (name.clone(), w.dependencies.clone()))
        })
        .collect();
    let graph = order::build_graph(&specs, &extra, policies);
    let ordering = graph.order();
    let cycle_of = |name: &str| -> Option<&[String]> {
        ordering
            .cycles
            .iter()
            .find(|cycle| cycle.iter().any(|c| c == name))
            .map(Vec::as_slice)
    };

    // Scripts that exist or are about to: the account's list plus this plan's Workers.
    let known_scripts: Option<BTreeSet<String>> = live
        .scripts
        .as_ref()
        .filter(|_| live.observed)
        .map(|scripts| {
            let mut all = scripts.clone();
            all.extend(
                live.workers
                    .values()
                    .filter(|w| w.exists)
                    .map(|w| w.name.clone()),
            );
            all.extend(specs.keys().cloned());
            all
        });

    // Plan Workers dependencies first, so a Worker whose dependency is blocked can be held back
    // (FS018). Removed Workers are not in the graph; they go last.
    let mut sequence: Vec<&str> = ordering.deploy.iter().map(String::as_str).collect();
    sequence.extend(names.iter().copied().filter(|n| !specs.contains_key(*n)));
    let mut blocked: BTreeSet<&str> = BTreeSet::new();
    let mut plans: BTreeMap<String, WorkerPlan> = BTreeMap::new();
    let mut steps_by_worker: BTreeMap<String, (bool, Vec<Step>)> = BTreeMap::new();
    for name in sequence {
        let policy = policies.for_worker(name);
        let base_worker = base.and_then(|b| {
            b.workers
                .get(name)
                .and_then(DesiredEntry::worker)
                .map(|w| (b.commit.as_str(), w))
        });
        let dependencies: Vec<String> = graph
            .edges
            .get(name)
            .map(|deps| deps.iter().cloned().collect())
            .unwrap_or_default();
        let blocked_dependencies: Vec<String> = dependencies
            .iter()
            .filter(|d| blocked.contains(d.as_str()))
            .cloned()
            .collect();
        let input = WorkerInput {
            name,
            policy,
            live,
            history: history.worker(name),
            base: base_worker,
            cycle: cycle_of(name),
            known_scripts: known_scripts.as_ref(),
            blocked_dependencies: &blocked_dependencies,
        };
        let (mut worker_plan, steps) = if removed.contains(name) {
            (plan_removed(&input), Vec::new())
        } else {
            match desired.workers.get(name) {
                Some(DesiredEntry::Ok(worker)) => plan_worker(&input, worker),
                Some(DesiredEntry::Broken { error, .. }) => {
                    (plan_broken(&input, error), Vec::new())
                }
                None => (plan_removed(&input), Vec::new()),
            }
        };
        worker_plan.depends_on = dependencies;
        if matches!(worker_plan.action, Action::Blocked { .. }) {
            blocked.insert(name);
        }
        let is_rollback = matches!(worker_plan.action, Action::Rollback { .. });
        steps_by_worker.insert(name.to_owned(), (is_rollback, steps));
        plans.insert(name.to_owned(), worker_plan);
    }
    let deploy_order = ordering.deploy.clone();
    // Rollbacks go callers first, and who calls whom *now* is what the live versions bind: a
    // revert of the commit that added a service binding has no edge in Git's (older) state, but
    // the live caller still calls the callee. Live edges are added for the rollback order (a
    // cycle falls back to the reversed deploy order).
    let live_edges: BTreeMap<String, BTreeSet<String>> = if live.observed {
        live.workers
            .iter()
            .filter_map(|(name, worker)| {
                let (id, _) = worker.active_version_id()?;
                let version = worker.version(id)?;
                Some((name.clone(), order::binding_targets(&version.bindings)))
            })
            .collect()
    } else {
        BTreeMap::new()
    };
    let rollback_ordering = graph.with_edges(&live_edges).order();
    let rollback_order: Vec<String> = if rollback_ordering.cycles.is_empty() {
        rollback_ordering.deploy.into_iter().rev().collect()
    } else {
        deploy_order.iter().rev().cloned().collect()
    };

    // Rollbacks go callers first, so that a caller never runs newer code against a callee that
    // rolled back under it. A callee whose caller is blocked (and so keeps running what it runs
    // now) is held back too; walking callers first carries that down a chain.
    for name in &rollback_order {
        let Some(worker_plan) = plans.get(name) else {
            continue;
        };
        let Action::Rollback { to, .. } = &worker_plan.action else {
            continue;
        };
        let blocked_callers: Vec<String> = plans
            .values()
            .filter(|caller| {
                let calls = caller.depends_on.contains(name)
                    || live_edges
                        .get(&caller.name)
                        .is_some_and(|targets| targets.contains(name));
                calls && matches!(caller.action, Action::Blocked { .. })
            })
            .map(|caller| format!("`{}`", caller.name))
            .collect();
        if blocked_callers.is_empty() {
            continue;
        }
        let to = to.clone();
        let callers = blocked_callers.join(", ");
        let finding = Finding::new(
            "FS018",
            Severity::Error,
            format!(
                "held back: {callers} uses it and is blocked, so it keeps running its current (newer) code; rolling `{name}` back to {} under it could break it",
                describe_ref(&to)
            ),
        )
        .with_hint(format!(
            "unblock {callers} first (see its findings); Workers roll back after the Workers that use them"
        ));
        if let Some(worker_plan) = plans.get_mut(name) {
            worker_plan.reason = format!(
                "rollback to {} held back: {callers} is blocked (FS018)",
                describe_ref(&to)
            );
            worker_plan.findings.push(finding);
            worker_plan
                .findings
                .sort_by(|a, b| (&a.rule, &a.message).cmp(&(&b.rule, &b.message)));
            worker_plan.action = Action::Blocked { target: Some(to) };
        }
        steps_by_worker.insert(name.clone(), (false, Vec::new()));
    }
    let workers: Vec<WorkerPlan> = plans.into_values().collect();
    let mut steps = Vec::new();
    for name in &rollback_order {
        if let Some((true, worker_steps)) = steps_by_worker.get(name) {
            steps.extend(worker_steps.iter().cloned());
        }
    }
    for name in &deploy_order {
        if let Some((false, worker_steps)) = steps_by_worker.get(name) {
            steps.extend(worker_steps.iter().cloned());
        }
    }

    Plan {
        commit: desired.commit.clone(),
        base_commit: base.map(|b| b.commit.clone()),
        live_observed: live.observed,
        live_note: None,
        workers,
        steps,
        order: Order {
            deploy: deploy_order,
            rollback: rollback_order,
            cycles: ordering.cycles.clone(),
        },
    }
}

/// Per-Worker inputs shared by the decision functions.
struct WorkerInput<'a> {
    name: &'a str,
    policy: &'a Policy,
    live: &'a LiveAccount,
    history: &'a WorkerHistory,
    base: Option<(&'a str, &'a DesiredWorker)>,
    cycle: Option<&'a [String]>,
    known_scripts: Option<&'a BTreeSet<String>>,
    /// Dependencies (in this plan) whose own action is blocked.
    blocked_dependencies: &'a [String],
}

/// What is currently deployed, from live state or (without it) from the base commit.
struct Current<'a> {
    live_worker: Option<&'a LiveWorker>,
    exists: bool,
    migration_tag: Option<&'a str>,
    applied_steps: Option<&'a [MigrationStep]>,
    active: Option<ActiveVersion<'a>>,
    /// `version_digest` of what runs, when known.
    version_digest: Option<&'a str>,
    /// `digest` of the last fully applied desired state, when known.
    digest: Option<&'a str>,
    /// `exports` declared for what runs: `Some(value)` when known, `None` when unknown.
    exports: Option<Option<&'a str>>,
}

impl<'a> WorkerInput<'a> {
    fn current(&self) -> Current<'a> {
        if self.live.observed {
            let live_worker = self.live.workers.get(self.name);
            let exists = live_worker.is_some_and(|w| w.exists);
            let migration_tag = live_worker.and_then(|w| w.migration_tag.as_deref());
            let active = live_worker.and_then(|w| {
                w.active_version_id().map(|(id, _)| ActiveVersion {
                    version_id: id,
                    live: w.version(id),
                    known: self
                        .history
                        .version(id)
                        .or_else(|| equivalent_known(w, id, self.history)),
                })
            });
            let applied_steps = match migration_tag {
                None => Some(&[][..]),
                Some(tag) => active
                    .and_then(|a| a.known)
                    .into_iter()
                    .chain(self.history.versions.iter())
                    .find_map(|k| migrations::applied_prefix(&k.migrations, tag)),
            };
            let known = active.and_then(|a| a.known);
            Current {
                live_worker,
                exists,
                migration_tag,
                applied_steps,
                active,
                version_digest: known.map(|k| k.version_digest.as_str()),
                digest: self
                    .history
                    .applied_digest
                    .as_deref()
                    .or(known.map(|k| k.digest.as_str())),
                // Declared exports of the commit the active version was built from. The API's
                // `script_runtime.exports` has a different shape, so it is not compared.
                exports: known.map(|k| k.exports.as_deref()),
            }
        } else {
            let base = self.base.map(|(_, w)| w);
            Current {
                live_worker: None,
                exists: base.is_some(),
                migration_tag: base.and_then(|w| w.spec.migrations.last().map(|s| s.tag.as_str())),
                applied_steps: base.map(|w| w.spec.migrations.as_slice()),
                active: None,
                version_digest: base.map(|w| w.version_digest.as_str()),
                digest: base.map(|w| w.digest.as_str()),
                exports: base.map(|w| w.spec.exports.as_deref()),
            }
        }
    }

    fn context(&self, current: &Current<'a>, subject: Subject<'a>) -> Context<'a> {
        static NO_RESOURCES: LiveResources = LiveResources {
            kv: None,
            r2: None,
            d1: None,
            queues: None,
        };
        Context {
            worker: self.name,
            policy: self.policy,
            live_observed: self.live.observed,
            live: current.live_worker,
            resources: if self.live.observed {
                &self.live.resources
            } else {
                &NO_RESOURCES
            },
            history: self.history,
            migration_tag: current.migration_tag,
            applied_steps: current.applied_steps,
            cycle: self.cycle,
            blocked_dependencies: self.blocked_dependencies,
            known_scripts: self.known_scripts,
            active: current.active,
            subject,
        }
    }

    fn before(&self, current: &Current<'a>) -> Before<'a> {
        Before {
            live_version: current.active.and_then(|a| a.live),
            base: self.base.map(|(commit, w)| (commit, &w.spec)),
            live_routes: current.live_worker.and_then(|w| w.routes.as_deref()),
            live_crons: current.live_worker.and_then(|w| w.crons.as_deref()),
            applied_migrations: current.applied_steps,
            running_exports: current.exports,
        }
    }
}

fn plan_removed(input: &WorkerInput<'_>) -> WorkerPlan {
    let current = input.current();
    let ctx = input.context(&current, Subject::Removed);
    WorkerPlan {
        name: input.name.to_owned(),
        action: Action::Removed,
        reason: "removed from Git; nothing is deleted on Cloudflare".to_owned(),
        findings: rules::check_all(&ctx),
        diff: WorkerDiff::empty(DiffBase::Nothing),
        depends_on: Vec::new(),
    }
}

fn plan_broken(input: &WorkerInput<'_>, error: &str) -> WorkerPlan {
    let current = input.current();
    let ctx = input.context(&current, Subject::Broken { error });
    WorkerPlan {
        name: input.name.to_owned(),
        action: Action::Blocked { target: None },
        reason: "config does not load at this commit (FS011)".to_owned(),
        findings: rules::check_all(&ctx),
        diff: WorkerDiff::empty(DiffBase::Nothing),
        depends_on: Vec::new(),
    }
}

/// A version flaresync knows whose content the active version `id` provably equals, when `id`
/// itself is not one flaresync made: same script etag, bindings (as a set), compatibility date
/// and flags, and migration tag, all as Cloudflare reports them. This is a human's `wrangler
/// deploy` of the committed config: the content is Git's, so it is in sync, not drift to roll
/// back. Without details for both versions (no etag), nothing is assumed.
fn equivalent_known<'a>(
    worker: &'a LiveWorker,
    id: &str,
    history: &'a WorkerHistory,
) -> Option<&'a KnownVersion> {
    let active = worker.version(id)?;
    let etag = active.etag.as_deref()?;
    let sorted = |bindings: &[flaresync_config::Binding]| {
        let mut bindings = bindings.to_vec();
        bindings.sort();
        bindings
    };
    let active_bindings = sorted(&active.bindings);
    history.versions.iter().find(|known| {
        worker.version(&known.version_id).is_some_and(|other| {
            other.id != active.id
                && other.etag.as_deref() == Some(etag)
                && sorted(&other.bindings) == active_bindings
                && other.compatibility_date == active.compatibility_date
                && other.compatibility_flags == active.compatibility_flags
                && other.migration_tag == active.migration_tag
        })
    })
}

fn version_ref(known: &KnownVersion, live: Option<&LiveVersion>) -> VersionRef {
    VersionRef {
        version_id: known.version_id.clone(),
        number: live.map(|v| v.number).filter(|n| *n > 0),
        commit: known.commit.clone(),
    }
}

fn describe_ref(version: &VersionRef) -> String {
    match version.number {
        Some(number) => format!("version {number} (commit {})", short(&version.commit)),
        None => format!(
            "version {} (commit {})",
            short(&version.version_id),
            short(&version.commit)
        ),
    }
}

fn blocking_ids(findings: &[Finding]) -> String {
    let ids: BTreeSet<&str> = findings
        .iter()
        .filter(|f| f.is_blocking())
        .map(|f| f.rule.as_str())
        .collect();
    ids.into_iter().collect::<Vec<_>>().join(", ")
}

/// Non-versioned settings that differ (or must be applied because their live value is unknown).
fn settings_fields(
    input: &WorkerInput<'_>,
    current: &Current<'_>,
    spec: &WorkerSpec,
    digest: &str,
    versions_equal: bool,
) -> Vec<String> {
    let mut fields = BTreeSet::new();
    let set_eq = |a: &[String], b: &[String]| {
        a.iter().collect::<BTreeSet<_>>() == b.iter().collect::<BTreeSet<_>>()
    };
    let live_worker = current.live_worker;
    let live_routes = live_worker.and_then(|w| w.routes.as_ref());
    let live_crons = live_worker.and_then(|w| w.crons.as_ref());
    if let Some(routes) = live_routes {
        let a: BTreeSet<_> = routes.iter().collect();
        let b: BTreeSet<_> = spec.routes.iter().collect();
        if a != b {
            fields.insert("routes");
        }
    }
    if let Some(crons) = live_crons
        && !set_eq(crons, &spec.crons)
    {
        fields.insert("crons");
    }
    let base_spec = input.base.map(|(_, w)| &w.spec);
    if let Some(base) = base_spec {
        if live_routes.is_none() && base.routes != spec.routes {
            fields.insert("routes");
        }
        if live_crons.is_none() && !set_eq(&base.crons, &spec.crons) {
            fields.insert("crons");
        }
        if base.settings.logpush != spec.settings.logpush {
            fields.insert("logpush");
        }
        if base.settings.observability != spec.settings.observability {
            fields.insert("observability");
        }
        if base.settings.tail_consumers != spec.settings.tail_consumers {
            fields.insert("tail_consumers");
        }
        if base.queue_consumers != spec.queue_consumers {
            fields.insert("queue_consumers");
        }
        if base.workers_dev != spec.workers_dev {
            fields.insert("workers_dev");
        }
    }
    if base_spec.is_none() && !versions_equal {
        // A new version is going live and nothing says what the non-versioned settings are:
        // apply the ones Git declares (idempotent), as wrangler does after `versions deploy`.
        if live_routes.is_none() && !spec.routes.is_empty() {
            fields.insert("routes");
        }
        if live_crons.is_none() && !spec.crons.is_empty() {
            fields.insert("crons");
        }
        if spec.settings.logpush.is_some() {
            fields.insert("logpush");
        }
        if spec.settings.observability.is_some() {
            fields.insert("observability");
        }
        if !spec.settings.tail_consumers.is_empty() {
            fields.insert("tail_consumers");
        }
        // wrangler sets the workers.dev route whenever `workers_dev` is written.
        if spec.workers_dev.is_some() {
            fields.insert("workers_dev");
        }
    }
    if fields.is_empty() && versions_equal && current.digest.is_some_and(|d| d != digest) {
        // Digests say something outside the version changed, but neither live values nor a base
        // commit tell which field: apply all non-versioned settings.
        fields.insert("script_settings");
    }
    fields.into_iter().map(str::to_owned).collect()
}

fn plan_worker(input: &WorkerInput<'_>, worker: &DesiredWorker) -> (WorkerPlan, Vec<Step>) {
    let current = input.current();
    let spec = &worker.spec;
    let name = input.name.to_owned();
    let before = input.before(&current);
    let forward_diff = || {
        diff::worker_diff(
            before,
            After {
                spec,
                target_version: None,
            },
        )
    };

    // 3. First deploy.
    if !current.exists {
        let ctx = input.context(&current, Subject::Forward { spec });
        let findings = rules::check_all(&ctx);
        // Normally `None` for a Worker that does not exist; using the observed tag keeps the
        // payload consistent with what the migration rules checked.
        let payload = match migrations::pending(&spec.migrations, current.migration_tag) {
            PendingMigrations::Pending(payload) => Some(payload),
            _ => None,
        };
        let diff = forward_diff();
        if findings.iter().any(Finding::is_blocking) {
            let reason = format!("first deploy refused ({})", blocking_ids(&findings));
            return (
                worker_plan(
                    name,
                    Action::Blocked { target: None },
                    reason,
                    findings,
                    diff,
                ),
                Vec::new(),
            );
        }
        let mut reason = if input.live.observed {
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
        let mut steps = vec![Step::ScriptUpload {
            worker: name.clone(),
            migrations: payload.clone(),
        }];
        let mut fields = Vec::new();
        if !spec.routes.is_empty() {
            fields.push("routes".to_owned());
        }
        if !spec.crons.is_empty() {
            fields.push("crons".to_owned());
        }
        // As `wrangler deploy` does for a new Worker: its workers.dev route is set (on by
        // default when the Worker has no routes, or as `workers_dev` says).
        fields.push("workers_dev".to_owned());
        if !fields.is_empty() {
            steps.push(Step::SyncSettings {
                worker: name.clone(),
                fields,
            });
        }
        let action = Action::DeployForward {
            mode: UploadMode::ScriptUpload {
                reason: ScriptUploadReason::FirstDeploy,
            },
            migrations: payload,
            redeploy_of: None,
        };
        return (worker_plan(name, action, reason, findings, diff), steps);
    }

    let pending = migrations::pending(&spec.migrations, current.migration_tag);
    let exports_changed = exports_changed(&current, spec);
    let split = current.live_worker.is_some_and(LiveWorker::is_split);
    let versions_equal = current.version_digest == Some(worker.version_digest.as_str());

    // 4. Versions already match.
    if versions_equal && !split && pending == PendingMigrations::None && !exports_changed {
        let fields = settings_fields(input, &current, spec, &worker.digest, true);
        let ctx = input.context(&current, Subject::Unchanged { spec });
        let findings = rules::check_all(&ctx);
        let diff = forward_diff();
        let active_text = match current.active {
            Some(active) => active
                .live
                .filter(|v| v.number > 0)
                .map(|v| format!("live version {}", v.number))
                .unwrap_or_else(|| format!("live version {}", short(active.version_id))),
            None => "the base commit".to_owned(),
        };
        if fields.is_empty() {
            let reason = format!("{active_text} already runs this content");
            return (
                worker_plan(name, Action::InSync, reason, findings, diff),
                Vec::new(),
            );
        }
        let reason = format!(
            "{active_text} runs this code; only non-versioned settings differ ({})",
            fields.join(", ")
        );
        let steps = vec![Step::SyncSettings {
            worker: name.clone(),
            fields: fields.clone(),
        }];
        return (
            worker_plan(
                name,
                Action::UpdateSettings { fields },
                reason,
                findings,
                diff,
            ),
            steps,
        );
    }

    // 5. A rollback candidate: known versions with the desired content, newest live one first.
    let live_worker = current.live_worker.filter(|_| input.live.observed);
    let candidate = if matches!(pending, PendingMigrations::Pending(_)) || exports_changed {
        // A rollback cannot apply a migration or an `exports` change: only a script upload
        // can, so even content equal to an old version goes forward.
        None
    } else if versions_equal && split {
        // Split deployment whose larger share already runs the desired content: deploy that
        // version at 100% (no upload).
        current.active.and_then(|active| {
            Some(Target {
                known: active.known?,
                live: active.live,
                position: live_worker.and_then(|w| w.version_position(active.version_id)),
            })
        })
    } else {
        find_candidate(input.history, live_worker, &worker.version_digest)
    };
    if let Some(target) = candidate {
        return plan_rollback(input, &current, worker, target);
    }

    // 6. Forward.
    let mut hint = None;
    if !input.live.observed
        && input
            .history
            .versions
            .iter()
            .any(|k| k.version_digest == worker.version_digest)
    {
        hint = Some("a known version has this content; with live state this may be a rollback");
    }
    plan_forward(
        input,
        &current,
        worker,
        pending,
        exports_changed,
        None,
        Vec::new(),
        hint,
    )
}

/// Whether the declared `exports` differ from what runs. When that is unknown (the active
/// version is not in the history), a spec that declares `exports` is treated as changed: a script
/// upload is always accepted, a version upload with an `exports` change is not (10211).
fn exports_changed(current: &Current<'_>, spec: &WorkerSpec) -> bool {
    match current.exports {
        Some(running) => running != spec.exports.as_deref(),
        None => spec.exports.is_some(),
    }
}

fn find_candidate<'a>(
    history: &'a WorkerHistory,
    live_worker: Option<&'a LiveWorker>,
    version_digest: &str,
) -> Option<Target<'a>> {
    let live_worker = live_worker?;
    let mut best: Option<Target<'a>> = None;
    for known in history
        .versions
        .iter()
        .filter(|k| k.version_digest == version_digest)
    {
        let position = live_worker.version_position(&known.version_id);
        let candidate = Target {
            known,
            live: live_worker.version(&known.version_id),
            position,
        };
        best = match best {
            None => Some(candidate),
            Some(current) => match (current.position, position) {
                (Some(a), Some(b)) if b < a => Some(candidate),
                (None, Some(_)) => Some(candidate),
                _ => Some(current),
            },
        };
    }
    best
}

fn plan_rollback<'a>(
    input: &WorkerInput<'a>,
    current: &Current<'a>,
    worker: &'a DesiredWorker,
    target: Target<'a>,
) -> (WorkerPlan, Vec<Step>) {
    let spec = &worker.spec;
    let name = input.name.to_owned();
    let ctx = input.context(current, Subject::Rollback { spec, target });
    let findings = rules::check_all(&ctx);
    let to = version_ref(target.known, target.live);
    let before = input.before(current);
    let diff = diff::worker_diff(
        before,
        After {
            spec,
            target_version: target.live,
        },
    );
    if !findings.iter().any(Finding::is_blocking) {
        let force = findings.iter().any(|f| f.rule == "FS006" && f.overridden);
        let finishing_split = current
            .active
            .is_some_and(|active| active.version_id == target.known.version_id);
        let reason = if finishing_split {
            format!(
                "a gradual deployment is in progress and its larger share, {}, already runs this content: deploying it at 100% (no upload)",
                describe_ref(&to)
            )
        } else {
            format!(
                "desired content equals {}, still deployable: rollback without upload{}",
                describe_ref(&to),
                if force {
                    " (forced: secrets differ)"
                } else {
                    ""
                }
            )
        };
        let mut steps = vec![Step::Deploy {
            worker: name.clone(),
            version: DeployTarget::Existing(to.clone()),
            force,
        }];
        let fields = settings_fields(input, current, spec, &worker.digest, false);
        if !fields.is_empty() {
            steps.push(Step::SyncSettings {
                worker: name.clone(),
                fields,
            });
        }
        let action = Action::Rollback { to, force };
        return (worker_plan(name, action, reason, findings, diff), steps);
    }

    if input.policy.rollback_policy == RollbackPolicy::Redeploy {
        let pending = migrations::pending(&spec.migrations, current.migration_tag);
        let exports_changed = exports_changed(current, spec);
        let refused: Vec<Finding> = findings
            .into_iter()
            .map(|mut f| {
                if f.is_blocking() {
                    f.severity = Severity::Warning;
                    f.overridden = true;
                    f.hint = Some(
                        "rollback_policy = \"redeploy\": the content is uploaded as a new version instead"
                            .to_owned(),
                    );
                }
                f
            })
            .collect();
        return plan_forward(
            input,
            current,
            worker,
            pending,
            exports_changed,
            Some(to),
            refused,
            None,
        );
    }

    let reason = format!(
        "rollback to {} refused ({})",
        describe_ref(&to),
        blocking_ids(&findings)
    );
    (
        worker_plan(
            name,
            Action::Blocked { target: Some(to) },
            reason,
            findings,
            diff,
        ),
        Vec::new(),
    )
}

#[expect(
    clippy::too_many_arguments,
    reason = "internal helper; the arguments are the decision so far"
)]
fn plan_forward<'a>(
    input: &WorkerInput<'a>,
    current: &Current<'a>,
    worker: &'a DesiredWorker,
    pending: PendingMigrations,
    exports_changed: bool,
    redeploy_of: Option<VersionRef>,
    earlier_findings: Vec<Finding>,
    hint: Option<&str>,
) -> (WorkerPlan, Vec<Step>) {
    let spec = &worker.spec;
    let name = input.name.to_owned();
    let ctx = input.context(current, Subject::Forward { spec });
    // The forward verdict wins over an earlier (possibly overridden) rollback finding with the
    // same text: a rule that blocks the rollback and the redeploy alike must still block.
    let mut findings = rules::check_all(&ctx);
    for finding in earlier_findings {
        if !findings
            .iter()
            .any(|f| f.rule == finding.rule && f.message == finding.message)
        {
            findings.push(finding);
        }
    }
    findings.sort_by(|a, b| (&a.rule, &a.message).cmp(&(&b.rule, &b.message)));
    let diff = diff::worker_diff(
        input.before(current),
        After {
            spec,
            target_version: None,
        },
    );

    if findings.iter().any(Finding::is_blocking) {
        let reason = match &redeploy_of {
            Some(to) => format!(
                "rollback to {} refused and redeploying it is not legal either ({})",
                describe_ref(to),
                blocking_ids(&findings)
            ),
            None => format!("deploy refused ({})", blocking_ids(&findings)),
        };
        return (
            worker_plan(
                name,
                Action::Blocked {
                    target: redeploy_of,
                },
                reason,
                findings,
                diff,
            ),
            Vec::new(),
        );
    }

    let payload = match pending {
        PendingMigrations::Pending(payload) => Some(payload),
        _ => None,
    };
    let mode = if payload.is_some() {
        UploadMode::ScriptUpload {
            reason: ScriptUploadReason::MigrationPending,
        }
    } else if exports_changed {
        UploadMode::ScriptUpload {
            reason: ScriptUploadReason::ExportsChanged,
        }
    } else {
        UploadMode::VersionUpload
    };

    let since = match current.active {
        Some(active) => match (active.live.filter(|v| v.number > 0), active.known) {
            (Some(live), Some(known)) => format!(
                "live version {} (commit {})",
                live.number,
                short(&known.commit)
            ),
            (Some(live), None) => format!("live version {}", live.number),
            (None, Some(known)) => format!("commit {}", short(&known.commit)),
            (None, None) => format!("live version {}", short(active.version_id)),
        },
        None => match input.base {
            Some((commit, _)) => format!("base commit {}", short(commit)),
            None => "what is deployed".to_owned(),
        },
    };
    let mut reason = match &redeploy_of {
        Some(to) => format!(
            "rollback to {} refused; rollback_policy = \"redeploy\": uploading the same content as a new version",
            describe_ref(to)
        ),
        None => format!("content differs from {since}"),
    };
    match (&mode, &payload) {
        (UploadMode::ScriptUpload { .. }, Some(payload)) => reason.push_str(&format!(
            "; Durable Object migration {} pending, so a script upload is required",
            payload
                .steps
                .iter()
                .map(|s| format!("`{}`", s.tag))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        (UploadMode::ScriptUpload { .. }, None) => {
            reason.push_str("; `exports` changed, so a script upload is required")
        }
        _ => {}
    }
    if let Some(hint) = hint {
        reason.push_str(&format!(" ({hint})"));
    }

    let mut steps = match &mode {
        UploadMode::VersionUpload => vec![
            Step::UploadVersion {
                worker: name.clone(),
            },
            Step::Deploy {
                worker: name.clone(),
                version: DeployTarget::Uploaded,
                force: false,
            },
        ],
        UploadMode::ScriptUpload { .. } => vec![Step::ScriptUpload {
            worker: name.clone(),
            migrations: payload.clone(),
        }],
    };
    let fields = settings_fields(input, current, spec, &worker.digest, false);
    if !fields.is_empty() {
        steps.push(Step::SyncSettings {
            worker: name.clone(),
            fields,
        });
    }
    let action = Action::DeployForward {
        mode,
        migrations: payload,
        redeploy_of,
    };
    (worker_plan(name, action, reason, findings, diff), steps)
}

fn worker_plan(
    name: String,
    action: Action,
    reason: String,
    findings: Vec<Finding>,
    diff: WorkerDiff,
) -> WorkerPlan {
    WorkerPlan {
        name,
        action,
        reason,
        findings,
        diff,
        depends_on: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::model::exit_code;
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
                            digest: digest.to_string(),
                            version_digest: digest.to_string(),
                            dependencies: Vec::new(),
                        })),
                    )
                })
                .collect(),
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
        let plan = plan(
            &desired(&[("api", "d1")]),
            None,
            &live,
            &History::default(),
            &Policies::default(),
        );
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
        let live = LiveAccount {
            workers: BTreeMap::from([("api".to_string(), live_worker("api", &["v1"]))]),
            ..LiveAccount::default()
        };
        let mut hist = history("api", vec![known("v1", "d1")]);
        hist.workers.insert("gone".into(), WorkerHistory::default());
        let plan = plan(
            &desired(&[("api", "d1")]),
            None,
            &live,
            &hist,
            &Policies::default(),
        );
        assert_eq!(plan.workers.len(), 1);
        assert_eq!(plan.workers[0].action, Action::InSync);
        assert_eq!(exit_code(&plan), 0);
    }

    #[test]
    fn history_only_worker_that_still_exists_is_reported_removed() {
        let live = LiveAccount {
            workers: BTreeMap::from([("old".to_string(), live_worker("old", &["o1"]))]),
            ..LiveAccount::default()
        };
        let plan = plan(
            &desired(&[]),
            None,
            &live,
            &history("old", vec![known("o1", "x")]),
            &Policies::default(),
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
        let live = |worker: &LiveWorker| LiveAccount {
            workers: BTreeMap::from([("api".to_string(), worker.clone())]),
            ..LiveAccount::default()
        };
        let hist = history("api", vec![known("v1", "d1")]);
        let head = desired(&[("api", "d1")]);
        let same = plan(&head, None, &live(&worker), &hist, &Policies::default());
        assert_eq!(
            same.workers[0].action,
            Action::InSync,
            "{:?}",
            same.workers[0]
        );

        // Different code (etag) or settings: a rollback to flaresync's version, as before.
        worker.versions[0].etag = Some("etag-other".into());
        let other = plan(&head, None, &live(&worker), &hist, &Policies::default());
        assert!(
            matches!(other.workers[0].action, Action::Rollback { .. }),
            "{:?}",
            other.workers[0]
        );
        worker.versions[0].etag = Some("etag-same".into());
        worker.versions[0].compatibility_date = Some("2026-01-01".into());
        let other = plan(&head, None, &live(&worker), &hist, &Policies::default());
        assert!(matches!(other.workers[0].action, Action::Rollback { .. }));

        // Without details (no etag read) nothing is assumed.
        worker.versions[0].compatibility_date = Some("2025-01-01".into());
        worker.versions[0].etag = None;
        let unknown = plan(&head, None, &live(&worker), &hist, &Policies::default());
        assert!(matches!(unknown.workers[0].action, Action::Rollback { .. }));
    }

    #[test]
    fn newest_live_version_with_the_content_is_the_rollback_target() {
        let live = LiveAccount {
            workers: BTreeMap::from([("api".to_string(), live_worker("api", &["v3", "v2", "v1"]))]),
            ..LiveAccount::default()
        };
        let hist = history(
            "api",
            vec![
                known("v1", "d1"),
                known("v3", "d3"),
                known("v2", "d1"),
                known("old", "d1"),
            ],
        );
        let plan = plan(
            &desired(&[("api", "d1")]),
            None,
            &live,
            &hist,
            &Policies::default(),
        );
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
        let live = LiveAccount {
            workers: BTreeMap::from([
                ("api".to_string(), live_worker("api", &["a2", "a1"])),
                ("web".to_string(), live_worker("web", &["w2"])),
            ]),
            ..LiveAccount::default()
        };
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
        let plan = super::plan(&head, None, &live, &hist, &Policies::default());
        assert!(
            plan.workers
                .iter()
                .any(|w| w.name == "api" && matches!(w.action, Action::Rollback { .. }))
        );
    }

    #[test]
    fn same_code_with_new_digest_and_no_detail_updates_all_settings() {
        let live = LiveAccount {
            workers: BTreeMap::from([("api".to_string(), live_worker("api", &["v1"]))]),
            ..LiveAccount::default()
        };
        let mut hist = history("api", vec![known("v1", "d1")]);
        if let Some(worker) = hist.workers.get_mut("api") {
            worker.applied_digest = Some("whole-1".into());
        }
        let mut head = desired(&[("api", "d1")]);
        if let Some(DesiredEntry::Ok(worker)) = head.workers.get_mut("api") {
            worker.digest = "whole-2".into();
        }
        let plan = plan(&head, None, &live, &hist, &Policies::default());
        assert_eq!(
            plan.workers[0].action,
            Action::UpdateSettings {
                fields: vec!["script_settings".into()]
            }
        );
    }
}
