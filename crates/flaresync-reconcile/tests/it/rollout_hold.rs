//! Issue 13: an aborted commit is held as a whole. A commit changes three Workers; the canary
//! of the first fails its analysis before the other two were deployed: they never get that
//! commit's content, not in the aborting pass, not in later passes, not after a restart. Git
//! moving past the commit (a later commit changing a held Worker again, or the merged revert)
//! frees each Worker on its own; an untouched Worker deploys as usual, even one that depends
//! on a held Worker; merging the revert writes nothing to Cloudflare.
//!
//! No data plane: the analysis's probe (sent to the canary with the version override header)
//! goes to a stand-in that answers 201 (the probe's expected status) or, when told to, 500,
//! which fails the canary.

use std::{collections::BTreeSet, time::Duration};

use flaresync_journal::{Action as JournalAction, Outcome};
use flaresync_reconcile::{
    Context, Scope, SyncOptions, SyncReport, TriggerSource, WorkerOutcome, sync_scoped,
};

use crate::{
    recorder::Recorder,
    support::{Repo, context, emulator, journal_path, open, sent_by, version_count},
};

fn options() -> SyncOptions {
    SyncOptions {
        dry_run: false,
        trigger: TriggerSource::Cli,
    }
}

async fn sync(ctx: &Context) -> SyncReport {
    sync_scoped(ctx, options(), &Scope::All)
        .await
        .expect("pass runs")
}

fn outcome<'a>(report: &'a SyncReport, worker: &str) -> &'a WorkerOutcome {
    &crate::support::worker(report, worker).outcome
}

fn journaled(ctx: &Context, worker: &str, action: &str) -> usize {
    ctx.journal()
        .history(worker)
        .expect("journal")
        .iter()
        .filter(|r| r.entry.action == JournalAction::Other(action.into()))
        .count()
}

/// The version serving `worker` (through the test's own client).
async fn active_version(ctx: &Context, worker: &str) -> String {
    let active = crate::support::active_deployment(ctx, worker).await;
    active.versions[0].version_id.clone()
}

/// Four Workers deployed (ops depends on auth; api rolls out with a probe to `probe`), then
/// one commit changing api, auth and billing, of which a pass scoped to api (a webhook naming
/// only it) started api's rollout alone: auth and billing are not deployed yet.
struct Started {
    emulator: flaresync_emulator::testing::TestEmulator,
    repo: Repo,
    state: tempfile::TempDir,
    ctx: std::sync::Arc<Context>,
    /// The commit whose rollout is under way.
    bad: String,
    /// The versions serving auth and billing before it.
    before: Vec<String>,
}

async fn rollout_started_for_api_alone(probe: &Recorder) -> Started {
    let repo = Repo::with_workers(&[
        ("api", "api v1"),
        ("auth", "auth v1"),
        ("billing", "billing v1"),
        ("ops", "ops v1"),
    ]);
    repo.write(
        "flaresync.toml",
        &format!(
            "[workers.ops]\ndepends_on = [\"auth\"]\n[workers.api]\nrollout = {{ steps = [10], step_interval = \"50ms\", bake = \"1h\", min_requests = 0, probe = {{ url = \"{}/probe\", expected_status = 201, attempts = 1 }} }}\n",
            probe.url
        ),
    );
    let (emulator, mut repo, state, ctx) = open(emulator().await, repo, "v1");
    let first = sync(&ctx).await;
    assert!(first.converged(), "{first:#?}");
    let before = vec![
        active_version(&ctx, "auth").await,
        active_version(&ctx, "billing").await,
    ];
    repo.set_body("api", "api v2");
    repo.set_body("auth", "auth v2");
    repo.set_body("billing", "billing v2");
    let bad = repo.commit("api, auth and billing v2");
    let scoped = Scope::Workers(BTreeSet::from(["api".to_owned()]));
    sync_scoped(&ctx, options(), &scoped)
        .await
        .expect("pass runs");
    assert_eq!(journaled(&ctx, "api", "rollout_step"), 2, "started, done");
    assert_eq!(version_count(&ctx, "auth").await, 1);
    Started {
        emulator,
        repo,
        state,
        ctx,
        bad,
        before,
    }
}

