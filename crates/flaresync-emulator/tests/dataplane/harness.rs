//! A test emulator with its data plane on workerd, and a small API client for it.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use flaresync_emulator::dataplane::DataPlaneOptions;
use flaresync_emulator::dataplane::locate::workerd_binary;
use flaresync_emulator::testing::TestEmulator;

use crate::common;
use serde_json::{Value, json};

use super::wrangler_cli::{Wrangler, wrangler_entry};

pub struct Plane {
    pub emu: TestEmulator,
    pub http: reqwest::Client,
    pub data: std::net::SocketAddr,
    _dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

/// The workerd binary, or `None` (with a note) when `FLARESYNC_SKIP_WORKERD=1` and it is missing.
pub fn workerd() -> Option<PathBuf> {
    let repo_cache = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.cache");
    match workerd_binary(Some(&repo_cache)) {
        Some(path) => Some(path),
        None if std::env::var_os("FLARESYNC_SKIP_WORKERD").is_some() => {
            eprintln!("skipped: workerd is not installed (FLARESYNC_SKIP_WORKERD is set)");
            None
        }
        None => panic!(
            "workerd is not installed: run crates/flaresync-emulator/scripts/install-workerd.sh \
             (or set FLARESYNC_SKIP_WORKERD=1 to skip)"
        ),
    }
}

impl Plane {
    /// Real wrangler for a project in `<dir>/project` (home, output file beside it) against this
    /// emulator; `None` (skipped) when wrangler is missing and `FLARESYNC_SKIP_WRANGLER=1`.
    pub fn wrangler(&self, dir: &std::path::Path) -> Option<Wrangler> {
        let entry = wrangler_entry();
        if !entry.exists() {
            assert!(
                std::env::var("FLARESYNC_SKIP_WRANGLER").as_deref() == Ok("1"),
                "wrangler is not installed: run crates/flaresync-emulator/scripts/install-wrangler.sh"
            );
            return None;
        }
        let (project, home) = (dir.join("project"), dir.join("home"));
        std::fs::create_dir_all(&project).expect("project");
        std::fs::create_dir_all(&home).expect("home");
        Some(Wrangler {
            entry,
            project,
            home,
            output_file: dir.join("out.ndjson"),
            base_url: self.emu.base_url(),
            token: self.emu.token().to_owned(),
            account: self.emu.account_id().to_owned(),
        })
    }

    /// The emulator with its data plane serving.
    pub async fn start(workerd: PathBuf) -> Self {
        let mut plane = Self::control_plane_only().await;
        plane.start_data_plane(workerd);
        plane
    }

    /// The emulator alone (uploads are not checked by workerd until the data plane starts).
    pub async fn control_plane_only() -> Self {
        let emu = TestEmulator::start().await.expect("emulator starts");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind data plane");
        let data = listener.local_addr().expect("addr");
        drop(listener);
        Self {
            emu,
            http: reqwest::Client::new(),
            data,
            _dir: tempfile::tempdir().expect("tempdir"),
            stop: None,
        }
    }

    /// Starts the data plane on the address reserved for it.
    pub fn start_data_plane(&mut self, workerd: PathBuf) {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let emulator = self.emu.emulator().clone();
        let options = DataPlaneOptions {
            workerd,
            work_dir: self._dir.path().to_path_buf(),
        };
        let address = self.data;
        tokio::spawn(async move {
            let listener = tokio::net::TcpListener::bind(address)
                .await
                .expect("bind data plane");
            let shutdown = async move {
                let _ = stopped.await;
            };
            emulator
                .serve_data_plane(listener, options, shutdown)
                .await
                .expect("data plane serves");
        });
        self.stop = Some(stop);
    }

    fn url(&self, path: &str) -> String {
        common::account_url(&self.emu, path)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Value {
        common::json_answer(&self.emu, request).await
    }

    /// Sends `method` with a JSON body to `path` below `/client/v4`; returns the envelope.
    pub async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.emu.base_url());
        self.send(self.http.request(method, url).json(&body)).await
    }

