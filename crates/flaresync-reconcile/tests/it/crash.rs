//! Crash safety: a pass aborted between upload and deploy, then a fresh start.

use std::sync::Arc;
use std::time::Duration;

use flaresync_emulator::testing::TestEmulator;
use flaresync_journal::{Action, Outcome};
use flaresync_reconcile::{
    Context, Error, SyncOptions, SyncReport, TriggerSource, WorkerOutcome, sync_once,
};
use tokio::task::JoinHandle;

use crate::support::{Repo, active_deployment, context, journal_path, latency};

fn apply() -> SyncOptions {
    SyncOptions {
        dry_run: false,
        trigger: TriggerSource::Poll,
    }
}

/// A pass running on its own task (to be aborted, or joined later).
fn spawn_pass(ctx: &Arc<Context>) -> JoinHandle<Result<SyncReport, Error>> {
    let ctx = ctx.clone();
    tokio::spawn(async move { sync_once(&ctx, apply()).await })
}

/// The (only) Worker of `report` was deployed by this pass or found already deployed.
fn assert_applied_or_in_sync(report: &SyncReport) {
    let api = &report.workers[0];
    assert!(
        matches!(
            api.outcome,
            WorkerOutcome::Applied { .. } | WorkerOutcome::InSync
        ),
        "{api:?}"
    );
}

