//! Drift detection and post-deploy health checks against the emulator.

use std::sync::{
    Arc,
    atomic::{AtomicU16, Ordering},
};

use flaresync_cloudflare::NewDeployment;
use flaresync_emulator::testing::TestEmulator;
use flaresync_journal::Action;
use flaresync_reconcile::{
    Reason, SyncOptions, TriggerSource, WorkerOutcome, status::ConditionType, sync_once,
};

use crate::support::{
    Repo, active_deployment, context, journal_path, requests_since, sent_by, start, writes,
};

fn apply() -> SyncOptions {
    SyncOptions {
        dry_run: false,
        trigger: TriggerSource::Poll,
    }
}

async fn active_version(ctx: &flaresync_reconcile::Context, worker: &str) -> String {
    ctx.client()
        .active_deployment(worker)
        .await
        .expect("reads deployments")
        .expect("has a deployment")
        .versions[0]
        .version_id
        .clone()
}

#[tokio::test]
async fn a_manual_rollback_is_reported_by_default_and_healed_when_the_policy_says_so() {
    let (emulator, mut repo, _state, ctx) = start(&[("api", "api-1")], "initial").await;
    let first_commit = repo.head();
    sync_once(&ctx, apply()).await.expect("first pass");
    let v1 = active_version(&ctx, "api").await;
    repo.set_body("api", "api-2");
    repo.commit("api v2");
    sync_once(&ctx, apply()).await.expect("second pass");
    let v2 = active_version(&ctx, "api").await;
    assert_ne!(v1, v2);

    // Someone runs `wrangler rollback` by hand.
    crate::support::deploy_by_hand(
        &ctx,
        "api",
        NewDeployment::single(&v1, Some("Rollback".into())),
    )
    .await;

    let (report, sent) = sent_by(&emulator, sync_once(&ctx, apply())).await;
    let report = report.expect("drift pass");
    assert!(sent.is_empty(), "report policy never writes");
    let api = &report.workers[0];
    assert_eq!(api.outcome, WorkerOutcome::HeldForDrift);
    let drift = api.drift.as_ref().expect("drift reported");
    assert_eq!(drift.expected_versions, vec![v2.clone()]);
    assert_eq!(drift.actual_versions, vec![v1.clone()]);
    assert_eq!(drift.actual_commits, vec![Some(first_commit.clone())]);
    assert_eq!(drift.policy, "report");
    assert_eq!(active_version(&ctx, "api").await, v1);
    let status = ctx.status_board().worker("api").expect("status");
    assert!(
        status
            .condition(ConditionType::Drifted)
            .is_some_and(|c| c.status)
    );
    assert!(
        ctx.metrics_registry()
            .render(&Default::default())
            .contains("flaresync_drift{worker=\"api\"} 1")
    );
    let drift_entries = ctx
        .journal()
        .history("api")
        .expect("journal")
        .into_iter()
        .filter(|r| r.entry.action == Action::Drift)
        .count();
    assert_eq!(drift_entries, 1);
    // Reported once, not on every pass.
    sync_once(&ctx, apply()).await.expect("another pass");
    let drift_entries = ctx
        .journal()
        .history("api")
        .expect("journal")
        .into_iter()
        .filter(|r| r.entry.action == Action::Drift)
        .count();
    assert_eq!(drift_entries, 1);

    // The policy changes to heal (a commit, like every policy change).
    repo.write("flaresync.toml", "[workers.api]\ndrift_policy = \"heal\"\n");
    repo.commit("heal drift of api");
    let report = sync_once(&ctx, apply()).await.expect("heal pass");
    let api = &report.workers[0];
    assert!(
        matches!(api.outcome, WorkerOutcome::Applied { .. }),
        "{api:?}"
    );
    assert!(api.drift.as_ref().is_some_and(|d| d.healed));
    assert_eq!(active_version(&ctx, "api").await, v2);
    let settled = sync_once(&ctx, apply()).await.expect("settled pass");
    assert!(settled.workers[0].drift.is_none());
    assert_eq!(settled.workers[0].outcome, WorkerOutcome::InSync);
}

