//! Prints how fast a progressive rollout gets a bad canary off real traffic, and what a rollout
//! step costs in API calls. Needs workerd (the emulator's data plane runs the Workers).
//!
//! `cargo bench -p flaresync-reconcile --bench rollout_abort [-- <analysis interval s>]`
//! (default 30 s, as the issue asks; the playbook's RTO is 15 minutes).
//!
//! 1. A healthy commit goes through steps 10% -> 50% -> 100% with short steps: API requests per
//!    rollout step of one Worker, counted in the emulator's request log (every pass from one
//!    step to the next, the scripts listings included; the goal is at most 4).
//! 2. A commit whose canary throws on 20% of requests starts at 10% while traffic flows; the
//!    loop's passes run when the rollout asks to come back: time from the first request the
//!    bad canary served to 100% of traffic back on the stable version.
//!
//! Figures only, no assertions (the behaviour is asserted by the integration tests).

use std::{sync::Arc, time::Duration, time::Instant};

use flaresync_cloudflare::{Client, ClientConfig, Secret};
use flaresync_emulator::testing::TestEmulator;
use flaresync_reconcile::{Context, SyncOptions, SyncReport, TriggerSource, sync_once};

mod support;
use support::git;

fn module(body: &str, extra: &str) -> String {
    format!(
        "let n = 0;\nexport default {{ async fetch() {{ n++; {extra} return new Response({body:?}); }} }};\n"
    )
}

struct Bench {
    emulator: TestEmulator,
    repo: tempfile::TempDir,
    _state: tempfile::TempDir,
    ctx: Context,
    data: std::net::SocketAddr,
}

impl Bench {
    fn commit(&self, body: &str, extra: &str) {
        std::fs::write(
            self.repo.path().join("workers/api/index.js"),
            module(body, extra),
        )
        .expect("write");
        git(self.repo.path(), &["add", "-A"]);
        git(self.repo.path(), &["commit", "-q", "-m", body]);
    }

    async fn sync(&self) -> SyncReport {
        let options = SyncOptions {
            dry_run: false,
            trigger: TriggerSource::Cli,
        };
        sync_once(&self.ctx, options).await.expect("pass runs")
    }

    async fn shares(&self) -> Vec<u32> {
        self.ctx
            .client()
            .active_deployment("api")
            .await
            .ok()
            .flatten()
            .map(|d| d.versions.iter().map(|v| v.percentage as u32).collect())
            .unwrap_or_default()
    }
}

async fn start(interval: &str) -> Option<Bench> {
    let emulator = TestEmulator::start().await.expect("emulator starts");
    let state = tempfile::tempdir().expect("tempdir");
    let cache = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.cache");
    let data = emulator
        .start_data_plane(&state.path().join("dataplane"), Some(&cache))
        .await?;
    let repo = tempfile::tempdir().expect("tempdir");
    git(repo.path(), &["init", "-q", "-b", "main"]);
    let dir = repo.path().join("workers/api");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(
        dir.join("wrangler.toml"),
        "name = \"api\"\nmain = \"index.js\"\ncompatibility_date = \"2026-01-01\"\n",
    )
    .expect("write");
    std::fs::write(
        repo.path().join("flaresync.toml"),
        format!("[rollout]\nsteps = [10, 50]\nstep_interval = \"{interval}\"\nbake = \"{interval}\"\nmin_requests = 5\nlatency_tolerance_ms = 100\n"),
    )
    .expect("write");
    let client = Client::new(ClientConfig::new(
        emulator.base_url(),
        emulator.account_id(),
        Secret::new(emulator.token()),
    ))
    .expect("client");
    let bench_state = tempfile::tempdir().expect("tempdir");
    let bench = Bench {
        ctx: {
            std::fs::write(dir.join("index.js"), module("v1", "")).expect("write");
            git(repo.path(), &["add", "-A"]);
            git(repo.path(), &["commit", "-q", "-m", "v1"]);
            let source = flaresync_git::GitSource::open_local(repo.path(), "main").expect("opens");
            Context::new(
                source,
                client,
                bench_state.path().join("journal.sqlite"),
                flaresync_config::RepoConfig::default(),
            )
            .expect("context")
        },
        emulator,
        repo,
        _state: bench_state,
        data,
    };
    bench.sync().await;
    std::mem::forget(state);
    Some(bench)
}

