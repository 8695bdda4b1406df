//! Static assets against the in-test mock, which answers as SPEC-2 §1.3–1.4 describes: the
//! session lists missing hashes in buckets, bucket uploads carry the session token as bearer
//! and base64 parts named by hash, and the bucket that completes the set returns the
//! completion token.

use std::sync::Arc;

use axum::http::Method;
use base64::Engine as _;
use flaresync_cloudflare::{AssetsProblem, Client, Error};
use flaresync_config::{AssetFile, Assets, AssetsConfig};

use crate::mock::{ACCOUNT, ASSETS_COMPLETION_JWT, MockServer, TOKEN};

fn client(server: &MockServer) -> Client {
    let timeout = std::time::Duration::from_secs(2);
    let config = crate::setup::fast_config(server.base_url.clone(), ACCOUNT, TOKEN, 3, timeout);
    Client::new(config).expect("valid config")
}

fn file(path: &str, content: &str) -> AssetFile {
    let bytes = content.as_bytes().to_vec();
    AssetFile {
        hash: flaresync_config::assets::asset_hash(path, &bytes),
        path: path.into(),
        size: bytes.len() as u64,
        content: Arc::from(bytes),
    }
}

fn site() -> Assets {
    Assets {
        directory: "public".into(),
        config: AssetsConfig::default(),
        files: vec![
            file("/index.html", "hello world\n"),
            file("/a.css", "body{}"),
            file("/b.js", "export {}"),
            file("/logo.qqq", "\u{0}\u{1}"),
        ],
    }
}

#[tokio::test]
async fn only_missing_files_go_up_as_base64_parts_with_the_session_token() {
    let server = MockServer::start().await;
    let assets = site();
    // Cloudflare already holds two of the four files.
    server.with(|s| {
        s.assets_held.insert(assets.files[0].hash.clone());
        s.assets_held.insert(assets.files[2].hash.clone());
    });
    let synced = client(&server)
        .sync_assets("site", &assets)
        .await
        .expect("syncs");
    assert_eq!(synced.token.expose(), ASSETS_COMPLETION_JWT);
    assert_eq!((synced.files, synced.uploaded, synced.buckets), (4, 2, 1));
    server.with(|s| {
        let session = s.count(&Method::POST, "/workers/scripts/site/assets-upload-session");
        assert_eq!(session, 1);
        let bucket = s
            .log
            .iter()
            .find(|l| l.path.ends_with("/workers/assets/upload"))
            .expect("one bucket upload");
        assert_eq!(bucket.query, "base64=true");
        assert_eq!(
            bucket.authorization.as_deref(),
            Some("Bearer session-jwt-for-buckets")
        );
        let sent: Vec<(&str, Option<&str>, Option<&str>)> = s
            .asset_parts
            .iter()
            .map(|p| {
                (
                    p.name.as_str(),
                    p.file_name.as_deref(),
                    p.content_type.as_deref(),
                )
            })
            .collect();
        let (css, bin) = (&assets.files[1], &assets.files[3]);
        assert_eq!(
            sent,
            [
                (
                    css.hash.as_str(),
                    Some(css.hash.as_str()),
                    Some("text/css; charset=utf-8")
                ),
                (
                    bin.hash.as_str(),
                    Some(bin.hash.as_str()),
                    Some("application/null")
                ),
            ]
        );
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(&s.asset_parts[0].bytes)
            .expect("base64 text");
        assert_eq!(decoded, b"body{}");
    });
}

#[tokio::test]
async fn unchanged_assets_cost_one_request_and_use_the_session_token() {
    let server = MockServer::start().await;
    let assets = site();
    server.with(|s| {
        for file in &assets.files {
            s.assets_held.insert(file.hash.clone());
        }
    });
    let synced = client(&server)
        .sync_assets("site", &assets)
        .await
        .expect("syncs");
    assert_eq!(synced.token.expose(), ASSETS_COMPLETION_JWT);
    assert_eq!((synced.uploaded, synced.buckets), (0, 0));
    server.with(|s| {
        assert_eq!(s.log.len(), 1);
        assert!(s.asset_parts.is_empty());
    });
    assert!(!format!("{synced:?}").contains(ASSETS_COMPLETION_JWT));
}

#[tokio::test]
async fn many_buckets_all_go_up_and_the_completion_token_comes_back() {
    let server = MockServer::start().await;
    let mut assets = site();
    for i in 0..7 {
        assets
            .files
            .push(file(&format!("/p/{i}.txt"), &format!("page {i}")));
    }
    let synced = client(&server)
        .sync_assets("site", &assets)
        .await
        .expect("syncs");
    assert_eq!((synced.uploaded, synced.buckets), (11, 6));
    assert_eq!(synced.token.expose(), ASSETS_COMPLETION_JWT);
    server.with(|s| assert_eq!(s.asset_parts.len(), 11));
}

#[tokio::test]
async fn a_session_failure_is_a_typed_api_error_and_retried() {
    let server = MockServer::start().await;
    server.fault(
        Method::POST,
        "/assets-upload-session",
        crate::mock::FaultKind::Status(503),
        1,
    );
    let synced = client(&server).sync_assets("site", &site()).await;
    assert!(synced.is_ok(), "{synced:?}");
    server.fault(
        Method::POST,
        "/assets-upload-session",
        crate::mock::FaultKind::Status(400),
        1,
    );
    let error = client(&server)
        .sync_assets("site", &site())
        .await
        .expect_err("400 is final");
    assert!(
        matches!(error, Error::Api(ref api) if api.status == 400),
        "{error}"
    );
    let problem = Error::Assets {
        script: "site".into(),
        problem: AssetsProblem::NoCompletionToken,
    };
    assert!(problem.is_transient());
    assert!(problem.to_string().starts_with("static assets of site:"));
}
