//! The data-plane listener: takes a request for `<script>.<account subdomain>.workers.dev`, a
//! custom domain or a route pattern (or a service-binding call marked with the script header), asks [`routing`](super::routing) for
//! a version of the current deployment, forwards to the workerd (unix) socket serving it, records the
//! invocation, and streams the answer back.

use std::convert::Infallible;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::{Body, HttpBody};
use bytes::Bytes;
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response, StatusCode, header};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::asset_services::ASSETS_KV_HEADER;
use super::entry::OUTCOME_HEADER;
use super::hosts::HostMatch;
use super::request_log::{Invocation, InvocationLog, Outcome};
use super::routing::{self, KEY_HEADER, OVERRIDES_HEADER, RequestHints};
use super::supervisor::Generation;
use super::table::{SharedTable, Table};
use super::unix_connector::UnixConnector;
use super::upstream::{self, Upstream};
use super::workerd_config::{KV_HEADER, SCRIPT_HEADER};
use crate::http::AppState;

/// What the listener needs.
pub struct Listener {
    pub app: AppState,
    pub table: SharedTable,
    pub log: InvocationLog,
    /// `.<account subdomain>.workers.dev`, lowercase.
    pub host_suffix: String,
    client: Upstream,
}

impl Listener {
    /// `socket_dir`: where the workerd processes' unix sockets are.
    pub fn new(
        app: AppState,
        table: SharedTable,
        log: InvocationLog,
        subdomain: &str,
        socket_dir: &Path,
    ) -> Self {
        let connector = UnixConnector {
            dir: Arc::from(socket_dir),
        };
        Self {
            app,
            table,
            log,
            host_suffix: format!(".{}.workers.dev", subdomain.to_ascii_lowercase()),
            client: upstream::client(connector),
        }
    }

