//! The client against the in-test mock over real HTTP, for what the emulator cannot show: the
//! exact multipart and query the server receives, a connection that drops *after* the write
//! committed, cursor paging with a server-side page cap. (Token hygiene in captured logs is in
//! `tests/token_hygiene.rs`, a binary of its own.)

use std::time::Duration;

use axum::http::Method;
use flaresync_cloudflare::{Client, ClientConfig, Version};
use flaresync_config::Module;
use serde_json::json;

use crate::mock::{ACCOUNT, FaultKind, MockServer, TOKEN};

const TAG: &str = "9b1e4c2d7a3f6e8b0c5d1a2f4e6b8c0d2a4f6e8b";

fn config(server: &MockServer) -> ClientConfig {
    let request_timeout = Duration::from_secs(2);
    crate::setup::fast_config(server.base_url.clone(), ACCOUNT, TOKEN, 4, request_timeout)
}

fn client(server: &MockServer) -> Client {
    Client::new(config(server)).expect("valid config")
}

fn module(name: &str, content_type: &str, content: &str) -> Module {
    crate::setup::module(name, content_type, content)
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

/// Uploads the tagged `demo` version (`why`: what its success shows); checks the answer
/// carries the tag.
async fn upload_tagged_version(client: &Client, why: &str) -> Version {
    let version = client
        .upload_version("demo", &metadata(Some(TAG)), &modules())
        .await
        .expect(why);
    assert_eq!(version.tag(), Some(TAG));
    version
}

#[tokio::test]
async fn upload_version_sends_multipart_and_decodes_the_version() {
    let server = MockServer::start().await;
    let client = client(&server);
    let version = upload_tagged_version(&client, "upload succeeds").await;
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
async fn upload_whose_connection_drops_after_commit_is_not_duplicated() {
    let server = MockServer::start().await;
    server.fault(Method::POST, "/versions", FaultKind::DropAfterCommit, 1);
    let client = client(&server);
    upload_tagged_version(&client, "the committed upload is found").await;
    server.with(|s| {
        assert_eq!(s.versions.len(), 1);
        assert_eq!(s.count(&Method::POST, "/versions"), 1);
    });
    assert_eq!(client.metrics().requests("POST", "transport"), 1);
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
async fn a_route_miss_is_not_mistaken_for_a_missing_worker() {
    // The mock has no services route: it answers 404 "No route" (code 7003), like Cloudflare
    // does for a wrong base URL.
    let server = MockServer::start().await;
    let error = client(&server)
        .service_metadata("demo")
        .await
        .expect_err("a route miss is an error, not `None`");
    assert!(error.has_code(7003), "{error:?}");
}
