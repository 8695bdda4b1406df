//! One reconcile pass: Git head -> live state -> plan -> apply -> verify -> journal -> status.
//!
//! The stages live in their own files: [`source`] (Git), [`live`] (the cached observation,
//! through [`crate::observe`]), [`recover`] (interrupted intents), [`decide`] (drift, holds,
//! blocked), [`apply`] (steps, deploys, the restore after a failed health check), [`summarize`]
//! (status and metrics; conditions in [`crate::conditions`]). Every stage takes the pass's
//! inputs as one [`PassInput`].
//!
//! # Expected flow
//!
//! 1. **Source.** Fetch the branch (remote) or re-read it (local) and compute the desired state
//!    at the head with the git layer's incremental cache (blocking work, off the async threads).
//! 2. **Recover.** Once per process: journal intents without an outcome (a crash between an
//!    API write and its outcome entry) are resolved against Cloudflare by version tag and the
//!    active deployment, and their outcome is recorded.
//! 3. **Live, in O(1) calls.** One `GET …/workers/scripts` per pass. Only Workers whose script
//!    fingerprint (etag, modified_on, migration_tag) or desired digest changed since the last
//!    pass are refreshed (deployments, deployable versions, secrets, the active and candidate
//!    versions in full); the others reuse the cached live state.
//! 4. **History.** Which version holds which commit is rebuilt from version tags and Git (never
//!    trusted from local state alone); what flaresync last applied comes from the journal.
//! 5. **Plan** with the pure planner, then per Worker: drift (policy `report` holds the Worker,
//!    `heal` lets the plan restore Git's version), health-check rejections, blocked findings.
//! 6. **Apply** the planner's steps in its order (rollbacks first, in the budget's rollback
//!    lane). Every write is preceded by a journal intent (`started`) and followed by its
//!    outcome. At each Worker boundary, when the loop saw a new request, a newer commit that
//!    rolls a Worker back pre-empts the rest of the pass ([`preempt`]).
//! 7. **Health check** after a Worker's deploy or rollback; on failure the previous version is
//!    deployed again and the commit is recorded as rejected until Git changes.
//! 8. **Summarize** (always): status conditions, metrics, the report.
//!
//! # Guarantees
//!
//! - No duplicate versions: uploads carry the head commit in `workers/tag`; a version already
//!   carrying the desired content is found through the history and deployed instead of
//!   uploaded again, and the client re-checks by tag before repeating an upload.
//! - Writes happen only for Workers whose plan action mutates something.
//! - A dry run performs no write, journal entry included.

mod apply;
mod commit_hold;
mod context;
mod decide;
mod live;
mod memory;
mod preempt;
mod record;
mod record_store;
mod recover;
mod refresh_slice;
mod report;
mod revert;
mod rollout;
mod rollout_abort;
mod rollout_command;
mod source;
mod summarize;

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
};

use flaresync_cloudflare::Script;
use flaresync_config::WorkerPolicy;
use flaresync_git::{DesiredState, HeadUpdateKind};
use flaresync_journal::Trigger;
use flaresync_plan::{
    Action as PlanAction, Desired, History, LiveAccount, LiveResources, Plan, WorkerHistory,
};
use tokio::time::Instant;
use tracing::{debug, error, info};

pub use context::{Context, ContextOptions};
pub use report::{ReportedError, SyncOptions, SyncReport, WorkerOutcome, WorkerReport};
pub use source::LAST_GOOD_NAME_DEPTH;

use self::{memory::Memory, source::SourceRead};
use crate::{
    convert,
    error::Error,
    metrics::Metrics,
    observe::fetch_resources,
    policy::Class,
    runner::{PassOutcome, Reconciler, Scope},
    server::ApiSnapshotFn,
    status::{StatusBoard, now_rfc3339},
    trigger::TriggerSource,
};

