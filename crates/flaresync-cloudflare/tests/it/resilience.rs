//! The client against the in-test mock over real HTTP: request shapes, idempotent retries,
//! rate limits, budget, pagination and token hygiene.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::Method;
use flaresync_cloudflare::{
    BudgetConfig, Client, ClientConfig, Error, NewDeployment, RetryPolicy, Secret, Timeouts,
};
use flaresync_config::Module;
use serde_json::json;

use crate::mock::{ACCOUNT, FaultKind, MockServer, TOKEN};

const TAG: &str = "9b1e4c2d7a3f6e8b0c5d1a2f4e6b8c0d2a4f6e8b";

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        max_retry_after: Duration::from_secs(5),
        rate_limit_floor: Duration::from_millis(10),
    }
}

fn config(server: &MockServer) -> ClientConfig {
    let mut config = ClientConfig::new(server.base_url.clone(), ACCOUNT, Secret::new(TOKEN));
    config.retry = fast_retry();
    config.timeouts = Timeouts {
        connect: Duration::from_secs(2),
        request: Duration::from_secs(2),
    };
    config
}

fn client(server: &MockServer) -> Client {
    Client::new(config(server)).expect("valid config")
}

fn module(name: &str, content_type: &str, content: &str) -> Module {
    Module {
        name: name.into(),
        content_type: content_type.into(),
        sha256: String::new(),
        size: content.len() as u64,
        content: Arc::from(content.as_bytes()),
    }
}

fn modules() -> Vec<Module> {
    vec![
        module(
            "index.js",
            "application/javascript+module",
            "import { x } from './lib/util.js'; export default { fetch() { return new Response(x) } }",
        ),
        module(
            "lib/util.js",
            "application/javascript+module",
            "export const x = 'hi';",
        ),
        module("data/table.bin", "application/octet-stream", "\u{1}\u{2}"),
    ]
}

fn metadata(tag: Option<&str>) -> serde_json::Value {
    let mut metadata = json!({
        "main_module": "index.js",
        "compatibility_date": "2026-11-01",
        "bindings": [
            {"type": "plain_text", "name": "APP_ENV", "text": "production"},
            {"type": "kv_namespace", "name": "CACHE", "namespace_id": "7c3e9a1f5b2d4e6a8c0f1b3d5e7a9c2e"}
        ],
        "keep_bindings": ["secret_text", "secret_key"]
    });
    if let Some(tag) = tag {
        metadata["annotations"] = json!({"workers/tag": tag, "workers/message": "deploy"});
    }
    metadata
}

#[tokio::test]
async fn upload_version_sends_multipart_and_decodes_the_version() {
    let server = MockServer::start().await;
    let client = client(&server);
    let version = client
        .upload_version("demo", &metadata(Some(TAG)), &modules())
        .await
        .expect("upload succeeds");
    assert_eq!(version.tag(), Some(TAG));
    assert_eq!(version.triggered_by(), Some("upload"));
    assert_eq!(version.bindings().len(), 2);

    server.with(|s| {
        let logged = s.log.last().expect("request logged");
        assert_eq!(logged.method, Method::POST);
        assert_eq!(
            logged.path,
            format!("/client/v4/accounts/{ACCOUNT}/workers/scripts/demo/versions")
        );
        assert_eq!(logged.query, "bindings_inherit=strict");
        assert_eq!(
            logged.authorization.as_deref(),
            Some(format!("Bearer {TOKEN}").as_str())
        );
        let parts = &s.uploads[0];
        let names: Vec<&str> = parts.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            ["metadata", "index.js", "lib/util.js", "data/table.bin"]
        );
        assert_eq!(parts[0].content_type.as_deref(), Some("application/json"));
        let sent: serde_json::Value =
            serde_json::from_slice(&parts[0].bytes).expect("metadata is json");
        assert_eq!(sent, metadata(Some(TAG)));
        assert_eq!(parts[2].file_name.as_deref(), Some("lib/util.js"));
        assert_eq!(
            parts[2].content_type.as_deref(),
            Some("application/javascript+module")
        );
        assert_eq!(parts[2].bytes, b"export const x = 'hi';");
        assert_eq!(
            parts[3].content_type.as_deref(),
            Some("application/octet-stream")
        );
        assert_eq!(parts[3].bytes, [1, 2]);
    });
}

