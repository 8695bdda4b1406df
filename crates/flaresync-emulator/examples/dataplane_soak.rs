//! Soak benchmark (prints, asserts nothing): drives a steady request rate through the data
//! plane for a long time, redeploys the Worker now and then (each new version starts a new
//! workerd process and retires the old one), and prints memory and resource counts over time,
//! to show that nothing grows without bound: the emulator's RSS, the workerd processes and
//! their RSS, the analytics log (bounded ring), open file descriptors (connection pools) and
//! the runtime's config directories.
//!
//! Run: `cargo run --release -p flaresync-emulator --example dataplane_soak -- [--minutes 60]
//! [--rate 100] [--every 60] [--redeploy-every 300]` (seconds for the last two; needs workerd
//! like `dataplane_bench`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use flaresync_emulator::dataplane::request_log::{MAX_RECORDS, RECORD_BYTES};

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

/// The pids of this process's children named workerd.
fn workerd_children() -> Vec<String> {
    let me = std::process::id().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|pid| pid.bytes().all(|b| b.is_ascii_digit()))
        .filter(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // pid (comm) state ppid ...
            let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
            stat.contains("(workerd)") && after.split_whitespace().nth(1) == Some(me.as_str())
        })
        .collect()
}

fn count_entries(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |d| d.count())
}

#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    ok: AtomicU64,
    failed: AtomicU64,
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
            let ok = match answer {
                Ok(response) => {
                    let status = response.status().as_u16();
                    response.bytes().await.is_ok() && (status == 200 || path == "/boom")
                }
                Err(_) => false,
            };
            let counter = if ok { &counters.ok } else { &counters.failed };
            counter.fetch_add(1, Ordering::Relaxed);
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

    let started = Instant::now();
    let until = started + Duration::from_secs_f64(options.minutes * 60.0);
    let counters = Arc::new(Counters::default());
    let driver = tokio::spawn(drive(data, options.rate, until, counters.clone()));
    println!(
        "soak: {} req/s for {} min, redeploy every {} s; analytics ring bound {} records x {} B = {:.1} MiB",
        options.rate,
        options.minutes,
        options.redeploy_every,
        MAX_RECORDS,
        RECORD_BYTES,
        (MAX_RECORDS * RECORD_BYTES) as f64 / 1_048_576.0
    );
    println!(
        "{:>7} {:>9} {:>7} {:>9} {:>9} {:>8} {:>11} {:>9} {:>5} {:>5}",
        "min",
        "requests",
        "failed",
        "emu MiB",
        "ring MiB",
        "workerd",
        "workerd MiB",
        "records",
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
            plane::deploy(&emu, "soak", &worker(generation)).await;
            next_redeploy += Duration::from_secs(options.redeploy_every);
        }
        if Instant::now() >= next_report {
            let children = workerd_children();
            let emu_rss = rss_kib(&self_pid);
            let workerd_rss: u64 = children.iter().map(|pid| rss_kib(pid)).sum();
            rss_samples.push(emu_rss);
            println!(
                "{:>7.1} {:>9} {:>7} {:>9.1} {:>9.1} {:>8} {:>11.1} {:>9} {:>5} {:>5}",
                started.elapsed().as_secs_f64() / 60.0,
                counters.ok.load(Ordering::Relaxed) + counters.failed.load(Ordering::Relaxed),
                counters.failed.load(Ordering::Relaxed),
                emu_rss as f64 / 1024.0,
                emu.emulator().invocations().buffer_bytes() as f64 / 1_048_576.0,
                children.len(),
                workerd_rss as f64 / 1024.0,
                emu.emulator().invocations().len(),
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
}
