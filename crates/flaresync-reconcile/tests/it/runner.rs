//! The loop with a scripted fake reconciler, under paused time.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
    time::Duration,
};

use flaresync_reconcile::{
    Class, PassOutcome, Reason, ReconcileRequest, Reconciler, RunConfig, Scope, TriggerSource,
    metrics::{ApiSnapshot, Metrics},
    run_with,
    server::ApiSnapshotFn,
    status::StatusBoard,
    trigger,
};
use tokio::time::Instant;

#[derive(Default)]
struct Fake {
    start: Mutex<Option<Instant>>,
    /// (elapsed since start, scope) of every pass.
    calls: Mutex<Vec<(Duration, Scope)>>,
    /// Scripted results, consumed one per pass; empty = success for everything.
    script: Mutex<VecDeque<Result<PassOutcome, Class>>>,
    /// How long a pass takes.
    pass_duration: Duration,
    finished: Mutex<u32>,
    /// (elapsed since start, source) of every request shown to `note_request`.
    noted: Mutex<Vec<(Duration, TriggerSource)>>,
    status: Arc<StatusBoard>,
    metrics: Arc<Metrics>,
}

impl Fake {
    fn new(pass_duration: Duration, script: Vec<Result<PassOutcome, Class>>) -> Arc<Self> {
        Arc::new(Fake {
            start: Mutex::new(Some(Instant::now())),
            pass_duration,
            script: Mutex::new(script.into()),
            ..Fake::default()
        })
    }

    fn calls(&self) -> Vec<(Duration, Scope)> {
        self.calls.lock().expect("lock").clone()
    }

    /// Time since the fake was made.
    fn elapsed(&self) -> Duration {
        let start = self
            .start
            .lock()
            .expect("lock")
            .unwrap_or_else(Instant::now);
        Instant::now() - start
    }
}

impl Reconciler for Fake {
    async fn reconcile(
        self: Arc<Self>,
        scope: Scope,
        _source: TriggerSource,
    ) -> Result<PassOutcome, Class> {
        {
            let at = self.elapsed();
            self.calls.lock().expect("lock").push((at, scope));
            tokio::time::sleep(self.pass_duration).await;
            *self.finished.lock().expect("lock") += 1;
            let next = self.script.lock().expect("lock").pop_front();
            next.unwrap_or_else(|| Ok(PassOutcome::default()))
        }
    }

    fn note_request(&self, request: &ReconcileRequest) {
        let at = self.elapsed();
        self.noted.lock().expect("lock").push((at, request.source));
    }

    fn status(&self) -> Arc<StatusBoard> {
        self.status.clone()
    }

    fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    fn api_snapshot(&self) -> ApiSnapshotFn {
        Arc::new(ApiSnapshot::default)
    }
}

fn config() -> RunConfig {
    RunConfig {
        poll_interval: None,
        debounce: Duration::from_millis(500),
        reconcile_on_sighup: false,
        shutdown_grace: Duration::from_secs(2),
        ..RunConfig::default()
    }
}

fn failed(worker: &str, class: Class) -> Result<PassOutcome, Class> {
    Ok(PassOutcome {
        succeeded: Vec::new(),
        failed: vec![(worker.to_owned(), class)],
        ..PassOutcome::default()
    })
}

/// Runs the loop until `stop_after`, sending `requests` (at their offsets) meanwhile.
async fn drive(
    fake: Arc<Fake>,
    config: RunConfig,
    requests: Vec<(Duration, ReconcileRequest)>,
    stop_after: Duration,
) -> Duration {
    let (sender, receiver) = trigger::channel();
    let feed = sender.clone();
    let feeder = tokio::spawn(async move {
        let sender = feed;
        let start = Instant::now();
        for (at, request) in requests {
            tokio::time::sleep_until(start + at).await;
            let _ = sender.send(request);
        }
        // Keep the sender alive until the end.
        tokio::time::sleep(Duration::from_secs(3600)).await;
    });
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let stopper = tokio::spawn(async move {
        tokio::time::sleep(stop_after).await;
        let _ = stop_tx.send(());
    });
    let begun = Instant::now();
    run_with(fake, config, (sender, receiver), async move {
        let _ = stop_rx.await;
    })
    .await
    .expect("loop runs");
    feeder.abort();
    stopper.abort();
    Instant::now() - begun
}

