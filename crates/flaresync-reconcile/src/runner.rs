//! The long-running loop: triggers in, scheduled passes out.
//!
//! # Expected flow
//!
//! 1. Triggers (startup, file system, poll ticks, webhook, `POST /reconcile`, SIGHUP) send
//!    [`ReconcileRequest`]s on one channel. None of them reconciles anything itself.
//! 2. The [`Scheduler`] dedupes and debounces requests per [`Target`].
//! 3. When keys are ready and no pass is running, one pass runs for their union
//!    (`All` wins over single Workers). Because at most one pass is in flight, at most one
//!    reconcile per Worker runs at a time; requests that arrive meanwhile wait for the next pass
//!    and are shown to the reconciler ([`Reconciler::note_request`]): a newer commit that rolls
//!    a Worker back ends the pass in flight at its next Worker boundary, so the next pass, which
//!    runs rollbacks first, starts at once.
//! 4. After the pass, each failed Worker is requeued by the pure [`error_policy`] (Stalled:
//!    never on a timer; Waiting: after the server's delay; Transient: exponential backoff).
//!    A repository-level trigger (new commit, poll tick, manual) retries every Worker.
//!
//! # Shutdown
//!
//! When `shutdown` completes the loop stops taking requests, stops the triggers and the status
//! server, and waits up to `grace` for an in-flight pass. A pass still running after that is
//! aborted: every write is journaled as an intent first and uploads are idempotent by version
//! tag, so the next start finishes or cleans up what the aborted pass left.

use std::{
    collections::BTreeMap, collections::BTreeSet, future::Future, sync::Arc, time::Duration,
};

use tokio::{task::JoinHandle, time::Instant};
use tracing::{debug, info, warn};

use crate::{
    metrics::Metrics,
    policy::{BackoffConfig, Class, FailureState, error_policy},
    scheduler::Scheduler,
    server::{self, AdminToken, ApiSnapshotFn, Endpoints, ServerState, WebhookConfig},
    status::StatusBoard,
    trigger::{self, ReconcileRequest, Target, TriggerSender, TriggerSource},
    watcher::{self, RepoWatcher, WatchConfig},
};

/// Which Workers one pass covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    All,
    Workers(BTreeSet<String>),
}

impl Scope {
    pub fn includes(&self, worker: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Workers(workers) => workers.contains(worker),
        }
    }

    /// The scope covering every key in `targets`.
    pub fn from_targets(targets: &[Target]) -> Scope {
        if targets.contains(&Target::All) {
            return Scope::All;
        }
        Scope::Workers(
            targets
                .iter()
                .filter_map(|t| match t {
                    Target::Worker(name) => Some(name.clone()),
                    Target::All => None,
                })
                .collect(),
        )
    }
}

/// What a pass reports back to the loop.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassOutcome {
    /// Workers whose reconcile succeeded (or had nothing to do).
    pub succeeded: Vec<String>,
    /// Workers whose reconcile failed, with the class that decides the requeue.
    pub failed: Vec<(String, Class)>,
    /// `(worker, blocker)`: Workers not applied because another Worker held them back (a
    /// dependency that did not deploy first, a caller that did not roll back first). The loop
    /// runs them again as soon as a later pass reconciles the blocker, instead of waiting for
    /// the next change.
    pub deferred: Vec<(String, String)>,
    /// `(worker, after)`: Workers to reconcile again after a delay whatever happens meanwhile
    /// (a progressive rollout's next analysis or step).
    pub requeue: Vec<(String, Duration)>,
}

/// The reconciler the loop drives. [`crate::Context`] is the real one; tests plug in fakes.
pub trait Reconciler: Send + Sync + 'static {
    /// Runs one pass over `scope`. `Err` means the pass as a whole failed (the repository or
    /// the scripts listing could not be read): every key of the pass is requeued by class.
    fn reconcile(
        self: Arc<Self>,
        scope: Scope,
        source: TriggerSource,
    ) -> impl Future<Output = Result<PassOutcome, Class>> + Send + 'static;

    /// [`Reconciler::reconcile`], naming who asked (a webhook's pusher) when the trigger knows.
    fn reconcile_by(
        self: Arc<Self>,
        scope: Scope,
        source: TriggerSource,
        actor: Option<String>,
    ) -> impl Future<Output = Result<PassOutcome, Class>> + Send + 'static {
        let _ = actor;
        self.reconcile(scope, source)
    }

    /// A request arrived while a pass is in flight (it runs after that pass). A reconciler
    /// may use it to cut the pass short; the default ignores it.
    fn note_request(&self, request: &ReconcileRequest) {
        let _ = request;
    }

    /// Shared state the status server publishes.
    fn status(&self) -> Arc<StatusBoard>;
    fn metrics(&self) -> Arc<Metrics>;
    fn api_snapshot(&self) -> ApiSnapshotFn;
    /// Records operator rollout commands (`POST /rollout/<command>`); `None`: not supported.
    fn rollout_control(self: &Arc<Self>) -> Option<server::RolloutControlFn> {
        None
    }
}

