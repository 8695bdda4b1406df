//! Static assets read by the loader from real directories (DirTree on tempdirs): the walk, the
//! ignore rules, hashes, limits, assets-only Workers, the upload metadata and the digests.

use std::path::Path;

use flaresync_config::{
    AssetsToken, ConfigError, DirTree, RepoConfig, UploadKind, UploadOptions, load_worker,
};

fn write(root: &Path, path: &str, content: impl AsRef<[u8]>) {
    let full = root.join(path);
    std::fs::create_dir_all(full.parent().expect("has parent")).expect("mkdir");
    std::fs::write(full, content).expect("write");
}

const SITE: &str = r#"
name = "site"
main = "index.js"
compatibility_date = "2025-01-01"
[assets]
directory = "public"
binding = "ASSETS"
not_found_handling = "404-page"
"#;

fn site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    write(root, "site/wrangler.toml", SITE);
    write(root, "site/index.js", "export default {}");
    write(root, "site/public/index.html", "hello world\n");
    write(root, "site/public/css/style.css", "body{}");
    write(root, "site/public/empty.txt", "");
    write(
        root,
        "site/public/_headers",
        "/*\n  X-Frame-Options: DENY\n",
    );
    write(root, "site/public/_redirects", "/old /new 301\n");
    write(root, "site/public/docs/_headers", "nested, uploaded");
    write(root, "site/public/node_modules/lib.js", "x");
    dir
}

fn load(root: &Path) -> Result<flaresync_config::LoadedWorker, ConfigError> {
    load_worker(&DirTree::new(root), "site", &RepoConfig::default())
}

#[test]
fn the_directory_becomes_wranglers_manifest() {
    let dir = site();
    let loaded = load(dir.path()).expect("loads");
    let assets = loaded.spec.assets.as_ref().expect("assets");
    assert_eq!(assets.directory, "site/public");
    let manifest: Vec<(&str, &str, u64)> = assets
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.hash.as_str(), f.size))
        .collect();
    assert_eq!(
        manifest,
        [
            ("/css/style.css", "622e1fa69535c6ed5e3a85e2ccaafd15", 6),
            ("/docs/_headers", manifest[1].1, 16),
            ("/empty.txt", "f9bc91770fa5e997cbd47fba833629fc", 0),
            ("/index.html", "5cb6ed6170630b0405c5094ac55058c2", 12),
            ("/node_modules/lib.js", manifest[4].1, 1),
        ]
    );
    assert_eq!(
        assets.config.headers.as_deref(),
        Some("/*\n  X-Frame-Options: DENY\n")
    );
    assert_eq!(assets.config.redirects.as_deref(), Some("/old /new 301\n"));
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}

#[test]
fn assetsignore_and_pages_worker_follow_wrangler() {
    let dir = site();
    write(dir.path(), "site/public/_worker.js", "secret server code");
    let error = load(dir.path()).expect_err("a Pages worker is refused");
    assert!(matches!(error, ConfigError::Assets { .. }), "{error}");
    assert!(error.to_string().contains("\"_worker.js\""), "{error}");
    write(
        dir.path(),
        "site/public/.assetsignore",
        "_worker.js\n*.txt\ncss/\n",
    );
    let loaded = load(dir.path()).expect("ignored now");
    let paths: Vec<&str> = loaded
        .spec
        .assets
        .as_ref()
        .expect("assets")
        .files
        .iter()
        .map(|f| f.path.as_str())
        .collect();
    assert_eq!(
        paths,
        ["/docs/_headers", "/index.html", "/node_modules/lib.js"]
    );
}

#[test]
fn a_file_above_25_mib_is_refused_by_name() {
    let dir = site();
    write(
        dir.path(),
        "site/public/video/big.mp4",
        vec![7u8; 25 * 1024 * 1024 + 1],
    );
    let error = load(dir.path()).expect_err("too big");
    let text = error.to_string();
    assert!(
        text.starts_with("worker \"site\": static assets in \"site/public\":"),
        "{text}"
    );
    assert!(
        text.contains("\"video/big.mp4\" is 26214401 bytes"),
        "{text}"
    );
}

