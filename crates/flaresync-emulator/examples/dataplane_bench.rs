//! Benchmark (prints, asserts nothing): requests/s and latency of a hello-world Worker served
//! through the emulator's data plane versus the same Worker on workerd directly.
//!
//! Then, under a steady load, how long a new deployment takes until the first request it
//! serves (new code, and a rollback to the previous version) and whether a request failed.
//!
//! Run: `cargo run --release -p flaresync-emulator --example dataplane_bench [requests]
//! [concurrency] [rounds]`
//! (needs workerd: `scripts/install-workerd.sh`; `FLARESYNC_CACHE` as for the tests).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use flaresync_emulator::dataplane::desired::{Module, VersionBundle};
use flaresync_emulator::dataplane::workerd_config::{Layout, render};
use flaresync_emulator::testing::TestEmulator;

#[path = "support/plane.rs"]
mod plane;

const HELLO: &str = "export default { fetch() { return new Response('hello'); } };";

struct Measured {
    per_second: f64,
    p50: Duration,
    p99: Duration,
    /// CPU (this process: load generator, and the router on the data-plane side; plus the
    /// target's workerd) per request answered, in microseconds.
    cpu_per_request_us: f64,
}

async fn measure(target: &Target, requests: usize, concurrency: usize) -> Measured {
    let client = target.client.clone();
    let cpu_before = target.cpu_us();
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (client, url, host) = (client.clone(), target.url.clone(), target.host.clone());
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            for _ in 0..requests / concurrency {
                let mut request = client.get(&url);
                if let Some(host) = &host {
                    request = request.header("host", host);
                }
                let one = Instant::now();
                let ok = match request.send().await {
                    Ok(response) => response.bytes().await.is_ok(),
                    Err(_) => false,
                };
                if ok {
                    latencies.push(one.elapsed());
                }
            }
            latencies
        });
    }
    let mut all = Vec::new();
    while let Some(Ok(latencies)) = tasks.join_next().await {
        all.extend(latencies);
    }
    let elapsed = started.elapsed();
    let cpu = target.cpu_us().saturating_sub(cpu_before);
    all.sort_unstable();
    let at = |q: f64| {
        all.get(((all.len() as f64 * q) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Measured {
        per_second: all.len() as f64 / elapsed.as_secs_f64(),
        p50: at(0.5),
        p99: at(0.99),
        cpu_per_request_us: cpu as f64 / all.len().max(1) as f64,
    }
}

/// The Worker on workerd alone, on a loopback TCP port (as a client reaches workerd served
/// directly); returns the process (killed when dropped) and its port.
async fn workerd_direct(binary: PathBuf, dir: PathBuf) -> (tokio::process::Child, u16) {
    let bundle = VersionBundle {
        id: "direct".into(),
        script: "bench".into(),
        tag: String::new(),
        created_on: String::new(),
        main_module: Some("index.js".into()),
        body_part: None,
        modules: vec![Module {
            name: "index.js".into(),
            content_type: "application/javascript+module".into(),
            content: HELLO.as_bytes().to_vec(),
        }],
        bindings: Vec::new(),
        compatibility_date: "2025-01-01".into(),
        compatibility_flags: Vec::new(),
        assets: None,
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let layout = Layout {
        listener: "127.0.0.1:9".into(),
        storage_dir: dir.join("do").to_string_lossy().into_owned(),
        durable_objects: BTreeMap::new(),
        addresses: BTreeMap::from([("direct".to_owned(), format!("127.0.0.1:{port}"))]),
        asset_sources: None,
    };
    let rendered = render(&[&bundle], &layout);
    std::fs::create_dir_all(dir.join("do")).expect("work dir");
    for (relative, content) in &rendered.files {
        let path = dir.join(relative);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("module dir");
        std::fs::write(path, content).expect("module");
    }
    std::fs::write(dir.join("config.capnp"), &rendered.config).expect("config");
    let child = tokio::process::Command::new(binary)
        .args(["serve", "--experimental"])
        .arg(dir.join("config.capnp"))
        .kill_on_drop(true)
        .spawn()
        .expect("workerd starts");
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (child, port)
}

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let (requests, concurrency, rounds) = (
        args.first().copied().unwrap_or(10_000),
        args.get(1).copied().unwrap_or(16),
        args.get(2).copied().unwrap_or(7).max(1),
    );
    let Some(binary) = plane::workerd_or_hint() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let (direct_child, port) = workerd_direct(binary.clone(), dir.path().join("direct")).await;
    let direct_pid = direct_child.id().map(|p| p.to_string()).unwrap_or_default();
    let (emu, data) = plane::start(binary, &dir.path().join("plane")).await;
    plane::deploy(&emu, "bench", HELLO).await;
    plane::wait_serving(data, "bench", "hello").await;
    let me = std::process::id().to_string();
    // One client per side for all rounds: every round runs on warm pooled connections.
    let direct = Target {
        url: format!("http://127.0.0.1:{port}/"),
        host: None,
        client: reqwest::Client::new(),
        pids: vec![me.clone(), direct_pid.clone()],
    };
    let mut through_pids = plane::workerd_children();
    through_pids.retain(|pid| *pid != direct_pid);
    through_pids.push(me);
    let through = Target {
        url: format!("http://{data}/"),
        host: Some(plane::host("bench")),
        client: reqwest::Client::new(),
        pids: through_pids,
    };
    // Warm both paths (connections, JIT).
    measure(&direct, 2_000, concurrency).await;
    measure(&through, 2_000, concurrency).await;
    println!(
        "{requests} requests per round, {rounds} rounds, {concurrency} concurrent connections"
    );
    throughput(&direct, &through, requests, concurrency, rounds).await;
    println!("latency alone (1 connection, {} requests):", requests / 5);
    let (alone_direct, alone_through) = (
        measure(&direct, requests / 5, 1).await,
        measure(&through, requests / 5, 1).await,
    );
    println!(
        "  p50 {:?} direct, {:?} through the data plane: {:+.3} ms",
        alone_direct.p50,
        alone_through.p50,
        millis(alone_through.p50) - millis(alone_direct.p50)
    );
    switches(&emu, data, 5).await;
}

/// Where a measurement sends its requests, with which client, and the processes whose CPU
/// serving it costs.
struct Target {
    url: String,
    host: Option<String>,
    client: reqwest::Client,
    pids: Vec<String>,
}

impl Target {
    fn cpu_us(&self) -> u64 {
        self.pids.iter().map(|pid| plane::cpu_us(pid)).sum()
    }
}

/// Alternates rounds on both paths (the order flips every round, so load from other processes
/// on the machine hits both alike) and prints every pair (requests/s, CPU per request, the
/// machine's load), each side's median and spread, and the ratio of each pair of rounds. The
/// CPU per request is what the data plane really adds; requests/s also depends on how much of
/// the 2 cores other processes leave to the benchmark during each round.
async fn throughput(
    direct: &Target,
    through: &Target,
    requests: usize,
    concurrency: usize,
    rounds: usize,
) {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let load = plane::load_average();
        let (d, t) = if round % 2 == 0 {
            let d = measure(direct, requests, concurrency).await;
            (d, measure(through, requests, concurrency).await)
        } else {
            let t = measure(through, requests, concurrency).await;
            (measure(direct, requests, concurrency).await, t)
        };
        println!(
            "  pair {:>2} ({} first, load {load:.1}): direct {:>6.0} req/s {:>5.0} µs CPU/req | data plane {:>6.0} req/s {:>5.0} µs CPU/req | {:>5.1}%",
            round + 1,
            if round % 2 == 0 {
                "direct"
            } else {
                "data plane"
            },
            d.per_second,
            d.cpu_per_request_us,
            t.per_second,
            t.cpu_per_request_us,
            100.0 * t.per_second / d.per_second
        );
        a.push(d);
        b.push(t);
    }
    let ratios: Vec<f64> = a
        .iter()
        .zip(&b)
        .map(|(d, t)| 100.0 * t.per_second / d.per_second)
        .collect();
    for (name, side) in [("workerd direct", &a), ("data plane", &b)] {
        let per_second: Vec<f64> = side.iter().map(|m| m.per_second).collect();
        let p50: Vec<f64> = side.iter().map(|m| millis(m.p50)).collect();
        let p99: Vec<f64> = side.iter().map(|m| millis(m.p99)).collect();
        println!(
            "  {name:<15} {} req/s   p50 {} ms   p99 {} ms",
            spread(&per_second, 0),
            spread(&p50, 3),
            spread(&p99, 3)
        );
    }
    let added: Vec<f64> = a
        .iter()
        .zip(&b)
        .map(|(d, t)| millis(t.p50) - millis(d.p50))
        .collect();
    let at_goal = ratios.iter().filter(|r| **r >= 80.0).count();
    println!(
        "  data plane keeps {} % of workerd's requests/s (median [min–max] of the pairs; {at_goal} of {} pairs at 80% or more) and adds {} ms at p50",
        spread(&ratios, 1),
        ratios.len(),
        spread(&added, 3)
    );
    let cpu =
        |side: &[Measured]| -> Vec<f64> { side.iter().map(|m| m.cpu_per_request_us).collect() };
    let extra: Vec<f64> = a
        .iter()
        .zip(&b)
        .map(|(d, t)| t.cpu_per_request_us - d.cpu_per_request_us)
        .collect();
    println!(
        "  CPU per request (load generator + workerd, + the router through the data plane): direct {} µs, data plane {} µs; the data plane adds {} µs",
        spread(&cpu(&a), 0),
        spread(&cpu(&b), 0),
        spread(&extra, 0)
    );
    // What requests/s comes to when both sides get the same CPU (an otherwise idle machine,
    // CPU-bound): the ratio of the CPU each request costs. It does not depend on how much CPU
    // other processes left to each round.
    let at_equal_cpu: Vec<f64> = a
        .iter()
        .zip(&b)
        .map(|(d, t)| 100.0 * d.cpu_per_request_us / t.cpu_per_request_us.max(1.0))
        .collect();
    println!(
        "  at equal CPU the data plane keeps {} % of workerd's requests/s (direct's CPU per request / the data plane's, per pair)",
        spread(&at_equal_cpu, 1)
    );
}

/// `median [min–max]` of `values`, with `digits` decimals.
fn spread(values: &[f64], digits: usize) -> String {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let at = |i: usize| sorted.get(i).copied().unwrap_or_default();
    format!(
        "{:.digits$} [{:.digits$}–{:.digits$}]",
        at(sorted.len() / 2),
        at(0),
        at(sorted.len().saturating_sub(1))
    )
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}

/// Counts answers under a steady load until stopped: (answered, failed).
fn load(data: SocketAddr, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<(u64, u64)> {
    tokio::spawn(async move {
        let client = reqwest::Client::new();
        let (mut total, mut failed) = (0, 0);
        while !stop.load(Ordering::Relaxed) {
            let answer = client
                .get(format!("http://{data}/"))
                .header("host", plane::host("switch"))
                .send()
                .await;
            let ok = match answer {
                Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                Err(_) => false,
            };
            total += 1;
            failed += u64::from(!ok);
        }
        (total, failed)
    })
}

/// Time from sending a deployment until the first request served by it.
async fn until_serving(data: SocketAddr, body: &str, from: Instant) -> Duration {
    plane::wait_serving(data, "switch", body).await;
    from.elapsed()
}

/// How long a new deployment takes to serve, under load, for new code (a new workerd process)
/// and for a rollback to the previous version (a table swap), and whether any request failed.
async fn switches(emu: &TestEmulator, data: SocketAddr, times: usize) {
    let code =
        |n: usize| format!("export default {{ fetch() {{ return new Response('v{n}'); }} }};");
    plane::deploy(emu, "switch", &code(0)).await;
    plane::wait_serving(data, "switch", "v0").await;
    let stop = Arc::new(AtomicBool::new(false));
    let loads: Vec<_> = (0..4).map(|_| load(data, stop.clone())).collect();
    let (mut fresh, mut back) = (Vec::new(), Vec::new());
    for n in 1..=times {
        let previous = plane::current_version(emu, "switch").await;
        let sent = Instant::now();
        plane::deploy(emu, "switch", &code(n)).await;
        fresh.push(millis(until_serving(data, &format!("v{n}"), sent).await));
        let sent = Instant::now();
        plane::deploy_version(emu, "switch", &previous).await;
        back.push(millis(
            until_serving(data, &format!("v{}", n - 1), sent).await,
        ));
        plane::deploy(emu, "switch", &code(n)).await;
        plane::wait_serving(data, "switch", &format!("v{n}")).await;
    }
    stop.store(true, Ordering::Relaxed);
    let (mut total, mut failed) = (0, 0);
    for one in loads {
        let (t, f) = one.await.unwrap_or_default();
        (total, failed) = (total + t, failed + f);
    }
    println!("deployment -> first request served by it, under load ({times} times each):");
    println!("  new code (new workerd process): {} ms", spread(&fresh, 1));
    println!(
        "  rollback to the previous version: {} ms",
        spread(&back, 1)
    );
    println!("  {failed} of {total} requests under load failed across the switches");
}