/// Settings of [`run`](crate::run).
#[derive(Debug)]
pub struct RunConfig {
    /// Fetch/resync interval: each tick requests a pass over every Worker (a remote is fetched,
    /// a local repository re-read). `None`: no periodic pass (rely on watch/webhook/manual).
    pub poll_interval: Option<Duration>,
    /// Debounce window of the scheduler (quiet period; a burst is capped at
    /// [`BURST_CAP_FACTOR`](crate::scheduler::BURST_CAP_FACTOR) windows).
    pub debounce: Duration,
    /// Watch a local repository for changes.
    pub watch: Option<WatchConfig>,
    /// The status server's listener (bind loopback, or port 0 in tests); `None`: no server.
    pub status_listener: Option<tokio::net::TcpListener>,
    /// Enables `POST /webhook`.
    pub webhook: Option<WebhookConfig>,
    /// A listener of its own serving `POST /webhook` only (the status server serves it too).
    pub webhook_listener: Option<tokio::net::TcpListener>,
    /// Enables the mutating endpoints (`POST /reconcile`) for this bearer token.
    pub admin_token: Option<AdminToken>,
    /// Who may read the status page at `/` (default `auto`: public on loopback only).
    pub page_access: server::PageAccess,
    /// How long shutdown waits for an in-flight pass before abandoning it.
    pub shutdown_grace: Duration,
    pub backoff: BackoffConfig,
    /// Treat SIGHUP as a manual trigger (unix only).
    pub reconcile_on_sighup: bool,
    /// Called after each pass ends (the binary hands the memory the pass freed back to the OS).
    pub after_pass: Option<fn()>,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            poll_interval: Some(Duration::from_secs(60)),
            debounce: Duration::from_millis(50),
            watch: None,
            status_listener: None,
            webhook: None,
            webhook_listener: None,
            admin_token: None,
            page_access: server::PageAccess::Auto,
            shutdown_grace: Duration::from_secs(30),
            backoff: BackoffConfig::default(),
            reconcile_on_sighup: true,
            after_pass: None,
        }
    }
}

