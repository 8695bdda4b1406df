//! Every Worker's decision, dependencies first so that a Worker whose dependency is blocked is
//! held back (FS018), and the plan's steps in run order.

use std::collections::{BTreeMap, BTreeSet};

use crate::input::DesiredEntry;
use crate::model::{Action, Step, WorkerPlan};

use super::Request;
use super::outcome::Outcome;
use super::scope::Scope;
use super::worker_input::WorkerInput;
use super::{without_spec, worker};

/// The decisions so far, by Worker name.
pub(super) struct Decisions {
    pub plans: BTreeMap<String, WorkerPlan>,
    /// Each Worker's steps, and whether they are a rollback's (rollbacks run in rollback order).
    steps: BTreeMap<String, (bool, Vec<Step>)>,
}

/// Decide every Worker of `scope`, in its sequence (removed Workers last).
pub(super) fn all(request: &Request<'_>, scope: &Scope<'_>) -> Decisions {
    let mut blocked: BTreeSet<&str> = BTreeSet::new();
    let mut decisions = Decisions {
        plans: BTreeMap::new(),
        steps: BTreeMap::new(),
    };
    for &name in &scope.sequence {
        let dependencies = scope.dependencies(name);
        let blocked_dependencies: Vec<String> = dependencies
            .iter()
            .filter(|d| blocked.contains(d.as_str()))
            .cloned()
            .collect();
        let input = WorkerInput::new(request, scope, name, &blocked_dependencies);
        let Outcome {
            plan: mut worker_plan,
            steps,
        } = one(request, scope, input);
        worker_plan.depends_on = dependencies;
        if matches!(worker_plan.action, Action::Blocked { .. }) {
            blocked.insert(name);
        }
        // A move to a newer existing version runs in forward order, dependencies first.
        let is_rollback = worker_plan
            .action
            .rolls_back(request.live.workers.get(name));
        decisions
            .steps
            .insert(name.to_owned(), (is_rollback, steps));
        decisions.plans.insert(name.to_owned(), worker_plan);
    }
    decisions
}

fn one<'a>(request: &Request<'a>, scope: &Scope<'a>, input: WorkerInput<'a>) -> Outcome {
    if scope.removed.contains(input.name) {
        return without_spec::removed(&input);
    }
    match request.desired.workers.get(input.name) {
        Some(DesiredEntry::Ok(worker)) => worker::decide(input, worker),
        Some(DesiredEntry::Broken { error, .. }) => without_spec::broken(&input, error),
        None => without_spec::removed(&input),
    }
}

impl Decisions {
    /// Drop a Worker's steps (its action was changed to blocked).
    pub fn drop_steps(&mut self, name: &str) {
        self.steps.insert(name.to_owned(), (false, Vec::new()));
    }

    /// Every step: rollbacks in `rollback` order, then the rest in `deploy` order.
    pub fn steps(&self, rollback: &[String], deploy: &[String]) -> Vec<Step> {
        self.steps_of(rollback, true)
            .chain(self.steps_of(deploy, false))
            .cloned()
            .collect()
    }

    /// The steps of `names`, in that order, that are (or are not) a rollback's.
    fn steps_of<'s>(
        &'s self,
        names: &'s [String],
        rollbacks: bool,
    ) -> impl Iterator<Item = &'s Step> + 's {
        names
            .iter()
            .filter_map(|name| self.steps.get(name))
            .filter(move |(is_rollback, _)| *is_rollback == rollbacks)
            .flat_map(|(_, steps)| steps)
    }
}
