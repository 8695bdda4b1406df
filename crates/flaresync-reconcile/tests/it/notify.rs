//! Notifications end to end: passes against the emulator, sinks on local HTTP servers that
//! record what they receive (GitHub's request shapes from its REST docs).

use std::{sync::Arc, time::Duration};

use flaresync_emulator::testing::TestEmulator;
use flaresync_reconcile::{
    Context, ContextOptions,
    github::GithubConfig,
    notify::{NotifyConfig, RetryPolicy},
    webhook::{WebhookSecret, verify_signature},
};
use serde_json::Value;

use super::{
    recorder::{Recorded, Recorder},
    support::{Repo, active_deployment, client, emulator, journal_path, options, sync},
};

const HOOK_PATH: &str = "/hooks/flaresync";
const SLACK_PATH: &str = "/services/T0001/B0001/sl4ckS3cretPart";
const HOOK_SECRET: &str = "hook-s3cret";
const REPOSITORY: &str = "acme/config";

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        attempts: 4,
        base: Duration::from_millis(100),
        max: Duration::from_secs(1),
        timeout: Duration::from_secs(5),
    }
}

/// Where each sink sends: a base URL (a recorder's, or a dead one), or none.
struct Sinks<'a> {
    webhook: Option<&'a str>,
    slack: Option<&'a str>,
    github: Option<&'a str>,
    retry: RetryPolicy,
}

impl<'a> Sinks<'a> {
    fn all(url: &'a str) -> Self {
        Sinks {
            webhook: Some(url),
            slack: Some(url),
            github: Some(url),
            retry: fast_retries(),
        }
    }
}

/// A context over `repo` whose notifications go to `sinks`, with its own state directory
/// (removed when the returned guard is dropped).
fn notifying_context(
    repo: &Repo,
    emulator: &TestEmulator,
    sinks: &Sinks<'_>,
) -> (tempfile::TempDir, Arc<Context>) {
    let state = tempfile::tempdir().expect("tempdir");
    let options = ContextOptions {
        github: sinks.github.map(|url| GithubConfig {
            api_url: url.to_owned(),
            repository: REPOSITORY.into(),
            token: "gh-test-token".into(),
        }),
        notify: NotifyConfig {
            webhook: sinks.webhook.map(|url| format!("{url}{HOOK_PATH}")),
            webhook_secret: Some(WebhookSecret::new(HOOK_SECRET)),
            slack: sinks.slack.map(|url| format!("{url}{SLACK_PATH}")),
            github: true,
            retry: sinks.retry,
            queue: 64,
        },
        ..options()
    };
    let source = flaresync_git::GitSource::open_local(repo.path(), "main").expect("repo opens");
    let ctx = Context::with_options(
        source,
        client(emulator),
        journal_path(&state),
        flaresync_config::RepoConfig::default(),
        options,
    )
    .expect("context");
    (state, Arc::new(ctx))
}

/// A repository whose first commit holds the Worker `api`; the commit id.
fn api_v1() -> (Repo, String) {
    let mut repo = Repo::with_workers(&[("api", "api v1")]);
    let head = repo.commit("api v1");
    (repo, head)
}

/// `api` v1 then v2 deployed, every sink on `recorder`; the id of v1's version.
async fn deployed_twice(
    emulator: &TestEmulator,
    recorder: &Recorder,
) -> (Repo, tempfile::TempDir, Arc<Context>, String) {
    let (mut repo, _) = api_v1();
    let (state, ctx) = notifying_context(&repo, emulator, &Sinks::all(&recorder.url));
    assert!(sync(&ctx).await.converged());
    let v1 = active_deployment(&ctx, "api").await.versions[0]
        .version_id
        .clone();
    repo.set_body("api", "api v2");
    repo.commit("api v2");
    assert!(sync(&ctx).await.converged());
    (repo, state, ctx, v1)
}

/// The webhook's events received so far, oldest first.
fn hook_events(recorder: &Recorder) -> Vec<Value> {
    recorder.to(HOOK_PATH).into_iter().map(|r| r.body).collect()
}

