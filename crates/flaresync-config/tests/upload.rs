//! Upload metadata matches the recorded Cloudflare request shapes in fixtures/cloudflare-api.

use std::path::Path;

use flaresync_config::{
    DirTree, RepoConfig, UploadKind, UploadOptions, load_worker, migrations_to_upload,
};
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/cloudflare-api/examples")
        .join(name);
    serde_json::from_slice(&std::fs::read(path).expect("fixture exists")).expect("fixture json")
}

fn sort_bindings(mut metadata: Value) -> Value {
    if let Some(bindings) = metadata["bindings"].as_array_mut() {
        bindings.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    }
    metadata
}

fn load(config_name: &str, config: &str) -> flaresync_config::WorkerSpec {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join(config_name), config).expect("write config");
    std::fs::write(dir.path().join("index.js"), "export default {}").expect("write bundle");
    load_worker(&DirTree::new(dir.path()), "", &RepoConfig::default())
        .expect("loads")
        .spec
}

#[test]
fn version_upload_metadata_matches_fixture() {
    let spec = load(
        "wrangler.jsonc",
        r#"{
  "name": "flaresync-demo",
  "main": "index.js",
  "compatibility_date": "2026-11-01",
  "compatibility_flags": ["nodejs_compat"],
  "vars": { "APP_ENV": "production" },
  "kv_namespaces": [{ "binding": "CACHE", "id": "7c3e9a1f5b2d4e6a8c0f1b3d5e7a9c2e" }],
  "r2_buckets": [{ "binding": "ASSETS_BUCKET", "bucket_name": "flaresync-demo-assets" }],
  "d1_databases": [{ "binding": "DB", "database_name": "demo",
                     "database_id": "3b8e1f6a-92c4-4d7e-a5f0-6c1d9e2b4a87" }],
  "queues": { "producers": [{ "binding": "JOBS", "queue": "flaresync-demo-jobs" }] },
  "durable_objects": { "bindings": [{ "name": "ROOMS", "class_name": "Room" }] },
  "services": [{ "binding": "AUTH", "service": "flaresync-auth" }],
  "version_metadata": { "binding": "CF_VERSION" },
  "secrets": { "required": ["API_TOKEN"] }
}"#,
    );
    let metadata = spec.upload_metadata(&UploadOptions {
        kind: UploadKind::Version,
        tag: Some("9b1e4c2d7a3f6e8b0c5d1a2f4e6b8c0d2a4f6e8b".into()),
        message: Some("deploy 9b1e4c2: add cache header".into()),
        migrations: None,
        assets_token: None,
    });
    assert_eq!(
        sort_bindings(metadata),
        sort_bindings(fixture("version-upload-metadata-part.json"))
    );
}

#[test]
fn script_upload_with_migrations_matches_fixture() {
    let spec = load(
        "wrangler.toml",
        r#"
name = "flaresync-demo"
main = "index.js"
compatibility_date = "2026-11-01"
durable_objects.bindings = [{ name = "ROOMS", class_name = "Room" }]

[[migrations]]
tag = "v1"
new_classes = ["Lobby", "Legacy"]

[[migrations]]
tag = "v1a"
new_sqlite_classes = ["Room"]

[[migrations]]
tag = "v2"
renamed_classes = [{ from = "Lobby", to = "Room" }]
deleted_classes = ["Legacy"]
"#,
    );
    let migrations = migrations_to_upload(&spec.migrations, Some("v1")).expect("plannable");
    assert_eq!(migrations.as_ref().map(|m| m.steps.len()), Some(2));
    let metadata = spec.upload_metadata(&UploadOptions {
        kind: UploadKind::Script,
        tag: Some("9b1e4c2d7a3f6e8b0c5d1a2f4e6b8c0d2a4f6e8b".into()),
        message: Some("deploy 9b1e4c2 (DO migration v2)".into()),
        migrations,
        assets_token: None,
    });
    assert_eq!(
        metadata,
        fixture("script-upload-metadata-part-with-migrations.json")
    );
}

#[test]
fn version_uploads_never_carry_migrations_or_script_settings() {
    let spec = load(
        "wrangler.toml",
        "compatibility_date = \"2025-01-01\"\nname = \"w\"\nmain = \"index.js\"\nlogpush = true\n[[migrations]]\ntag = \"v1\"\nnew_sqlite_classes = [\"A\"]\n",
    );
    let migrations = migrations_to_upload(&spec.migrations, None).expect("plannable");
    let version = spec.upload_metadata(&UploadOptions {
        kind: UploadKind::Version,
        migrations: migrations.clone(),
        ..UploadOptions::default()
    });
    assert!(version.get("migrations").is_none());
    assert!(version.get("logpush").is_none());
    assert_eq!(version["annotations"], serde_json::json!({}));
    assert_eq!(
        version["keep_bindings"],
        serde_json::json!(["secret_text", "secret_key"])
    );
    let script = spec.upload_metadata(&UploadOptions {
        kind: UploadKind::Script,
        migrations,
        ..UploadOptions::default()
    });
    assert_eq!(
        script["migrations"],
        serde_json::json!({"new_tag": "v1", "steps": [{"new_sqlite_classes": ["A"]}]})
    );
    assert_eq!(script["logpush"], true);
}

#[test]
fn long_annotations_are_truncated_to_cloudflare_limits() {
    let spec = load(
        "wrangler.toml",
        "compatibility_date = \"2025-01-01\"\nname = \"w\"\nmain = \"index.js\"\n",
    );
    let metadata = spec.upload_metadata(&UploadOptions {
        tag: Some("t".repeat(300)),
        message: Some("é".repeat(800)),
        ..UploadOptions::default()
    });
    assert_eq!(
        metadata["annotations"]["workers/tag"]
            .as_str()
            .map(str::len),
        Some(100)
    );
    assert_eq!(
        metadata["annotations"]["workers/message"]
            .as_str()
            .map(str::len),
        Some(1000)
    );
}

#[test]
fn keep_vars_keeps_dashboard_variables_too() {
    let spec = load(
        "wrangler.toml",
        "compatibility_date = \"2025-01-01\"\nname = \"w\"\nmain = \"index.js\"\nkeep_vars = true\n",
    );
    let metadata = spec.upload_metadata(&UploadOptions::default());
    assert_eq!(
        metadata["keep_bindings"],
        serde_json::json!(["secret_text", "secret_key", "plain_text", "json"])
    );
}