#[tokio::test]
async fn upload_script_uses_put_with_strict_inherit_and_returns_hyphenated_version_id() {
    let server = MockServer::start().await;
    let client = client(&server);
    let mut metadata = metadata(Some(TAG));
    metadata["migrations"] = json!({"new_tag": "v1", "steps": [{"new_sqlite_classes": ["Room"]}]});
    let upload = client
        .upload_script("demo", &metadata, &modules())
        .await
        .expect("upload succeeds");
    assert_eq!(upload.migration_tag.as_deref(), Some("v1"));
    let version_id = upload.version_id().expect("version id");
    assert_eq!(version_id.len(), 36, "hyphens restored: {version_id}");
    let version = client
        .get_version("demo", &version_id)
        .await
        .expect("version exists");
    assert_eq!(version.migration_tag(), Some("v1"));
    let logged = server.with(|s| s.log[0].clone());
    assert_eq!(logged.method, Method::PUT);
    assert!(logged.path.ends_with("/workers/scripts/demo"));
    assert_eq!(logged.query, "bindings_inherit=strict&excludeScript=true");
    let active = client
        .active_deployment("demo")
        .await
        .expect("deployments list")
        .expect("the put deployed");
    assert_eq!(active.versions[0].version_id, version_id);
}

#[tokio::test]
async fn upload_failing_after_commit_is_not_duplicated() {
    let server = MockServer::start().await;
    server.fault(Method::POST, "/versions", FaultKind::FailAfterCommit, 1);
    let client = client(&server);
    let version = client
        .upload_version("demo", &metadata(Some(TAG)), &modules())
        .await
        .expect("the committed upload is found");
    assert_eq!(version.tag(), Some(TAG));
    server.with(|s| {
        assert_eq!(s.versions.len(), 1, "exactly one version exists");
        assert_eq!(s.count(&Method::POST, "/versions"), 1, "uploaded once");
    });
    let metrics = client.metrics();
    assert_eq!(metrics.recovered_total, 1);
    assert_eq!(metrics.requests("POST", "5xx"), 1);
}

#[tokio::test]
async fn upload_whose_connection_drops_after_commit_is_not_duplicated() {
    let server = MockServer::start().await;
    server.fault(Method::POST, "/versions", FaultKind::DropAfterCommit, 1);
    let client = client(&server);
    let version = client
        .upload_version("demo", &metadata(Some(TAG)), &modules())
        .await
        .expect("the committed upload is found");
    assert_eq!(version.tag(), Some(TAG));
    server.with(|s| {
        assert_eq!(s.versions.len(), 1);
        assert_eq!(s.count(&Method::POST, "/versions"), 1);
    });
    assert_eq!(client.metrics().requests("POST", "transport"), 1);
}

#[tokio::test]
async fn put_upload_failing_after_commit_is_not_duplicated() {
    let server = MockServer::start().await;
    server.fault(Method::PUT, "/scripts/demo", FaultKind::FailAfterCommit, 2);
    let client = client(&server);
    let upload = client
        .upload_script("demo", &metadata(Some(TAG)), &modules())
        .await
        .expect("the committed upload is found");
    let version_id = upload.version_id().expect("version id");
    server.with(|s| {
        assert_eq!(s.versions.len(), 1);
        assert_eq!(s.deployments.len(), 1);
        assert_eq!(s.versions[0]["id"], json!(version_id));
        assert_eq!(s.count(&Method::PUT, "/scripts/demo"), 1);
    });
}

#[tokio::test]
async fn upload_rejected_before_commit_is_retried_and_lands_once() {
    let server = MockServer::start().await;
    server.fault(Method::POST, "/versions", FaultKind::Status(503), 2);
    let client = client(&server);
    client
        .upload_version("demo", &metadata(Some(TAG)), &modules())
        .await
        .expect("third attempt succeeds");
    server.with(|s| {
        assert_eq!(s.versions.len(), 1);
        assert_eq!(s.count(&Method::POST, "/versions"), 3);
        // One verification (list) before each re-send.
        assert_eq!(s.count(&Method::GET, "/versions"), 2);
    });
    assert_eq!(client.metrics().retries_total, 2);
}

#[tokio::test]
async fn untagged_upload_with_unknown_outcome_is_not_repeated() {
    let server = MockServer::start().await;
    server.fault(Method::POST, "/versions", FaultKind::FailAfterCommit, 1);
    let client = client(&server);
    let error = client
        .upload_version("demo", &metadata(None), &modules())
        .await
        .expect_err("unknown outcome");
    assert!(
        matches!(error, Error::OutcomeUnknown { .. }),
        "got {error:?}"
    );
    assert!(error.to_string().contains("workers/scripts/demo/versions"));
    server.with(|s| assert_eq!(s.count(&Method::POST, "/versions"), 1));
}

