//! Static assets end to end: real git repositories, the emulator over real HTTP. The first
//! deploy uploads every file, an unchanged directory uploads nothing, one changed file uploads
//! one, a revert of an assets change is a rollback, an assets-only Worker deploys, and a file
//! above 25 MiB stops only its own Worker. What the emulator holds is read from its own state.

use flaresync_emulator::state::assets::{content, manifest::Manifest, manifest_of_version};
use flaresync_emulator::testing::TestEmulator;
use flaresync_reconcile::{SyncReport, WorkerOutcome, sync_once};

use crate::support::{
    Repo, active_deployment, apply, emulator, open, requests_since, sent_by, worker, writes,
};

/// `workers/site`: a Worker with an `ASSETS` binding and `public/` (SPEC-2 §1.2's vectors).
fn site(repo: &Repo) {
    repo.worker("site", "site-1");
    repo.write(
        "workers/site/wrangler.toml",
        "name = \"site\"\nmain = \"index.js\"\ncompatibility_date = \"2026-01-01\"\n\
         [assets]\ndirectory = \"public\"\nbinding = \"ASSETS\"\n",
    );
    repo.write("workers/site/public/index.html", "hello world\n");
    repo.write("workers/site/public/style.css", "body{}");
    repo.write("workers/site/public/empty.txt", "");
    repo.write("workers/site/public/_headers", "/*\n  X-Site: 1\n");
}

/// The writes that open an assets session and upload buckets, in order.
fn asset_writes(emulator: &TestEmulator, sent: &[String]) -> (usize, usize) {
    let session = format!(
        "POST /accounts/{}/workers/scripts/site/assets-upload-session",
        emulator.account_id()
    );
    let bucket = format!(
        "POST /accounts/{}/workers/assets/upload",
        emulator.account_id()
    );
    (
        sent.iter().filter(|w| **w == session).count(),
        sent.iter().filter(|w| **w == bucket).count(),
    )
}

/// The manifest of the version serving `script`, from the emulator's own state.
async fn live_manifest(
    emulator: &TestEmulator,
    ctx: &flaresync_reconcile::Context,
    script: &str,
) -> Manifest {
    let active = active_deployment(ctx, script).await;
    let version = active.versions[0].version_id.clone();
    emulator
        .emulator()
        .with_state(|tx, _| manifest_of_version(tx, script, &version))
        .expect("reads the version")
        .expect("the live version has assets")
}

fn hashes(manifest: &Manifest) -> Vec<(&str, &str, u64)> {
    manifest
        .iter()
        .map(|(path, entry)| (path.as_str(), entry.hash.as_str(), entry.size))
        .collect()
}

fn applied(report: &SyncReport, name: &str) {
    let outcome = &worker(report, name).outcome;
    assert!(
        matches!(outcome, WorkerOutcome::Applied { .. }),
        "{name}: {report:#?}"
    );
}

