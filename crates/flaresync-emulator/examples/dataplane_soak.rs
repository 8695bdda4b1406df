//! Soak benchmark (prints, asserts nothing): drives a steady request rate through the data
//! plane for a long time, redeploys the Worker now and then (each new version starts a new
//! workerd process and retires the old one), and prints memory and resource counts over time,
//! to show that nothing grows without bound: the emulator's RSS, the workerd processes and
//! their RSS, the analytics log (raw window and summarised buckets), open file descriptors
//! (connection pools) and the runtime's config directories. Every failed request is printed
//! with what failed (connect, reset, status and body) and how long after the last redeploy,
//! and the failures are counted by kind at the end.
//!
//! Run: `cargo run --release -p flaresync-emulator --example dataplane_soak -- [--minutes 60]
//! [--rate 100] [--every 60] [--redeploy-every 300]` (seconds for the last two; needs workerd
//! like `dataplane_bench`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use flaresync_emulator::dataplane::request_log::{
    MAX_RAW_RECORDS, RAW_WINDOW_MINUTES, RECORD_BYTES,
};

#[path = "support/plane.rs"]
#[allow(dead_code)] // the bench uses the rest
mod plane;

/// The soak's knobs.
struct Options {
    minutes: f64,
    rate: u64,
    every: u64,
    redeploy_every: u64,
}

fn options() -> Options {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| -> Option<f64> {
        let at = args.iter().position(|a| a == name)?;
        args.get(at + 1)?.parse().ok()
    };
    Options {
        minutes: value("--minutes").unwrap_or(60.0),
        rate: value("--rate").map_or(100, |r| r.max(1.0) as u64),
        every: value("--every").map_or(60, |s| s.max(1.0) as u64),
        redeploy_every: value("--redeploy-every").map_or(300, |s| s.max(0.0) as u64),
    }
}

fn worker(generation: u64) -> String {
    format!(
        "export default {{ fetch(request) {{ \
         if (new URL(request.url).pathname === '/boom') throw new Error('boom'); \
         return new Response('soak {generation}'); }} }};"
    )
}

/// Resident set size of process `pid` in KiB (`VmRSS` of `/proc/<pid>/status`).
fn rss_kib(pid: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn count_entries(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |d| d.count())
}

struct Counters {
    started: Instant,
    sent: AtomicU64,
    ok: AtomicU64,
    failed: AtomicU64,
    /// Milliseconds from `started` to the last redeploy's upload.
    last_redeploy_ms: AtomicU64,
    /// Failures by kind.
    kinds: Mutex<BTreeMap<String, u64>>,
}

/// Failures printed one by one at most (all are counted).
const PRINTED_FAILURES: u64 = 200;

impl Counters {
    fn new() -> Self {
        Self {
            started: Instant::now(),
            sent: AtomicU64::new(0),
            ok: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            last_redeploy_ms: AtomicU64::new(0),
            kinds: Mutex::new(BTreeMap::new()),
        }
    }

    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Counts a failure of `kind` and prints it with its time and distance to the last redeploy.
    fn fail(&self, path: &str, kind: String) {
        let n = self.failed.fetch_add(1, Ordering::Relaxed) + 1;
        let now = self.now_ms();
        let since = now.saturating_sub(self.last_redeploy_ms.load(Ordering::Relaxed));
        if n <= PRINTED_FAILURES {
            println!(
                "failure {n} at {:.1} s ({since} ms after the last redeploy): GET {path}: {kind}",
                now as f64 / 1000.0
            );
        }
        let mut kinds = self.kinds.lock().unwrap_or_else(|p| p.into_inner());
        *kinds.entry(kind).or_default() += 1;
    }
}

/// What went wrong with a request, from reqwest's error and its sources (the innermost says
/// most: "connection reset by peer", "connection closed before message completed").
fn error_kind(stage: &str, error: &reqwest::Error) -> String {
    let class = if error.is_timeout() {
        "timeout"
    } else if error.is_connect() {
        "connect"
    } else if error.is_body() || error.is_decode() {
        "body"
    } else {
        "request"
    };
    let mut chain = Vec::new();
    let mut source: Option<&dyn std::error::Error> = Some(error);
    while let Some(e) = source {
        chain.push(e.to_string());
        source = e.source();
    }
    format!("{stage} {class}: {}", chain.join(": "))
}

