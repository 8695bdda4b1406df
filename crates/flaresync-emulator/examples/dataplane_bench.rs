//! Benchmark (prints, asserts nothing): requests/s and latency of a hello-world Worker served
//! through the emulator's data plane versus the same Worker on workerd directly.
//!
//! Run: `cargo run --release -p flaresync-emulator --example dataplane_bench [requests] [concurrency]`
//! (needs workerd: `scripts/install-workerd.sh`; `FLARESYNC_CACHE` as for the tests).

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use flaresync_emulator::dataplane::desired::{Module, VersionBundle};
use flaresync_emulator::dataplane::locate::workerd_binary;
use flaresync_emulator::dataplane::supervisor::{Runtime, free_ports};
use flaresync_emulator::dataplane::workerd_config::{Layout, render};
use flaresync_emulator::dataplane::{DataPlaneError, DataPlaneOptions};
use flaresync_emulator::testing::TestEmulator;
use serde_json::json;

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
        owners: BTreeMap::new(),
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

async fn deploy_through_emulator(emu: &TestEmulator) {
    let url = common::account_url(emu, "/workers/scripts/bench");
    let metadata =
        json!({"main_module": "index.js", "compatibility_date": "2025-01-01", "bindings": []});
    let client = reqwest::Client::new();
    let put = client
        .put(&url)
        .multipart(common::module_form(&metadata, HELLO));
    let put = common::send_authorized(emu, put).await;
    assert!(put.status().is_success(), "upload");
    let sub = client
        .post(format!("{url}/subdomain"))
        .json(&json!({"enabled": true}));
    common::send_authorized(emu, sub).await;
}

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let (requests, concurrency) = (
        args.first().copied().unwrap_or(20_000),
        args.get(1).copied().unwrap_or(16),
    );
    let repo_cache = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.cache");
    let Some(binary) = workerd_binary(Some(&repo_cache)) else {
        eprintln!(
            "workerd is not installed: run crates/flaresync-emulator/scripts/install-workerd.sh"
        );
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let (_direct, port) = workerd_direct(binary.clone(), dir.path().join("direct"))
        .await
        .expect("workerd starts");
    let emu = Arc::new(TestEmulator::start().await.expect("emulator"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let data = listener.local_addr().expect("addr");
    let options = DataPlaneOptions {
        workerd: binary,
        work_dir: dir.path().join("plane"),
    };
    let emulator = emu.emulator().clone();
    tokio::spawn(async move {
        emulator
            .serve_data_plane(listener, options, std::future::pending())
            .await
    });
    deploy_through_emulator(&emu).await;
    let host = "bench.flaresync-emulator.workers.dev".to_owned();
    let probe = reqwest::Client::new();
    while probe
        .get(format!("http://{data}/"))
        .header("host", &host)
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
        != 200
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let warm = measure(
        format!("http://127.0.0.1:{port}/"),
        None,
        2_000,
        concurrency,
    )
    .await;
    let _ = warm.per_second;
    let direct = measure(
        format!("http://127.0.0.1:{port}/"),
        None,
        requests,
        concurrency,
    )
    .await;
    let plane = measure(format!("http://{data}/"), Some(host), requests, concurrency).await;
    println!("{requests} requests, {concurrency} concurrent connections");
    println!(
        "workerd direct: {:>9.0} req/s  p50 {:?}  p99 {:?}",
        direct.per_second, direct.p50, direct.p99
    );
    println!(
        "data plane:     {:>9.0} req/s  p50 {:?}  p99 {:?}",
        plane.per_second, plane.p50, plane.p99
    );
    println!(
        "data plane keeps {:.0}% of workerd's requests/s and adds {:?} at p50",
        100.0 * plane.per_second / direct.per_second,
        plane.p50.saturating_sub(direct.p50)
    );
}
