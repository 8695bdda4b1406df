//! Rollouts as operators live with them, without the data plane (`min_requests = 0`: without
//! traffic every analysis passes): the status after a restart, the revert's pull request on a
//! slow GitHub, and an abort that does not wait for a long pass.

use std::{sync::Arc, time::Duration};

use flaresync_journal::{Action as JournalAction, Outcome};
use flaresync_reconcile::{
    Context, RunConfig, SyncOptions, SyncReport, TriggerSource,
    rollout::{Command, Verdict},
    run,
    server::AdminToken,
    sync_once,
};

use crate::support::{
    Repo, context, context_with, emulator, journal_path, open, options, uploaded, wait_for_log,
};

async fn sync(ctx: &Context) -> SyncReport {
    let options = SyncOptions {
        dry_run: false,
        trigger: TriggerSource::Cli,
    };
    sync_once(ctx, options).await.expect("pass runs")
}

fn analyses(ctx: &Context, worker: &str) -> usize {
    ctx.journal()
        .history(worker)
        .expect("journal")
        .iter()
        .filter(|r| r.entry.action == JournalAction::Other("rollout_analysis".into()))
        .count()
}

/// Commits api v2 and runs passes until its rollout's first analysis (steps of 50 ms).
async fn v2_until_analysed(ctx: &Context, repo: &mut Repo) {
    repo.set_body("api", "v2");
    repo.commit("v2");
    sync(ctx).await;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(60)).await;
        sync(ctx).await;
        if analyses(ctx, "api") > 0 {
            break;
        }
    }
}

/// Issue 13 item 6: the status board of a restarted flaresync shows the last analysis of an
/// open rollout (from the journal) before it analyses again.
#[tokio::test]
async fn after_a_restart_status_shows_the_last_analysis_from_the_journal() {
    let repo = Repo::new();
    repo.worker("api", "v1");
    repo.write(
        "flaresync.toml",
        "[rollout]\nsteps = [10]\nstep_interval = \"50ms\"\nbake = \"1h\"\nmin_requests = 0\n",
    );
    let (emulator, mut repo, state, ctx) = open(emulator().await, repo, "v1");
    assert!(sync(&ctx).await.converged());
    // 10% analysed and passed: the canary bakes at 100% for an hour.
    v2_until_analysed(&ctx, &mut repo).await;
    assert_eq!(analyses(&ctx, "api"), 1);
    drop(ctx);

    let restarted = context(&repo, &emulator, &journal_path(&state));
    assert!(restarted.status_board().worker("api").is_none());
    let report = sync(&restarted).await;
    assert_eq!(
        analyses(&restarted, "api"),
        1,
        "no new analysis: {report:#?}"
    );
    let status = restarted.status_board().worker("api").expect("api");
    let rollout = status.rollout.expect("the open rollout");
    assert_eq!(rollout.phase.name(), "baking", "{rollout:?}");
    let last = rollout.last_analysis.expect("the journal's last analysis");
    assert_eq!(last.verdict, Verdict::Passed);
    let error_rate = last
        .checks
        .iter()
        .find(|check| check.name == "error_rate")
        .expect("the error rate check");
    assert!(
        error_rate.value.is_some(),
        "with its number: {error_rate:?}"
    );
    let metrics = restarted
        .metrics_registry()
        .render(&restarted.api_snapshot());
    assert!(
        metrics.contains("flaresync_rollout_analysis_value{worker=\"api\",check=\"error_rate\""),
        "{metrics}"
    );
}

/// A stand-in for GitHub's REST API that takes `delay` to open a pull request, and counts them.
async fn slow_github(delay: Duration) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use axum::{Json, Router, extract::State, routing::post};
    type Opened = Arc<std::sync::atomic::AtomicUsize>;
    let opened: Opened = Arc::default();
    let app = Router::new()
        .route(
            "/repos/acme/config/pulls",
            post(move |State(opened): State<Opened>| async move {
                tokio::time::sleep(delay).await;
                opened.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                (
                    axum::http::StatusCode::CREATED,
                    Json(serde_json::json!({"number": 1, "html_url": "https://github.test/acme/config/pull/1"})),
                )
            }),
        )
        .with_state(opened.clone());
    (crate::recorder::serve(app).await, opened)
}