#[tokio::test]
async fn an_abort_between_upload_and_deploy_converges_without_duplicate_versions() {
    let emulator = TestEmulator::start().await.expect("emulator starts");
    let mut repo = Repo::new();
    repo.worker("api", "api-1");
    repo.commit("initial");
    let state = tempfile::tempdir().expect("tempdir");
    let journal = journal_path(&state);
    {
        let ctx = context(&repo, &emulator, &journal);
        sync_once(&ctx, apply()).await.expect("initial deploy");
    }

    repo.set_body("api", "api-2");
    let commit = repo.commit("api v2");
    // Slow deployment creation, so the abort lands while it is in flight: after the upload.
    emulator
        .add_fault(latency(
            "POST",
            "/workers/scripts/api/deployments$",
            1,
            3_000,
        ))
        .expect("fault is valid");
    let ctx = context(&repo, &emulator, &journal);
    let task = spawn_pass(&ctx);
    // Wait until the upload has been answered and the deployment request is on its way.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let requests = emulator.requests();
        let uploaded = requests
            .iter()
            .any(|r| r.method == "POST" && r.path.ends_with("/scripts/api/versions"));
        let journal_says_deploying = ctx
            .journal()
            .in_flight()
            .expect("journal reads")
            .iter()
            .any(|r| r.entry.action == Action::Deploy);
        if uploaded && journal_says_deploying {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "upload never happened"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    task.abort();
    assert!(
        task.await.is_err_and(|e| e.is_cancelled()),
        "the pass was killed"
    );
    drop(ctx);
    // The crash left an intent without an outcome.
    assert!(
        !flaresync_journal::Journal::open(&journal)
            .expect("journal reopens")
            .in_flight()
            .expect("reads")
            .is_empty()
    );
    // Let the slowed request finish on the emulator side, whatever it does.
    tokio::time::sleep(Duration::from_millis(3_200)).await;

    // Restart: a new context over the same journal.
    let restarted = context(&repo, &emulator, &journal);
    let report = sync_once(&restarted, apply())
        .await
        .expect("pass after restart");
    assert_applied_or_in_sync(&report);
    let settled = sync_once(&restarted, apply()).await.expect("settled");
    assert_eq!(settled.workers[0].outcome, WorkerOutcome::InSync);
    assert_eq!(
        settled.workers[0].live_commit.as_deref(),
        Some(commit.as_str())
    );

    // Exactly one version per commit.
    let versions = restarted
        .client()
        .list_versions("api")
        .await
        .expect("lists");
    let for_commit = versions
        .iter()
        .filter(|v| v.tag() == Some(commit.as_str()))
        .count();
    assert_eq!(for_commit, 1, "{versions:?}");
    assert_eq!(versions.len(), 2, "one version per commit: {versions:?}");

    // The journal is complete: no intent without an outcome, and the recovery is recorded.
    let journal = restarted.journal();
    assert!(journal.in_flight().expect("reads").is_empty());
    let history = journal.history("api").expect("reads");
    let uploads: Vec<_> = history
        .iter()
        .filter(|r| {
            r.entry.action == Action::Upload && r.entry.commit.as_deref() == Some(commit.as_str())
        })
        .map(|r| r.entry.outcome)
        .collect();
    assert_eq!(uploads, vec![Outcome::Started, Outcome::Success]);
    assert!(
        history.iter().any(|r| r
            .entry
            .message
            .starts_with("recovered after an interruption")),
        "{history:#?}"
    );
    let last_deploy = history
        .iter()
        .rev()
        .find(|r| matches!(r.entry.action, Action::Deploy | Action::Rollback))
        .expect("a deploy");
    assert_eq!(last_deploy.entry.outcome, Outcome::Success);
    assert_eq!(last_deploy.entry.commit.as_deref(), Some(commit.as_str()));
}

/// A `kill -9` during a new Worker's first script upload leaves a `deploy started` intent for
/// a script Cloudflare never created. The restart must read that 404 as "not created", record
/// the intent as failed and deploy, not fail every pass until the journal is deleted.
#[tokio::test]
async fn an_abort_during_a_new_workers_first_upload_does_not_wedge_the_state_directory() {
    let emulator = TestEmulator::start().await.expect("emulator starts");
    let mut repo = Repo::new();
    repo.worker("api", "api-1");
    repo.worker("auth", "auth-1");
    let commit = repo.commit("initial");
    let state = tempfile::tempdir().expect("tempdir");
    let journal = journal_path(&state);
    // The first script upload of `api` hangs: the abort lands while it is in flight.
    emulator
        .add_fault(latency("PUT", "/workers/scripts/api$", 1, 60_000))
        .expect("fault is valid");
    let ctx = context(&repo, &emulator, &journal);
    let task = spawn_pass(&ctx);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !ctx
        .journal()
        .in_flight()
        .expect("journal reads")
        .iter()
        .any(|r| r.entry.worker == "api" && r.entry.action == Action::Deploy)
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the upload never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    task.abort();
    assert!(task.await.is_err_and(|e| e.is_cancelled()));
    drop(ctx);
    emulator.clear_faults();

    let restarted = context(&repo, &emulator, &journal);
    let report = sync_once(&restarted, apply())
        .await
        .expect("the pass after the crash works");
    for worker in &report.workers {
        assert!(
            matches!(
                worker.outcome,
                WorkerOutcome::Applied { .. } | WorkerOutcome::InSync
            ),
            "{worker:?}"
        );
    }
    let settled = sync_once(&restarted, apply()).await.expect("settled");
    for worker in &settled.workers {
        assert_eq!(worker.outcome, WorkerOutcome::InSync, "{worker:?}");
        assert_eq!(worker.live_commit.as_deref(), Some(commit.as_str()));
    }
    let journal = restarted.journal();
    assert!(journal.in_flight().expect("reads").is_empty());
    let recovered: Vec<_> = journal
        .history("api")
        .expect("reads")
        .into_iter()
        .filter(|r| r.entry.action == Action::Deploy)
        .map(|r| r.entry.outcome)
        .collect();
    assert_eq!(
        recovered,
        vec![
            Outcome::Started,
            Outcome::Failure,
            Outcome::Started,
            Outcome::Success
        ],
        "the interrupted upload is recorded as failed, then deployed"
    );
}

/// Two `sync` runs with different state directories (two CI jobs on fresh runners) on one
/// account. When both upload the same commit at the same moment, both must settle on one
/// version (the oldest with the commit's tag) and neither fails verification; when one starts
/// after the other uploaded, it uploads nothing.
#[tokio::test]
async fn two_syncs_with_different_state_directories_settle_on_one_version() {
    let emulator = TestEmulator::start().await.expect("emulator starts");
    let mut repo = Repo::new();
    repo.worker("api", "api-1");
    repo.commit("initial");
    let (first, second) = (
        tempfile::tempdir().expect("tmp"),
        tempfile::tempdir().expect("tmp"),
    );
    let a = context(&repo, &emulator, &journal_path(&first));
    sync_once(&a, apply()).await.expect("first deploy");

    // Both uploads in flight together: both pass the check before uploading.
    repo.set_body("api", "api-2");
    let commit = repo.commit("api v2");
    emulator
        .add_fault(latency("POST", "/workers/scripts/api/versions$", 2, 1_000))
        .expect("fault is valid");
    let a = context(&repo, &emulator, &journal_path(&first));
    let b = context(&repo, &emulator, &journal_path(&second));
    let (ra, rb) = tokio::join!(sync_once(&a, apply()), sync_once(&b, apply()));
    for report in [ra.expect("a"), rb.expect("b")] {
        assert_applied_or_in_sync(&report);
    }
    let versions = a.client().list_versions("api").await.expect("lists");
    let tagged: Vec<_> = versions
        .iter()
        .filter(|v| v.tag() == Some(commit.as_str()))
        .collect();
    let oldest = tagged
        .iter()
        .min_by_key(|v| v.number)
        .expect("a version of the commit");
    let active = active_deployment(&a, "api").await;
    assert_eq!(active.versions[0].version_id, oldest.id, "{versions:?}");
    for ctx in [&a, &b] {
        let settled = sync_once(ctx, apply()).await.expect("settled");
        assert_eq!(settled.workers[0].outcome, WorkerOutcome::InSync);
    }

    // One after the other: the second finds the first's upload and uploads nothing.
    repo.set_body("api", "api-3");
    let third = repo.commit("api v3");
    emulator
        .add_fault(latency(
            "POST",
            "/workers/scripts/api/deployments$",
            1,
            1_500,
        ))
        .expect("fault is valid");
    let a = context(&repo, &emulator, &journal_path(&first));
    let b = context(&repo, &emulator, &journal_path(&second));
    let first_run = spawn_pass(&a);
    // Wait until a's upload is done (its deployment is slowed down).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let probe = crate::support::client(&emulator);
    while !probe
        .list_versions("api")
        .await
        .expect("lists")
        .iter()
        .any(|v| v.tag() == Some(third.as_str()))
    {
        assert!(tokio::time::Instant::now() < deadline, "a never uploaded");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let rb = sync_once(&b, apply()).await.expect("b");
    let ra = first_run.await.expect("joins").expect("a");
    for report in [ra, rb] {
        assert_applied_or_in_sync(&report);
    }
    let versions = a.client().list_versions("api").await.expect("lists");
    let tagged = versions
        .iter()
        .filter(|v| v.tag() == Some(third.as_str()))
        .count();
    assert_eq!(tagged, 1, "one version of the commit: {versions:?}");
}
