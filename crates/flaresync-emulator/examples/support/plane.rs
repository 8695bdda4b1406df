//! What the data-plane examples share: an emulator with its data plane on workerd, a Worker
//! deployed through the control-plane API, and waiting until it serves.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use flaresync_emulator::dataplane::DataPlaneOptions;
use flaresync_emulator::dataplane::locate::workerd_binary;
use flaresync_emulator::testing::TestEmulator;
use reqwest::multipart::{Form, Part};
use serde_json::json;

/// The workerd binary, or a message saying how to install it.
pub fn workerd_or_hint() -> Option<PathBuf> {
    let repo_cache = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.cache");
    let binary = workerd_binary(Some(&repo_cache));
    if binary.is_none() {
        eprintln!(
            "workerd is not installed: run crates/flaresync-emulator/scripts/install-workerd.sh"
        );
    }
    binary
}

/// An emulator serving its data plane on a loopback port (files under `dir`).
pub async fn start(binary: PathBuf, dir: &Path) -> (Arc<TestEmulator>, SocketAddr) {
    let emu = Arc::new(TestEmulator::start().await.expect("emulator"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let data = listener.local_addr().expect("addr");
    let options = DataPlaneOptions {
        workerd: binary,
        work_dir: dir.to_path_buf(),
    };
    let emulator = emu.emulator().clone();
    tokio::spawn(async move {
        emulator
            .serve_data_plane(listener, options, std::future::pending())
            .await
    });
    (emu, data)
}

/// `Host` of `script` on the emulator's workers.dev subdomain.
pub fn host(script: &str) -> String {
    format!("{script}.flaresync-emulator.workers.dev")
}

/// Uploads `source` as `script` (a 100% deployment) and enables its workers.dev route.
pub async fn deploy(emu: &TestEmulator, script: &str, source: &str) {
    let url = format!(
        "{}/accounts/{}/workers/scripts/{script}",
        emu.base_url(),
        emu.account_id()
    );
    let metadata =
        json!({"main_module": "index.js", "compatibility_date": "2025-01-01", "bindings": []});
    let form = Form::new()
        .part("metadata", Part::text(metadata.to_string()))
        .part(
            "index.js",
            Part::bytes(source.as_bytes().to_vec())
                .file_name("index.js")
                .mime_str("application/javascript+module")
                .expect("mime"),
        );
    let client = reqwest::Client::new();
    let put = client
        .put(&url)
        .bearer_auth(emu.token())
        .multipart(form)
        .send()
        .await;
    assert!(put.is_ok_and(|r| r.status().is_success()), "upload");
    let sub = client
        .post(format!("{url}/subdomain"))
        .bearer_auth(emu.token())
        .json(&json!({"enabled": true}))
        .send()
        .await;
    assert!(sub.is_ok(), "workers.dev enabled");
}

/// Waits until `script` answers `body` on the data plane.
pub async fn wait_serving(data: SocketAddr, script: &str, body: &str) {
    let probe = reqwest::Client::new();
    loop {
        let answer = probe
            .get(format!("http://{data}/"))
            .header("host", host(script))
            .send()
            .await;
        if let Ok(response) = answer
            && response.text().await.is_ok_and(|text| text == body)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The version of `script`'s current deployment (its first, for a split).
pub async fn current_version(emu: &TestEmulator, script: &str) -> String {
    let url = format!(
        "{}/accounts/{}/workers/scripts/{script}/deployments",
        emu.base_url(),
        emu.account_id()
    );
    let answer: serde_json::Value = reqwest::Client::new()
        .get(url)
        .bearer_auth(emu.token())
        .send()
        .await
        .expect("deployments answer")
        .json()
        .await
        .expect("deployments json");
    answer["result"]["deployments"][0]["versions"][0]["version_id"]
        .as_str()
        .expect("a current version")
        .to_owned()
}

/// Deploys `version` of `script` at 100% (`?force=true`, as a rollback would).
pub async fn deploy_version(emu: &TestEmulator, script: &str, version: &str) {
    let url = format!(
        "{}/accounts/{}/workers/scripts/{script}/deployments?force=true",
        emu.base_url(),
        emu.account_id()
    );
    let body = json!({"strategy": "percentage", "versions": [{"version_id": version, "percentage": 100.0}]});
    let post = reqwest::Client::new()
        .post(url)
        .bearer_auth(emu.token())
        .json(&body)
        .send()
        .await;
    assert!(post.is_ok_and(|r| r.status().is_success()), "deployed");
}

/// The pids of this process's children named workerd.
pub fn workerd_children() -> Vec<String> {
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

/// CPU time (user + system, all threads) process `pid` has used so far, in microseconds
/// (`/proc/<pid>/stat`, at 100 clock ticks per second: 10 ms resolution).
pub fn cpu_us(pid: &str) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    // After the command: state(0) ppid ... utime(11) stime(12).
    let fields: Vec<u64> = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse().ok())
        .collect();
    fields.iter().sum::<u64>() * 10_000
}

/// The machine's load average over the last minute.
pub fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}