/// Issue 13 item 4: the revert's pull request goes through GitHub's own HTTP client, not the
/// one of health checks and probes: a GitHub slower than a probe's timeout still gets it.
#[tokio::test]
async fn the_revert_pull_request_outlasts_the_probe_client_timeouts() {
    let repo = Repo::new();
    repo.worker("api", "v1");
    repo.write(
        "flaresync.toml",
        "[rollout]\nsteps = [10]\nstep_interval = \"1h\"\nmin_requests = 0\n",
    );
    let (emulator, mut repo, state, _) = open(emulator().await, repo, "v1");
    let remote = tempfile::tempdir().expect("tempdir");
    let remote_path = remote.path().join("config.git");
    let remote_arg = remote_path.to_str().expect("utf-8");
    repo.git(&["init", "-q", "--bare", "-b", "main", remote_arg]);
    repo.git(&["remote", "add", "origin", remote_arg]);
    let (github_url, opened) = slow_github(Duration::from_millis(1500)).await;
    let options = flaresync_reconcile::ContextOptions {
        // Probes give up quickly; GitHub is slower than that.
        health_http: reqwest::Client::builder()
            .timeout(Duration::from_millis(300))
            .build()
            .expect("client"),
        github: Some(flaresync_reconcile::github::GithubConfig {
            api_url: github_url,
            repository: "acme/config".into(),
            token: "gh-test-token".into(),
        }),
        ..options()
    };
    let ctx = Context::with_options(
        flaresync_git::GitSource::open_local(repo.path(), "main").expect("opens"),
        crate::support::client(&emulator),
        journal_path(&state),
        flaresync_config::RepoConfig::default(),
        options,
    )
    .expect("context");
    assert!(sync(&ctx).await.converged());
    repo.set_body("api", "v2");
    repo.commit("v2");
    sync(&ctx).await;
    let aborted = ctx
        .rollout_command(Command::Abort, Some("api"), "ops")
        .expect("recorded");
    assert_eq!(aborted, vec!["api".to_owned()]);
    sync(&ctx).await;
    let proposals: Vec<(Outcome, String)> = ctx
        .journal()
        .history("api")
        .expect("journal")
        .into_iter()
        .filter(|r| r.entry.action == JournalAction::Other("rollout_revert".into()))
        .map(|r| (r.entry.outcome, r.entry.message))
        .collect();
    assert_eq!(opened.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert!(
        proposals
            .iter()
            .any(|(outcome, message)| *outcome == Outcome::Success
                && message.contains("pull request for flaresync/revert-")
                && message.contains("https://github.test/acme/config/pull/1")),
        "{proposals:#?}"
    );
}

const FORWARD: usize = 200;

/// Issue 13 item 3 with issue 17 item 3: an operator's abort of a rollout is a set rollback, and
/// rollbacks never wait. A commit that starts api's rollout and adds 200 Workers is deployed by
/// `run` under a small request budget; the abort, sent through the loop's authenticated API,
/// puts api back before that deploy finishes (the pass in flight stops at its next Worker).
#[tokio::test]
async fn an_abort_preempts_a_long_pass_and_goes_first() {
    let emulator = emulator().await;
    let account = emulator.account_id().to_owned();
    let mut repo = Repo::new();
    repo.worker("api", "api v1");
    repo.write(
        "flaresync.toml",
        "[workers.api]\nrollout = { steps = [10], step_interval = \"1h\", min_requests = 0 }\n",
    );
    repo.commit("api v1");
    let state = tempfile::tempdir().expect("tempdir");
    let ctx = context_with(&repo, &emulator, &journal_path(&state), |config| {
        config.budget = crate::support::paced_budget();
    });
    assert!(sync(&ctx).await.converged());
    repo.set_body("api", "api v2");
    for index in 0..FORWARD {
        repo.worker(&format!("w{index:03}"), &format!("forward {index}"));
    }
    repo.commit("api v2 and 200 new Workers");

    let start = emulator.requests().len();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let config = RunConfig {
        poll_interval: None,
        status_listener: Some(listener),
        admin_token: AdminToken::new("rollout-admin"),
        reconcile_on_sighup: false,
        // The forward deploy is still under way at the end: abandon it (the journal resumes).
        shutdown_grace: Duration::from_millis(100),
        ..RunConfig::default()
    };
    let task = tokio::spawn(run(ctx.clone(), config, async move {
        let _ = stopped.await;
    }));
    let api_deployment = format!("POST /accounts/{account}/workers/scripts/api/deployments");
    // api's first step (10%) is out, and the forward deploy is under way.
    wait_for_log(
        &emulator,
        start,
        "the rollout and the forward deploy",
        |log| log.contains(&api_deployment) && uploaded(log, &account).len() >= 10,
    )
    .await;
    let http = reqwest::Client::new();
    let answer = http
        .post(format!("{base}/rollout/abort?worker=api"))
        .bearer_auth("rollout-admin")
        .send()
        .await
        .expect("the loop answers");
    assert_eq!(answer.status().as_u16(), 202);
    let log = wait_for_log(&emulator, start, "the rollback of api", |log| {
        log.iter().filter(|r| **r == api_deployment).count() >= 2
    })
    .await;
    let rollback = log
        .iter()
        .rposition(|request| *request == api_deployment)
        .expect("logged");
    let before = uploaded(&log[..rollback], &account).len();
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(30), task)
        .await
        .expect("loop stops")
        .expect("joins")
        .expect("ends cleanly");
    println!(
        "abort during a deploy of {FORWARD} Workers: {before} Workers deployed before the rollback"
    );
    assert!(
        before < FORWARD,
        "the abort waited for the whole forward deploy"
    );
    let active = ctx
        .journal()
        .history("api")
        .expect("journal")
        .into_iter()
        .any(|r| r.entry.action == JournalAction::Other("rollout_aborted".into()));
    assert!(active, "api's rollout ended aborted");
}

