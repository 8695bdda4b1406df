//! What passes cost in API requests, counted in the emulator's request log (issue 17): the
//! pass after flaresync's own writes verifies them from the write answers and one listing,
//! and a first deploy makes at most two requests per Worker.

use flaresync_reconcile::{SyncOptions, TriggerSource, WorkerOutcome, sync_once};

use crate::support::{Repo, emulator, open, requests_since};

const WORKERS: usize = 20;

fn apply() -> SyncOptions {
    SyncOptions {
        dry_run: false,
        trigger: TriggerSource::Poll,
    }
}

fn many(repo: &Repo, body: &str) {
    for index in 0..WORKERS {
        repo.worker(&format!("w{index:02}"), &format!("{body}-{index}"));
    }
}

/// Runs one pass; returns its report and the requests the emulator logged meanwhile.
async fn counted(
    emulator: &flaresync_emulator::testing::TestEmulator,
    ctx: &flaresync_reconcile::Context,
) -> (flaresync_reconcile::SyncReport, Vec<String>) {
    let before = emulator.requests().len();
    let report = sync_once(ctx, apply()).await.expect("pass");
    (report, requests_since(emulator, before))
}

fn all_applied(report: &flaresync_reconcile::SyncReport) {
    assert_eq!(report.workers.len(), WORKERS);
    for worker in &report.workers {
        assert!(
            matches!(worker.outcome, WorkerOutcome::Applied { .. }),
            "{worker:?}"
        );
    }
}

fn all_in_sync(report: &flaresync_reconcile::SyncReport) {
    assert_eq!(report.workers.len(), WORKERS);
    for worker in &report.workers {
        assert_eq!(worker.outcome, WorkerOutcome::InSync, "{worker:?}");
    }
}

/// Asserts that `report` converged in sync and cost at most `N / 10 + 2` requests.
fn settled(report: &flaresync_reconcile::SyncReport, sent: &[String], after: &str) {
    all_in_sync(report);
    assert!(
        sent.len() <= WORKERS / 10 + 2,
        "the pass after {after} of {WORKERS} Workers: {sent:#?}"
    );
}

#[tokio::test]
async fn the_pass_after_flaresyncs_own_writes_reads_only_the_listing() {
    let repo = Repo::new();
    many(&repo, "v1");
    let (emulator, mut repo, _state, ctx) = open(emulator().await, repo, "first");

    // A first deploy: a script upload and the workers.dev route per Worker, no re-read.
    let (first, sent) = counted(&emulator, &ctx).await;
    all_applied(&first);
    assert!(sent.len() <= 2 * WORKERS + 1, "{sent:#?}");
    let (settle, after) = counted(&emulator, &ctx).await;
    settled(&settle, &after, "a first deploy");
    println!(
        "first deploy of {WORKERS} Workers: {} requests, the pass after: {}",
        sent.len(),
        after.len()
    );

    // Every Worker changes: its active version (known from the script upload's answer) is
    // read once, then an upload and a deployment each.
    many(&repo, "v2");
    repo.commit("second");
    let (update, sent) = counted(&emulator, &ctx).await;
    all_applied(&update);
    assert!(sent.len() <= 3 * WORKERS + 1, "{sent:#?}");
    let (settle, after) = counted(&emulator, &ctx).await;
    settled(&settle, &after, "an update");

    // Again: the versions' answers told everything, so only the writes remain.
    many(&repo, "v3");
    repo.commit("third");
    let (update, sent) = counted(&emulator, &ctx).await;
    all_applied(&update);
    assert_eq!(sent.len(), 2 * WORKERS + 1, "{sent:#?}");
    let (settle, after) = counted(&emulator, &ctx).await;
    settled(&settle, &after, "an update");
    println!(
        "update of {WORKERS} Workers: {} requests, the pass after: {}",
        sent.len(),
        after.len()
    );

    // A revert: the deployable list again (the window moved) and one deployment per Worker,
    // to versions whose upload answers are cached.
    repo.revert_head();
    let (revert, sent) = counted(&emulator, &ctx).await;
    assert!(revert.workers.iter().all(|w| w.action == "rollback"));
    assert_eq!(sent.len(), 2 * WORKERS + 1, "{sent:#?}");
    let (settle, after) = counted(&emulator, &ctx).await;
    settled(&settle, &after, "a revert");
    println!(
        "revert of {WORKERS} Workers: {} requests, the pass after: {}",
        sent.len(),
        after.len()
    );
}

