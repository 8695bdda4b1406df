//! Static assets with the real wrangler CLI: `wrangler deploy` of a Worker with `[assets]`
//! uploads through the emulator's session/bucket protocol, the data plane serves the files
//! byte-identical through Cloudflare's asset worker (html_handling, not_found_handling,
//! run_worker_first, `env.ASSETS`), an unchanged redeploy uploads nothing, and an assets-only
//! Worker serves too.

use std::path::Path;

use base64::Engine;
use serde_json::{Value, json};

use super::harness::{Plane, workerd};

const WORKER: &str = r#"
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/api/docs") {
      const docs = await env.ASSETS.fetch(new URL("/docs/", request.url));
      return new Response("via binding: " + (await docs.text()), { status: docs.status });
    }
    return new Response("worker " + url.pathname);
  },
};
"#;

fn site_toml(not_found: &str) -> String {
    format!(
        "name = \"site\"\nmain = \"index.js\"\ncompatibility_date = \"2025-01-01\"\n\
         workers_dev = true\n\n[assets]\ndirectory = \"public\"\nbinding = \"ASSETS\"\n\
         not_found_handling = \"{not_found}\"\nrun_worker_first = [\"/api/*\"]\n"
    )
}

const STATIC_TOML: &str = "name = \"brochure\"\ncompatibility_date = \"2025-01-01\"\n\
                           workers_dev = true\n\n[assets]\ndirectory = \"site\"\n";

/// The asset files: path below the assets directory -> bytes (one binary, all 256 byte values).
fn files() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("index.html", b"<!doctype html><h1>home</h1>\n".to_vec()),
        (
            "docs/index.html",
            b"<!doctype html><h1>docs</h1>\n".to_vec(),
        ),
        ("404.html", b"<!doctype html><h1>not here</h1>\n".to_vec()),
        ("logo.png", (0..=255u8).chain((0..=255u8).rev()).collect()),
        ("data.json", br#"{"ok":true}"#.to_vec()),
    ]
}

/// SPEC-2 §1.2: BLAKE3 over base64(bytes) + extension, first 32 hex characters.
fn wrangler_hash(path: &str, bytes: &[u8]) -> String {
    let extension = Path::new(path)
        .extension()
        .map(|e| e.to_string_lossy().into_owned())
        .unwrap_or_default();
    let text = base64::engine::general_purpose::STANDARD.encode(bytes) + &extension;
    blake3::hash(text.as_bytes()).to_hex()[..32].to_owned()
}

fn write_assets(dir: &Path) {
    for (path, bytes) in files() {
        let file = dir.join(path);
        std::fs::create_dir_all(file.parent().expect("parent")).expect("dirs");
        std::fs::write(file, bytes).expect("asset");
    }
}

/// The assets-only `brochure` project in `project`; returns its assets directory.
fn brochure(project: &Path) -> std::path::PathBuf {
    std::fs::write(project.join("wrangler.toml"), STATIC_TOML).expect("toml");
    let site = project.join("site");
    write_assets(&site);
    site
}