/// Sends `rate` requests per second until `until`; one in 20 hits the throwing path.
async fn drive(data: std::net::SocketAddr, rate: u64, until: Instant, counters: Arc<Counters>) {
    let client = reqwest::Client::new();
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    while Instant::now() < until {
        tick.tick().await;
        let n = counters.sent.fetch_add(1, Ordering::Relaxed);
        let path = if n.is_multiple_of(20) { "/boom" } else { "/" };
        let (client, counters) = (client.clone(), counters.clone());
        tokio::spawn(async move {
            let answer = client
                .get(format!("http://{data}{path}"))
                .header("host", plane::host("soak"))
                .send()
                .await;
            let failure = match answer {
                Ok(response) => {
                    let status = response.status().as_u16();
                    match response.bytes().await {
                        Err(error) => Some(error_kind("reading the body:", &error)),
                        Ok(_) if status == 200 || path == "/boom" => None,
                        Ok(body) => Some(format!(
                            "status {status}: {}",
                            String::from_utf8_lossy(&body).trim().replace('\n', " | ")
                        )),
                    }
                }
                Err(error) => Some(error_kind("sending:", &error)),
            };
            match failure {
                None => {
                    counters.ok.fetch_add(1, Ordering::Relaxed);
                }
                Some(kind) => counters.fail(path, kind),
            }
        });
    }
}

#[tokio::main]
async fn main() {
    let options = options();
    let Some(binary) = plane::workerd_or_hint() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let (emu, data) = plane::start(binary, dir.path()).await;
    plane::deploy(&emu, "soak", &worker(0)).await;
    plane::wait_serving(data, "soak", "soak 0").await;

    let counters = Arc::new(Counters::new());
    let started = counters.started;
    let until = started + Duration::from_secs_f64(options.minutes * 60.0);
    let driver = tokio::spawn(drive(data, options.rate, until, counters.clone()));
    println!(
        "soak: {} req/s for {} min, redeploy every {} s; analytics: raw for {} min (at most {} \
         records x {} B = {:.1} MiB), then per-minute buckets",
        options.rate,
        options.minutes,
        options.redeploy_every,
        RAW_WINDOW_MINUTES,
        MAX_RAW_RECORDS,
        RECORD_BYTES,
        (MAX_RAW_RECORDS * RECORD_BYTES) as f64 / 1_048_576.0
    );
    println!(
        "{:>7} {:>9} {:>7} {:>9} {:>9} {:>8} {:>11} {:>9} {:>7} {:>5} {:>5}",
        "min",
        "requests",
        "failed",
        "emu MiB",
        "log MiB",
        "workerd",
        "workerd MiB",
        "records",
        "buckets",
        "fds",
        "gens"
    );
    let self_pid = std::process::id().to_string();
    let mut next_report = started;
    let mut next_redeploy = started + Duration::from_secs(options.redeploy_every.max(1));
    let mut generation = 0;
    let mut rss_samples = Vec::new();
    while Instant::now() < until {
        if options.redeploy_every > 0 && Instant::now() >= next_redeploy {
            generation += 1;
            counters
                .last_redeploy_ms
                .store(counters.now_ms(), Ordering::Relaxed);
            plane::deploy(&emu, "soak", &worker(generation)).await;
            next_redeploy += Duration::from_secs(options.redeploy_every);
        }
        if Instant::now() >= next_report {
            let children = plane::workerd_children();
            let emu_rss = rss_kib(&self_pid);
            let workerd_rss: u64 = children.iter().map(|pid| rss_kib(pid)).sum();
            rss_samples.push(emu_rss);
            println!(
                "{:>7.1} {:>9} {:>7} {:>9.1} {:>9.1} {:>8} {:>11.1} {:>9} {:>7} {:>5} {:>5}",
                started.elapsed().as_secs_f64() / 60.0,
                counters.ok.load(Ordering::Relaxed) + counters.failed.load(Ordering::Relaxed),
                counters.failed.load(Ordering::Relaxed),
                emu_rss as f64 / 1024.0,
                emu.emulator().invocations().buffer_bytes() as f64 / 1_048_576.0,
                children.len(),
                workerd_rss as f64 / 1024.0,
                emu.emulator().invocations().len(),
                emu.emulator().invocations().bucket_count(),
                count_entries(std::path::Path::new("/proc/self/fd")),
                count_entries(&dir.path().join("runtime")),
            );
            next_report += Duration::from_secs(options.every);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = driver.await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let sent = counters.sent.load(Ordering::Relaxed);
    let failed = counters.failed.load(Ordering::Relaxed);
    println!(
        "done: {sent} requests ({:.1}/s), {failed} failed, {generation} redeploys; emulator RSS \
         first {:.1} MiB, max {:.1} MiB, last {:.1} MiB",
        sent as f64 / started.elapsed().as_secs_f64(),
        rss_samples.first().copied().unwrap_or(0) as f64 / 1024.0,
        rss_samples.iter().copied().max().unwrap_or(0) as f64 / 1024.0,
        rss_samples.last().copied().unwrap_or(0) as f64 / 1024.0,
    );
    let kinds = counters.kinds.lock().unwrap_or_else(|p| p.into_inner());
    for (kind, count) in kinds.iter() {
        println!("failed {count}x: {kind}");
    }
}