/// The periodic refresh reads a slice of the Workers per pass, oldest first, never all of
/// them in one pass; over enough passes every Worker is read again exactly once.
#[tokio::test]
async fn the_periodic_refresh_reads_a_slice_of_workers_per_pass() {
    let repo = Repo::new();
    many(&repo, "v1");
    let (emulator, repo, state, _) = open(emulator().await, repo, "first");
    let source = flaresync_git::GitSource::open_local(repo.path(), "main").expect("repo opens");
    let slice = 5;
    let ctx = flaresync_reconcile::Context::with_options(
        source,
        crate::support::client(&emulator),
        crate::support::journal_path(&state),
        flaresync_config::RepoConfig::default(),
        flaresync_reconcile::ContextOptions {
            full_refresh_every: Some(std::time::Duration::ZERO),
            refresh_slice: slice,
            ..crate::support::options()
        },
    )
    .expect("context");
    let (first, _) = counted(&emulator, &ctx).await;
    all_applied(&first);
    // Every Worker's last full read is older than the (zero) period: each pass reads `slice`.
    let mut read: Vec<String> = Vec::new();
    for _ in 0..WORKERS / slice {
        let (idle, sent) = counted(&emulator, &ctx).await;
        all_in_sync(&idle);
        let workers: Vec<String> = sent
            .iter()
            .filter(|r| r.ends_with("/deployments"))
            .map(|r| r.rsplit('/').nth(1).unwrap_or_default().to_owned())
            .collect();
        assert_eq!(workers.len(), slice, "{sent:#?}");
        read.extend(workers);
    }
    read.sort();
    read.dedup();
    assert_eq!(read.len(), WORKERS, "every Worker read once: {read:?}");
}

/// A context over `repo` with a fresh state directory (`state`) keeping the state record.
fn recording_context(
    repo: &Repo,
    emulator: &flaresync_emulator::testing::TestEmulator,
    state: &tempfile::TempDir,
) -> flaresync_reconcile::Context {
    let source = flaresync_git::GitSource::open_local(repo.path(), "main").expect("repo opens");
    flaresync_reconcile::Context::with_options(
        source,
        crate::support::client(emulator),
        crate::support::journal_path(state),
        flaresync_config::RepoConfig::default(),
        flaresync_reconcile::ContextOptions {
            state_record: Some("flaresync-state".to_owned()),
            ..crate::support::options()
        },
    )
    .expect("context")
}

/// With the state record, a fresh state directory in front of N in-sync Workers reads the
/// listing and the record, not every Worker; a changed Worker is read in full before it is
/// planned, so its revert is still a rollback, not an upload.
#[tokio::test]
async fn a_fresh_state_directory_starts_from_the_state_record() {
    let mut repo = Repo::new();
    many(&repo, "v1");
    repo.commit("first");
    let emulator = emulator().await;
    let first_state = tempfile::tempdir().expect("tempdir");
    let ctx = recording_context(&repo, &emulator, &first_state);
    let (first, _) = counted(&emulator, &ctx).await;
    all_applied(&first);
    // The pass after writes the record: one bulk write (and the namespace, the first time).
    let (settle, after) = counted(&emulator, &ctx).await;
    settled(&settle, &after, "a first deploy with the state record");
    assert!(
        after
            .iter()
            .any(|r| r.starts_with("PUT ") && r.ends_with("/bulk")),
        "{after:#?}"
    );
    let (idle, again) = counted(&emulator, &ctx).await;
    all_in_sync(&idle);
    assert_eq!(
        again.len(),
        1,
        "an unchanged record is not written again: {again:#?}"
    );
    drop(ctx);

    // A fresh state directory: the listing, the namespaces, the record's keys.
    let fresh_state = tempfile::tempdir().expect("tempdir");
    let fresh = recording_context(&repo, &emulator, &fresh_state);
    let (adopted, sent) = counted(&emulator, &fresh).await;
    all_in_sync(&adopted);
    assert!(sent.len() <= 3, "{sent:#?}");
    println!(
        "fresh state directory in front of {WORKERS} in-sync Workers: {} requests",
        sent.len()
    );

    // One Worker changes: only it is read (in full) and deployed.
    repo.worker("w07", "v2-7");
    repo.commit("second");
    let (update, sent) = counted(&emulator, &fresh).await;
    let changed: Vec<_> = update
        .workers
        .iter()
        .filter(|w| matches!(w.outcome, WorkerOutcome::Applied { .. }))
        .map(|w| w.worker.as_str())
        .collect();
    assert_eq!(changed, ["w07"]);
    assert!(
        sent.iter()
            .all(|r| !r.contains("/scripts/w0") || r.contains("/scripts/w07")),
        "only w07 is read: {sent:#?}"
    );

    // Its revert, seen by yet another fresh state directory: a rollback to the version the
    // full read finds, no upload.
    repo.revert_head();
    let third_state = tempfile::tempdir().expect("tempdir");
    let third = recording_context(&repo, &emulator, &third_state);
    let (revert, sent) = counted(&emulator, &third).await;
    let w07 = revert
        .workers
        .iter()
        .find(|w| w.worker == "w07")
        .expect("w07 reported");
    assert_eq!(w07.action, "rollback", "{w07:?}");
    assert!(
        !sent
            .iter()
            .any(|r| r.contains("/versions") && r.starts_with("POST ")),
        "no upload: {sent:#?}"
    );
}