fn kinds(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn github_calls(recorder: &Recorder) -> Vec<Recorded> {
    recorder
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/repos/"))
        .collect()
}

/// The GitHub calls of one first deploy of `api` at `head`: the commit status, the deployment and
/// its status, shaped as GitHub's REST docs say.
fn assert_github_deploy(recorder: &Recorder, head: &str, account: &str) {
    let github = github_calls(recorder);
    let paths: Vec<&str> = github.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        vec![
            format!("/repos/{REPOSITORY}/statuses/{head}").as_str(),
            &format!("/repos/{REPOSITORY}/deployments"),
            &format!("/repos/{REPOSITORY}/deployments/1/statuses"),
        ]
    );
    for call in &github {
        assert_eq!(call.method, "POST");
        assert_eq!(call.header("authorization"), Some("Bearer gh-test-token"));
        assert_eq!(call.header("accept"), Some("application/vnd.github+json"));
        assert_eq!(call.header("x-github-api-version"), Some("2022-11-28"));
        assert!(
            call.header("user-agent")
                .is_some_and(|a| a.starts_with("flaresync/"))
        );
    }
    assert_eq!(github[0].body["state"], "success");
    assert_eq!(github[0].body["context"], "flaresync/api");
    let deployment = &github[1].body;
    assert_eq!(deployment["ref"], head);
    assert_eq!(deployment["environment"], format!("{account}/default"));
    assert_eq!(deployment["required_contexts"], serde_json::json!([]));
    assert_eq!(deployment["auto_merge"], false);
    assert_eq!(deployment["payload"]["worker"], "api");
    assert_eq!(github[2].body["state"], "success");
    assert_eq!(github[2].body["auto_inactive"], false);
}

