//! The API token never shows up in logs, errors or `Debug` output.
//!
//! A binary of its own: it installs a capturing tracing subscriber, and tracing caches per-callsite
//! interest process-wide, so tests running in parallel threads could make the capture miss events.

#[path = "it/mock.rs"]
#[expect(
    dead_code,
    reason = "the mock serves the `it` binary too; this one uses a part of it"
)]
mod mock;
#[path = "it/setup.rs"]
mod setup;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::Method;
use flaresync_cloudflare::{Client, ClientConfig, Error};
use flaresync_config::Module;
use serde_json::json;

use mock::{ACCOUNT, FaultKind, MockServer, TOKEN};

fn config(server: &MockServer) -> ClientConfig {
    let request_timeout = Duration::from_secs(2);
    setup::fast_config(server.base_url.clone(), ACCOUNT, TOKEN, 3, request_timeout)
}

fn client(server: &MockServer) -> Client {
    Client::new(config(server)).expect("valid config")
}

fn modules() -> Vec<Module> {
    let code = "export default { fetch() { return new Response('hi') } }";
    vec![setup::module(
        "index.js",
        "application/javascript+module",
        code,
    )]
}

fn metadata() -> serde_json::Value {
    json!({
        "main_module": "index.js",
        "annotations": {"workers/tag": "9b1e4c2d7a3f6e8b0c5d1a2f4e6b8c0d2a4f6e8b"}
    })
}

/// A `MakeWriter` that appends everything to a shared buffer.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("capture lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test(flavor = "current_thread")]
async fn token_never_appears_in_logs_errors_or_debug_output() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(capture.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = MockServer::start().await;
    server.fault(Method::POST, "/versions", FaultKind::FailAfterCommit, 1);
    server.fault(Method::GET, "/deployments", FaultKind::Status(500), 10);
    let client = client(&server);
    client
        .upload_version("demo", &metadata(), &modules())
        .await
        .expect("recovered upload");
    let api_error = client
        .list_deployments("demo")
        .await
        .expect_err("always 500");
    // A transport error: nothing listens on port 9.
    let mut unreachable = config(&server);
    unreachable.base_url = "http://127.0.0.1:9/client/v4".into();
    unreachable.retry.max_attempts = 1;
    let transport_error = Client::new(unreachable)
        .expect("valid config")
        .list_deployments("demo")
        .await
        .expect_err("connection refused");
    assert!(matches!(transport_error, Error::Transport { .. }));

    let logs =
        String::from_utf8(capture.0.lock().expect("capture lock").clone()).expect("utf-8 logs");
    // Per-request debug lines and retry warnings were captured, so the check below is real.
    for expected in [
        "Sending Cloudflare API request.",
        "Retrying Cloudflare API request.",
        "Write had already taken effect",
    ] {
        assert!(logs.contains(expected), "{expected:?} not in logs: {logs}");
    }
    let outputs = [
        logs,
        format!("{client:?}"),
        format!("{:?}", config(&server)),
        format!("{api_error} {api_error:?}"),
        format!("{transport_error} {transport_error:?}"),
        format!("{:?}", client.metrics()),
    ];
    for output in outputs {
        assert!(!output.contains(TOKEN), "token leaked in: {output}");
        assert!(
            !output.contains("7f3a9c1e"),
            "token fragment leaked in: {output}"
        );
    }
}