#[test]
fn a_missing_directory_names_the_config_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "site/wrangler.toml", SITE);
    write(dir.path(), "site/index.js", "export default {}");
    let text = load(dir.path()).expect_err("missing").to_string();
    assert!(
        text.contains("`assets.directory` at site/wrangler.toml:6:13"),
        "{text}"
    );
    assert!(text.contains("not in the commit"), "{text}");
}

#[test]
fn an_assets_only_worker_has_no_modules_and_minimal_metadata() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "site/wrangler.jsonc",
        r#"{ "name": "docs", "compatibility_date": "2025-01-01",
             "assets": { "directory": "./dist", "html_handling": "none" } }"#,
    );
    write(dir.path(), "site/dist/index.html", "hello world\n");
    let loaded = load(dir.path()).expect("loads");
    let spec = &loaded.spec;
    assert!(spec.is_assets_only());
    let opts = UploadOptions {
        kind: UploadKind::Version,
        tag: Some("c0ffee".into()),
        assets_token: Some(AssetsToken::new("completion-jwt")),
        ..UploadOptions::default()
    };
    assert_eq!(
        spec.upload_metadata(&opts),
        serde_json::json!({
            "assets": {"jwt": "completion-jwt", "config": {"html_handling": "none"}},
            "annotations": {"workers/tag": "c0ffee"},
            "compatibility_date": "2025-01-01"
        })
    );
    write(
        dir.path(),
        "site/wrangler.jsonc",
        r#"{ "name": "docs", "compatibility_date": "2025-01-01",
             "assets": { "directory": "./dist", "binding": "ASSETS" } }"#,
    );
    let text = load(dir.path())
        .expect_err("binding without main")
        .to_string();
    assert!(text.contains("cannot have an assets binding"), "{text}");
}

#[test]
fn metadata_carries_the_token_and_wranglers_config() {
    let dir = site();
    let spec = load(dir.path()).expect("loads").spec;
    let opts = UploadOptions {
        assets_token: Some(AssetsToken::new("jwt-1")),
        ..UploadOptions::default()
    };
    let metadata = spec.upload_metadata(&opts);
    assert_eq!(
        metadata["assets"],
        serde_json::json!({"jwt": "jwt-1", "config": {
            "not_found_handling": "404-page",
            "_headers": "/*\n  X-Frame-Options: DENY\n",
            "_redirects": "/old /new 301\n"
        }})
    );
    assert!(
        metadata["bindings"]
            .as_array()
            .expect("bindings")
            .contains(&serde_json::json!({"name": "ASSETS", "type": "assets"}))
    );
    assert!(metadata.get("keep_assets").is_none());
    assert!(!format!("{opts:?}").contains("jwt-1"));
}

#[test]
fn an_asset_change_changes_both_digests_and_a_move_changes_neither() {
    let dir = site();
    let before = load(dir.path()).expect("loads").spec;
    write(dir.path(), "site/public/index.html", "hello again\n");
    let changed = load(dir.path()).expect("loads").spec;
    assert_ne!(before.digest(), changed.digest());
    assert_ne!(before.version_digest(), changed.version_digest());
    write(dir.path(), "site/public/index.html", "hello world\n");
    let reverted = load(dir.path()).expect("loads").spec;
    assert_eq!(before.version_digest(), reverted.version_digest());
    // Same files in another directory: same content, same digests.
    std::fs::rename(
        dir.path().join("site/public"),
        dir.path().join("site/static"),
    )
    .expect("mv");
    write(
        dir.path(),
        "site/wrangler.toml",
        SITE.replace("\"public\"", "\"static\""),
    );
    let moved = load(dir.path()).expect("loads").spec;
    assert_eq!(before.digest(), moved.digest());
    assert_eq!(before.version_digest(), moved.version_digest());
}
