//! The whole loop with a real context: file-system trigger, webhook, status server, shutdown.

use std::time::Duration;

use flaresync_emulator::testing::TestEmulator;
use flaresync_reconcile::{
    RunConfig, run,
    server::{AdminToken, WebhookConfig},
    watcher::WatchConfig,
    webhook::{WebhookSecret, sign},
};

use crate::support::{Repo, journal_path, start};

/// Polls `/status` until `done` holds for the JSON (or fails after 20 s).
async fn wait_for_status(
    http: &reqwest::Client,
    base: &str,
    what: &str,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(response) = http.get(format!("{base}/status")).send().await
            && let Ok(json) = response.json::<serde_json::Value>().await
            && done(&json)
        {
            return json;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn worker_field<'a>(
    status: &'a serde_json::Value,
    worker: &str,
    field: &str,
) -> &'a serde_json::Value {
    status["workers"]
        .as_array()
        .and_then(|workers| workers.iter().find(|w| w["worker"] == worker))
        .map(|w| &w[field])
        .unwrap_or(&serde_json::Value::Null)
}

fn ready(status: &serde_json::Value, worker: &str) -> bool {
    worker_field(status, worker, "conditions")
        .as_array()
        .is_some_and(|conditions| {
            conditions
                .iter()
                .any(|c| c["type"] == "Ready" && c["status"] == true)
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loop_follows_commits_from_the_watcher_and_the_webhook_and_shuts_down() {
    let (_emulator, mut repo, _state, ctx) =
        start(&[("api", "api-1"), ("web", "web-1")], "initial").await;
    let first = repo.head();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let secret = WebhookSecret::new("hook-secret");
    let config = RunConfig {
        poll_interval: None,
        debounce: Duration::from_millis(50),
        watch: Some(WatchConfig {
            root: repo.path().to_owned(),
            debounce: Duration::from_millis(100),
            ignore: Vec::new(),
        }),
        status_listener: Some(listener),
        webhook: Some(WebhookConfig {
            secret: secret.clone(),
            branch: "main".into(),
        }),
        admin_token: AdminToken::new("run-admin"),
        shutdown_grace: Duration::from_secs(5),
        reconcile_on_sighup: false,
        ..RunConfig::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let loop_task = tokio::spawn(run(ctx.clone(), config, async move {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::new();

    // Startup pass deploys both Workers.
    let status = wait_for_status(&http, &base, "startup deploy", |s| {
        ready(s, "api") && ready(s, "web")
    })
    .await;
    assert_eq!(
        worker_field(&status, "api", "live_commit"),
        &serde_json::json!(first)
    );

    // A local commit is picked up by the file-system watcher.
    repo.set_body("api", "api-2");
    let second = repo.commit("api v2");
    wait_for_status(&http, &base, "watcher-triggered deploy", |s| {
        worker_field(s, "api", "live_commit") == &serde_json::json!(second) && ready(s, "api")
    })
    .await;

    // A signed push webhook triggers too; an unsigned one is refused.
    let body = serde_json::to_vec(&serde_json::json!({"ref": "refs/heads/main", "after": second}))
        .expect("serializes");
    let push = http
        .post(format!("{base}/webhook"))
        .header("x-github-event", "push");
    let unsigned = push.try_clone().expect("a clonable request");
    let unsigned = unsigned.body(body.clone()).send().await.expect("answers");
    assert_eq!(unsigned.status(), 401);
    let signature = sign(&secret, &body);
    let signed = push.header("x-hub-signature-256", signature).body(body);
    assert_eq!(signed.send().await.expect("answers").status(), 202);
    let manual = http
        .post(format!("{base}/reconcile?worker=web"))
        .bearer_auth("run-admin")
        .send()
        .await
        .expect("answers");
    assert_eq!(manual.status(), 202);

    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("answers")
        .text()
        .await
        .expect("body");
    for family in [
        "flaresync_reconcile_total{worker=\"api\",result=\"applied\"}",
        "flaresync_reconcile_duration_seconds_count",
        "flaresync_api_requests_total{method=\"GET\",status=\"2xx\"}",
        "flaresync_api_budget_available",
        "flaresync_drift{worker=\"api\"} 0",
        "flaresync_worker_info{worker=\"api\"",
    ] {
        assert!(metrics.contains(family), "missing {family} in\n{metrics}");
    }

    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(15), loop_task)
        .await
        .expect("loop stops within the grace period")
        .expect("loop task joins")
        .expect("loop ends cleanly");
    // The status server is gone.
    assert!(http.get(format!("{base}/healthz")).send().await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transient_failure_of_one_worker_is_retried_alone_by_the_loop() {
    let emulator = TestEmulator::start().await.expect("emulator starts");
    let mut repo = Repo::new();
    repo.worker("api", "api-1");
    repo.worker("web", "web-1");
    repo.commit("initial");
    let state = tempfile::tempdir().expect("tempdir");
    // No client-side retries: the loop's own requeue has to do it.
    let mut client_config = flaresync_cloudflare::ClientConfig::new(
        emulator.base_url(),
        emulator.account_id(),
        flaresync_cloudflare::Secret::new(emulator.token()),
    );
    client_config.retry.max_attempts = 1;
    let ctx = std::sync::Arc::new(
        flaresync_reconcile::Context::with_options(
            flaresync_git::GitSource::open_local(repo.path(), "main").expect("opens"),
            flaresync_cloudflare::Client::new(client_config).expect("client"),
            journal_path(&state),
            flaresync_config::RepoConfig::default(),
            crate::support::options(),
        )
        .expect("context"),
    );
    // Deploy the first commit with a single pass, then change both Workers.
    flaresync_reconcile::sync_once(
        &ctx,
        flaresync_reconcile::SyncOptions {
            dry_run: false,
            trigger: flaresync_reconcile::TriggerSource::Cli,
        },
    )
    .await
    .expect("first pass");
    repo.set_body("api", "api-2");
    repo.set_body("web", "web-2");
    let second = repo.commit("both v2");
    emulator.fault(
        "POST",
        "/workers/scripts/api/versions$",
        flaresync_emulator::FaultKind::Status,
        1,
    );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let config = RunConfig {
        poll_interval: None,
        debounce: Duration::from_millis(50),
        status_listener: Some(listener),
        reconcile_on_sighup: false,
        ..RunConfig::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let loop_task = tokio::spawn(run(ctx.clone(), config, async move {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::new();
    wait_for_status(&http, &base, "both Workers on the second commit", |s| {
        worker_field(s, "api", "live_commit") == &serde_json::json!(second)
            && worker_field(s, "web", "live_commit") == &serde_json::json!(second)
    })
    .await;
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("answers")
        .text()
        .await
        .expect("body");
    assert!(
        metrics.contains("flaresync_reconcile_errors_total{reason=\"ApiUnavailable\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("flaresync_reconcile_total{worker=\"api\",result=\"error\"} 1"));
    // The retry was a pass for api alone: web was written once.
    let web_deploys = emulator
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/scripts/web/deployments"))
        .count();
    assert_eq!(web_deploys, 1);
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(15), loop_task)
        .await
        .expect("loop stops")
        .expect("joins")
        .expect("clean");
}