/// Errors that stop the loop itself (per-Worker failures never do).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The file-system watcher could not start.
    #[error(transparent)]
    Watch(#[from] watcher::Error),
    /// The SIGHUP handler could not be installed.
    #[error("cannot install the SIGHUP handler: {0}")]
    Signal(#[source] std::io::Error),
}

type PassHandle = JoinHandle<Result<PassOutcome, Class>>;

struct InFlight {
    handle: PassHandle,
    keys: Vec<Target>,
    started: Instant,
}

/// Runs the loop with any [`Reconciler`] until `shutdown` completes. `channel` is the request
/// channel (from [`trigger::channel`]); keep a sender clone to inject requests yourself.
///
/// # Errors
///
/// Only setup failures (watcher, signal handler); reconcile failures are requeued and reported
/// through status and metrics.
pub async fn run_with<R: Reconciler>(
    reconciler: Arc<R>,
    config: RunConfig,
    channel: (TriggerSender, trigger::TriggerReceiver),
    shutdown: impl Future<Output = ()>,
) -> Result<(), RunError> {
    let (sender, mut requests) = channel;
    let mut config = config;
    let listeners = Listeners {
        status: config.status_listener.take(),
        webhook: config.webhook_listener.take(),
    };
    let background = Background::start(&reconciler, &config, listeners, &sender)?;
    let grace = config.shutdown_grace;

    // The first pass runs at once.
    let _ = sender.send(ReconcileRequest::all(TriggerSource::Startup));

    let mut scheduler: Scheduler<Target> = Scheduler::new(config.debounce);
    let mut failures: BTreeMap<Target, FailureState> = BTreeMap::new();
    let mut deferred: BTreeMap<String, String> = BTreeMap::new();
    let mut sources: BTreeMap<Target, (TriggerSource, Option<String>)> = BTreeMap::new();
    let mut in_flight: Option<InFlight> = None;
    tokio::pin!(shutdown);

    loop {
        let wakeup = if in_flight.is_none() {
            scheduler.next_wakeup()
        } else {
            None
        };
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            request = requests.recv() => {
                // `sender` lives in this function, so the channel never closes here.
                if let Some(request) = request {
                    debug!(target_workers = ?request.target, source = %request.source, "Reconcile requested.");
                    if in_flight.is_some() {
                        reconciler.note_request(&request);
                    }
                    sources
                        .entry(request.target.clone())
                        .or_insert((request.source, request.actor));
                    scheduler.request(request.target, Instant::now());
                }
            }
            result = async {
                match in_flight.as_mut() {
                    Some(flight) => (&mut flight.handle).await,
                    None => std::future::pending().await,
                }
            }, if in_flight.is_some() => {
                if let Some(flight) = in_flight.take() {
                    settle(&mut scheduler, &mut failures, &mut deferred, &config.backoff, flight, result);
                }
                if let Some(after_pass) = config.after_pass {
                    after_pass();
                }
            }
            () = sleep_until_opt(wakeup), if wakeup.is_some() => {
                let keys = scheduler.pop_ready(Instant::now());
                if keys.is_empty() {
                    continue;
                }
                let scope = Scope::from_targets(&keys);
                let (source, actor) = take_sources(&mut sources, &keys);
                debug!(scope = ?scope, source = %source, "Starting reconcile pass.");
                let handle = tokio::spawn(reconciler.clone().reconcile_by(scope, source, actor));
                in_flight = Some(InFlight { handle, keys, started: Instant::now() });
            }
        }
    }

    info!("Shutting down: no new reconciles are started.");
    scheduler.clear_pending();
    background.stop(grace, in_flight).await;
    info!("Shut down.");
    Ok(())
}

/// The trigger and actor of a pass over `keys`, taken out of `sources` for every key so that
/// none is left to mislabel a later pass: the first key's trigger (`Requeue` when none asked),
/// and every distinct actor who asked.
fn take_sources(
    sources: &mut BTreeMap<Target, (TriggerSource, Option<String>)>,
    keys: &[Target],
) -> (TriggerSource, Option<String>) {
    let taken: Vec<(TriggerSource, Option<String>)> =
        keys.iter().filter_map(|key| sources.remove(key)).collect();
    let source = taken
        .first()
        .map_or(TriggerSource::Requeue, |(source, _)| *source);
    let mut actors: Vec<&str> = Vec::new();
    for actor in taken.iter().filter_map(|(_, actor)| actor.as_deref()) {
        if !actors.contains(&actor) {
            actors.push(actor);
        }
    }
    let actor = (!actors.is_empty()).then(|| actors.join(", "));
    (source, actor)
}

/// The listeners taken out of [`RunConfig`].
struct Listeners {
    status: Option<tokio::net::TcpListener>,
    webhook: Option<tokio::net::TcpListener>,
}

type ServerHandle = JoinHandle<std::io::Result<()>>;

/// What runs beside the loop: the file-system watcher, the SIGHUP handler, the poller, the
/// status server and the webhook listener, all stopped by one signal.
struct Background {
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    watcher: Option<RepoWatcher>,
    servers: Vec<ServerHandle>,
}

impl Background {
    fn start<R: Reconciler>(
        reconciler: &Arc<R>,
        config: &RunConfig,
        listeners: Listeners,
        sender: &TriggerSender,
    ) -> Result<Self, RunError> {
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let mut tasks: Vec<JoinHandle<()>> = Vec::new();
        let watcher = match config.watch.clone() {
            Some(watch) => Some(RepoWatcher::spawn(watch, sender.clone())?),
            None => None,
        };
        if config.reconcile_on_sighup {
            tasks.push(spawn_sighup(sender.clone(), stop_rx.clone())?);
        }
        if let Some(interval) = config.poll_interval {
            tasks.push(spawn_poller(interval, sender.clone(), stop_rx.clone()));
        }
        let state = ServerState {
            status: reconciler.status(),
            metrics: reconciler.metrics(),
            api_snapshot: reconciler.api_snapshot(),
            triggers: sender.clone(),
            webhook: config.webhook.clone(),
            admin_token: config.admin_token.clone(),
            rollout_control: reconciler.rollout_control(),
            page_access: config.page_access,
        };
        let stopped = || {
            let mut stop = stop_rx.clone();
            async move {
                let _ = stop.wait_for(|stopped| *stopped).await;
            }
        };
        let mut servers = Vec::new();
        let endpoints = [
            (Endpoints::All, listeners.status),
            (Endpoints::WebhookOnly, listeners.webhook),
        ];
        for (endpoints, listener) in endpoints {
            if let Some(listener) = listener {
                let serve = server::serve_endpoints(endpoints, listener, state.clone(), stopped());
                servers.push(tokio::spawn(serve));
            }
        }
        Ok(Background {
            stop,
            tasks,
            watcher,
            servers,
        })
    }

