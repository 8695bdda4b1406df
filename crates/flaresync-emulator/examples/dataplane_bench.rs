//! Benchmark (prints, asserts nothing): requests/s and latency of a hello-world Worker served
//! through the emulator's data plane versus the same Worker on workerd directly.
//!
//! Run: `cargo run --release -p flaresync-emulator --example dataplane_bench [requests]
//! [concurrency] [rounds]`
//! (needs workerd: `scripts/install-workerd.sh`; `FLARESYNC_CACHE` as for the tests).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use flaresync_emulator::dataplane::DataPlaneError;
use flaresync_emulator::dataplane::desired::{Module, VersionBundle};
use flaresync_emulator::dataplane::supervisor::{Runtime, free_ports};
use flaresync_emulator::dataplane::workerd_config::{Layout, render};

#[path = "support/plane.rs"]
mod plane;

const HELLO: &str = "export default { fetch() { return new Response('hello'); } };";

struct Measured {
    per_second: f64,
    p50: Duration,
    p99: Duration,
}

async fn measure(
    url: String,
    host: Option<String>,
    requests: usize,
    concurrency: usize,
) -> Measured {
    let client = reqwest::Client::new();
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (client, url, host) = (client.clone(), url.clone(), host.clone());
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
    }
}

/// The Worker on workerd alone; returns the process (kept alive) and its port.
async fn workerd_direct(
    binary: PathBuf,
    dir: PathBuf,
) -> Result<(impl Sized, u16), DataPlaneError> {
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
    let port = free_ports(1)?[0];
    let ports = BTreeMap::from([("direct".to_owned(), port)]);
    let layout = Layout {
        listener: "127.0.0.1:9".into(),
        storage_dir: dir.join("do").to_string_lossy().into_owned(),
        durable_objects: BTreeMap::new(),
        ports: ports.clone(),
        asset_sources: None,
    };
    std::fs::create_dir_all(dir.join("do")).map_err(DataPlaneError::Ports)?;
    let runtime = Runtime {
        binary,
        work_dir: dir,
    };
    let generation = runtime
        .start(0, &render(&[&bundle], &layout), ports)
        .await?;
    Ok((generation, port))
}

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let (requests, concurrency, rounds) = (
        args.first().copied().unwrap_or(20_000),
        args.get(1).copied().unwrap_or(16),
        args.get(2).copied().unwrap_or(3).max(1),
    );
    let Some(binary) = plane::workerd_or_hint() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let (_direct, port) = workerd_direct(binary.clone(), dir.path().join("direct"))
        .await
        .expect("workerd starts");
    let (emu, data) = plane::start(binary, &dir.path().join("plane")).await;
    plane::deploy(&emu, "bench", HELLO).await;
    plane::wait_serving(data, "bench", "hello").await;
    let direct_url = format!("http://127.0.0.1:{port}/");
    let plane_url = format!("http://{data}/");
    let host = Some(plane::host("bench"));
    // Warm both paths (connections, JIT), then alternate so load from other processes on the
    // machine hits both sides alike; report the median round of each.
    measure(direct_url.clone(), None, 2_000, concurrency).await;
    measure(plane_url.clone(), host.clone(), 2_000, concurrency).await;
    let (mut direct, mut through) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        direct.push(measure(direct_url.clone(), None, requests, concurrency).await);
        through.push(measure(plane_url.clone(), host.clone(), requests, concurrency).await);
    }
    let (direct, through) = (median(direct), median(through));
    println!(
        "{requests} requests x {rounds} rounds, {concurrency} concurrent connections (median round)"
    );
    println!(
        "workerd direct: {:>9.0} req/s  p50 {:?}  p99 {:?}",
        direct.per_second, direct.p50, direct.p99
    );
    println!(
        "data plane:     {:>9.0} req/s  p50 {:?}  p99 {:?}",
        through.per_second, through.p50, through.p99
    );
    println!(
        "data plane keeps {:.0}% of workerd's requests/s and adds {:?} at p50",
        100.0 * through.per_second / direct.per_second,
        through.p50.saturating_sub(direct.p50)
    );
}

/// The round with the median throughput.
fn median(mut rounds: Vec<Measured>) -> Measured {
    rounds.sort_by(|a, b| a.per_second.total_cmp(&b.per_second));
    rounds.swap_remove(rounds.len() / 2)
}
