//! flaresync-emulator: a faithful emulator of Cloudflare's Workers control-plane API.
//!
//! It is the test double of record and flaresync's embedded default backend. It serves, under
//! `/client/v4`, the endpoints wrangler and flaresync use (scripts, versions, deployments,
//! settings, secrets, subdomains, static assets, KV/R2/D1/Queues, identity) with Cloudflare's envelope,
//! status and error codes, enforces Cloudflare's deployment rules (see [`state::rules`]),
//! rate-limits per token, and lets tests inject faults through `/__emulator/*`.
//!
//! Layout: [`state`] is the pure core (functions over one SQLite transaction); [`http`] is the
//! thin axum shell; [`serve`] runs it on a listener; [`testing::TestEmulator`] starts one
//! in-process for tests of any crate. [`dataplane`] runs the deployed Workers on workerd
//! (`Emulator::serve_data_plane`) and feeds the GraphQL analytics endpoint.
//!
//! What it deliberately does not do: routes/custom domains/cron triggers,
//! Workers for Platforms, the legacy `rollback_to` deployments API.
//!
//! The crate's `README.md` lists the endpoints, the deployment rules with their codes, the
//! `/__emulator` admin API (faults, request log, reset) and the rate-limit behaviour.

pub mod config;
pub mod dataplane;
pub mod error;
pub mod faults;
pub mod http;
pub mod ratelimit;
pub mod state;
pub mod testing;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower::ServiceExt;

pub use config::{DEFAULT_VERSION_WINDOW, DEFAULT_ZONE, EmulatorConfig, RateLimit};
pub use error::{ApiError, EmulatorError};
pub use faults::{FaultKind, FaultSpec};
pub use http::LoggedRequest;

/// A configured emulator (state opened), ready to serve.
#[derive(Clone)]
pub struct Emulator {
    shared: http::AppState,
}

/// Error a connection's service returns to make hyper close the socket without answering.
#[derive(Debug, thiserror::Error)]
#[error("connection dropped by an injected fault")]
struct Dropped;

impl Emulator {
    /// Validates the config and opens the state (a file in `state_dir`, or memory).
    pub fn open(config: EmulatorConfig) -> Result<Self, EmulatorError> {
        config.validate()?;
        let db = match &config.state_dir {
            Some(dir) => state::Db::open(dir)?,
            None => state::Db::in_memory()?,
        };
        state::zones::seed_now(&db, &config.zones)
            .map_err(|e| EmulatorError::Config(format!("cannot seed the zones: {}", e.message)))?;
        Ok(Self {
            shared: Arc::new(http::Shared::new(config, db)),
        })
    }

    pub fn config(&self) -> &EmulatorConfig {
        &self.shared.config
    }

    /// The axum router (useful for in-process `oneshot` tests; no connection drops there).
    pub fn router(&self) -> axum::Router {
        http::router(self.shared.clone())
    }

    /// Adds a fault rule (same as `POST /__emulator/faults`); returns its id.
    pub fn add_fault(&self, spec: FaultSpec) -> Result<u64, faults::FaultError> {
        self.shared.add_fault(spec)
    }

    /// Removes all fault rules.
    pub fn clear_faults(&self) {
        self.shared.clear_faults();
    }

    /// The API requests served so far (oldest first, up to the last 10 000).
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.shared.requests()
    }

    /// Clears faults, the request log, rate-limit counters and all state.
    pub fn reset(&self) -> Result<(), ApiError> {
        self.shared.reset()
    }

    /// Runs a state-core function in one write transaction (admin helpers, tests).
    pub fn with_state<T>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>, &state::Ctx) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let ctx = self.shared.ctx(&axum::http::HeaderMap::new());
        self.shared.db.write(|tx| f(tx, &ctx))
    }

    /// Serves on `listener` until `shutdown` completes, then drains open connections (5 s).
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), EmulatorError> {
        let router = self.router();
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut connections = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                accepted = listener.accept() => {
                    let stream = match accepted {
                        Ok((stream, _)) => stream,
                        Err(error) => {
                            tracing::warn!(error = %error, "Emulator failed to accept a connection.");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    let router = router.clone();
                    let mut stop = stop_rx.clone();
                    connections.spawn(async move {
                        let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                            let router = router.clone();
                            async move {
                                let response = match router.oneshot(req.map(axum::body::Body::new)).await {
                                    Ok(r) => r,
                                    Err(never) => match never {},
                                };
                                if response.extensions().get::<http::DropConnection>().is_some() {
                                    Err(Dropped)
                                } else {
                                    Ok(response)
                                }
                            }
                        });
                        let conn = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service);
                        tokio::pin!(conn);
                        tokio::select! {
                            _ = conn.as_mut() => {}
                            _ = stop.changed() => {
                                conn.as_mut().graceful_shutdown();
                                let _ = conn.await;
                            }
                        }
                    });
                }
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        let _ = stop_tx.send(true);
        let drained = tokio::time::timeout(Duration::from_secs(5), async {
            while connections.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            connections.abort_all();
        }
        Ok(())
    }
}

/// Opens the state described by `config` and serves the API on `listener` until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    config: EmulatorConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), EmulatorError> {
    Emulator::open(config)?.serve(listener, shutdown).await
}