    /// Stops everything: waits up to `grace` for the pass in flight (then abandons it: the
    /// journal lets the next start resume it) and for the status server.
    async fn stop(self, grace: Duration, in_flight: Option<InFlight>) {
        let _ = self.stop.send(true);
        if let Some(mut flight) = in_flight {
            match tokio::time::timeout(grace, &mut flight.handle).await {
                Ok(_) => info!("In-flight reconcile finished before shutdown."),
                Err(_) => {
                    flight.handle.abort();
                    warn!(
                        grace_seconds = grace.as_secs(),
                        "Abandoned the in-flight reconcile after the grace period; the journal lets the next start resume it."
                    );
                }
            }
        }
        for task in self.tasks {
            task.abort();
        }
        if let Some(watcher) = self.watcher {
            // Joining the watcher thread blocks briefly; keep it off the async workers.
            let _ = tokio::task::spawn_blocking(move || watcher.stop()).await;
        }
        for server in self.servers {
            match tokio::time::timeout(grace, server).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(error))) => warn!(error = %error, "Status server stopped with an error."),
                Ok(Err(error)) => warn!(error = %error, "Status server task failed."),
                Err(_) => warn!("Status server did not stop within the grace period."),
            }
        }
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Applies a finished pass to the scheduler: release its keys and requeue failures.
fn settle(
    scheduler: &mut Scheduler<Target>,
    failures: &mut BTreeMap<Target, FailureState>,
    deferred: &mut BTreeMap<String, String>,
    backoff: &BackoffConfig,
    flight: InFlight,
    result: Result<Result<PassOutcome, Class>, tokio::task::JoinError>,
) {
    let now = Instant::now();
    for key in &flight.keys {
        scheduler.finish(key);
    }
    let elapsed = now.saturating_duration_since(flight.started);
    let mut to_request: Vec<String> = Vec::new();
    let mut requeue = |key: Target,
                       class: &Class,
                       failures: &mut BTreeMap<Target, FailureState>| {
        let attempt = failures
            .entry(key.clone())
            .or_default()
            .record_failure(now, backoff);
        let action = error_policy(class, attempt, jitter(), backoff);
        match action.requeue_after {
            Some(after) => {
                debug!(target_workers = ?key, reason = %class.reason(), after_ms = after.as_millis() as u64, "Requeued.");
                scheduler.request(key, now + after);
            }
            None => {
                debug!(target_workers = ?key, reason = %class.reason(), "Stalled; waiting for a change.")
            }
        }
    };
    match result {
        Ok(Ok(outcome)) => {
            debug!(
                elapsed_ms = elapsed.as_millis() as u64,
                failed = outcome.failed.len(),
                "Reconcile pass finished."
            );
            failures.remove(&Target::All);
            // Workers held back by a Worker this pass reconciled run again now (those held
            // back in this very pass wait for a later one).
            let released: Vec<String> = deferred
                .iter()
                .filter(|(_, blocker)| {
                    outcome.succeeded.contains(blocker)
                        && !outcome.deferred.iter().any(|(held, _)| held == *blocker)
                })
                .map(|(worker, _)| worker.clone())
                .collect();
            for worker in &released {
                deferred.remove(worker);
            }
            to_request = released;
            for worker in outcome.succeeded {
                failures.remove(&Target::Worker(worker));
            }
            for (worker, class) in outcome.failed {
                requeue(Target::Worker(worker), &class, failures);
            }
            deferred.extend(outcome.deferred);
            for (worker, after) in outcome.requeue {
                debug!(worker = %worker, after_ms = after.as_millis() as u64, "Rollout: coming back later.");
                scheduler.request(Target::Worker(worker), now + after);
            }
        }
        Ok(Err(class)) => {
            warn!(reason = %class.reason(), kind = class.kind_str(), "Reconcile pass failed.");
            // A whole pass that needs a human (unreadable state, a refused credential) is still
            // retried, on the backoff: what it waits for may change outside Git, and a loop that
            // waits forever looks healthy while it deploys nothing.
            let class = match class {
                Class::Stalled { reason } => Class::Transient { reason },
                other => other,
            };
            for key in flight.keys {
                requeue(key, &class, failures);
            }
        }
        Err(join_error) => {
            warn!(error = %join_error, "Reconcile pass panicked or was cancelled.");
            let class = Class::Transient {
                reason: crate::policy::Reason::Internal,
            };
            for key in flight.keys {
                requeue(key, &class, failures);
            }
        }
    }
    for worker in to_request {
        debug!(worker = %worker, "Running a held-back Worker again.");
        scheduler.request(Target::Worker(worker), now);
    }
}