/// Requests to `api` through the data plane until `stop` is set; counts them.
fn traffic(
    data: std::net::SocketAddr,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> tokio::task::JoinHandle<u64> {
    tokio::spawn(async move {
        let http = reqwest::Client::new();
        let mut sent = 0;
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            let _ = http
                .get(format!("http://{data}/"))
                .header("host", "api.flaresync-emulator.workers.dev")
                .send()
                .await;
            sent += 1;
        }
        sent
    })
}

fn main() {
    let interval: u64 = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .and_then(|a| a.parse().ok())
        .unwrap_or(30);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async move {
        // 1. API calls per step, on a healthy canary with 3 s steps (a new version takes a
        //    moment to start on workerd: shorter windows may hold no canary traffic).
        let Some(bench) = start("3s").await else {
            println!("skipped: workerd is not installed (crates/flaresync-emulator/scripts/install-workerd.sh)");
            return;
        };
        bench.commit("v2", "");
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let load = traffic(bench.data, stop.clone());
        let mut per_step = Vec::new();
        let logged = || bench.emulator.requests().len();
        let mut since = logged();
        bench.sync().await;
        per_step.push(("start (upload + 10%)".to_owned(), logged() - since));
        since = logged();
        for _ in 0..30 {
            tokio::time::sleep(Duration::from_millis(3100)).await;
            let report = bench.sync().await;
            let rollout = report.workers[0].rollout.as_ref();
            let moved = matches!(report.workers[0].outcome, flaresync_reconcile::WorkerOutcome::Applied { .. });
            let completed = rollout.is_some_and(|r| r.phase.name() == "completed");
            if moved || completed {
                let what = match rollout.and_then(|r| r.weight) {
                    Some(weight) if !completed => format!("step to {weight}%"),
                    _ => "end of the bake".to_owned(),
                };
                per_step.push((what, logged() - since));
                since = logged();
            }
            if completed {
                break;
            }
            if rollout.is_none() || matches!(rollout.map(|r| r.phase.name()), Some("paused" | "aborted")) {
                let last = rollout.and_then(|r| r.last_analysis.as_ref()).map(|a| a.summary());
                println!("the healthy rollout did not complete: {:?} {last:?}", rollout.map(|r| r.phase.name()));
                break;
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = load.await;
        for (what, requests) in &per_step {
            println!("api requests per rollout step of one Worker, {what}: {requests} (counted at the emulator; every pass since the step before, scripts listings included)");
        }

        // 2. Time from an injected 20% error rate to 100% back on stable.
        let Some(bench) = start(&format!("{interval}s")).await else { return };
        bench.commit("v2 bad", "if (n % 5 === 0) throw new Error(\"boom\");");
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let load = traffic(bench.data, stop.clone());
        let injected = Instant::now();
        let mut report = bench.sync().await;
        let mut passes = 1;
        loop {
            let wait = report
                .workers
                .first()
                .and_then(|w| w.rollout.as_ref())
                .and_then(|r| r.next_check_at.clone())
                .and_then(|at| chrono::DateTime::parse_from_rfc3339(&at).ok())
                .map(|at| (at.with_timezone(&chrono::Utc) - chrono::Utc::now()).to_std().unwrap_or_default())
                .unwrap_or(Duration::from_millis(500));
            tokio::time::sleep(wait).await;
            report = bench.sync().await;
            passes += 1;
            if bench.shares().await == vec![100] || passes > 20 {
                break;
            }
        }
        let elapsed = injected.elapsed();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let sent = load.await.unwrap_or_default();
        println!(
            "injected 20% error rate -> 100% of traffic on stable: {:.1} s with a {interval} s analysis interval ({passes} passes, {sent} requests sent meanwhile)",
            elapsed.as_secs_f64()
        );
    });
}