/// What every stage of one pass reads: the context, the head and its desired state, why the
/// pass runs and over which Workers.
pub(super) struct PassInput<'a> {
    pub ctx: &'a Context,
    pub source: &'a SourceRead,
    /// Git's desired state at the head, restricted to the account.
    pub desired: &'a Desired,
    /// The journal's record of why the pass runs.
    pub trigger: Trigger,
    pub opts: SyncOptions,
    pub scope: &'a Scope,
    /// The account's zones, listed at most once in this pass (routes).
    pub zones: apply::ZoneCache,
}

impl PassInput<'_> {
    /// Full id of the head commit.
    pub fn head(&self) -> &str {
        &self.source.head_commit
    }

    pub fn policy(&self, worker: &str) -> Option<&WorkerPolicy> {
        policy_of(&self.source.state, worker)
    }
}

/// Runs one reconcile pass over every Worker.
///
/// # Errors
///
/// Pass-level failures only: the repository or the scripts listing could not be read, or the
/// journal failed. Per-Worker failures are in [`SyncReport::workers`].
pub async fn sync_once(ctx: &Context, opts: SyncOptions) -> Result<SyncReport, Error> {
    sync_scoped(ctx, opts, &Scope::All).await
}

/// [`sync_once`] limited to `scope` (live state of the others is still read for planning).
pub async fn sync_scoped(
    ctx: &Context,
    opts: SyncOptions,
    scope: &Scope,
) -> Result<SyncReport, Error> {
    sync_scoped_by(ctx, opts, scope, None).await
}

/// [`sync_scoped`] naming who asked (a webhook's pusher), for the journal.
pub async fn sync_scoped_by(
    ctx: &Context,
    opts: SyncOptions,
    scope: &Scope,
    asked_by: Option<&str>,
) -> Result<SyncReport, Error> {
    let mut memory = ctx.memory.lock().await;
    let started = Instant::now();
    let requests_before = ctx.client.metrics().requests_sum();
    let span = tracing::info_span!("reconcile", trigger = %opts.trigger, dry_run = opts.dry_run);
    let result =
        tracing::Instrument::instrument(pass(ctx, &mut memory, opts, scope, asked_by), span).await;
    ctx.metrics.observe_duration(started.elapsed());
    match result {
        Ok(mut report) => {
            report.api_requests = ctx
                .client
                .metrics()
                .requests_sum()
                .saturating_sub(requests_before);
            ctx.notify(&report);
            let eventful = report.head != "unchanged"
                || report
                    .workers
                    .iter()
                    .any(|w| !matches!(w.outcome, WorkerOutcome::InSync));
            if eventful {
                info!(
                    commit = %short(&report.commit),
                    workers = report.workers.len(),
                    api_requests = report.api_requests,
                    dry_run = opts.dry_run,
                    "Reconcile pass done."
                );
            } else {
                debug!(
                    commit = %short(&report.commit),
                    workers = report.workers.len(),
                    api_requests = report.api_requests,
                    "Reconcile pass done; everything in sync."
                );
            }
            Ok(report)
        }
        Err(error) => {
            ctx.metrics.record_error(error.reason());
            ctx.status.record_pass_error(
                error.reason().as_str(),
                &error.to_string(),
                &now_rfc3339(),
            );
            error!(error = %error, reason = %error.reason(), "Reconcile pass failed.");
            Err(error)
        }
    }
}