fn jitter() -> f64 {
    rand::random_range(-1.0..=1.0)
}

fn spawn_poller(
    interval: Duration,
    sender: TriggerSender,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let start = Instant::now() + interval;
        let mut ticker = tokio::time::interval_at(start, interval.max(Duration::from_millis(1)));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => {
                    if sender.send(ReconcileRequest::all(TriggerSource::Poll)).is_err() {
                        return;
                    }
                }
                _ = stop.wait_for(|stopped| *stopped) => return,
            }
        }
    })
}

#[cfg(unix)]
fn spawn_sighup(
    sender: TriggerSender,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<JoinHandle<()>, RunError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangup = signal(SignalKind::hangup()).map_err(RunError::Signal)?;
    Ok(tokio::spawn(async move {
        loop {
            tokio::select! {
                received = hangup.recv() => {
                    if received.is_none() {
                        return;
                    }
                    info!("SIGHUP received; reconciling.");
                    if sender.send(ReconcileRequest::all(TriggerSource::Signal)).is_err() {
                        return;
                    }
                }
                _ = stop.wait_for(|stopped| *stopped) => return,
            }
        }
    }))
}

#[cfg(not(unix))]
fn spawn_sighup(
    _sender: TriggerSender,
    _stop: tokio::sync::watch::Receiver<bool>,
) -> Result<JoinHandle<()>, RunError> {
    Ok(tokio::spawn(async {}))
}

/// Completes on SIGTERM or ctrl-c: the shutdown future the CLI passes to [`crate::run`].
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = terminate.recv() => info!("SIGTERM received."),
                    _ = tokio::signal::ctrl_c() => info!("Interrupt received."),
                }
            }
            Err(error) => {
                warn!(error = %error, "Cannot listen for SIGTERM; only ctrl-c stops flaresync.");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_prefers_all_and_collects_workers() {
        assert_eq!(
            Scope::from_targets(&[Target::Worker("a".into()), Target::All]),
            Scope::All
        );
        let scope = Scope::from_targets(&[Target::Worker("a".into()), Target::Worker("b".into())]);
        assert!(scope.includes("a") && scope.includes("b") && !scope.includes("c"));
    }

    #[test]
    fn a_pass_takes_the_sources_of_every_key_it_covers() {
        let mut sources = BTreeMap::new();
        sources.insert(
            Target::All,
            (TriggerSource::Webhook, Some("pusher alice".into())),
        );
        sources.insert(
            Target::Worker("a".into()),
            (TriggerSource::Manual, Some("bob".into())),
        );
        sources.insert(Target::Worker("b".into()), (TriggerSource::Requeue, None));
        sources.insert(Target::Worker("c".into()), (TriggerSource::Poll, None));
        let keys = [
            Target::All,
            Target::Worker("a".into()),
            Target::Worker("b".into()),
        ];
        let (source, actor) = take_sources(&mut sources, &keys);
        assert_eq!(source, TriggerSource::Webhook);
        assert_eq!(actor.as_deref(), Some("pusher alice, bob"));
        // Only the key this pass did not cover keeps its source for a later pass.
        assert_eq!(
            sources.keys().collect::<Vec<_>>(),
            [&Target::Worker("c".into())]
        );
        assert_eq!(
            take_sources(&mut sources, &[Target::Worker("d".into())]),
            (TriggerSource::Requeue, None)
        );
    }
}
