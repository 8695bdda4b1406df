//! Keeps workerd in step with the control plane: polls the state's fingerprint, and on a change
//! checks new versions' bundles, renders the config, reuses the running process when the config
//! is unchanged (a rollback or a new split of warm versions only swaps the table) or starts a
//! new one on fresh unix sockets, then swaps the routing table. The old process serves its in-flight
//! requests and stops when the last one is done.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use super::asset_rules;
use super::asset_services::AssetWorkerSources;
use super::desired::{self, Desired, VersionBundle};
use super::error::DataPlaneError;
use super::supervisor::{Generation, Runtime};
use super::table::{Route, SharedTable, Table};
use super::watchdog::{self, CpuWindow};
use super::workerd_config::{Layout, render};
use crate::http::AppState;

/// How often the control plane's state is polled when nothing wakes the controller (every
/// committed write does: a new deployment is live as soon as it is applied, plus the workerd
/// start time when new code is involved).
const POLL: Duration = Duration::from_secs(1);
/// The least time between two polls, so a burst of writes (a Worker writing KV on every
/// request) costs one fingerprint read per interval, not one per write.
const MIN_GAP: Duration = Duration::from_millis(10);
/// Pause after a failed reconcile before trying again.
const RETRY: Duration = Duration::from_secs(1);

pub struct Controller {
    pub runtime: Runtime,
    pub app: AppState,
    pub table: SharedTable,
    /// `host:port` of the listener (service bindings call back into it).
    pub listener: String,
    pub storage_dir: String,
    /// Cloudflare's asset and router workers, when installed.
    pub asset_sources: Option<AssetWorkerSources>,
    checked: HashMap<String, Result<(), String>>,
    generations: u64,
    seen: Option<String>,
    /// The running process's CPU over the watchdog's window, and that process's number.
    cpu_window: (u64, CpuWindow),
}

impl Controller {
    pub fn new(
        runtime: Runtime,
        app: AppState,
        table: SharedTable,
        listener: String,
        storage_dir: String,
        asset_sources: Option<AssetWorkerSources>,
    ) -> Self {
        Self {
            runtime,
            app,
            table,
            listener,
            storage_dir,
            asset_sources,
            checked: HashMap::new(),
            generations: 0,
            seen: None,
            cpu_window: (0, CpuWindow::default()),
        }
    }

    /// Runs until the task is dropped.
    pub async fn run(mut self) {
        loop {
            self.watch();
            match self.tick().await {
                Ok(()) => {
                    tokio::time::sleep(MIN_GAP).await;
                    let _ = tokio::time::timeout(POLL, self.app.db.written()).await;
                }
                Err(error) => {
                    tracing::warn!(error = %error, "The data plane could not apply a change.");
                    tokio::time::sleep(RETRY).await;
                }
            }
        }
    }

    /// One poll: applies the state when it changed.
    pub async fn tick(&mut self) -> Result<(), DataPlaneError> {
        let fingerprint = self.read(desired::fingerprint).await?;
        if self.seen.as_ref() == Some(&fingerprint) {
            return Ok(());
        }
        let wanted = self.read(desired::load).await?;
        self.apply(&wanted).await?;
        self.seen = Some(fingerprint);
        Ok(())
    }

    /// Looks after the running process: one that exited (a crash, a kill) or that a looping
    /// request wedged ([`watchdog`]) is started again at the next tick.
    fn watch(&mut self) {
        let table = self.table.current();
        let Some(generation) = table.generation.as_deref() else {
            return;
        };
        if !generation.alive() {
            if self.seen.take().is_some() {
                tracing::warn!(
                    generation = generation.number,
                    "workerd exited; the data plane starts it again."
                );
            }
            return;
        }
        let Some(meter) = &generation.cpu else {
            return;
        };
        if self.cpu_window.0 != generation.number {
            self.cpu_window = (generation.number, CpuWindow::default());
        }
        let now = std::time::Instant::now();
        if let Some(cpu_ns) = meter.cpu_ns() {
            let finished = meter.finished();
            self.cpu_window
                .1
                .sample(now, watchdog::Reading { cpu_ns, finished });
        }
        let oldest = meter.oldest_in_flight();
        let age = oldest.as_ref().map(|(at, _)| now.duration_since(*at));
        if let Some((_, version)) = oldest
            && watchdog::wedged(age, self.cpu_window.1.stuck())
        {
            let why = format!(
                "version {version} kept workerd's CPU busy for over {} s without answering \
                 (an endless loop?); the data plane restarted the process, as Cloudflare stops \
                 a Worker over its CPU limit",
                watchdog::CPU_LIMIT.as_secs()
            );
            tracing::warn!(generation = generation.number, "{why}");
            generation.stop(why);
            self.seen = None;
        }
    }

    async fn read<T: Send + 'static>(
        &self,
        f: fn(&rusqlite::Transaction<'_>) -> Result<T, crate::ApiError>,
    ) -> Result<T, DataPlaneError> {
        let app = self.app.clone();
        tokio::task::spawn_blocking(move || app.db.read(f))
            .await
            .map_err(|e| DataPlaneError::State(e.to_string()))?
            .map_err(|e| DataPlaneError::State(e.message))
    }