/// A health endpoint whose status the test sets.
async fn health_server(status: Arc<AtomicU16>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let address = listener.local_addr().expect("address");
    let app = axum::Router::new().route(
        "/health",
        axum::routing::get(move || {
            let status = status.clone();
            async move {
                axum::http::StatusCode::from_u16(status.load(Ordering::SeqCst))
                    .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR)
            }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{address}/health")
}

/// An emulator and a repository (not committed) with `api` whose health check asks a local
/// server for the status in `health` (200 to start with).
async fn api_with_health_check() -> (TestEmulator, Arc<AtomicU16>, Repo) {
    let emulator = TestEmulator::start().await.expect("emulator starts");
    let health = Arc::new(AtomicU16::new(200));
    let url = health_server(health.clone()).await;
    let repo = Repo::new();
    repo.worker("api", "api-1");
    repo.write(
        "flaresync.toml",
        &format!(
            "[workers.api]\nhealth_check = {{ url = \"{url}\", expected_status = 200, timeout_ms = 2000 }}\n"
        ),
    );
    (emulator, health, repo)
}

#[tokio::test]
async fn a_failed_health_check_rolls_back_and_rejects_the_commit_until_git_changes() {
    let (emulator, health, mut repo) = api_with_health_check().await;
    let good_commit = repo.commit("initial");
    let state = tempfile::tempdir().expect("tempdir");
    let ctx = context(&repo, &emulator, &journal_path(&state));
    let report = sync_once(&ctx, apply()).await.expect("first pass");
    assert!(
        report.workers[0]
            .health
            .as_ref()
            .is_some_and(|h| h.passed())
    );
    let good_version = active_version(&ctx, "api").await;

    health.store(500, Ordering::SeqCst);
    repo.set_body("api", "api-broken");
    let bad_commit = repo.commit("break api");
    let report = sync_once(&ctx, apply()).await.expect("bad pass");
    let api = &report.workers[0];
    let error = api.error.as_ref().expect("health failure reported");
    assert_eq!(error.reason, Reason::HealthCheckFailed.as_str());
    assert_eq!(error.kind, "Stalled");
    assert!(error.message.contains(&bad_commit), "{}", error.message);
    assert_eq!(api.live_version.as_deref(), Some(good_version.as_str()));
    assert_eq!(
        active_version(&ctx, "api").await,
        good_version,
        "rolled back"
    );
    let status = ctx.status_board().worker("api").expect("status");
    assert!(
        status
            .condition(ConditionType::HealthCheckFailed)
            .is_some_and(|c| c.status)
    );
    assert!(
        status
            .condition(ConditionType::Stalled)
            .is_some_and(|c| c.status)
    );
    assert_eq!(
        status
            .health
            .as_ref()
            .and_then(|h| h.rejected_commit.clone()),
        Some(bad_commit.clone())
    );
    let journal = ctx.journal().history("api").expect("journal");
    assert!(journal.iter().any(|r| {
        r.entry.action == Action::Other("health_check_failed".into())
            && r.entry.commit.as_deref() == Some(bad_commit.as_str())
    }));

    // The rejected commit is not deployed again on the next passes.
    let (report, sent) = sent_by(&emulator, sync_once(&ctx, apply())).await;
    let report = report.expect("next pass");
    assert!(sent.is_empty());
    assert_eq!(report.workers[0].outcome, WorkerOutcome::Blocked);

    // Even after a restart (a new context reading the same journal).
    let restarted = context(&repo, &emulator, &journal_path(&state));
    let before = emulator.requests().len();
    let report = sync_once(&restarted, apply())
        .await
        .expect("pass after restart");
    assert!(writes(&requests_since(&emulator, before)).is_empty());
    assert_eq!(report.workers[0].outcome, WorkerOutcome::Blocked);

    // A fix in Git is deployed.
    health.store(200, Ordering::SeqCst);
    repo.set_body("api", "api-fixed");
    let fixed_commit = repo.commit("fix api");
    let report = sync_once(&restarted, apply()).await.expect("fix pass");
    let api = &report.workers[0];
    assert!(
        matches!(api.outcome, WorkerOutcome::Applied { .. }),
        "{api:?}"
    );
    assert_eq!(api.live_commit.as_deref(), Some(fixed_commit.as_str()));
    assert_ne!(good_commit, fixed_commit);
}

/// Drift is read from Cloudflare's own record: a fresh state directory (a new CI runner, a
/// restarted daemon, a new replica) must not silently undo an on-call engineer's hand rollback
/// or end their hand 90/10 split under `drift_policy = "report"`.
#[tokio::test]
async fn a_fresh_state_directory_sees_hand_changes_as_drift_from_cloudflares_record() {
    let (emulator, mut repo, _first, ctx) =
        start(&[("api", "api-1"), ("auth", "auth-1")], "initial").await;
    sync_once(&ctx, apply()).await.expect("first pass");
    let api_v1 = active_version(&ctx, "api").await;
    let auth_v1 = active_version(&ctx, "auth").await;
    repo.set_body("api", "api-2");
    repo.set_body("auth", "auth-2");
    repo.commit("v2 of both");
    sync_once(&ctx, apply()).await.expect("second pass");
    let api_v2 = active_version(&ctx, "api").await;
    let auth_v2 = active_version(&ctx, "auth").await;

    // On call: `wrangler rollback` of api, and a hand 90/10 split of auth.
    crate::support::deploy_by_hand(
        &ctx,
        "api",
        NewDeployment::single(&api_v1, Some("incident 42".into())),
    )
    .await;
    let split = NewDeployment {
        versions: vec![
            flaresync_cloudflare::DeploymentVersion {
                version_id: auth_v2.clone(),
                percentage: 90.0,
            },
            flaresync_cloudflare::DeploymentVersion {
                version_id: auth_v1.clone(),
                percentage: 10.0,
            },
        ],
        ..NewDeployment::single(&auth_v2, Some("canary by hand".into()))
    };
    ctx.client()
        .create_deployment("auth", &split, false)
        .await
        .expect("manual split");

    // A fresh state directory: its journal knows nothing.
    let fresh = tempfile::tempdir().expect("tempdir");
    let restarted = context(&repo, &emulator, &journal_path(&fresh));
    let (report, sent) = sent_by(&emulator, sync_once(&restarted, apply())).await;
    let report = report.expect("pass");
    assert!(
        sent.is_empty(),
        "report policy never writes: {:?}",
        report.workers
    );
    for worker in &report.workers {
        assert_eq!(worker.outcome, WorkerOutcome::HeldForDrift, "{worker:?}");
    }
    let api = report
        .workers
        .iter()
        .find(|w| w.worker == "api")
        .expect("api");
    let drift = api.drift.as_ref().expect("drift reported");
    assert_eq!(drift.expected_versions, vec![api_v2.clone()]);
    assert_eq!(drift.actual_versions, vec![api_v1.clone()]);
    assert_eq!(active_version(&restarted, "api").await, api_v1);
    let auth = active_deployment(&restarted, "auth").await;
    assert_eq!(auth.versions.len(), 2, "the hand split stays");
}

/// The restore after a failed health check also puts back the non-versioned settings (cron
/// triggers) that the failing commit changed: otherwise the old code runs on the new schedule.
#[tokio::test]
async fn a_failed_health_check_restores_the_crons_the_commit_changed() {
    let (emulator, health, mut repo) = api_with_health_check().await;
    let config = "name = \"api\"\nmain = \"index.js\"\ncompatibility_date = \"2026-01-01\"\n";
    repo.write(
        "workers/api/wrangler.toml",
        &format!("{config}[triggers]\ncrons = [\"*/5 * * * *\"]\n"),
    );
    repo.commit("initial");
    let state = tempfile::tempdir().expect("tempdir");
    let ctx = context(&repo, &emulator, &journal_path(&state));
    sync_once(&ctx, apply()).await.expect("first pass");
    let crons = |ctx: std::sync::Arc<flaresync_reconcile::Context>| async move {
        ctx.client()
            .list_schedules("api")
            .await
            .expect("reads schedules")
            .into_iter()
            .map(|schedule| schedule.cron)
            .collect::<Vec<_>>()
    };
    assert_eq!(crons(ctx.clone()).await, vec!["*/5 * * * *".to_owned()]);

    health.store(500, Ordering::SeqCst);
    repo.set_body("api", "api-broken");
    repo.write(
        "workers/api/wrangler.toml",
        &format!("{config}[triggers]\ncrons = [\"0 * * * *\"]\n"),
    );
    repo.commit("break api, hourly");
    let report = sync_once(&ctx, apply()).await.expect("bad pass");
    assert_eq!(
        report.workers[0].error.as_ref().map(|e| e.reason.as_str()),
        Some(Reason::HealthCheckFailed.as_str())
    );
    assert_eq!(
        crons(ctx.clone()).await,
        vec!["*/5 * * * *".to_owned()],
        "the crons of the restored version are back"
    );
}

/// A commit that adds a Durable Object migration cannot be rolled back once applied. The plan
/// says so before deploying (FS002 warning), and when its health check fails the pass reports
/// it plainly instead of failing on Cloudflare's HTTP 400.
#[tokio::test]
async fn a_migration_that_fails_its_health_check_is_announced_not_restored_into_a_400() {
    let (emulator, health, mut repo) = api_with_health_check().await;
    repo.commit("initial");
    let state = tempfile::tempdir().expect("tempdir");
    let ctx = context(&repo, &emulator, &journal_path(&state));
    sync_once(&ctx, apply()).await.expect("first pass");

    health.store(500, Ordering::SeqCst);
    repo.write(
        "workers/api/wrangler.toml",
        "name = \"api\"\nmain = \"index.js\"\ncompatibility_date = \"2026-01-01\"\n\
         [[durable_objects.bindings]]\nname = \"COUNTER\"\nclass_name = \"Counter\"\n\
         [[migrations]]\ntag = \"v1\"\nnew_sqlite_classes = [\"Counter\"]\n",
    );
    repo.write(
        "workers/api/index.js",
        "export class Counter { async fetch() { return new Response(\"1\"); } }\n\
         export default { fetch() { return new Response(\"api-2\"); } };\n",
    );
    repo.commit("add a Counter Durable Object");
    let report = sync_once(&ctx, apply()).await.expect("pass");
    let announced = report.plan.workers[0]
        .findings
        .iter()
        .any(|f| f.rule == "FS002" && f.message.contains("not automatically reversible"));
    assert!(announced, "{:#?}", report.plan.workers[0].findings);
    let api = &report.workers[0];
    assert_eq!(
        api.error.as_ref().map(|e| e.reason.as_str()),
        Some(Reason::HealthCheckFailed.as_str())
    );
    assert!(
        api.notes
            .iter()
            .any(|n| n.contains("not rolled back automatically")),
        "{api:#?}"
    );
    assert!(
        !api.notes
            .iter()
            .any(|n| n.contains("automatic rollback failed")),
        "no doomed restore attempt: {api:#?}"
    );
}
