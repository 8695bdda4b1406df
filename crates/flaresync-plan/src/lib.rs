//! flaresync's planner: desired state (Git) + live state (Cloudflare) + version history ->
//! [`Plan`], the rollback legality rules, diffs, and the plan's Markdown/JSON/text renderings.
//!
//! Pure: no I/O, no async, no clock. The CLI and the reconcile loop gather the inputs and carry
//! out [`Plan::steps`].
//!
//! # Usage
//!
//! ```no_run
//! use flaresync_plan::{Desired, History, LiveAccount, Policies, exit_code, plan, render_markdown};
//!
//! // Built by flaresync-git (desired state, history) and flaresync-cloudflare (live state).
//! let head = Desired::default();
//! let base: Option<Desired> = None;
//! let live = LiveAccount::unobserved();
//! let the_plan = plan(&head, base.as_ref(), &live, &History::default(), &Policies::default());
//! print!("{}", render_markdown(&the_plan));
//! std::process::exit(exit_code(&the_plan));
//! ```
//!
//! # Layout
//!
//! - [`live`]: what Cloudflare runs ([`LiveAccount`]).
//! - [`input`]: the desired state ([`Desired`]), version history ([`History`]) and
//!   [`Policies`].
//! - [`planner`]: [`plan`], the decision.
//! - [`mod@rules`]: the legality rules `FS001`… ([`rules()`], [`rule()`], [`explain`]).
//! - [`migrations`]: Durable Object migration arithmetic.
//! - [`order`]: multi-Worker dependency order.
//! - [`diff`]: bindings/vars/settings/modules diffs.
//! - [`model`]: the [`Plan`] value and [`exit_code`].
//! - [`render`]: [`render_markdown`], [`render_json`], [`render_text`].

pub mod diff;
pub mod input;
pub mod live;
pub mod migrations;
pub mod model;
pub mod order;
pub mod planner;
pub mod render;
pub mod rules;
#[cfg(test)]
mod test_support;

pub use input::{
    DeclaredTriggers, Desired, DesiredEntry, DesiredWorker, History, KnownVersion, Policies,
    Policy, RollbackPolicy, WorkerHistory,
};
pub use live::{
    DeploymentVersion, LiveAccount, LiveDeployment, LiveResources, LiveVersion, LiveWorker,
    R2Bucket,
};
pub use model::{
    Action, DeployTarget, Finding, MigrationsPayload, Order, Plan, RolloutPlan, ScriptUploadReason,
    Severity, Step, UploadMode, VersionRef, WorkerPlan, exit_code,
};
pub use planner::plan;
pub use render::{render_json, render_markdown, render_text};
pub use rules::{Rule, explain, rule, rules};