#[tokio::test]
async fn rate_limit_retry_after_is_honoured() {
    let server = MockServer::start().await;
    server.fault(
        Method::GET,
        "/deployments",
        FaultKind::RateLimit { retry_after: 1 },
        1,
    );
    let client = client(&server);
    let started = Instant::now();
    client
        .list_deployments("demo")
        .await
        .expect("second attempt succeeds");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited out Retry-After, not {:?}",
        started.elapsed()
    );
    let metrics = client.metrics();
    assert_eq!(metrics.rate_limited_total, 1);
    assert_eq!(metrics.requests("GET", "4xx"), 1);
    assert_eq!(metrics.requests("GET", "2xx"), 1);
}

#[tokio::test]
async fn rate_limit_beyond_the_cap_fails_at_once_with_a_typed_error() {
    let server = MockServer::start().await;
    server.fault(
        Method::GET,
        "/deployments",
        FaultKind::RateLimit { retry_after: 600 },
        1,
    );
    let client = client(&server);
    let started = Instant::now();
    let error = client
        .list_deployments("demo")
        .await
        .expect_err("retry-after too long");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(error.retry_after(), Some(Duration::from_secs(600)));
    assert!(error.is_rate_limited());
    assert_eq!(error.reason(), "ApiRateLimited");
    server.with(|s| assert_eq!(s.count(&Method::GET, "/deployments"), 1));
}

#[tokio::test]
async fn server_errors_exhaust_retries_with_the_last_answer() {
    let server = MockServer::start().await;
    server.fault(Method::GET, "/deployments", FaultKind::Status(502), 10);
    let client = client(&server);
    let error = client
        .list_deployments("demo")
        .await
        .expect_err("always 502");
    match &error {
        Error::RetriesExhausted { attempts, .. } => assert_eq!(*attempts, 4),
        other => panic!("expected RetriesExhausted, got {other:?}"),
    }
    assert!(error.has_code(10002));
    assert_eq!(error.api().map(|a| a.status), Some(502));
    assert_eq!(client.metrics().retries_total, 3);
}

#[tokio::test]
async fn timeouts_are_retried() {
    let server = MockServer::start().await;
    server.fault(
        Method::GET,
        "/deployments",
        FaultKind::Latency(Duration::from_millis(800)),
        1,
    );
    let mut config = config(&server);
    config.timeouts.request = Duration::from_millis(300);
    let client = Client::new(config).expect("valid config");
    client
        .list_deployments("demo")
        .await
        .expect("second attempt succeeds");
    let metrics = client.metrics();
    assert_eq!(metrics.requests("GET", "transport"), 1);
    assert_eq!(metrics.retries_total, 1);
}

#[tokio::test]
async fn deployment_created_despite_a_500_is_not_created_twice() {
    let server = MockServer::start().await;
    let client = client(&server);
    let version = client
        .upload_version("demo", &metadata(Some(TAG)), &modules())
        .await
        .expect("upload");
    server.fault(Method::POST, "/deployments", FaultKind::FailAfterCommit, 1);
    let deployment = client
        .create_deployment(
            "demo",
            &NewDeployment::single(version.id.clone(), Some("deploy".into())),
            false,
        )
        .await
        .expect("the committed deployment is found");
    assert_eq!(deployment.versions[0].version_id, version.id);
    server.with(|s| {
        assert_eq!(s.deployments.len(), 1);
        assert_eq!(s.count(&Method::POST, "/deployments"), 1);
    });
}

#[tokio::test]
async fn changed_secrets_block_until_forced() {
    let server = MockServer::start().await;
    server.with(|s| s.secrets_changed = true);
    let client = client(&server);
    let request = NewDeployment::single("a1d94e77-3c20-4f5b-8b6a-0e2f9c17d835", None);
    let error = client
        .create_deployment("demo", &request, false)
        .await
        .expect_err("secrets changed");
    assert!(error.has_code(10220));
    let text = error.to_string();
    assert!(text.contains("workers/scripts/demo/deployments"), "{text}");
    assert!(text.contains("[code: 10220]"), "{text}");
    assert!(text.contains("hint:"), "{text}");
    server.with(|s| assert_eq!(s.count(&Method::POST, "/deployments"), 1, "4xx not retried"));

    let deployment = client
        .create_deployment("demo", &request, true)
        .await
        .expect("force succeeds");
    assert_eq!(deployment.versions[0].percentage, 100.0);
    let query = server.with(|s| s.log.last().expect("logged").query.clone());
    assert_eq!(query, "force=true");
}

