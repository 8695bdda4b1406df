//! The whole loop with a real context: file-system trigger, webhook, status server, shutdown.

use std::{sync::Arc, time::Duration};

use flaresync_reconcile::{
    Context, RunConfig, run,
    server::{AdminToken, WebhookConfig},
    watcher::WatchConfig,
    webhook::{WebhookSecret, sign},
};

use crate::support::{Repo, context_without_retries, emulator, open_with, start};

type LoopTask = tokio::task::JoinHandle<Result<(), flaresync_reconcile::Error>>;

/// A listener for the status server on a free port, and the server's base URL.
pub(crate) async fn status_listener() -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    (listener, base)
}

/// Runs the loop in the background until the returned sender fires.
pub(crate) fn spawn_loop(
    ctx: &Arc<Context>,
    config: RunConfig,
) -> (tokio::sync::oneshot::Sender<()>, LoopTask) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(run(ctx.clone(), config, async move {
        let _ = stopped.await;
    }));
    (stop, task)
}

/// Stops the loop, which must end cleanly within 15 s.
pub(crate) async fn stop_loop(stop: tokio::sync::oneshot::Sender<()>, task: LoopTask) {
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(15), task)
        .await
        .expect("loop stops within the grace period")
        .expect("loop task joins")
        .expect("loop ends cleanly");
}

/// The body of `GET url`.
async fn get_text(http: &reqwest::Client, url: &str) -> String {
    let answer = http.get(url).send().await.expect("answers");
    answer.text().await.expect("body")
}

/// Polls `/status` until `done` holds for the JSON (or fails after 20 s).
pub(crate) async fn wait_for_status(
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

pub(crate) fn worker_field<'a>(
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

    let (listener, base) = status_listener().await;
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
    let (stop, loop_task) = spawn_loop(&ctx, config);
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

    let metrics = get_text(&http, &format!("{base}/metrics")).await;
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

    stop_loop(stop, loop_task).await;
    // The status server is gone.
    assert!(http.get(format!("{base}/healthz")).send().await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transient_failure_of_one_worker_is_retried_alone_by_the_loop() {
    // No client-side retries: the loop's own requeue has to do it.
    let workers = Repo::with_workers(&[("api", "api-1"), ("web", "web-1")]);
    let (emulator, mut repo, _state, ctx) = open_with(
        emulator().await,
        workers,
        "initial",
        context_without_retries,
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

    let (listener, base) = status_listener().await;
    let config = RunConfig {
        poll_interval: None,
        debounce: Duration::from_millis(50),
        status_listener: Some(listener),
        reconcile_on_sighup: false,
        ..RunConfig::default()
    };
    let (stop, loop_task) = spawn_loop(&ctx, config);
    let http = reqwest::Client::new();
    wait_for_status(&http, &base, "both Workers on the second commit", |s| {
        worker_field(s, "api", "live_commit") == &serde_json::json!(second)
            && worker_field(s, "web", "live_commit") == &serde_json::json!(second)
    })
    .await;
    let metrics = get_text(&http, &format!("{base}/metrics")).await;
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
    stop_loop(stop, loop_task).await;
}