async fn pass(
    ctx: &Context,
    memory: &mut Memory,
    opts: SyncOptions,
    scope: &Scope,
    asked_by: Option<&str>,
) -> Result<SyncReport, Error> {
    // 1. Source. (The pass reads the head itself: a note of a newer one is taken care of, and
    //    so is a note of an aborted rollout: this pass reads the journal's commands.)
    ctx.take_newer_head();
    ctx.take_rollout_aborts();
    let source = source::read_source(ctx.git.clone()).await?;
    let desired = desired_state(ctx, memory, &source);
    debug!(commit = %short(&source.head_commit), workers = desired.workers.len(), head = ?source.head, "Desired state read.");

    // 2. Recover intents of an earlier, interrupted run.
    let recovered_notes = if !opts.dry_run && !memory.intents_recovered {
        let notes = recover::recover_intents(ctx).await?;
        memory.intents_recovered = true;
        // Journal state changed: reload lazily.
        memory.applied.clear();
        notes
    } else {
        BTreeMap::new()
    };

    // 3. Live state: one listing call, then only what changed.
    let scripts: BTreeMap<String, Script> = ctx
        .client
        .list_scripts()
        .await
        .map_err(|e| Error::api("listing worker scripts", e))?
        .into_iter()
        .map(|script| (script.id.clone(), script))
        .collect();
    let names = memory::observed_names(ctx, memory, &desired, &scripts)?;
    record_store::load(ctx, memory, &names, &scripts, &desired).await;
    let refreshed = live::refresh(ctx, memory, &names, &scripts, &desired).await?;

    let input = PassInput {
        ctx,
        source: &source,
        desired: &desired,
        trigger: Trigger::new(
            opts.trigger.journal_kind(),
            Some(&actor(
                &source.actor,
                opts.trigger,
                ctx.options.operator.as_deref(),
                asked_by,
            )),
        ),
        opts,
        scope,
        zones: apply::ZoneCache::default(),
    };
    // 4-5. History and plan.
    let plan = plan_pass(&input, memory, &names, &scripts, &refreshed).await;

    // 6. Per-Worker decisions before applying.
    let (mut reports, mut hold) =
        decide::decide(&input, memory, &plan, refreshed.errors, recovered_notes)?;

    // 7. Rollouts in progress take their next step (their Workers are held from the plan),
    //    then apply, in the planner's order.
    if !opts.dry_run {
        let writes_before = ctx.client.metrics().writes_sum();
        let gradual = rollout::stage(&input, memory, &plan, &mut hold, &mut reports).await?;
        apply::apply(&input, memory, &plan, &hold, &gradual, &mut reports).await?;
        // A pass that wrote nothing saw Cloudflare as the listing shows it: record that.
        if ctx.client.metrics().writes_sum() == writes_before {
            record_store::store(ctx, memory, &scripts).await;
        }
    }

    // 8. Summarize.
    Ok(finish(&input, plan, reports))
}

/// Git's desired state at the head, with broken configs keeping their Worker's last good name
/// and Workers of other accounts left out; `flaresync.toml` at the head takes effect.
fn desired_state(ctx: &Context, memory: &mut Memory, source: &SourceRead) -> Desired {
    {
        let mut config = ctx
            .repo_config
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *config = source.state.repo_config.clone();
    }
    for (dir, result) in &source.state.workers {
        if let Ok(loaded) = result.as_ref() {
            memory
                .dir_names
                .insert(dir.clone(), loaded.spec.name.clone());
        }
    }
    for (dir, name) in &source.last_good_names {
        memory
            .dir_names
            .entry(dir.clone())
            .or_insert_with(|| name.clone());
    }
    let mut desired = convert::desired(&source.state, &memory.dir_names);
    convert::restrict_to_account(&mut desired, &source.state, ctx.client.account_id());
    desired
}