#[tokio::test(start_paused = true)]
async fn a_burst_of_triggers_becomes_one_debounced_pass() {
    let fake = Fake::new(Duration::from_millis(10), Vec::new());
    let manual = || ReconcileRequest::all(TriggerSource::Manual);
    drive(
        fake.clone(),
        config(),
        vec![
            (Duration::from_millis(100), manual()),
            (Duration::from_millis(200), manual()),
            (Duration::from_millis(300), manual()),
        ],
        Duration::from_secs(10),
    )
    .await;
    let calls = fake.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].1, Scope::All);
    // Startup at 0 and the burst until 300 ms: one pass, 500 ms after the last request.
    assert_eq!(calls[0].0, Duration::from_millis(800));
}

/// A request that arrives while a pass runs is shown to the reconciler at once (so a revert can
/// pre-empt a long pass) and still runs after it; one between passes is not shown.
#[tokio::test(start_paused = true)]
async fn requests_during_a_pass_are_shown_to_the_reconciler() {
    let fake = Fake::new(Duration::from_secs(5), Vec::new());
    drive(
        fake.clone(),
        config(),
        vec![
            (
                Duration::from_secs(2),
                ReconcileRequest::all(TriggerSource::FileSystem),
            ),
            (
                Duration::from_secs(20),
                ReconcileRequest::all(TriggerSource::Manual),
            ),
        ],
        Duration::from_secs(40),
    )
    .await;
    let noted = fake.noted.lock().expect("lock").clone();
    assert_eq!(
        noted,
        [(Duration::from_secs(2), TriggerSource::FileSystem)],
        "only the request during the startup pass"
    );
    let calls = fake.calls();
    assert_eq!(calls.len(), 3, "{calls:?}");
    // The one noted runs right after the startup pass, the other after its debounce.
    assert_eq!(calls[1].0, calls[0].0 + Duration::from_secs(5));
    assert_eq!(calls[2].0, Duration::from_millis(20_500));
}