/// Issue 13 item 8: a rollout step costs at most 4 API requests per Worker. The step's pass
/// keeps the deployment it wrote as its view of the Worker (confirmed by the next listing), so
/// the rollout never reads the Worker again: an analysis (GraphQL) and a deployment per step.
#[tokio::test]
async fn a_rollout_step_costs_at_most_four_requests_per_worker() {
    const ROLLING: usize = 5;
    let repo = Repo::new();
    for index in 0..ROLLING {
        repo.worker(&format!("r{index}"), &format!("v1-{index}"));
    }
    // No traffic and `min_requests = 0`: every analysis passes, the steps follow each other.
    repo.write(
        "flaresync.toml",
        "[rollout]\nsteps = [10, 50]\nstep_interval = \"20ms\"\nbake = \"20ms\"\nmin_requests = 0\n",
    );
    let (emulator, mut repo, _state, ctx) = open(emulator().await, repo, "first");
    all_converged(&sync_once(&ctx, apply()).await.expect("first deploy"));
    for index in 0..ROLLING {
        repo.set_body(&format!("r{index}"), &format!("v2-{index}"));
    }
    repo.commit("second");
    let (start, _) = counted(&emulator, &ctx).await;
    assert!(
        start.workers.iter().all(|w| w.rollout.is_some()),
        "{start:#?}"
    );
    // Steps 50% and 100% and the bake's end: three step actions per Worker.
    let mut per_pass = Vec::new();
    let mut total = 0;
    for _ in 0..200 {
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        let (report, sent) = counted(&emulator, &ctx).await;
        let moved = report
            .workers
            .iter()
            .filter(|w| matches!(w.outcome, WorkerOutcome::Applied { .. }))
            .count();
        per_pass.push((moved, sent.len()));
        // The scripts listing is the pass's, shared by every Worker.
        total += sent.len() - 1;
        if finished(&ctx) == ROLLING {
            break;
        }
    }
    assert_eq!(
        finished(&ctx),
        ROLLING,
        "every rollout completed: {per_pass:?}"
    );

    println!(
        "rollout of {ROLLING} Workers (steps 50%, 100%, end of bake): {total} requests besides the listings, {:.1} per Worker per step; passes (Workers moved, requests): {per_pass:?}",
        total as f64 / (3 * ROLLING) as f64
    );
    assert!(
        total <= 4 * 3 * ROLLING,
        "more than 4 requests per Worker per step: {total} for {ROLLING} Workers: {per_pass:?}"
    );
}

/// How many rollouts the journal records as completed.
fn finished(ctx: &flaresync_reconcile::Context) -> usize {
    ctx.rollouts(None)
        .expect("journal")
        .into_iter()
        .filter(|(_, record)| {
            record.observed.finished
                == Some(flaresync_reconcile::rollout::machine::Finished::Completed)
        })
        .count()
}

fn all_converged(report: &flaresync_reconcile::SyncReport) {
    assert!(report.converged(), "{report:#?}");
}

/// A token that may not touch Workers KV: the state record is tried once, the refusal warned
/// about, and the process goes on without it. Every pass still converges, and no later pass
/// spends a request on the record (an idle pass stays at one request).
#[tokio::test]
async fn a_token_refused_kv_goes_on_without_the_state_record() {
    let mut repo = Repo::new();
    many(&repo, "v1");
    repo.commit("first");
    let emulator = emulator().await;
    emulator
        .add_fault(flaresync_emulator::FaultSpec {
            path_regex: Some("/storage/kv/".to_owned()),
            status: Some(403),
            code: Some(10000),
            message: Some("Authentication error".to_owned()),
            ..flaresync_emulator::FaultSpec::new(flaresync_emulator::FaultKind::Status)
        })
        .expect("fault");
    let state = tempfile::tempdir().expect("tempdir");
    let ctx = recording_context(&repo, &emulator, &state);
    let kv = |sent: &[String]| sent.iter().filter(|r| r.contains("/storage/kv/")).count();

    let (first, sent_first) = counted(&emulator, &ctx).await;
    all_applied(&first);
    let (settle, sent_settle) = counted(&emulator, &ctx).await;
    settled(
        &settle,
        &sent_settle,
        "a first deploy refused the state record",
    );
    let (idle, sent_idle) = counted(&emulator, &ctx).await;
    all_in_sync(&idle);
    assert_eq!(sent_idle.len(), 1, "{sent_idle:#?}");
    assert_eq!(
        kv(&sent_first) + kv(&sent_settle) + kv(&sent_idle),
        1,
        "one refused attempt, then none: {sent_first:#?} {sent_settle:#?}"
    );
}