    /// `PUT …/scripts/{name}` (deploys at 100%) and enables workers.dev; returns the envelope.
    pub async fn put_script(&self, name: &str, main: &str, metadata: Value) -> Value {
        let put = self.http.put(self.url(&format!("/workers/scripts/{name}")));
        let answer = self
            .send(put.multipart(common::module_form(&metadata, main)))
            .await;
        if answer["success"] == json!(true) {
            let sub = self
                .http
                .post(self.url(&format!("/workers/scripts/{name}/subdomain")))
                .json(&json!({"enabled": true}));
            self.send(sub).await;
        }
        answer
    }

    /// `POST …/versions`; returns the new version id.
    pub async fn upload_version(&self, name: &str, main: &str, bindings: Value) -> String {
        let post = self
            .http
            .post(self.url(&format!("/workers/scripts/{name}/versions")));
        let answer = self
            .send(post.multipart(common::module_form(&metadata(bindings), main)))
            .await;
        answer["result"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("version uploaded: {answer}"))
            .to_owned()
    }

    /// `POST …/deployments` with the given (version, percentage) pairs.
    pub async fn deploy(&self, name: &str, versions: &[(&str, f64)]) {
        let versions: Vec<Value> = versions
            .iter()
            .map(|(id, p)| json!({"version_id": id, "percentage": p}))
            .collect();
        let post = self
            .http
            .post(self.url(&format!("/workers/scripts/{name}/deployments?force=true")))
            .json(&json!({"strategy": "percentage", "versions": versions}));
        let answer = self.send(post).await;
        assert_eq!(answer["success"], json!(true), "deployed: {answer}");
    }

    /// The current deployment's version ids.
    pub async fn current_versions(&self, name: &str) -> Vec<String> {
        let get = self
            .http
            .get(self.url(&format!("/workers/scripts/{name}/deployments")));
        let answer = self.send(get).await;
        answer["result"]["deployments"][0]["versions"]
            .as_array()
            .map(|vs| {
                vs.iter()
                    .filter_map(|v| v["version_id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `POST /client/v4/graphql` with `query` and `variables`; the answer's JSON.
    pub async fn graphql(&self, query: &str, variables: Value) -> Value {
        self.http
            .post(format!("{}/graphql", self.emu.base_url()))
            .bearer_auth(self.emu.token())
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .await
            .expect("graphql answers")
            .json()
            .await
            .expect("graphql json")
    }

    /// A request to `https://<script>.flaresync-emulator.workers.dev<path>` on the data plane.
    pub async fn get(&self, script: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
        let host = format!("{script}.flaresync-emulator.workers.dev");
        self.get_host(&host, path, headers).await
    }

    /// A request to `http://<host><path>` on the data plane.
    pub async fn get_host(
        &self,
        host: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> (u16, String) {
        let mut request = self
            .http
            .get(format!("http://{}{path}", self.data))
            .header("host", host);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                (status, response.text().await.unwrap_or_default())
            }
            Err(error) => (0, error.to_string()),
        }
    }

    /// The pids of the workerd processes serving this data plane (found by their config
    /// directory below this plane's work dir; upload checks are short-lived and excluded).
    pub fn workerd_pids(&self) -> Vec<String> {
        let runtime = self._dir.path().join("runtime").join("gen-");
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        let mut pids: Vec<String> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|pid| pid.bytes().all(|b| b.is_ascii_digit()))
            .filter(|pid| {
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                let cmdline = String::from_utf8_lossy(&cmdline);
                cmdline.contains("\0serve\0") && cmdline.contains(&*runtime.to_string_lossy())
            })
            .collect();
        pids.sort();
        pids
    }

    /// Polls `path` until the answer satisfies `done`; returns it. Panics with the last answer
    /// when that does not happen within 20 s (a hang guard, not a measurement).
    pub async fn until(
        &self,
        script: &str,
        path: &str,
        mut done: impl FnMut(u16, &str) -> bool,
    ) -> (u16, String) {
        let started = Instant::now();
        loop {
            let (status, body) = self.get(script, path, &[]).await;
            if done(status, &body) {
                return (status, body);
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "{script}{path} never answered as expected; last answer {status}: {body}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Plane {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

pub fn metadata(bindings: Value) -> Value {
    json!({
        "main_module": "index.js",
        "bindings": bindings,
        "compatibility_date": "2025-01-01",
        "compatibility_flags": [],
    })
}