/// The live account and history from memory, then the pure planner.
async fn plan_pass(
    input: &PassInput<'_>,
    memory: &Memory,
    names: &BTreeSet<String>,
    scripts: &BTreeMap<String, Script>,
    refreshed: &live::Refreshed,
) -> Plan {
    let ctx = input.ctx;
    // Resources: only when something changed, or (below) when the plan is not idle: they
    // matter only to Workers whose version changes or is blocked.
    let resources = if refreshed.any {
        fetch_resources(&ctx.client, input.desired).await
    } else {
        LiveResources::default()
    };
    let mut live = LiveAccount {
        observed: true,
        workers: BTreeMap::new(),
        resources,
        scripts: Some(scripts.keys().cloned().collect()),
    };
    let mut history = History::default();
    for name in names {
        if let Some(cached) = memory.workers.get(name) {
            live.workers.insert(name.clone(), cached.live.clone());
            history.workers.insert(
                name.clone(),
                WorkerHistory {
                    versions: cached.known.clone(),
                    applied_digest: memory.applied.get(name).and_then(|a| a.digest.clone()),
                },
            );
        }
    }
    // Workers whose live state could not be read must not be planned as missing: drop them
    // from the desired state for this pass (they are reported as failed).
    let mut planned_desired: Desired = input.desired.clone();
    for name in refreshed.errors.keys() {
        planned_desired.workers.remove(name);
    }
    let policies = convert::policies(&input.source.state);
    let plan = flaresync_plan::plan(&planned_desired, None, &live, &history, &policies);
    if refreshed.any || !plan_needs_resources(&plan) {
        return plan;
    }
    // Nothing changed since the last pass but a Worker still wants to change (or is blocked):
    // unknown resources would skip FS004 and let a rollback to a version bound to a deleted
    // resource through. Plan again with them.
    live.resources = fetch_resources(&ctx.client, input.desired).await;
    flaresync_plan::plan(&planned_desired, None, &live, &history, &policies)
}

/// Status, metrics and the report, whatever happened.
fn finish(
    input: &PassInput<'_>,
    plan: Plan,
    reports: BTreeMap<String, WorkerReport>,
) -> SyncReport {
    let ctx = input.ctx;
    let head = input.head().to_owned();
    let at = now_rfc3339();
    for report in reports.values() {
        summarize::summarize(ctx, report, &at, input.opts.dry_run);
    }
    let head_text = match input.source.head {
        HeadUpdateKind::Unchanged => "unchanged",
        HeadUpdateKind::Rewritten => "rewritten",
        _ => "moved",
    };
    ctx.status.record_pass(&ctx.branch, Some(&head), &at);
    let known: BTreeSet<String> = reports.keys().cloned().collect();
    ctx.status.retain_workers(|name| known.contains(name));
    SyncReport {
        branch: ctx.branch.clone(),
        commit: head,
        head: head_text.to_owned(),
        dry_run: input.opts.dry_run,
        plan,
        workers: reports.into_values().collect(),
        api_requests: 0,
        actor: input.trigger.actor.clone(),
    }
}

/// Whether a plan has a Worker whose version would change or is blocked: its legality may
/// depend on which KV namespaces, R2 buckets, D1 databases and queues exist.
fn plan_needs_resources(plan: &Plan) -> bool {
    plan.workers.iter().any(|worker| {
        matches!(
            worker.action,
            PlanAction::DeployForward { .. }
                | PlanAction::Rollback { .. }
                | PlanAction::Blocked { .. }
        )
    })
}

/// Who the journal names for a pass's actions: the head commit's author (and committer), and
/// for a CLI run also the operator who ran it. The trigger's own word on who asked (a webhook's
/// pusher) comes last.
fn actor(
    commit_actor: &str,
    trigger: TriggerSource,
    operator: Option<&str>,
    asked_by: Option<&str>,
) -> String {
    let mut actor = commit_actor.to_owned();
    if matches!(trigger, TriggerSource::Cli)
        && let Some(operator) = operator
    {
        actor.push_str(&format!("; run by {operator}"));
    }
    if let Some(asked_by) = asked_by {
        actor.push_str(&format!("; {asked_by}"));
    }
    actor
}

/// The short form of a commit id, as logs and messages show it.
pub(crate) fn short(commit: &str) -> &str {
    commit.get(..7).unwrap_or(commit)
}

fn policy_of<'a>(state: &'a DesiredState, worker: &str) -> Option<&'a WorkerPolicy> {
    state.worker(worker).map(|loaded| &loaded.policy)
}

