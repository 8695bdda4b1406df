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
//! [`Action::Removed`]: crate::model::Action::Removed
//! [`Action::Blocked`]: crate::model::Action::Blocked
//! [`Action::DeployForward`]: crate::model::Action::DeployForward
//! [`Action::InSync`]: crate::model::Action::InSync
//! [`Action::UpdateSettings`]: crate::model::Action::UpdateSettings
//! [`Action::Rollback`]: crate::model::Action::Rollback
//!
//! # Order
//!
//! Rollbacks run first, in reverse dependency order (entry points first; the dependencies of the
//! live versions count too, since the revert may remove the binding), then forward deploys and
//! settings updates, dependencies first. A rollback whose caller is blocked is held back (FS018).
//! See [`crate::order`].
//!
//! # Files
//!
//! - `scope.rs`: which Workers take part, their dependency graph and order.
//! - `decide.rs`: every Worker's decision, dependencies first; the steps in run order.
//! - `worker_input.rs` and `current.rs`: one Worker's inputs and what runs now.
//! - `worker.rs` and `case.rs`: which of decisions 3 to 6 applies to a Worker whose config
//!   loaded, and that Worker as they see it.
//! - `first_deploy.rs`, `in_sync.rs`, `candidate.rs`, `rollback.rs`, `forward.rs`: decisions 3 to 6.
//! - `without_spec.rs`: decisions 1 and 2 (removed from Git, broken config).
//! - `settings.rs`: which non-versioned settings a step applies.
//! - `rollback_order.rs` and `hold_back.rs`: rollbacks callers first, none under a blocked caller.
//! - `outcome.rs` and `reasons.rs`: a decision's value and the text pieces of its reason.

mod candidate;
mod case;
mod current;
mod decide;
mod first_deploy;
mod forward;
mod hold_back;
mod in_sync;
mod outcome;
mod reasons;
mod rollback;
mod rollback_order;
mod rollout;

pub use rollout::describe as describe_rollout;
mod scope;
mod settings;
mod without_spec;
mod worker;
mod worker_input;

#[cfg(test)]
mod tests;

use crate::input::{Desired, History, Policies};
use crate::live::LiveAccount;
use crate::model::{Order, Plan, WorkerPlan};

/// The planner's inputs, as one value.
#[derive(Debug, Clone, Copy)]
struct Request<'a> {
    desired: &'a Desired,
    base: Option<&'a Desired>,
    live: &'a LiveAccount,
    history: &'a History,
    policies: &'a Policies,
}

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
    let request = Request {
        desired,
        base,
        live,
        history,
        policies,
    };
    let scope = scope::Scope::of(&request);
    let mut decisions = decide::all(&request, &scope);
    let live_edges = rollback_order::live_edges(live);
    let rollback = rollback_order::order(&scope, &live_edges);
    hold_back::under_blocked_callers(&mut decisions, &rollback, &live_edges, live);
    let deploy = scope.ordering.deploy.clone();
    let steps = decisions.steps(&rollback, &deploy);
    let mut workers: Vec<WorkerPlan> = decisions.plans.into_values().collect();
    rollout::annotate(&mut workers, &steps, policies);
    Plan {
        commit: desired.commit.clone(),
        base_commit: base.map(|b| b.commit.clone()),
        live_observed: live.observed,
        live_note: None,
        workers,
        steps,
        order: Order {
            deploy,
            rollback,
            cycles: scope.ordering.cycles,
        },
    }
}