    async fn apply(&mut self, wanted: &Desired) -> Result<(), DataPlaneError> {
        // Verdicts of versions no longer wanted go, so a long run keeps only what it serves.
        self.checked
            .retain(|id, _| wanted.versions.contains_key(id));
        for version in wanted.versions.values() {
            if !self.checked.contains_key(&version.id) {
                let verdict = self.check(version).await;
                self.checked.insert(version.id.clone(), verdict);
                warn_ignored_asset_rules(version);
            }
        }
        let runnable: Vec<&VersionBundle> = wanted
            .versions
            .values()
            .filter(|v| matches!(self.checked.get(&v.id), Some(Ok(()))))
            .collect();
        let implementers = implementers(wanted, &runnable);
        let current = self.table.current().generation.clone();
        let generation = match current.filter(|g| self.reusable(g, &runnable, &implementers)) {
            Some(same) => Some(same),
            None if runnable.is_empty() => None,
            None => Some(Arc::new(self.start(&runnable, implementers).await?)),
        };
        let routes = routes(wanted, &self.checked, generation.as_deref());
        self.table.replace(Table {
            routes,
            hosts: wanted.hosts.clone(),
            generation,
        });
        Ok(())
    }

    /// Checks one version alone in workerd, unless its code passed the upload check.
    pub async fn check(&self, version: &VersionBundle) -> Result<(), String> {
        if self
            .app
            .upload_check
            .get()
            .is_some_and(|check| check.passed(version))
        {
            return Ok(());
        }
        let layout = self.layout(
            BTreeMap::from([(version.script.clone(), vec![(version.id.clone(), 100.0)])]),
            // `workerd test` binds no socket.
            BTreeMap::from([(version.id.clone(), "127.0.0.1:1".to_owned())]),
        );
        let rendered = render(&[version], &layout);
        if let Some((_, reason)) = rendered.skipped.first() {
            return Err(reason.clone());
        }
        self.runtime
            .check(&version.id, &rendered)
            .await
            .map_err(|e| e.to_string())
    }

    fn layout(&self, implementers: Implementers, addresses: BTreeMap<String, String>) -> Layout {
        Layout {
            listener: self.listener.clone(),
            storage_dir: self.storage_dir.clone(),
            durable_objects: implementers,
            addresses,
            asset_sources: self.asset_sources.clone(),
        }
    }

    fn reusable(
        &self,
        generation: &Generation,
        runnable: &[&VersionBundle],
        implementers: &Implementers,
    ) -> bool {
        let same_set = generation.alive()
            && runnable.len() == generation.sockets.len()
            && runnable
                .iter()
                .all(|v| generation.sockets.contains_key(&v.id));
        same_set
            && render(
                runnable,
                &self.layout(
                    implementers.clone(),
                    self.runtime.addresses(&generation.sockets),
                ),
            )
            .identity()
                == generation.identity
    }

    async fn start(
        &mut self,
        runnable: &[&VersionBundle],
        implementers: Implementers,
    ) -> Result<Generation, DataPlaneError> {
        self.generations += 1;
        let ids: Vec<&str> = runnable.iter().map(|v| v.id.as_str()).collect();
        let sockets = self.runtime.socket_names(self.generations, &ids);
        let addresses = self.runtime.addresses(&sockets);
        let rendered = render(runnable, &self.layout(implementers, addresses));
        self.runtime
            .start(self.generations, &rendered, sockets)
            .await
    }
}

/// Logs, once per version, the `_headers` / `_redirects` lines Cloudflare's parser ignores.
fn warn_ignored_asset_rules(version: &VersionBundle) {
    let Some(assets) = &version.assets else {
        return;
    };
    for (file, ignored) in asset_rules::parse(&assets.config).invalid {
        let at = ignored
            .line_number
            .map(|n| format!(":{n}"))
            .unwrap_or_default();
        tracing::warn!(
            script = %version.script,
            version = %version.id,
            "{file}{at}: {} (the rule is ignored)",
            ignored.message
        );
    }
}

/// Worker -> the versions implementing its Durable Object classes with their share of objects.
type Implementers = BTreeMap<String, Vec<(String, f64)>>;

/// Per Worker, the versions implementing its Durable Object classes (SPEC-2 §6.5): the runnable
/// versions of the current deployment with a positive share, in deployment order, else any
/// runnable version of that Worker.
fn implementers(wanted: &Desired, runnable: &[&VersionBundle]) -> Implementers {
    let runs = |id: &str| runnable.iter().any(|v| v.id == id);
    let mut out = BTreeMap::new();
    for script in &wanted.scripts {
        let mut shares: Vec<(String, f64)> = script
            .shares
            .iter()
            .filter(|s| runs(&s.version_id) && s.percentage > 0.0)
            .map(|s| (s.version_id.clone(), s.percentage))
            .collect();
        if shares.is_empty()
            && let Some(any) = runnable.iter().find(|v| v.script == script.name)
        {
            shares.push((any.id.clone(), 100.0));
        }
        if !shares.is_empty() {
            out.insert(script.name.clone(), shares);
        }
    }
    out
}

fn routes(
    wanted: &Desired,
    checked: &HashMap<String, Result<(), String>>,
    generation: Option<&Generation>,
) -> HashMap<String, Route> {
    let socket = |id: &str| -> Result<Arc<str>, String> {
        match checked.get(id) {
            Some(Err(reason)) => Err(reason.clone()),
            _ => generation
                .and_then(|g| g.sockets.get(id).cloned())
                .ok_or_else(|| format!("version {id} is not running")),
        }
    };
    wanted
        .scripts
        .iter()
        .map(|script| {
            let route = Route {
                name: script.name.as_str().into(),
                workers_dev: script.workers_dev,
                shares: script.shares.clone(),
                version_ids: script
                    .shares
                    .iter()
                    .map(|s| s.version_id.as_str().into())
                    .collect(),
                sockets: script
                    .shares
                    .iter()
                    .map(|s| socket(&s.version_id))
                    .collect(),
            };
            (script.name.clone(), route)
        })
        .collect()
}