#[tokio::test]
async fn lists_follow_every_page() {
    let server = MockServer::start().await;
    server.with(|s| s.kv_namespaces = 95);
    let client = client(&server);
    let namespaces = client.list_kv_namespaces().await.expect("kv list");
    assert_eq!(namespaces.len(), 95);
    assert_eq!(namespaces[94].title, "ns-94");
    server.with(|s| assert_eq!(s.count(&Method::GET, "/namespaces"), 3));

    let eu = client.list_r2_buckets(Some("eu")).await.expect("r2 list");
    assert_eq!(
        eu.iter().map(|b| b.name.as_str()).collect::<Vec<_>>(),
        [
            "eu-bucket-0",
            "eu-bucket-1",
            "eu-bucket-2",
            "eu-bucket-3",
            "eu-bucket-4"
        ]
    );
    let default = client.list_r2_buckets(None).await.expect("r2 list");
    assert_eq!(default.len(), 3);
    server.with(|s| {
        let r2: Vec<_> = s
            .log
            .iter()
            .filter(|l| l.path.ends_with("/r2/buckets"))
            .collect();
        assert_eq!(r2.len(), 5, "3 eu pages + 2 default pages");
        assert!(
            r2[..3]
                .iter()
                .all(|l| l.r2_jurisdiction.as_deref() == Some("eu"))
        );
        assert!(r2[3..].iter().all(|l| l.r2_jurisdiction.is_none()));
        assert!(r2[1].query.contains("cursor=after-2"));
    });
}

#[tokio::test]
async fn versions_list_walks_pages_newest_first() {
    let server = MockServer::start().await;
    let client = client(&server);
    for i in 0..3 {
        client
            .upload_version("demo", &metadata(Some(&format!("tag-{i}"))), &modules())
            .await
            .expect("upload");
    }
    let versions = client.list_versions("demo").await.expect("list");
    let tags: Vec<_> = versions.iter().map(|v| v.tag().unwrap_or("")).collect();
    assert_eq!(tags, ["tag-2", "tag-1", "tag-0"]);
    let found = client
        .find_version_by_tag("demo", "tag-1")
        .await
        .expect("list")
        .expect("found");
    assert_eq!(found.id, versions[1].id);
    assert_eq!(
        client
            .list_deployable_versions("demo")
            .await
            .expect("deployable")
            .len(),
        3
    );
}

#[tokio::test]
async fn budget_throttles_requests_across_clones() {
    let server = MockServer::start().await;
    let mut config = config(&server);
    // Burst of 2, then one request per second: (4 - 2) per 2 s.
    config.budget = BudgetConfig {
        limit: 4,
        window: Duration::from_secs(2),
        burst: 2,
    };
    let client = Client::new(config).expect("valid config");
    let clone = client.clone();
    let started = Instant::now();
    client.list_deployments("demo").await.expect("1");
    clone.list_deployments("demo").await.expect("2");
    assert_eq!(client.metrics().budget_available, 0);
    client.list_deployments("demo").await.expect("3");
    clone.list_deployments("demo").await.expect("4");
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(1900),
        "two requests beyond the burst wait about a second each, took {elapsed:?}"
    );
    let metrics = clone.metrics();
    assert_eq!(metrics.budget_capacity, 2);
    assert_eq!(metrics.budget_window_limit, 4);
    assert!(metrics.throttled_wait_seconds_total >= 1.9);
    assert_eq!(metrics.requests("GET", "2xx"), 4);
}

#[tokio::test]
async fn a_429_holds_back_every_clone() {
    let server = MockServer::start().await;
    server.fault(
        Method::GET,
        "/deployments",
        FaultKind::RateLimit { retry_after: 1 },
        1,
    );
    let client = client(&server);
    let clone = client.clone();
    let started = Instant::now();
    let first = tokio::spawn(async move { client.list_deployments("demo").await });
    // By now the 429 has arrived and blocked the shared budget.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(server.with(|s| s.count(&Method::GET, "/deployments")), 1);
    clone
        .list_deployments("demo")
        .await
        .expect("clone succeeds after the block");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "the clone waited for the account-wide block, took {:?}",
        started.elapsed()
    );
    first
        .await
        .expect("task joins")
        .expect("first call retried");
    assert_eq!(server.with(|s| s.count(&Method::GET, "/deployments")), 3);
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
        .upload_version("demo", &metadata(Some(TAG)), &modules())
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
    assert!(
        logs.contains("Retrying Cloudflare API request."),
        "logs captured: {logs}"
    );
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
