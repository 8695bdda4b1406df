//! The local data plane: deployed Workers serve real HTTP on workerd, Cloudflare's runtime.
//!
//! `flaresync emulator --data-listen 127.0.0.1:8787` serves every Worker with workers.dev
//! enabled on `Host: <script>.<account subdomain>.workers.dev`, and every Worker on its custom
//! domains and route patterns ([`hosts`]), on a version of its current
//! deployment chosen like Cloudflare does (percentages, `Cloudflare-Workers-Version-Key`,
//! `Cloudflare-Workers-Version-Overrides`).
//!
//! Layout — pure decisions: [`routing`] (which version; [`overrides`] parses the header),
//! [`workerd_config`] (the runtime config; [`runtime_bindings`] translates bindings, [`entry`]
//! is the generated entry module, [`durable_routing`] assigns Durable Objects in a split,
//! [`capnp`] the literals), [`asset_rules`] (`_headers` / `_redirects`). I/O: [`desired`] reads
//! the control plane's state, [`supervisor`] runs workerd processes, [`controller`] keeps them
//! in step with deployments, [`listener`] forwards requests through the [`table`] (to workerd's
//! unix sockets with the [`unix_connector`]; [`upstream`] pools the connections and replays a
//! safe request workerd closed the connection on),
//! [`request_log`] keeps the invocations for GraphQL analytics ([`cpu_meter`] measures their
//! CPU time; older ones are summarised into [`request_summary`] buckets with
//! [`latency_sketch`] quantiles), [`kv_binding`] serves KV bindings from the emulator's store, [`graphql`] answers
//! the analytics API from them, [`asset_services`] renders Cloudflare's asset and router
//! workers for versions with static assets and [`assets_kv`] serves their files from the
//! emulator's store, [`upload_check`] refuses at upload time a bundle workerd cannot load.
//! [`locate`] finds the workerd binary; [`watchdog`] decides when a looping request has
//! wedged a workerd process (the controller then restarts it).

pub mod asset_rules;
pub mod asset_services;
pub mod assets_kv;
pub mod capnp;
pub mod controller;
pub mod cpu_meter;
pub mod desired;
pub mod durable_routing;
pub mod entry;
pub mod error;
pub mod graphql;
pub mod hosts;
pub mod kv_binding;
pub mod latency_sketch;
pub mod listener;
pub mod locate;
pub mod overrides;
pub mod request_log;
pub mod request_summary;
pub mod routing;
pub mod runtime_bindings;
pub mod supervisor;
pub mod table;
pub mod unix_connector;
pub mod upload_check;
pub mod upstream;
pub mod watchdog;
pub mod workerd_config;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::TcpListener;

pub use error::DataPlaneError;
pub use request_log::{Invocation, InvocationLog, Outcome};

use controller::Controller;
use listener::Listener;
use supervisor::Runtime;
use table::{SharedTable, Table};

/// Where the data plane keeps its files.
#[derive(Debug, Clone)]
pub struct DataPlaneOptions {
    /// The workerd binary (see [`locate::workerd_binary`]).
    pub workerd: PathBuf,
    /// Generated configs (rewritten on start) and Durable Object storage (kept).
    pub work_dir: PathBuf,
}

/// A fresh directory for the workerd processes' unix sockets, private to this user, under the
/// system's temporary directory (a socket path has at most 107 bytes, so not below the
/// possibly long work dir).
fn socket_dir() -> Result<PathBuf, DataPlaneError> {
    use std::os::unix::fs::DirBuilderExt;
    let id = uuid::Uuid::new_v4().simple().to_string();
    let dir = std::env::temp_dir().join(format!("flaresync-dp-{}", &id[..12]));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(|source| DataPlaneError::Files {
            dir: dir.clone(),
            source,
        })?;
    Ok(dir)
}

/// Removes a directory when dropped (also when the data plane's future is dropped unfinished).
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl crate::Emulator {
    /// Serves the data plane on `listener` until `shutdown` completes, following the control
    /// plane's deployments. The workerd processes stop with it.
    pub async fn serve_data_plane(
        &self,
        listener: TcpListener,
        options: DataPlaneOptions,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), DataPlaneError> {
        let address = listener.local_addr().map_err(DataPlaneError::Listen)?;
        let work_dir =
            std::path::absolute(&options.work_dir).map_err(|source| DataPlaneError::Files {
                dir: options.work_dir.clone(),
                source,
            })?;
        let runtime_dir = work_dir.join("runtime");
        let storage_dir = work_dir.join("durable-objects");
        let check_dir = work_dir.join("upload-check");
        for dir in [&runtime_dir, &storage_dir, &check_dir] {
            std::fs::create_dir_all(dir).map_err(|source| DataPlaneError::Files {
                dir: dir.clone(),
                source,
            })?;
        }
        let asset_sources = locate::asset_worker_sources(&options.workerd)
            .inspect_err(|message| tracing::warn!("{message}"))
            .ok();
        let socket_dir = socket_dir()?;
        let _remove_sockets = RemoveOnDrop(socket_dir.clone());
        let table = SharedTable::default();
        let runtime = Runtime {
            binary: options.workerd,
            work_dir: runtime_dir,
            socket_dir: socket_dir.clone(),
            checks: Arc::default(),
        };
        let _ = self
            .shared
            .upload_check
            .set(upload_check::UploadCheck::new(runtime.clone(), &check_dir));
        let controller = Controller::new(
            runtime,
            self.shared.clone(),
            table.clone(),
            address.to_string(),
            storage_dir.to_string_lossy().into_owned(),
            asset_sources,
        );
        let control = tokio::spawn(controller.run());
        let listener_service = Arc::new(Listener::new(
            self.shared.clone(),
            table.clone(),
            self.shared.invocations.clone(),
            &self.shared.config.subdomain,
            &socket_dir,
        ));
        listener_service.serve(listener, shutdown).await;
        control.abort();
        table.replace(Table::default());
        Ok(())
    }

    /// How many times the data plane has run `workerd test` on a bundle (uploads and
    /// deployments; 0 before the data plane starts).
    pub fn workerd_checks(&self) -> u64 {
        self.shared.upload_check.get().map_or(0, |check| {
            check
                .runtime
                .checks
                .load(std::sync::atomic::Ordering::Relaxed)
        })
    }

    /// The data plane's invocation log (what GraphQL analytics reads).
    pub fn invocations(&self) -> InvocationLog {
        self.shared.invocations.clone()
    }
}