impl Reconciler for Context {
    async fn reconcile(
        self: Arc<Self>,
        scope: Scope,
        source: TriggerSource,
    ) -> Result<PassOutcome, Class> {
        self.reconcile_by(scope, source, None).await
    }

    async fn reconcile_by(
        self: Arc<Self>,
        scope: Scope,
        source: TriggerSource,
        actor: Option<String>,
    ) -> Result<PassOutcome, Class> {
        let options = SyncOptions {
            dry_run: false,
            trigger: source,
        };
        match sync_scoped_by(&self, options, &scope, actor.as_deref()).await {
            Ok(report) => {
                let mut outcome = PassOutcome::default();
                for worker in report.workers {
                    if !scope.includes(&worker.worker) {
                        // Not reconciled in this pass: its backoff state stays as it is.
                        continue;
                    }
                    if let Some(after) = worker.requeue_after {
                        outcome.requeue.push((worker.worker.clone(), after));
                    }
                    if let Some(blocker) = worker.deferred_by.clone() {
                        outcome.deferred.push((worker.worker.clone(), blocker));
                    }
                    match worker.class {
                        Some(class) => outcome.failed.push((worker.worker, class)),
                        None => outcome.succeeded.push(worker.worker),
                    }
                }
                Ok(outcome)
            }
            Err(error) => Err(error.class()),
        }
    }

    fn note_request(&self, request: &crate::trigger::ReconcileRequest) {
        if request.target == crate::trigger::Target::All {
            self.note_newer_head();
        }
    }

    fn status(&self) -> Arc<StatusBoard> {
        self.status.clone()
    }

    fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    fn api_snapshot(&self) -> ApiSnapshotFn {
        let client = self.client.clone();
        Arc::new(move || context::api_snapshot(&client))
    }

    fn rollout_control(self: &Arc<Self>) -> Option<crate::server::RolloutControlFn> {
        let ctx = self.clone();
        Some(Arc::new(
            move |command, worker: Option<&str>, actor: &str| {
                ctx.rollout_command(command, worker, actor)
                    .map_err(|error| error.to_string())
            },
        ))
    }
}

/// Runs the reconcile loop for `ctx` until `shutdown` completes (see [`crate::runner`]).
///
/// # Errors
///
/// Only setup failures of the loop (watcher, signal handler).
pub async fn run(
    ctx: Arc<Context>,
    config: crate::runner::RunConfig,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), Error> {
    let mut config = config;
    // flaresync's own journal writes must never trigger a reconcile.
    if let Some(watch) = config.watch.as_mut()
        && let Some(path) = ctx.journal.path()
    {
        watch.ignore.push(path.to_owned());
    }
    crate::runner::run_with(ctx, config, crate::trigger::channel(), shutdown)
        .await
        .map_err(Error::Run)
}

/// The planner's minimal Worker as Git's desired state (unit tests of the pass's stages).
#[cfg(test)]
pub(crate) fn minimal_desired() -> flaresync_plan::DesiredWorker {
    let spec: flaresync_config::WorkerSpec = serde_json::from_str(include_str!(
        "../../../flaresync-plan/tests/fixtures/minimal_spec.json"
    ))
    .expect("the minimal spec");
    flaresync_plan::DesiredWorker {
        digest: spec.digest(),
        version_digest: spec.version_digest(),
        spec,
        dependencies: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_actor_names_the_commit_and_whoever_asked() {
        let commit = "Alice <a@x>, committed by Carl <c@x>";
        assert_eq!(
            actor(commit, TriggerSource::Poll, Some("op@h"), None),
            commit
        );
        assert_eq!(
            actor(
                commit,
                TriggerSource::Webhook,
                None,
                Some("pushed by octocat")
            ),
            format!("{commit}; pushed by octocat")
        );
        assert_eq!(
            actor(commit, TriggerSource::Cli, Some("op@h"), None),
            format!("{commit}; run by op@h")
        );
        assert_eq!(actor(commit, TriggerSource::Cli, None, None), commit);
    }
}