/// `worker` is held by commit `bad`, and its report says so.
fn assert_held(report: &SyncReport, worker: &str, bad: &str) {
    assert_eq!(
        outcome(report, worker),
        &WorkerOutcome::Blocked,
        "{report:#?}"
    );
    let error = crate::support::worker(report, worker)
        .error
        .as_ref()
        .expect("says why");
    assert!(
        error
            .message
            .contains(&format!("commit {} was rejected", &bad[..7])),
        "{}",
        error.message
    );
}

#[tokio::test]
async fn an_aborted_commit_is_held_for_the_workers_it_had_not_reached_yet() {
    let probe = Recorder::start().await;
    let Started {
        emulator,
        mut repo,
        state,
        ctx,
        bad,
        before,
    } = rollout_started_for_api_alone(&probe).await;

    // The next full pass analyses api's canary first: the probe fails, the rollout is aborted,
    // and the rest of the pass does not deploy auth and billing.
    probe.fail_next(&[500]);
    tokio::time::sleep(Duration::from_millis(60)).await;
    let aborting = sync(&ctx).await;
    assert_eq!(
        journaled(&ctx, "api", "rollout_aborted"),
        1,
        "{aborting:#?}"
    );
    let probed = probe.to("/probe");
    let canary_probe = probed.last().expect("the canary was probed");
    assert!(
        canary_probe
            .header("cloudflare-workers-version-overrides")
            .is_some_and(|pin| pin.starts_with("api=")),
        "{canary_probe:?}"
    );
    for worker in ["auth", "billing"] {
        assert_eq!(
            outcome(&aborting, worker),
            &WorkerOutcome::Blocked,
            "{aborting:#?}"
        );
        assert_eq!(journaled(&ctx, worker, "rollout_held"), 1);
    }
    let held_message = ctx
        .journal()
        .history("auth")
        .expect("journal")
        .into_iter()
        .find(|r| r.entry.action == JournalAction::Other("rollout_held".into()))
        .expect("held entry");
    assert_eq!(held_message.entry.commit.as_deref(), Some(bad.as_str()));
    assert_eq!(held_message.entry.outcome, Outcome::Skipped);

    // Later passes, and a restarted flaresync, hold them too.
    for _ in 0..3 {
        assert_held(&sync(&ctx).await, "auth", &bad);
    }
    drop(ctx);
    let ctx = context(&repo, &emulator, &journal_path(&state));
    let restarted = sync(&ctx).await;
    for (worker, version) in ["auth", "billing"].into_iter().zip(&before) {
        assert_held(&restarted, worker, &bad);
        assert_eq!(&active_version(&ctx, worker).await, version);
        assert_eq!(version_count(&ctx, worker).await, 1, "never uploaded");
    }

    // A later commit changes billing again and ops (which the bad commit did not touch): both
    // deploy, ops against the auth version that serves; auth, still on the rejected content,
    // stays held.
    repo.set_body("billing", "billing v3");
    repo.set_body("ops", "ops v2");
    repo.commit("billing v3, ops v2");
    let later = sync(&ctx).await;
    for worker in ["billing", "ops"] {
        assert!(
            matches!(outcome(&later, worker), WorkerOutcome::Applied { .. }),
            "{later:#?}"
        );
        assert_eq!(version_count(&ctx, worker).await, 2);
    }
    assert_held(&later, "auth", &bad);
    assert_eq!(active_version(&ctx, "auth").await, before[0]);

    // Merging flaresync's revert (the conflict on billing resolved for its newer fix) moves Git
    // past the rejected content of api and auth: everything is in sync, and Cloudflare is left
    // untouched (the earlier content is what serves).
    let branch = format!("flaresync/revert-{}", &bad[..7]);
    repo.git(&["merge", "--no-edit", "-X", "ours", &branch]);
    assert!(
        repo.git(&["show", "HEAD:workers/auth/index.js"])
            .contains("auth v1")
    );
    let (past, writes) = sent_by(&emulator, sync(&ctx)).await;
    assert!(past.converged(), "{past:#?}");
    assert_eq!(writes, Vec::<String>::new());
    assert_eq!(version_count(&ctx, "auth").await, 1);
}