#[tokio::test(start_paused = true)]
async fn transient_failures_are_retried_with_backoff_for_that_worker_only() {
    let transient = Class::Transient {
        reason: Reason::ApiUnavailable,
    };
    let fake = Fake::new(
        Duration::ZERO,
        vec![failed("api", transient), failed("api", transient)],
    );
    drive(fake.clone(), config(), Vec::new(), Duration::from_secs(60)).await;
    let calls = fake.calls();
    assert_eq!(calls.len(), 3, "{calls:?}");
    assert_eq!(calls[0].1, Scope::All);
    let only_api = Scope::Workers(["api".to_owned()].into());
    assert_eq!(calls[1].1, only_api);
    assert_eq!(calls[2].1, only_api);
    // 800 ms and 1600 ms backoff (±25% jitter), plus the 500 ms debounce each time.
    let first_gap = calls[1].0 - calls[0].0;
    let second_gap = calls[2].0 - calls[1].0;
    assert!(
        first_gap >= Duration::from_millis(1100) && first_gap <= Duration::from_millis(1500),
        "{first_gap:?}"
    );
    assert!(
        second_gap >= Duration::from_millis(1700) && second_gap <= Duration::from_millis(2500),
        "{second_gap:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn stalled_workers_wait_for_a_new_trigger() {
    let fake = Fake::new(
        Duration::ZERO,
        vec![failed(
            "api",
            Class::Stalled {
                reason: Reason::RollbackBlocked,
            },
        )],
    );
    drive(
        fake.clone(),
        config(),
        vec![(
            Duration::from_secs(30),
            ReconcileRequest::all(TriggerSource::Webhook),
        )],
        Duration::from_secs(120),
    )
    .await;
    let calls = fake.calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(calls[1].0, Duration::from_millis(30_500));
}

#[tokio::test(start_paused = true)]
async fn a_stalled_pass_is_retried_on_the_backoff_not_left_waiting() {
    let stalled = || {
        Err(Class::Stalled {
            reason: Reason::ApiUnauthorized,
        })
    };
    let fake = Fake::new(Duration::ZERO, vec![stalled(), stalled(), stalled()]);
    drive(fake.clone(), config(), Vec::new(), Duration::from_secs(60)).await;
    let calls = fake.calls();
    assert!(calls.len() >= 4, "retried until it passed: {calls:?}");
    assert!(calls.iter().all(|(_, scope)| *scope == Scope::All));
    let first_gap = calls[1].0 - calls[0].0;
    let second_gap = calls[2].0 - calls[1].0;
    assert!(second_gap > first_gap, "backs off: {calls:?}");
}

#[tokio::test(start_paused = true)]
async fn a_failed_pass_waits_for_the_server_delay() {
    let fake = Fake::new(
        Duration::ZERO,
        vec![Err(Class::Waiting {
            reason: Reason::ApiRateLimited,
            after: Duration::from_secs(20),
        })],
    );
    drive(fake.clone(), config(), Vec::new(), Duration::from_secs(60)).await;
    let calls = fake.calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(calls[1].1, Scope::All);
    assert_eq!(calls[1].0 - calls[0].0, Duration::from_millis(20_500));
}

#[tokio::test(start_paused = true)]
async fn poll_ticks_request_passes() {
    let fake = Fake::new(Duration::ZERO, Vec::new());
    let config = RunConfig {
        poll_interval: Some(Duration::from_secs(10)),
        ..config()
    };
    drive(fake.clone(), config, Vec::new(), Duration::from_secs(35)).await;
    // Startup (0.5 s) and ticks at 10, 20, 30 s.
    assert_eq!(fake.calls().len(), 4, "{:?}", fake.calls());
}

/// Starts the loop with passes that take `pass` and stops it at 1 s, during the startup pass
/// (which begins at 0.5 s): (passes finished, how long the loop took to stop).
async fn stop_during_startup_pass(pass: Duration) -> (u32, Duration) {
    let fake = Fake::new(pass, Vec::new());
    let took = drive(fake.clone(), config(), Vec::new(), Duration::from_secs(1)).await;
    let finished = *fake.finished.lock().expect("lock");
    (finished, took)
}

#[tokio::test(start_paused = true)]
async fn shutdown_lets_a_short_pass_finish() {
    // The startup pass ends at 1.5 s, within the 2 s grace.
    assert_eq!(
        stop_during_startup_pass(Duration::from_secs(1)).await,
        (1, Duration::from_millis(1500))
    );
}

#[tokio::test(start_paused = true)]
async fn shutdown_abandons_a_pass_that_outlives_the_grace_period() {
    assert_eq!(
        stop_during_startup_pass(Duration::from_secs(600)).await,
        (0, Duration::from_secs(3))
    );
}

static AFTER_PASS_CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn count_after_pass() {
    AFTER_PASS_CALLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
}

/// The hook the binary hands freed memory back to the OS with runs once after every pass.
#[tokio::test(start_paused = true)]
async fn the_after_pass_hook_runs_after_each_pass() {
    let fake = Fake::new(Duration::from_millis(10), Vec::new());
    drive(
        fake.clone(),
        RunConfig {
            after_pass: Some(count_after_pass),
            ..config()
        },
        vec![(
            Duration::from_secs(2),
            ReconcileRequest::all(TriggerSource::Manual),
        )],
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(fake.calls().len(), 2, "startup and the manual pass");
    assert_eq!(
        AFTER_PASS_CALLS.load(std::sync::atomic::Ordering::SeqCst),
        2
    );
}