    /// Serves connections on `listener` until `shutdown` completes.
    pub async fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) {
        tokio::pin!(shutdown);
        loop {
            let stream = tokio::select! {
                _ = &mut shutdown => return,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(error) => {
                        tracing::warn!(error = %error, "The data plane failed to accept a connection.");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let _ = stream.set_nodelay(true);
            let this = self.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let this = this.clone();
                    async move { Ok::<_, Infallible>(this.handle(req).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    }

    /// Routes and forwards one request.
    pub async fn handle(&self, mut req: Request<Incoming>) -> Response<Body> {
        let started = Instant::now();
        if req.headers_mut().remove(ASSETS_KV_HEADER).is_some() {
            return super::assets_kv::serve(self.app.clone(), req).await;
        }
        if let Some(namespace) = req.headers_mut().remove(KV_HEADER) {
            let namespace = namespace.to_str().unwrap_or_default().to_owned();
            return super::kv_binding::serve(self.app.clone(), namespace, req).await;
        }
        let table = self.table.current();
        let Some(script) = self.script_of(&mut req, &table) else {
            return plain(StatusCode::NOT_FOUND, "There is nothing here yet.\n");
        };
        let Some(route) = table
            .routes
            .get(&script.name)
            .filter(|r| r.workers_dev || !script.via_workers_dev)
        else {
            return plain(StatusCode::NOT_FOUND, "There is nothing here yet.\n");
        };
        let hints = RequestHints {
            overrides: header_str(&req, OVERRIDES_HEADER),
            key: header_str(&req, KEY_HEADER),
        };
        let Some(choice) =
            routing::choose(&script.name, &route.shares, hints, rand::random::<f64>())
        else {
            return plain(StatusCode::SERVICE_UNAVAILABLE, "error code: 1101\n");
        };
        let version = &route.version_ids[choice.index];
        let meter = table.generation.as_deref().and_then(|g| g.cpu.as_ref());
        let mut started_cpu = meter.and_then(|m| m.start(version));
        let mut record = |status: u16, outcome: Outcome| {
            let wall = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
            let cpu = started_cpu.take().and_then(|s| s.finish());
            self.log.record(Invocation {
                at: chrono::Utc::now(),
                script: route.name.clone(),
                version_id: version.clone(),
                status,
                outcome,
                wall_time_us: wall,
                cpu_time_us: cpu.unwrap_or(wall),
                subrequests: 0,
            });
        };
        let socket = match &route.sockets[choice.index] {
            Ok(socket) => socket,
            Err(reason) => {
                record(500, Outcome::InternalError);
                return plain(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &format!("error code: 1101\nflaresync data plane: {reason}\n"),
                );
            }
        };
        match self.forward(req, socket).await {
            Ok(mut response) => {
                let threw = response.headers_mut().remove(OUTCOME_HEADER).is_some();
                let outcome = if threw {
                    Outcome::ScriptThrewException
                } else {
                    Outcome::Success
                };
                record(response.status().as_u16(), outcome);
                keep_alive(response, &table)
            }
            Err(error) => {
                let stopped = table
                    .generation
                    .as_deref()
                    .and_then(|g| g.stopped_because());
                if let Some(why) = stopped {
                    record(503, Outcome::ExceededResources);
                    return plain(
                        StatusCode::SERVICE_UNAVAILABLE,
                        &format!("error code: 1102\nflaresync data plane: {why}\n"),
                    );
                }
                let why = error_chain(&error);
                tracing::warn!(error = %why, script = %script.name, "workerd did not answer.");
                record(502, Outcome::InternalError);
                plain(
                    StatusCode::BAD_GATEWAY,
                    &format!(
                        "error code: 1101\nflaresync data plane: workerd did not answer: {why}\n"
                    ),
                )
            }
        }
    }

    /// The Worker a request is for: a service-binding call, `<script>.<subdomain>.workers.dev`,
    /// a custom domain or a route pattern (see [`Hosts`](super::hosts::Hosts)).
    fn script_of(&self, req: &mut Request<Incoming>, table: &Table) -> Option<Target> {
        if let Some(name) = req.headers_mut().remove(SCRIPT_HEADER) {
            return Some(Target {
                name: name.to_str().ok()?.to_owned(),
                via_workers_dev: false,
            });
        }
        let host = header_str(req, header::HOST.as_str())?;
        let host = host
            .rsplit_once(':')
            .map_or(host, |(h, _)| h)
            .to_ascii_lowercase();
        if let Some(name) = host.strip_suffix(&self.host_suffix) {
            return (!name.is_empty() && !name.contains('.')).then(|| Target {
                name: name.to_owned(),
                via_workers_dev: true,
            });
        }
        match table.hosts.lookup(&host, req.uri().path()) {
            HostMatch::Worker(name) => Some(Target {
                name: name.to_owned(),
                via_workers_dev: false,
            }),
            HostMatch::Off | HostMatch::None => None,
        }
    }

    async fn forward(
        &self,
        mut req: Request<Incoming>,
        socket: &str,
    ) -> Result<Response<Incoming>, hyper_util::client::legacy::Error> {
        let path = req
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        if let Ok(uri) = format!("http://{socket}{path}").parse() {
            *req.uri_mut() = uri;
        }
        upstream::send(&self.client, req).await
    }
}

struct Target {
    name: String,
    /// Reached through `<script>.<subdomain>.workers.dev` (served only while that is on);
    /// service-binding calls, custom domains and routes are not.
    via_workers_dev: bool,
}

/// An error and its sources, outermost first ("client error (SendRequest): connection closed
/// before message completed").
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(inner) = source {
        parts.push(inner.to_string());
        source = inner.source();
    }
    parts.join(": ")
}

fn header_str<'a>(req: &'a Request<Incoming>, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

fn plain(status: StatusCode, text: &str) -> Response<Body> {
    let mut response = Response::new(Body::from(text.to_owned()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain;charset=UTF-8"),
    );
    response
}

/// Streams the body while holding the workerd generation that produces it.
fn keep_alive(response: Response<Incoming>, table: &Table) -> Response<Body> {
    let generation = table.generation.clone();
    response.map(|inner| {
        Body::new(Guarded {
            inner,
            _generation: generation,
        })
    })
}

struct Guarded {
    inner: Incoming,
    _generation: Option<Arc<Generation>>,
}

impl HttpBody for Guarded {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}
