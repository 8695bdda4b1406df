//! The demo's local Cloudflare: the emulator on loopback, and the resources the example Workers
//! bind (created through the API, as a user would).

use std::path::Path;

use anyhow::{Context as _, anyhow};
use tokio::{sync::oneshot, task::JoinHandle};

use crate::settings::{DEFAULT_EMULATOR_ACCOUNT, DEFAULT_EMULATOR_TOKEN};

/// The running emulator, and its data plane when workerd is installed.
pub struct LocalCloudflare {
    pub addr: std::net::SocketAddr,
    pub base_url: String,
    /// Where the deployed Workers answer HTTP (`None`: the data plane is off).
    pub data: Option<std::net::SocketAddr>,
    pub subdomain: String,
    stop: oneshot::Sender<()>,
    stop_data: Option<oneshot::Sender<()>>,
    server: JoinHandle<Result<(), flaresync_emulator::EmulatorError>>,
}

/// The resources created for the example Workers.
pub struct Resources {
    pub kv_cache: String,
    pub kv_sessions: String,
}

impl LocalCloudflare {
    /// Starts the emulator on `listen`, keeping its state under `state_dir`.
    pub async fn start(listen: &str, state_dir: &Path) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let addr = listener.local_addr()?;
        let mut config = flaresync_emulator::EmulatorConfig::new(
            DEFAULT_EMULATOR_ACCOUNT,
            vec![DEFAULT_EMULATOR_TOKEN.to_owned()],
        );
        config.state_dir = Some(state_dir.to_owned());
        std::fs::create_dir_all(state_dir)?;
        let emulator =
            flaresync_emulator::Emulator::open(config).context("cannot start the emulator")?;
        let (stop_data, data) = start_data_plane(&emulator, state_dir).await?;
        let subdomain = emulator.config().subdomain.clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(emulator.serve(listener, async move {
            let _ = stopped.await;
        }));
        Ok(LocalCloudflare {
            addr,
            base_url: format!("http://{addr}/client/v4"),
            data,
            subdomain,
            stop,
            stop_data,
            server,
        })
    }

    /// Creates the KV namespaces (with one signed-in session), R2 bucket and queue the example
    /// Workers bind.
    pub async fn create_resources(&self) -> anyhow::Result<Resources> {
        let http = reqwest::Client::new();
        let account = format!("{}/accounts/{DEFAULT_EMULATOR_ACCOUNT}", self.base_url);
        let kv = format!("{account}/storage/kv/namespaces");
        let kv_cache = create(&http, &kv, serde_json::json!({"title": "demo-CACHE"}), "id").await?;
        let kv_sessions = create(
            &http,
            &kv,
            serde_json::json!({"title": "demo-SESSIONS"}),
            "id",
        )
        .await?;
        let session = format!("{kv}/{kv_sessions}/values/{}", super::traffic::SESSION);
        let stored = http
            .put(&session)
            .bearer_auth(DEFAULT_EMULATOR_TOKEN)
            .body("ada")
            .send()
            .await
            .with_context(|| format!("PUT {session}"))?;
        if !stored.status().is_success() {
            return Err(anyhow!("PUT {session} answered {}", stored.status()));
        }
        let bucket = serde_json::json!({"name": "demo-uploads"});
        create(&http, &format!("{account}/r2/buckets"), bucket, "name").await?;
        let queue = serde_json::json!({"queue_name": "demo-jobs"});
        create(&http, &format!("{account}/queues"), queue, "queue_name").await?;
        Ok(Resources {
            kv_cache,
            kv_sessions,
        })
    }

    /// Stops the emulator (waits up to 5 s for it) and its data plane.
    pub async fn stop(self) {
        if let Some(stop) = self.stop_data {
            let _ = stop.send(());
        }
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), self.server).await;
    }
}

/// The data plane on loopback when workerd is installed; otherwise one line saying what the demo
/// skips and how to enable it.
async fn start_data_plane(
    emulator: &flaresync_emulator::Emulator,
    state_dir: &Path,
) -> anyhow::Result<(Option<oneshot::Sender<()>>, Option<std::net::SocketAddr>)> {
    use flaresync_emulator::dataplane::{DataPlaneOptions, locate};
    let cache = Path::new(".cache");
    let found = match locate::workerd_binary(Some(cache)) {
        Some(workerd) => Ok(workerd),
        None => {
            println!(
                "(installing workerd@{} with npm into {}, once, so the Workers answer HTTP)",
                locate::WORKERD_VERSION,
                locate::cache_dir(cache).display()
            );
            locate::install_with_npm(cache)
        }
    };
    let workerd = match found {
        Ok(workerd) => workerd,
        Err(why) => {
            println!(
                "(skipping the Workers' HTTP answers: workerd is not installed and {why}; run \
                 crates/flaresync-emulator/scripts/install-workerd.sh with Node.js/npm to see them)"
            );
            return Ok((None, None));
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("cannot listen for the data plane")?;
    let addr = listener.local_addr()?;
    let options = DataPlaneOptions {
        workerd,
        work_dir: state_dir.join("dataplane"),
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let emulator = emulator.clone();
    tokio::spawn(async move {
        let stopped = async move {
            let _ = stopped.await;
        };
        if let Err(error) = emulator.serve_data_plane(listener, options, stopped).await {
            eprintln!("the demo's data plane stopped: {error}");
        }
    });
    Ok((Some(stop), Some(addr)))
}

async fn create(
    http: &reqwest::Client,
    url: &str,
    body: serde_json::Value,
    field: &str,
) -> anyhow::Result<String> {
    let response = http
        .post(url)
        .bearer_auth(DEFAULT_EMULATOR_TOKEN)
        .json(&body)
        .send()
        .await
        .with_context(|| format!("POST {url}"))?;
    let status = response.status();
    let value: serde_json::Value = response
        .json()
        .await
        .with_context(|| format!("POST {url}: not JSON"))?;
    value["result"][field]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("POST {url} answered {status}: {value}"))
}