/// A stand-in Prometheus: `GET /api/v1/query` answers a vector whose one sample is `value`,
/// and keeps the queries it was asked.
async fn prometheus(value: &'static str) -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
    use axum::{Json, Router, extract::Query, extract::State, routing::get};
    type Asked = Arc<std::sync::Mutex<Vec<String>>>;
    let asked: Asked = Arc::default();
    let app = Router::new()
        .route(
            "/api/v1/query",
            get(
                move |State(asked): State<Asked>,
                      Query(params): Query<std::collections::HashMap<String, String>>| async move {
                    let query = params.get("query").cloned().unwrap_or_default();
                    asked.lock().expect("lock").push(query);
                    Json(serde_json::json!({"status": "success", "data": {
                        "resultType": "vector",
                        "result": [{"metric": {}, "value": [1_800_000_000, value]}]
                    }}))
                },
            ),
        )
        .with_state(asked.clone());
    (crate::recorder::serve(app).await, asked)
}

/// Issue 13 item 2: a team's own Prometheus query is part of the analysis: a value above its
/// threshold fails the canary (the rollout is aborted, api back on v1), with the number
/// journaled.
#[tokio::test]
async fn a_prometheus_query_above_its_threshold_aborts_the_rollout() {
    let (url, asked) = prometheus("7.5").await;
    let repo = Repo::new();
    repo.worker("api", "v1");
    repo.write(
        "flaresync.toml",
        &format!(
            "[rollout]\nsteps = [10]\nstep_interval = \"50ms\"\nbake = \"1h\"\nmin_requests = 0\n\
             prometheus = {{ url = \"{url}\", query = \"sum(rate(http_errors[1m]))\", threshold = 5 }}\n"
        ),
    );
    let (_emulator, mut repo, _state, ctx) = open(emulator().await, repo, "v1");
    assert!(sync(&ctx).await.converged());
    let stable = crate::support::active_deployment(&ctx, "api")
        .await
        .versions[0]
        .version_id
        .clone();
    v2_until_analysed(&ctx, &mut repo).await;
    let history = ctx.journal().history("api").expect("journal");
    let analysis = history
        .iter()
        .find(|r| r.entry.action == JournalAction::Other("rollout_analysis".into()))
        .expect("analysed");
    assert_eq!(analysis.entry.outcome, Outcome::Failure);
    assert!(
        analysis.entry.message.contains("prometheus failed")
            && analysis.entry.message.contains("[value 7.5]"),
        "{}",
        analysis.entry.message
    );
    assert_eq!(
        asked.lock().expect("lock").clone(),
        vec!["sum(rate(http_errors[1m]))".to_owned()]
    );
    assert!(
        history
            .iter()
            .any(|r| r.entry.action == JournalAction::Other("rollout_aborted".into())),
        "aborted"
    );
    let active = crate::support::active_deployment(&ctx, "api").await;
    assert_eq!(active.versions.len(), 1);
    assert_eq!(active.versions[0].version_id, stable);
}