#[tokio::test]
async fn assets_deploy_like_wrangler_upload_only_what_changed_and_a_revert_rolls_back() {
    let repo = Repo::new();
    site(&repo);
    let (emulator, mut repo, _state, ctx) = open(emulator().await, repo, "site with assets");

    // First deploy: one session, every file uploaded, the version serves wrangler's manifest.
    let (report, sent) = sent_by(&emulator, sync_once(&ctx, apply())).await;
    let report = report.expect("first pass");
    applied(&report, "site");
    assert_eq!(asset_writes(&emulator, &sent), (1, 1), "{sent:#?}");
    let first = live_manifest(&emulator, &ctx, "site").await;
    let empty = "f9bc91770fa5e997cbd47fba833629fc";
    let hello = "5cb6ed6170630b0405c5094ac55058c2";
    let css = "622e1fa69535c6ed5e3a85e2ccaafd15";
    assert_eq!(
        hashes(&first),
        [
            ("/empty.txt", empty, 0),
            ("/index.html", hello, 12),
            ("/style.css", css, 6)
        ]
    );
    let first_version = active_deployment(&ctx, "site").await.versions[0]
        .version_id
        .clone();
    sync_once(&ctx, apply()).await.expect("settle");

    // A code change with the same assets: a new version, a session, no file uploaded.
    repo.set_body("site", "site-2");
    repo.commit("code only");
    let (report, sent) = sent_by(&emulator, sync_once(&ctx, apply())).await;
    applied(&report.expect("code pass"), "site");
    assert_eq!(asset_writes(&emulator, &sent), (1, 0), "{sent:#?}");
    assert_eq!(
        hashes(&live_manifest(&emulator, &ctx, "site").await),
        hashes(&first)
    );

    // One changed file: one bucket holding exactly that file.
    repo.write("workers/site/public/style.css", "body{color:red}");
    repo.commit("red");
    let (report, sent) = sent_by(&emulator, sync_once(&ctx, apply())).await;
    let report = report.expect("asset pass");
    applied(&report, "site");
    assert_eq!(asset_writes(&emulator, &sent), (1, 1), "{sent:#?}");
    assert!(
        worker(&report, "site")
            .notes
            .iter()
            .any(|n| n.contains("1 of 3 files uploaded")),
        "{report:#?}"
    );
    let changed = live_manifest(&emulator, &ctx, "site").await;
    let new_css = changed["/style.css"].hash.clone();
    assert_ne!(new_css, css);
    assert_eq!(changed["/index.html"].hash, hello);
    let stored = emulator
        .emulator()
        .with_state(|tx, _| content(tx, &new_css))
        .expect("reads")
        .expect("the changed file is stored");
    assert_eq!(stored.bytes, b"body{color:red}");
    assert_eq!(
        stored.content_type.as_deref(),
        Some("text/css; charset=utf-8")
    );
    sync_once(&ctx, apply()).await.expect("settle");

    // Revert the asset change: the version with the old assets is deployed again, nothing is
    // uploaded (no session, no version).
    repo.revert_head();
    let (report, sent) = sent_by(&emulator, sync_once(&ctx, apply())).await;
    let report = report.expect("revert pass");
    let site_report = worker(&report, "site");
    assert_eq!(site_report.action, "rollback", "{report:#?}");
    assert_eq!(
        sent,
        [format!(
            "POST /accounts/{}/workers/scripts/site/deployments",
            emulator.account_id()
        )],
        "a revert of an assets change is a rollback: no upload"
    );
    assert_eq!(
        hashes(&live_manifest(&emulator, &ctx, "site").await),
        hashes(&first)
    );
    assert_ne!(
        active_deployment(&ctx, "site").await.versions[0].version_id,
        first_version,
        "the rollback goes to the code-only version, whose assets equal the first"
    );
}

#[tokio::test]
async fn an_assets_only_worker_deploys_and_a_too_big_asset_stops_only_its_worker() {
    let repo = Repo::new();
    repo.write(
        "workers/docs/wrangler.jsonc",
        r#"{ "name": "docs", "compatibility_date": "2026-01-01",
             "assets": { "directory": "./dist", "not_found_handling": "404-page" } }"#,
    );
    repo.write("workers/docs/dist/index.html", "hello world\n");
    repo.write("workers/docs/dist/404.html", "not here\n");
    repo.worker("media", "media-1");
    repo.write(
        "workers/media/wrangler.toml",
        "name = \"media\"\nmain = \"index.js\"\ncompatibility_date = \"2026-01-01\"\n\
         assets = { directory = \"static\" }\n",
    );
    repo.write("workers/media/static/ok.txt", "fine");
    repo.write(
        "workers/media/static/video/huge.bin",
        &"x".repeat(25 * 1024 * 1024 + 1),
    );
    repo.worker("api", "api-1");
    let (emulator, _repo, _state, ctx) = open(emulator().await, repo, "three workers");

    let before = emulator.requests().len();
    let report = sync_once(&ctx, apply()).await.expect("pass");
    applied(&report, "docs");
    applied(&report, "api");
    // A Worker whose config cannot be loaded is reported by its directory.
    let media = report
        .workers
        .iter()
        .find(|w| w.worker.contains("media"))
        .expect("the refused Worker is reported");
    assert_eq!(media.outcome, WorkerOutcome::Blocked, "{report:#?}");
    let error = media.error.as_ref().expect("an error");
    assert_eq!(error.reason, "ConfigInvalid");
    assert!(
        error
            .message
            .contains("\"video/huge.bin\" is 26214401 bytes"),
        "{error:?}"
    );
    let sent = writes(&requests_since(&emulator, before));
    assert!(
        sent.iter().all(|w| !w.contains("/scripts/media")),
        "{sent:#?}"
    );

    let manifest = live_manifest(&emulator, &ctx, "docs").await;
    assert_eq!(
        manifest.keys().map(String::as_str).collect::<Vec<_>>(),
        ["/404.html", "/index.html"]
    );
    let settle = sync_once(&ctx, apply()).await.expect("settle");
    assert_eq!(
        worker(&settle, "docs").outcome,
        WorkerOutcome::InSync,
        "{settle:#?}"
    );
}
