//! Rollbacks held back under a blocked caller (FS018): a caller that is blocked keeps running
//! its current (newer) code, so a callee must not roll back under it. Walking the rollback order
//! (callers first) carries that down a chain.

use std::collections::{BTreeMap, BTreeSet};

use crate::live::LiveAccount;
use crate::model::{Action, Finding, Severity, VersionRef, WorkerPlan};
use crate::rules::{DependencyBlocked, Rule};

use super::decide::Decisions;
use super::reasons::describe_ref;

/// Turn every rollback with a blocked caller into a blocked action without steps. A move to a
/// newer existing version goes forward (dependencies first) and is not held here.
pub(super) fn under_blocked_callers(
    decisions: &mut Decisions,
    rollback_order: &[String],
    live_edges: &BTreeMap<String, BTreeSet<String>>,
    live: &LiveAccount,
) {
    for name in rollback_order {
        let Some(worker_plan) = decisions.plans.get(name) else {
            continue;
        };
        let Action::Rollback { to, .. } = &worker_plan.action else {
            continue;
        };
        if !worker_plan.action.rolls_back(live.workers.get(name)) {
            continue;
        }
        let to = to.clone();
        let callers = blocked_callers(&decisions.plans, name, live_edges);
        if callers.is_empty() {
            continue;
        }
        if let Some(worker_plan) = decisions.plans.get_mut(name) {
            hold(worker_plan, to, &callers.join(", "));
        }
        decisions.drop_steps(name);
    }
}

/// The Workers that call `name` (in Git or live) and are blocked, as `` `name` ``.
fn blocked_callers(
    plans: &BTreeMap<String, WorkerPlan>,
    name: &str,
    live_edges: &BTreeMap<String, BTreeSet<String>>,
) -> Vec<String> {
    plans
        .values()
        .filter(|caller| {
            let calls = caller.depends_on.iter().any(|d| d == name)
                || live_edges
                    .get(&caller.name)
                    .is_some_and(|targets| targets.contains(name));
            calls && matches!(caller.action, Action::Blocked { .. })
        })
        .map(|caller| format!("`{}`", caller.name))
        .collect()
}

/// Block the rollback of `worker_plan` to `to` because of `callers`.
fn hold(worker_plan: &mut WorkerPlan, to: VersionRef, callers: &str) {
    let name = &worker_plan.name;
    let finding = Finding::new(
        DependencyBlocked.id(),
        Severity::Error,
        format!(
            "held back: {callers} uses it and is blocked, so it keeps running its current (newer) code; rolling `{name}` back to {} under it could break it",
            describe_ref(&to)
        ),
    )
    .with_hint(format!(
        "unblock {callers} first (see its findings); Workers roll back after the Workers that use them"
    ));
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
