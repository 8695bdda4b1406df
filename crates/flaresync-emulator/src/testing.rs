//! [`TestEmulator`]: an emulator on `127.0.0.1:<random port>` inside the current tokio runtime,
//! with admin helpers (faults, request log, resource creation) for tests in any crate.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde_json::Value;
use tokio::sync::oneshot;

use rusqlite::Transaction;

use crate::state::{Ctx, Reply, resources};
use crate::{
    ApiError, Emulator, EmulatorConfig, EmulatorError, FaultKind, FaultSpec, LoggedRequest,
};

/// Token accepted by [`TestEmulator::start`].
pub const TEST_TOKEN: &str = "flaresync-test-token";
/// Account served by [`TestEmulator::start`].
pub const TEST_ACCOUNT_ID: &str = "0123456789abcdef0123456789abcdef";

/// A running in-process emulator; stops when dropped.
pub struct TestEmulator {
    emulator: Emulator,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), EmulatorError>>>,
}

/// The default test configuration (in-memory state, [`TEST_TOKEN`], [`TEST_ACCOUNT_ID`]).
pub fn test_config() -> EmulatorConfig {
    EmulatorConfig::new(TEST_ACCOUNT_ID, vec![TEST_TOKEN.to_owned()])
}

fn result_field(reply: Reply, key: &str) -> Result<String, ApiError> {
    reply
        .result
        .as_ref()
        .and_then(|r| r.get(key))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(ApiError::internal)
}

impl TestEmulator {
    /// Starts with [`test_config`].
    pub async fn start() -> Result<Self, EmulatorError> {
        Self::start_with(test_config()).await
    }

    /// Starts with the given config (e.g. a `state_dir` or a smaller `version_window`).
    pub async fn start_with(config: EmulatorConfig) -> Result<Self, EmulatorError> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|source| EmulatorError::Bind {
                addr: "127.0.0.1:0".into(),
                source,
            })?;
        let addr = listener.local_addr().map_err(EmulatorError::LocalAddr)?;
        let emulator = Emulator::open(config)?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(emulator.clone().serve(listener, async move {
            let _ = stopped.await;
        }));
        Ok(Self {
            emulator,
            addr,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:<port>/client/v4` (what `CLOUDFLARE_API_BASE_URL` should be).
    pub fn base_url(&self) -> String {
        format!("http://{}/client/v4", self.addr)
    }

    /// `http://127.0.0.1:<port>` (for `/__emulator/*`).
    pub fn root_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The first configured API token.
    pub fn token(&self) -> &str {
        self.emulator
            .config()
            .tokens
            .first()
            .map(String::as_str)
            .unwrap_or_default()
    }

    pub fn account_id(&self) -> &str {
        &self.emulator.config().account_id
    }

    pub fn state_dir(&self) -> Option<PathBuf> {
        self.emulator.config().state_dir.clone()
    }

    pub fn emulator(&self) -> &Emulator {
        &self.emulator
    }

    /// Adds a fault rule; see [`FaultSpec`].
    pub fn add_fault(&self, spec: FaultSpec) -> Result<u64, crate::faults::FaultError> {
        self.emulator.add_fault(spec)
    }

    /// Shorthand: the next `count` requests matching `method` and a path regex get `kind`.
    pub fn fault(&self, method: &str, path_regex: &str, kind: FaultKind, count: u32) -> u64 {
        self.emulator
            .add_fault(FaultSpec::matching(method, path_regex, kind, count))
            .unwrap_or_else(|e| panic!("test fault path_regex {path_regex:?} is invalid: {e}"))
    }

    pub fn clear_faults(&self) {
        self.emulator.clear_faults();
    }

    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.emulator.requests()
    }

    pub fn reset(&self) -> Result<(), ApiError> {
        self.emulator.reset()
    }

    /// Runs `handler` on the state; the field `key` of its answer (the new resource's id).
    fn create(
        &self,
        key: &str,
        handler: impl FnOnce(&Transaction<'_>, &Ctx) -> Result<Reply, ApiError>,
    ) -> Result<String, ApiError> {
        let reply = self.emulator.with_state(handler)?;
        result_field(reply, key)
    }

    /// Runs `handler` on the state, ignoring its answer.
    fn change(
        &self,
        handler: impl FnOnce(&Transaction<'_>, &Ctx) -> Result<Reply, ApiError>,
    ) -> Result<(), ApiError> {
        self.emulator.with_state(handler).map(|_| ())
    }

    /// Creates a KV namespace; returns its id.
    pub fn create_kv_namespace(&self, title: &str) -> Result<String, ApiError> {
        self.create("id", |tx, ctx| resources::kv::create(tx, ctx, title))
    }

    pub fn delete_kv_namespace(&self, id: &str) -> Result<(), ApiError> {
        self.change(|tx, _| resources::kv::delete(tx, id))
    }

    /// Creates an R2 bucket (`jurisdiction` None = default).
    pub fn create_r2_bucket(&self, name: &str, jurisdiction: Option<&str>) -> Result<(), ApiError> {
        self.change(|tx, ctx| resources::r2::create(tx, ctx, name, jurisdiction, None, None))
    }

    pub fn delete_r2_bucket(&self, name: &str, jurisdiction: Option<&str>) -> Result<(), ApiError> {
        self.change(|tx, _| resources::r2::delete(tx, name, jurisdiction))
    }

    /// Creates a D1 database; returns its uuid.
    pub fn create_d1_database(&self, name: &str) -> Result<String, ApiError> {
        self.create("uuid", |tx, ctx| resources::d1::create(tx, ctx, name, None))
    }

    pub fn delete_d1_database(&self, id: &str) -> Result<(), ApiError> {
        self.change(|tx, _| resources::d1::delete(tx, id))
    }

    /// Creates a queue; returns its id.
    pub fn create_queue(&self, name: &str) -> Result<String, ApiError> {
        self.create("queue_id", |tx, ctx| {
            resources::queues::create(tx, ctx, name)
        })
    }

    pub fn delete_queue(&self, id: &str) -> Result<(), ApiError> {
        self.change(|tx, _| resources::queues::delete(tx, id))
    }

    /// Starts the data plane on `127.0.0.1:<random port>` with files under `work_dir`, when
    /// workerd is installed (`FLARESYNC_WORKERD`, `$FLARESYNC_CACHE` or `repo_cache`); returns its
    /// address, or `None` (workerd missing). It stops with the test's runtime.
    pub async fn start_data_plane(
        &self,
        work_dir: &std::path::Path,
        repo_cache: Option<&std::path::Path>,
    ) -> Option<SocketAddr> {
        let workerd = crate::dataplane::locate::workerd_binary(repo_cache)?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.ok()?;
        let addr = listener.local_addr().ok()?;
        let options = crate::dataplane::DataPlaneOptions {
            workerd,
            work_dir: work_dir.to_path_buf(),
        };
        let emulator = self.emulator.clone();
        tokio::spawn(async move {
            let _ = emulator
                .serve_data_plane(listener, options, std::future::pending())
                .await;
        });
        Some(addr)
    }

    /// Stops serving and waits for the server task.
    pub async fn stop(mut self) -> Result<(), EmulatorError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await.unwrap_or(Ok(())),
            None => Ok(()),
        }
    }
}

impl Drop for TestEmulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