#[tokio::test]
async fn a_deploy_reaches_the_webhook_slack_and_github_with_the_right_fields() {
    let emulator = emulator().await;
    let recorder = Recorder::start().await;
    let (repo, head) = api_v1();
    let (_state, ctx) = notifying_context(&repo, &emulator, &Sinks::all(&recorder.url));
    assert!(sync(&ctx).await.converged());
    assert!(ctx.flush_notifications(Duration::from_secs(30)).await);
    let live = active_deployment(&ctx, "api").await;
    let version = live.versions[0].version_id.clone();

    // The JSON webhook: the documented payload, signed.
    let hooks = recorder.to(HOOK_PATH);
    assert_eq!(hooks.len(), 1, "{hooks:#?}");
    let hook = &hooks[0];
    assert_eq!(hook.method, "POST");
    assert_eq!(hook.header("x-flaresync-event"), Some("deploy"));
    assert_eq!(
        verify_signature(
            &WebhookSecret::new(HOOK_SECRET),
            &hook.raw,
            hook.header("x-flaresync-signature-256")
        ),
        Ok(())
    );
    let event = &hook.body;
    assert_eq!(event["kind"], "deploy");
    assert_eq!(event["state"], "success");
    assert_eq!(event["worker"], "api");
    assert_eq!(event["account"], emulator.account_id());
    assert_eq!(
        event["environment"],
        format!("{}/default", emulator.account_id())
    );
    assert_eq!(event["commit"], head);
    assert_eq!(event["version_ids"], serde_json::json!([version]));
    // A first deploy is a script upload: Cloudflare does not name the deployment it creates.
    assert_eq!(event["deployment_id"], Value::Null);
    assert!(
        event["actor"]
            .as_str()
            .is_some_and(|a| a.contains("Alice Author")),
        "{event}"
    );
    assert!(
        event["timestamp"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{event}"
    );

    // Slack: text and blocks.
    let slack = recorder.to(SLACK_PATH);
    assert_eq!(slack.len(), 1);
    let message = &slack[0].body;
    assert_eq!(
        message["text"],
        format!(":white_check_mark: api deployed commit {}", &head[..7])
    );
    assert_eq!(message["blocks"][0]["type"], "section");
    assert_eq!(message["blocks"][1]["type"], "context");

    assert_github_deploy(&recorder, &head, emulator.account_id());

    // /status and /metrics count the deliveries; the Slack URL's secret path is never shown.
    let status = ctx.status_board().snapshot();
    let json = serde_json::to_string(&status).expect("json");
    assert!(!json.contains("sl4ckS3cretPart"), "{json}");
    let sinks: Vec<(String, u64, u64)> = status
        .notifications
        .iter()
        .map(|s| (s.sink.clone(), s.delivered, s.failed))
        .collect();
    assert_eq!(
        sinks,
        vec![
            ("webhook".to_owned(), 1, 0),
            ("slack".to_owned(), 1, 0),
            ("github".to_owned(), 1, 0)
        ]
    );
    let metrics = ctx.metrics_registry().render(&ctx.api_snapshot());
    assert!(
        metrics.contains("flaresync_notifications_total{sink=\"slack\",result=\"delivered\"} 1"),
        "{metrics}"
    );

    // An unchanged pass says nothing more.
    assert!(sync(&ctx).await.converged());
    assert!(ctx.flush_notifications(Duration::from_secs(30)).await);
    assert_eq!(recorder.to(HOOK_PATH).len(), 1);
}

#[tokio::test]
async fn a_revert_is_a_rollback_event_and_retires_the_reverted_deployment() {
    let emulator = emulator().await;
    let recorder = Recorder::start().await;
    let (mut repo, _state, ctx, v1) = deployed_twice(&emulator, &recorder).await;
    let v2 = active_deployment(&ctx, "api").await;
    let revert = repo.revert_head();
    assert!(sync(&ctx).await.converged());
    assert!(ctx.flush_notifications(Duration::from_secs(30)).await);

    let events = hook_events(&recorder);
    assert_eq!(kinds(&events), vec!["deploy", "deploy", "rollback"]);
    assert_eq!(
        events[1]["deployment_id"],
        serde_json::json!(v2.id),
        "the versions API names the deployment"
    );
    assert_eq!(
        events[1]["version_ids"],
        serde_json::json!([v2.versions[0].version_id])
    );
    let rollback = &events[2];
    assert_eq!(rollback["commit"], revert);
    assert_eq!(rollback["version_ids"], serde_json::json!([v1]));
    assert!(
        rollback["reason"].as_str().is_some_and(|r| r.contains(&v1)),
        "{rollback}"
    );
    let slack = recorder.to(SLACK_PATH);
    assert_eq!(
        slack[2].body["text"],
        format!(":rewind: api rolled back at commit {}", &revert[..7])
    );
    // GitHub: the revert's deployment succeeds and the reverted one (id 2) becomes inactive.
    let states: Vec<(String, Value)> = github_calls(&recorder)
        .into_iter()
        .filter(|r| r.path.ends_with("/statuses") && r.path.contains("/deployments/"))
        .map(|r| (r.path.clone(), r.body["state"].clone()))
        .collect();
    let path = |id: u64| format!("/repos/{REPOSITORY}/deployments/{id}/statuses");
    assert_eq!(
        states,
        vec![
            (path(1), "success".into()),
            (path(2), "success".into()),
            (path(1), "inactive".into()),
            (path(3), "success".into()),
            (path(2), "inactive".into()),
        ]
    );
}

#[tokio::test]
async fn a_blocked_rollback_is_announced_once_with_its_rule() {
    let emulator = emulator().await;
    let recorder = Recorder::start().await;
    let mut repo = Repo::new();
    let kv = emulator.create_kv_namespace("cache").expect("kv created");
    let config = |extra: &str| {
        format!("name = \"api\"\nmain = \"index.js\"\ncompatibility_date = \"2026-01-01\"\n{extra}")
    };
    repo.worker("api", "api v1");
    repo.write(
        "workers/api/wrangler.toml",
        &config(&format!(
            "[[kv_namespaces]]\nbinding = \"CACHE\"\nid = \"{kv}\"\n"
        )),
    );
    repo.commit("api binds the cache");
    let (_state, ctx) = notifying_context(&repo, &emulator, &Sinks::all(&recorder.url));
    assert!(sync(&ctx).await.converged());
    repo.write("workers/api/wrangler.toml", &config(""));
    repo.set_body("api", "api v2");
    repo.commit("api drops the cache");
    assert!(sync(&ctx).await.converged());
    emulator.delete_kv_namespace(&kv).expect("kv deleted");
    let revert = repo.revert_head();
    for _ in 0..2 {
        let report = sync(&ctx).await;
        assert!(!report.converged(), "{report:#?}");
    }
    assert!(ctx.flush_notifications(Duration::from_secs(30)).await);

    let events = hook_events(&recorder);
    assert_eq!(
        kinds(&events),
        vec!["deploy", "deploy", "blocked"],
        "announced once"
    );
    let blocked = &events[2];
    assert_eq!(blocked["worker"], "api");
    assert_eq!(blocked["commit"], revert);
    assert_eq!(blocked["rules"], serde_json::json!(["FS004"]));
    assert!(
        blocked["reason"]
            .as_str()
            .is_some_and(|r| r.contains("FS004") && r.contains("to fix")),
        "{blocked}"
    );
    let slack = recorder.to(SLACK_PATH);
    let section = slack[2].body["blocks"][0]["text"]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(section.contains("flaresync explain FS004"), "{section}");
    let status = recorder.to(&format!("/repos/{REPOSITORY}/statuses/{revert}"));
    assert_eq!(status.len(), 1);
    assert_eq!(status[0].body["state"], "failure");
    assert!(
        status[0].body["description"]
            .as_str()
            .is_some_and(|d| d.starts_with("blocked:")),
        "{:?}",
        status[0].body
    );
}

#[tokio::test]
async fn a_sink_answering_500_twice_gets_the_event_once_after_two_backed_off_retries() {
    let emulator = emulator().await;
    let hook = Recorder::start().await;
    hook.fail_next(&[500, 500]);
    let (repo, _) = api_v1();
    let sinks = Sinks {
        webhook: Some(&hook.url),
        slack: None,
        github: None,
        retry: fast_retries(),
    };
    let (_state, ctx) = notifying_context(&repo, &emulator, &sinks);
    assert!(sync(&ctx).await.converged());
    assert!(ctx.flush_notifications(Duration::from_secs(30)).await);

    let attempts = hook.to(HOOK_PATH);
    assert_eq!(attempts.len(), 3, "two failures, then the delivery");
    let delivery: Vec<Option<&str>> = attempts
        .iter()
        .map(|a| a.header("x-flaresync-delivery"))
        .collect();
    assert!(delivery[0].is_some());
    assert!(
        delivery.iter().all(|d| *d == delivery[0]),
        "one event: {delivery:?}"
    );
    assert!(attempts.iter().all(|a| a.raw == attempts[0].raw));
    // Backoff: the pauses are at least 100 ms, then 200 ms (lower bounds, never flaky).
    assert!(attempts[1].at - attempts[0].at >= Duration::from_millis(100));
    assert!(attempts[2].at - attempts[1].at >= Duration::from_millis(200));
    let sink = ctx.status_board().snapshot().notifications[0].clone();
    assert_eq!(
        (sink.delivered, sink.retries, sink.failed),
        (1, 2, 0),
        "{sink:?}"
    );
    let metrics = ctx.metrics_registry().render(&ctx.api_snapshot());
    assert!(
        metrics.contains("flaresync_notifications_total{sink=\"webhook\",result=\"retried\"} 2"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_sink_that_keeps_failing_is_reported_without_its_secret() {
    let emulator = emulator().await;
    let slack = Recorder::start().await;
    slack.fail_next(&[503; 10]);
    let (repo, _) = api_v1();
    let sinks = Sinks {
        webhook: None,
        slack: Some(&slack.url),
        github: None,
        retry: RetryPolicy {
            attempts: 3,
            ..fast_retries()
        },
    };
    let (_state, ctx) = notifying_context(&repo, &emulator, &sinks);
    assert!(sync(&ctx).await.converged());
    assert!(ctx.flush_notifications(Duration::from_secs(30)).await);
    assert_eq!(slack.to(SLACK_PATH).len(), 3);
    let status = ctx.status_board().snapshot();
    let sink = &status.notifications[0];
    assert_eq!(
        (sink.sink.as_str(), sink.delivered, sink.failed),
        ("slack", 0, 1)
    );
    assert_eq!(sink.target, format!("{}/…", slack.url));
    let error = sink.last_error.as_ref().expect("last error");
    assert_eq!(error.message, "answered 503: scripted failure (3 attempts)");
    assert_eq!(
        (error.event.as_str(), error.worker.as_str()),
        ("deploy", "api")
    );
    let json = serde_json::to_string(&status).expect("json");
    assert!(!json.contains("sl4ckS3cretPart"), "{json}");
}

#[tokio::test]
async fn an_unreachable_sink_does_not_hold_up_passes() {
    let emulator = emulator().await;
    // Accepts connections (the kernel's backlog) and never answers: every attempt hangs
    // until its 60 s timeout.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let silent_url = format!("http://{}", silent.local_addr().expect("addr"));
    let (mut repo, _) = api_v1();
    let sinks = Sinks {
        webhook: Some(&silent_url),
        slack: None,
        github: Some(&silent_url),
        retry: RetryPolicy {
            timeout: Duration::from_secs(60),
            ..fast_retries()
        },
    };
    let (_state, ctx) = notifying_context(&repo, &emulator, &sinks);
    assert!(sync(&ctx).await.converged());
    // The pass is over while both of its notifications are still in flight: it did not wait.
    assert_eq!(ctx.notifier().pending(), 2);
    repo.set_body("api", "api v2");
    repo.commit("api v2");
    let second = sync(&ctx).await;
    assert!(second.converged(), "{second:#?}");
    assert_eq!(
        ctx.notifier().pending(),
        4,
        "queued behind the first, still not sent"
    );
    let v2 = active_deployment(&ctx, "api").await.versions[0]
        .version_id
        .clone();
    assert!(
        second
            .workers
            .iter()
            .any(|w| w.live_version.as_deref() == Some(&v2))
    );
    drop(silent);
}

#[tokio::test]
async fn a_failed_health_check_is_announced_and_its_deployment_fails_on_github() {
    let emulator = emulator().await;
    let recorder = Recorder::start().await;
    let health = Recorder::start().await;
    let (mut repo, _) = api_v1();
    // The recorder answers 201 unless told otherwise.
    repo.write(
        "flaresync.toml",
        &format!(
            "[workers.api]\nhealth_check = {{ url = \"{}/health\", expected_status = 201, timeout_ms = 2000 }}\n",
            health.url
        ),
    );
    repo.commit("api health check");
    let (_state, ctx) = notifying_context(&repo, &emulator, &Sinks::all(&recorder.url));
    assert!(sync(&ctx).await.converged());
    health.fail_next(&[500]);
    repo.set_body("api", "api broken");
    let bad = repo.commit("break api");
    assert!(!sync(&ctx).await.converged());
    assert!(ctx.flush_notifications(Duration::from_secs(30)).await);

    let events = hook_events(&recorder);
    assert_eq!(kinds(&events), vec!["deploy", "health_failed"]);
    let failed = &events[1];
    assert_eq!(failed["commit"], bad);
    assert_eq!(failed["state"], "failure");
    assert!(
        failed["reason"]
            .as_str()
            .is_some_and(|r| r.contains("answered 500, expected 201")),
        "{failed}"
    );
    let status = recorder.to(&format!("/repos/{REPOSITORY}/statuses/{bad}"));
    assert_eq!(status.len(), 1);
    assert_eq!(status[0].body["state"], "failure");
    let deployments = recorder.to(&format!("/repos/{REPOSITORY}/deployments"));
    assert_eq!(deployments.len(), 2);
    assert_eq!(deployments[1].body["ref"], bad);
    let state = recorder.to(&format!("/repos/{REPOSITORY}/deployments/2/statuses"));
    assert_eq!(state.len(), 1);
    assert_eq!(state[0].body["state"], "failure");
    assert!(
        recorder
            .to(&format!("/repos/{REPOSITORY}/deployments/1/statuses"))
            .iter()
            .all(|s| s.body["state"] != "inactive"),
        "the good deployment serves again"
    );
}

#[tokio::test]
async fn a_hand_rollback_is_one_drift_event_and_retires_the_github_deployment() {
    let emulator = emulator().await;
    let recorder = Recorder::start().await;
    let (_repo, _state, ctx, v1) = deployed_twice(&emulator, &recorder).await;
    // On call: `wrangler rollback` by hand.
    crate::support::deploy_by_hand(
        &ctx,
        "api",
        flaresync_cloudflare::NewDeployment::single(&v1, Some("Rollback".into())),
    )
    .await;
    for _ in 0..2 {
        sync(&ctx).await;
    }
    assert!(ctx.flush_notifications(Duration::from_secs(30)).await);

    let events = hook_events(&recorder);
    assert_eq!(kinds(&events), vec!["deploy", "deploy", "drift"], "once");
    let drift = &events[2];
    assert_eq!(drift["version_ids"], serde_json::json!([v1]));
    assert!(
        drift["reason"]
            .as_str()
            .is_some_and(|r| r.contains("drift_policy = report")),
        "{drift}"
    );
    let retired = recorder.to(&format!("/repos/{REPOSITORY}/deployments/2/statuses"));
    let states: Vec<&Value> = retired.iter().map(|s| &s.body["state"]).collect();
    assert_eq!(states, vec!["success", "inactive"]);
}
