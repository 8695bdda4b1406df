//! The issue's proofs with the real wrangler CLI: deploy then serve, a 90/10 split measured over
//! 2,000 requests, a rollback that moves all traffic at once with no failed request under
//! load, and the error rate seen through GraphQL analytics.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;

use super::harness::{Plane, workerd};
use super::wrangler_cli::Wrangler;

const SOURCE: &str = r#"
export default {
  async fetch(request, env) {
    const i = Number(new URL(request.url).searchParams.get("i") || "1");
    if (i % 5 === 0) throw new Error("every fifth request fails");
    return new Response(env.VERSION.id);
  },
};
"#;

const TOML: &str = r#"name = "canary"
main = "index.js"
compatibility_date = "2025-01-01"
workers_dev = true

[version_metadata]
binding = "VERSION"
"#;

fn wrangler(plane: &Plane, dir: &std::path::Path) -> Option<Wrangler> {
    let w = plane.wrangler(dir)?;
    std::fs::write(w.project.join("wrangler.toml"), TOML).expect("toml");
    std::fs::write(w.project.join("index.js"), SOURCE).expect("source");
    Some(w)
}

/// Requests `/` until stopped; counts answers that are not 200 with a version id.
fn background_load(
    plane: &Arc<Plane>,
    stop: &Arc<AtomicBool>,
) -> tokio::task::JoinHandle<(usize, usize)> {
    let (plane, stop) = (plane.clone(), stop.clone());
    tokio::spawn(async move {
        let (mut total, mut failed) = (0, 0);
        while !stop.load(Ordering::Relaxed) {
            let (status, body) = plane.get("canary", "/", &[]).await;
            total += 1;
            if status != 200 || body.len() != 36 {
                failed += 1;
            }
        }
        (total, failed)
    })
}

async fn share_of(plane: &Arc<Plane>, version: &str, requests: usize) -> f64 {
    let hits = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let (plane, hits, version) = (plane.clone(), hits.clone(), version.to_owned());
        tasks.spawn(async move {
            for _ in 0..requests / 4 {
                if plane.get("canary", "/", &[]).await.1 == version {
                    hits.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    hits.load(Ordering::Relaxed) as f64 / requests as f64
}

async fn error_rate(plane: &Plane, since: &str) -> f64 {
    let query = "query($a: string!, $t0: Time!) { viewer { accounts(filter: {accountTag: $a}) {
        workersInvocationsAdaptive(limit: 100, filter: {scriptName: \"canary\", datetime_geq: $t0}) {
          sum { requests errors } } } } }";
    let variables = json!({"a": plane.emu.account_id(), "t0": since});
    let answer = plane.graphql(query, variables).await;
    let sum = &answer["data"]["viewer"]["accounts"][0]["workersInvocationsAdaptive"][0]["sum"];
    let requests = sum["requests"]
        .as_f64()
        .unwrap_or_else(|| panic!("{answer}"));
    sum["errors"].as_f64().unwrap_or_default() / requests
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrangler_deploy_split_rollback_and_error_rate() {
    let Some(binary) = workerd() else { return };
    let plane = Arc::new(Plane::start(binary).await);
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(w) = wrangler(&plane, dir.path()) else {
        return;
    };

    w.ok(&["deploy"]).await;
    let v1 = w.records("deploy")[0]["version_id"]
        .as_str()
        .expect("v1")
        .to_owned();
    let (status, body) = plane.until("canary", "/", |s, _| s == 200).await;
    assert_eq!((status, body.as_str()), (200, v1.as_str()));
    let checks = || plane.emu.emulator().workerd_checks();
    assert_eq!(checks(), 1, "workerd checks wrangler's upload once");

    let stop = Arc::new(AtomicBool::new(false));
    let load = background_load(&plane, &stop);
    std::fs::write(
        w.project.join("index.js"),
        SOURCE.replace("fails", "fails (v2)"),
    )
    .expect("v2");
    w.ok(&["versions", "upload"]).await;
    let v2 = w.records("version-upload")[0]["version_id"]
        .as_str()
        .expect("v2")
        .to_owned();
    w.ok(&[
        "versions",
        "deploy",
        &format!("{v1}@90%"),
        &format!("{v2}@10%"),
        "--yes",
    ])
    .await;
    plane.until("canary", "/", |_, b| b == v2).await;
    assert_eq!(checks(), 2, "and the new version's once");
    let share = share_of(&plane, &v2, 2_000).await;
    assert!(
        (share - 0.10).abs() <= 0.03,
        "v2 got {share} of 2,000 requests"
    );

    w.ok(&["rollback", &v1, "--yes"]).await;
    // The rollback switches the whole deployment at once: from the first answer by v1 on, every
    // request is v1's (under the 90/10 split, 200 in a row would happen with p < 1e-9). How
    // long the switch takes is printed by `--example dataplane_bench`.
    plane.until("canary", "/", |_, b| b == v1).await;
    for i in 0..200 {
        let (status, body) = plane.get("canary", "/", &[]).await;
        assert_eq!(
            (status, body.as_str()),
            (200, v1.as_str()),
            "request {i} after the rollback"
        );
    }
    stop.store(true, Ordering::Relaxed);
    let (total, failed) = load.await.expect("load task");
    assert!(
        total > 50 && failed == 0,
        "{failed} of {total} requests failed across the switches"
    );

    // Quiet for over a second, so the window (whole seconds) holds only the requests below.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let since = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    for i in 1..=500 {
        plane.get("canary", &format!("/?i={i}"), &[]).await;
    }
    let rate = error_rate(&plane, &since).await;
    assert!((rate - 0.20).abs() <= 0.03, "error rate {rate}");
}
