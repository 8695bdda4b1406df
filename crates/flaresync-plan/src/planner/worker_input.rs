//! One Worker's inputs, gathered from the plan's inputs and what was decided before it, and the
//! rule [`Context`] and diff [`Before`] built from them.

use std::collections::BTreeSet;

use crate::diff::Before;
use crate::input::{DesiredEntry, DesiredWorker, Policy, WorkerHistory};
use crate::live::{LiveAccount, LiveResources};
use crate::rules::{Context, Subject};

use super::Request;
use super::current::Current;
use super::scope::Scope;

/// Per-Worker inputs shared by the decision functions.
#[derive(Debug, Clone, Copy)]
pub(super) struct WorkerInput<'a> {
    pub name: &'a str,
    pub policy: &'a Policy,
    pub live: &'a LiveAccount,
    pub history: &'a WorkerHistory,
    pub base: Option<(&'a str, &'a DesiredWorker)>,
    pub cycle: Option<&'a [String]>,
    pub known_scripts: Option<&'a BTreeSet<String>>,
    /// Dependencies (in this plan) whose own action is blocked.
    pub blocked_dependencies: &'a [String],
}

impl<'a> WorkerInput<'a> {
    pub fn new(
        request: &Request<'a>,
        scope: &'a Scope<'a>,
        name: &'a str,
        blocked_dependencies: &'a [String],
    ) -> Self {
        let base = request.base.and_then(|b| {
            b.workers
                .get(name)
                .and_then(DesiredEntry::worker)
                .map(|w| (b.commit.as_str(), w))
        });
        WorkerInput {
            name,
            policy: request.policies.for_worker(name),
            live: request.live,
            history: request.history.worker(name),
            base,
            cycle: scope.cycle_of(name),
            known_scripts: scope.known_scripts.as_ref(),
            blocked_dependencies,
        }
    }

    /// What the rules see when judging `subject` against `current`.
    pub fn context(&self, current: &Current<'a>, subject: Subject<'a>) -> Context<'a> {
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

    /// The "before" side of this Worker's diff.
    pub fn before(&self, current: &Current<'a>) -> Before<'a> {
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