/// A data-plane request that does not follow redirects: (status, headers, body bytes).
async fn fetch(
    plane: &Plane,
    script: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let mut request = client
        .get(format!("http://{}{path}", plane.data))
        .header("host", format!("{script}.flaresync-emulator.workers.dev"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("data plane answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (
        status,
        headers,
        response.bytes().await.expect("body").to_vec(),
    )
}

fn uploads(plane: &Plane) -> usize {
    plane
        .emu
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/workers/assets/upload"))
        .count()
}

async fn latest_manifest(plane: &Plane, script: &str) -> Value {
    let versions = plane.current_versions(script).await;
    let version = versions.first().expect("a deployed version").clone();
    let manifest = plane
        .emu
        .emulator()
        .with_state(|tx, _| {
            flaresync_emulator::state::assets::manifest_of_version(tx, script, &version)
        })
        .expect("state")
        .expect("the version has assets");
    serde_json::to_value(manifest).expect("json")
}

async fn wait_for(plane: &Plane, script: &str, path: &str, body: &[u8]) {
    let started = std::time::Instant::now();
    while fetch(plane, script, path, &[]).await.2 != body {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "{script}{path} never served the expected body"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrangler_deploy_with_assets_serves_the_files_and_redeploys_without_uploading() {
    let Some(binary) = workerd() else { return };
    let plane = Plane::start(binary).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(w) = plane.wrangler(dir.path()) else {
        return;
    };
    std::fs::write(w.project.join("wrangler.toml"), site_toml("404-page")).expect("toml");
    std::fs::write(w.project.join("index.js"), WORKER).expect("worker");
    write_assets(&w.project.join("public"));

    w.ok(&["deploy"]).await;
    let first_uploads = uploads(&plane);
    assert!(first_uploads >= 1, "wrangler uploaded the files");
    let expected: Value = files()
        .iter()
        .map(|(path, bytes)| {
            let entry = json!({"hash": wrangler_hash(path, bytes), "size": bytes.len()});
            (format!("/{path}"), entry)
        })
        .collect::<serde_json::Map<_, _>>()
        .into();
    assert_eq!(latest_manifest(&plane, "site").await, expected);

    let home = &files()[0].1;
    wait_for(&plane, "site", "/", home).await;
    for (path, bytes) in files() {
        let (status, headers, body) = fetch(&plane, "site", &format!("/{path}"), &[]).await;
        // auto-trailing-slash: `/x.html` and `/x/index.html` redirect to `/x` and `/x/`.
        let wanted = if path.ends_with(".html") { 307 } else { 200 };
        assert_eq!(status, wanted, "/{path}");
        if status == 200 {
            assert_eq!(body, bytes, "/{path} is served byte-identical");
            assert!(headers.contains_key("etag"), "/{path} has an ETag");
        }
    }
    let (_, headers, _) = fetch(&plane, "site", "/logo.png", &[]).await;
    assert_eq!(headers["content-type"], "image/png");
    let etag = headers["etag"].to_str().expect("etag").to_owned();
    let (status, _, _) = fetch(&plane, "site", "/logo.png", &[("if-none-match", &etag)]).await;
    assert_eq!(status, 304, "a matching If-None-Match is answered 304");
    let (_, headers, _) = fetch(&plane, "site", "/", &[]).await;
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");

    // html_handling auto-trailing-slash: /docs redirects to /docs/, which serves docs/index.html.
    let (status, headers, _) = fetch(&plane, "site", "/docs", &[]).await;
    assert_eq!(
        (status, &headers["location"]),
        (307, &"/docs/".parse().expect("hv"))
    );
    let (status, _, body) = fetch(&plane, "site", "/docs/", &[]).await;
    assert_eq!((status, body), (200, files()[1].1.clone()));
    // not_found_handling 404-page.
    let (status, _, body) = fetch(&plane, "site", "/nope", &[]).await;
    assert_eq!((status, body), (404, files()[2].1.clone()));
    // run_worker_first = ["/api/*"] and env.ASSETS from the Worker.
    let (status, _, body) = fetch(&plane, "site", "/api/docs", &[]).await;
    let docs = String::from_utf8_lossy(&files()[1].1).into_owned();
    assert_eq!(
        (status, String::from_utf8_lossy(&body)),
        (200, format!("via binding: {docs}").into())
    );
    let (_, _, body) = fetch(&plane, "site", "/api/other", &[]).await;
    assert_eq!(body, b"worker /api/other");

    // Unchanged files, new config: no upload; single-page-application now answers index.html.
    std::fs::write(
        w.project.join("wrangler.toml"),
        site_toml("single-page-application"),
    )
    .expect("toml");
    let run = w.ok(&["deploy"]).await;
    assert_eq!(
        uploads(&plane),
        first_uploads,
        "nothing uploaded the second time"
    );
    assert!(
        run.stdout.contains("No updated asset files to upload"),
        "{}",
        run.stdout
    );
    wait_for(&plane, "site", "/some/client/route", home).await;
    let (status, _, _) = fetch(&plane, "site", "/some/client/route", &[]).await;
    assert_eq!(status, 200);

    // A forged session token is refused with Cloudflare's envelope.
    let answer: Value = plane
        .http
        .post(format!(
            "{}/accounts/{}/workers/assets/upload?base64=true",
            plane.emu.base_url(),
            plane.emu.account_id()
        ))
        .bearer_auth("eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.c2ln")
        .multipart(reqwest::multipart::Form::new().text("00", "AA=="))
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("envelope");
    assert_eq!(answer["success"], json!(false));
    assert_eq!(answer["errors"][0]["code"], json!(10000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_assets_only_worker_serves_its_files() {
    let Some(binary) = workerd() else { return };
    let plane = Plane::start(binary).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(w) = plane.wrangler(dir.path()) else {
        return;
    };
    brochure(&w.project);
    w.ok(&["deploy"]).await;
    let home = &files()[0].1;
    wait_for(&plane, "brochure", "/", home).await;
    let (status, headers, body) = fetch(&plane, "brochure", "/data.json", &[]).await;
    assert_eq!((status, body), (200, files()[4].1.clone()));
    assert_eq!(headers["content-type"], "application/json");
    // not_found_handling defaults to none: a plain 404.
    let (status, _, _) = fetch(&plane, "brochure", "/missing.txt", &[]).await;
    assert_eq!(status, 404);

    // `versions upload` of an assets-only Worker (no main_module) uploads only the changed file.
    let before = uploads(&plane);
    let changed = br#"{"ok":"v2"}"#;
    std::fs::write(w.project.join("site/data.json"), changed).expect("change");
    w.ok(&["versions", "upload"]).await;
    assert_eq!(
        uploads(&plane),
        before + 1,
        "one bucket with the changed file"
    );
    let version = w.records("version-upload")[0]["version_id"]
        .as_str()
        .expect("version id")
        .to_owned();
    w.ok(&["versions", "deploy", &format!("{version}@100%"), "--yes"])
        .await;
    wait_for(&plane, "brochure", "/data.json", changed).await;
    let manifest = latest_manifest(&plane, "brochure").await;
    assert_eq!(
        manifest["/data.json"]["hash"],
        json!(wrangler_hash("data.json", changed))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_and_headers_files_apply_when_serving() {
    let Some(binary) = workerd() else { return };
    let plane = Plane::start(binary).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(w) = plane.wrangler(dir.path()) else {
        return;
    };
    let site = brochure(&w.project);
    std::fs::write(
        site.join("_redirects"),
        "# moved pages\n/old-data /data.json 301\n/blog/* /docs/:splat\n/bad-line\n",
    )
    .expect("_redirects");
    std::fs::write(
        site.join("_headers"),
        "/data.json\n  X-Robots-Tag: noindex\n  Access-Control-Allow-Origin: *\n/logo.png\n  ! Cache-Control\n",
    )
    .expect("_headers");
    w.ok(&["deploy"]).await;
    wait_for(&plane, "brochure", "/", &files()[0].1).await;

    let (status, headers, _) = fetch(&plane, "brochure", "/old-data", &[]).await;
    assert_eq!(
        (status, &headers["location"]),
        (301, &"/data.json".parse().expect("hv"))
    );
    let (status, headers, _) = fetch(&plane, "brochure", "/blog/intro", &[]).await;
    assert_eq!(
        (status, &headers["location"]),
        (302, &"/docs/intro".parse().expect("hv"))
    );
    let (status, headers, body) = fetch(&plane, "brochure", "/data.json", &[]).await;
    assert_eq!((status, body), (200, files()[4].1.clone()));
    assert_eq!(headers["x-robots-tag"], "noindex");
    assert_eq!(headers["access-control-allow-origin"], "*");
    // The asset worker sets Cache-Control on cacheable answers; the `! Cache-Control` rule
    // removes it for /logo.png only.
    let (_, logo, _) = fetch(&plane, "brochure", "/logo.png", &[]).await;
    assert!(!logo.contains_key("cache-control"), "{logo:?}");
    assert!(headers.contains_key("cache-control"), "{headers:?}");
    // The two files are configuration, not assets.
    let (status, _, _) = fetch(&plane, "brochure", "/_redirects", &[]).await;
    assert_eq!(status, 404);
}
