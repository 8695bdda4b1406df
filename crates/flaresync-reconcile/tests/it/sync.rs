//! `sync_once` against the emulator.

use flaresync_reconcile::{SyncOptions, TriggerSource, WorkerOutcome, sync_once};

use crate::support::{
    Repo, active_deployment, apply, context, emulator, journal_path, open, post, requests_since,
    sent_by, start, upload_and_deploy, version_count, worker, writes,
};

fn outcomes(report: &flaresync_reconcile::SyncReport) -> Vec<(String, WorkerOutcome)> {
    report
        .workers
        .iter()
        .map(|w| (w.worker.clone(), w.outcome.clone()))
        .collect()
}

#[tokio::test]
async fn steady_state_costs_one_api_call_per_pass_for_five_workers() {
    let repo = Repo::new();
    for index in 1..=5 {
        repo.worker(&format!("w{index}"), &format!("v1-{index}"));
    }
    let (emulator, repo, _state, ctx) = open(emulator().await, repo, "five workers");
    let commit = repo.head();

    let first = sync_once(&ctx, apply()).await.expect("first pass");
    assert_eq!(first.commit, commit);
    for worker in &first.workers {
        assert!(
            matches!(worker.outcome, WorkerOutcome::Applied { .. }),
            "{worker:?}"
        );
        assert_eq!(worker.live_commit.as_deref(), Some(commit.as_str()));
    }
    // The pass after the writes re-reads the changed Workers once and finds them in sync.
    let settle = sync_once(&ctx, apply()).await.expect("settling pass");
    assert!(settle.converged(), "{:?}", outcomes(&settle));
    assert!(
        settle
            .workers
            .iter()
            .all(|w| w.outcome == WorkerOutcome::InSync)
    );

    for cycle in 0..3 {
        let before = emulator.requests().len();
        let idle = sync_once(&ctx, apply()).await.expect("idle pass");
        let sent = requests_since(&emulator, before);
        assert_eq!(
            sent,
            vec![format!(
                "GET /accounts/{}/workers/scripts",
                emulator.account_id()
            )],
            "idle cycle {cycle} must cost exactly one listing call"
        );
        assert_eq!(idle.api_requests, 1);
        assert!(idle.converged());
    }
}

#[tokio::test]
async fn a_commit_writes_only_the_changed_worker_and_a_revert_is_a_rollback() {
    let (emulator, mut repo, _state, ctx) =
        start(&[("api", "api-1"), ("web", "web-1")], "initial").await;
    let first_commit = repo.head();
    sync_once(&ctx, apply()).await.expect("first pass");
    sync_once(&ctx, apply()).await.expect("settle");
    let first_api_version = active_deployment(&ctx, "api").await.versions[0]
        .version_id
        .clone();

    repo.set_body("api", "api-2");
    let second_commit = repo.commit("api v2");
    let (report, sent) = sent_by(&emulator, sync_once(&ctx, apply())).await;
    let report = report.expect("pass");
    assert_eq!(
        sent,
        upload_and_deploy(&emulator, "api"),
        "only api is written"
    );
    let api = worker(&report, "api");
    assert!(matches!(api.outcome, WorkerOutcome::Applied { .. }));
    assert_eq!(api.live_commit.as_deref(), Some(second_commit.as_str()));
    let web = worker(&report, "web");
    assert_eq!(web.outcome, WorkerOutcome::InSync);

    // git revert: the first version is deployed again, nothing is uploaded.
    repo.revert_head();
    let (report, sent) = sent_by(&emulator, sync_once(&ctx, apply())).await;
    let report = report.expect("revert pass");
    assert_eq!(
        sent,
        vec![post(&emulator, "api", "deployments")],
        "a revert is a rollback: no upload"
    );
    let api = worker(&report, "api");
    assert_eq!(api.action, "rollback");
    assert_eq!(
        api.live_version.as_deref(),
        Some(first_api_version.as_str())
    );
    assert_eq!(api.live_commit.as_deref(), Some(first_commit.as_str()));
    let active = active_deployment(&ctx, "api").await;
    assert_eq!(active.versions[0].version_id, first_api_version);
    let rollbacks: Vec<_> = ctx
        .journal()
        .history("api")
        .expect("journal reads")
        .into_iter()
        .filter(|r| r.entry.action == flaresync_journal::Action::Rollback)
        .collect();
    assert_eq!(rollbacks.len(), 2, "intent and outcome: {rollbacks:?}");
    assert_eq!(
        rollbacks[1].entry.outcome,
        flaresync_journal::Outcome::Success
    );
}

#[tokio::test]
async fn dry_run_plans_without_writing_anything() {
    let (emulator, _repo, _state, ctx) = start(&[("api", "api-1")], "initial").await;
    let before = emulator.requests().len();
    let report = sync_once(
        &ctx,
        SyncOptions {
            dry_run: true,
            trigger: TriggerSource::Cli,
        },
    )
    .await
    .expect("dry run");
    assert!(writes(&requests_since(&emulator, before)).is_empty());
    assert_eq!(
        outcomes(&report),
        vec![("api".to_owned(), WorkerOutcome::Planned)]
    );
    assert!(!report.plan.steps.is_empty());
    assert!(ctx.journal().recent(10).expect("reads").is_empty());
}

const COUNTER_V1: &str = include_str!("fixtures/counter_v1.toml");

const COUNTER_V2: &str = include_str!("fixtures/counter_v2.toml");

#[tokio::test]
async fn migrations_go_through_script_uploads_and_a_revert_across_them_is_blocked() {
    let repo = Repo::new();
    repo.write("workers/counter/wrangler.toml", COUNTER_V1);
    repo.write(
        "workers/counter/index.js",
        "export class Counter {}\nexport default { fetch() { return new Response(\"c1\"); } };\n",
    );
    let (emulator, mut repo, _state, ctx) =
        open(emulator().await, repo, "counter with a durable object");
    let report = sync_once(&ctx, apply()).await.expect("first pass");
    assert!(
        matches!(report.workers[0].outcome, WorkerOutcome::Applied { .. }),
        "{:?}",
        report.workers[0]
    );
    let migration_tag = |scripts: Vec<flaresync_cloudflare::Script>| {
        scripts
            .into_iter()
            .find(|s| s.id == "counter")
            .and_then(|s| s.migration_tag)
    };
    assert_eq!(
        migration_tag(ctx.client().list_scripts().await.expect("lists")).as_deref(),
        Some("v1")
    );

    repo.write("workers/counter/wrangler.toml", COUNTER_V2);
    repo.write(
        "workers/counter/index.js",
        "export class Counter {}\nexport class Audit {}\nexport default { fetch() { return new Response(\"c2\"); } };\n",
    );
    repo.commit("add the audit durable object");
    let (report, sent) = sent_by(&emulator, sync_once(&ctx, apply())).await;
    let report = report.expect("migration pass");
    assert_eq!(
        sent,
        vec![format!(
            "PUT /accounts/{}/workers/scripts/counter",
            emulator.account_id()
        )],
        "a migration is a script upload"
    );
    assert!(matches!(
        report.workers[0].outcome,
        WorkerOutcome::Applied { .. }
    ));
    assert_eq!(
        migration_tag(ctx.client().list_scripts().await.expect("lists")).as_deref(),
        Some("v2")
    );

    // Reverting across the migration cannot be a rollback: blocked, nothing written.
    repo.revert_head();
    let (report, sent) = sent_by(&emulator, sync_once(&ctx, apply())).await;
    let report = report.expect("revert pass");
    assert!(sent.is_empty());
    let counter = &report.workers[0];
    assert_eq!(counter.outcome, WorkerOutcome::Blocked);
    let error = counter.error.as_ref().expect("blocked is an error");
    assert_eq!(error.kind, "Stalled");
    assert_eq!(error.reason, "RollbackBlocked");
    let status = ctx.status_board().worker("counter").expect("status");
    assert!(
        status
            .condition(flaresync_reconcile::status::ConditionType::RollbackBlocked)
            .is_some_and(|c| c.status)
    );
}

#[tokio::test]
async fn a_broken_config_stalls_only_its_worker() {
    let repo = Repo::with_workers(&[("api", "api-1")]);
    repo.write(
        "workers/bad/wrangler.toml",
        "name = \"bad\"\nmain = \"missing.js\"\n",
    );
    let (_emulator, _repo, _state, ctx) = open(emulator().await, repo, "one good, one broken");
    let report = sync_once(&ctx, apply()).await.expect("pass");
    let api = worker(&report, "api");
    assert!(
        matches!(api.outcome, WorkerOutcome::Applied { .. }),
        "{api:?}"
    );
    let bad = report
        .workers
        .iter()
        .find(|w| w.worker != "api")
        .expect("the broken worker is reported");
    assert_eq!(bad.outcome, WorkerOutcome::Blocked);
    let error = bad.error.as_ref().expect("an error");
    assert_eq!(
        (error.kind.as_str(), error.reason.as_str()),
        ("Stalled", "ConfigInvalid")
    );
    assert!(!report.converged());
}

#[tokio::test]
async fn a_long_rate_limit_fails_the_pass_as_waiting_and_shows_in_status() {
    let (emulator, _repo, _state, ctx) = start(&[("api", "api-1")], "initial").await;
    emulator
        .add_fault(flaresync_emulator::FaultSpec {
            retry_after: Some(900),
            ..flaresync_emulator::FaultSpec::matching(
                "GET",
                "/workers/scripts$",
                flaresync_emulator::FaultKind::RateLimit,
                1,
            )
        })
        .expect("fault is valid");
    let error = sync_once(&ctx, apply()).await.expect_err("rate limited");
    assert_eq!(
        error.class(),
        flaresync_reconcile::Class::Waiting {
            reason: flaresync_reconcile::Reason::ApiRateLimited,
            after: std::time::Duration::from_secs(900),
        }
    );
    let snapshot = ctx.status_board().snapshot();
    assert_eq!(
        snapshot.last_error.and_then(|e| e.reason).as_deref(),
        Some("ApiRateLimited")
    );
    // Nothing was written while locked out.
    assert!(
        writes(&requests_since(&emulator, 0)).is_empty(),
        "no write after a failed listing"
    );
}

#[tokio::test]
async fn a_worker_removed_from_git_is_reported_and_never_deleted() {
    let (emulator, mut repo, _state, ctx) =
        start(&[("api", "api-1"), ("old", "old-1")], "two workers").await;
    sync_once(&ctx, apply()).await.expect("first pass");

    repo.git(&["rm", "-r", "-q", "workers/old"]);
    repo.commit("retire old");
    let (report, sent) = sent_by(&emulator, sync_once(&ctx, apply())).await;
    let report = report.expect("pass");
    assert!(sent.is_empty());
    let old = report
        .workers
        .iter()
        .find(|w| w.worker == "old")
        .expect("old reported");
    assert_eq!(old.outcome, WorkerOutcome::Removed);
    assert!(
        ctx.client()
            .list_scripts()
            .await
            .expect("lists")
            .iter()
            .any(|s| s.id == "old"),
        "flaresync never deletes a Worker"
    );
}

#[tokio::test]
async fn a_remote_repository_is_fetched_at_every_pass() {
    let emulator = emulator().await;
    let mut origin = Repo::with_workers(&[("api", "api-1")]);
    origin.commit("initial");
    let state = tempfile::tempdir().expect("tempdir");
    let url = format!("file://{}", origin.path().display());
    let source = flaresync_git::GitSource::remote(
        &url,
        state.path().join("cache"),
        "main",
        flaresync_git::Credentials::none(),
    )
    .expect("remote source");
    let ctx = flaresync_reconcile::Context::with_options(
        source,
        crate::support::client(&emulator),
        journal_path(&state),
        flaresync_config::RepoConfig::default(),
        crate::support::options(),
    )
    .expect("context");
    let first = sync_once(&ctx, apply()).await.expect("first pass");
    assert!(first.converged());

    origin.set_body("api", "api-2");
    let pushed = origin.commit("api v2 on the remote");
    let report = sync_once(&ctx, apply()).await.expect("pass after the push");
    assert_eq!(report.commit, pushed);
    assert_eq!(report.head, "moved");
    assert_eq!(
        report.workers[0].live_commit.as_deref(),
        Some(pushed.as_str())
    );
}

#[tokio::test]
async fn cron_triggers_are_applied_and_changed_without_a_new_version() {
    let repo = Repo::with_workers(&[("jobs", "jobs-1")]);
    let config = "workers/jobs/wrangler.toml";
    let base = std::fs::read_to_string(repo.path().join(config)).expect("read config");
    repo.write(
        config,
        &format!("{base}\n[triggers]\ncrons = [\"*/15 * * * *\"]\n"),
    );
    let (emulator, mut repo, _state, ctx) = open(emulator().await, repo, "jobs with a cron");
    sync_once(&ctx, apply()).await.expect("first pass");
    let crons = |schedules: Vec<flaresync_cloudflare::Schedule>| {
        schedules.into_iter().map(|s| s.cron).collect::<Vec<_>>()
    };
    assert_eq!(
        crons(ctx.client().list_schedules("jobs").await.expect("lists")),
        vec!["*/15 * * * *"]
    );
    let versions = version_count(&ctx, "jobs").await;

    // Crons are not versioned: changing them writes the schedules and nothing else.
    repo.write(
        config,
        &format!("{base}\n[triggers]\ncrons = [\"0 3 * * *\", \"30 12 * * MON\"]\n"),
    );
    repo.commit("jobs: nightly and monday crons");
    let (report, sent) = sent_by(&emulator, sync_once(&ctx, apply())).await;
    let report = report.expect("pass");
    assert!(
        sent.contains(&format!(
            "PUT /accounts/{}/workers/scripts/jobs/schedules",
            emulator.account_id()
        )),
        "the schedules are written: {sent:?}"
    );
    assert!(
        sent.iter()
            .all(|write| !write.contains("/versions") && !write.contains("/deployments")),
        "no version and no deployment for a cron change: {sent:?}"
    );
    assert_eq!(
        crons(ctx.client().list_schedules("jobs").await.expect("lists")),
        vec!["0 3 * * *", "30 12 * * MON"]
    );
    assert_eq!(version_count(&ctx, "jobs").await, versions);
    assert!(report.converged(), "{report:?}");
}

#[tokio::test]
async fn a_new_worker_gets_its_workers_dev_route_unless_the_config_turns_it_off() {
    let repo = Repo::with_workers(&[("public", "public-1"), ("private", "private-1")]);
    let config = "workers/private/wrangler.toml";
    let base = std::fs::read_to_string(repo.path().join(config)).expect("read config");
    repo.write(config, &format!("{base}workers_dev = false\n"));
    let (emulator, mut repo, _state, ctx) = open(emulator().await, repo, "two workers");
    let report = sync_once(&ctx, apply()).await.expect("first pass");
    assert!(report.converged(), "{report:?}");
    let enabled = |name: &'static str| {
        let ctx = ctx.clone();
        async move { ctx.client().workers_dev(name).await.expect("reads").enabled }
    };
    assert!(
        enabled("public").await,
        "wrangler's default for a Worker without routes: {:?}",
        report.plan.steps
    );
    assert!(!enabled("private").await, "workers_dev = false");

    // Turning it on later is a settings change: no version, no deployment.
    repo.write(config, &format!("{base}workers_dev = true\n"));
    repo.commit("private on workers.dev");
    let before = emulator.requests().len();
    sync_once(&ctx, apply()).await.expect("pass");
    let sent = writes(&requests_since(&emulator, before));
    assert!(
        sent.iter()
            .all(|write| !write.contains("/versions") && !write.contains("/deployments")),
        "{sent:?}"
    );
    assert!(enabled("private").await);
}

/// Audit: every journal entry names who is behind it: the commit's author and committer for a
/// Git-driven change, and the local user for a CLI run.
#[tokio::test]
async fn every_journal_entry_names_the_commit_author_committer_and_the_cli_user() {
    let (_emulator, mut repo, _state, ctx) = start(&[("api", "api-1")], "initial").await;
    for trigger in [
        flaresync_reconcile::TriggerSource::Poll,
        flaresync_reconcile::TriggerSource::Cli,
    ] {
        repo.set_body("api", &format!("api-{trigger:?}"));
        repo.commit("change");
        flaresync_reconcile::sync_once(
            &ctx,
            flaresync_reconcile::SyncOptions {
                dry_run: false,
                trigger,
            },
        )
        .await
        .expect("pass");
    }
    let history = ctx.journal().history("api").expect("journal");
    assert!(!history.is_empty());
    for recorded in &history {
        let actor = recorded.entry.trigger.actor.as_deref().unwrap_or_default();
        assert!(
            actor.contains("Alice Author <alice@example.com>")
                && actor.contains("committed by Carl Committer <carl@example.com>"),
            "{:?}",
            recorded.entry
        );
    }
    let mut cli_runs = 0;
    for recorded in &history {
        let actor = recorded.entry.trigger.actor.as_deref().unwrap_or_default();
        let by_operator = actor.ends_with(&format!("; run by {}", crate::support::OPERATOR));
        if recorded.entry.trigger.kind == flaresync_journal::TriggerKind::Cli {
            cli_runs += 1;
            assert!(by_operator, "a CLI pass names its operator: {actor}");
        } else {
            assert!(!by_operator, "a poll names no operator: {actor}");
        }
    }
    assert!(cli_runs > 0);
}

/// A state directory that did not deploy the head itself (a fresh CI runner) writes nothing
/// when Cloudflare already matches Git: no spurious settings PATCH/PUT/POST per Worker, also
/// after a settings-only commit another flaresync applied.
#[tokio::test]
async fn a_fresh_state_directory_writes_nothing_when_cloudflare_already_matches() {
    let emulator = emulator().await;
    let mut repo = Repo::with_workers(&[("api", "api-1"), ("auth", "auth-1")]);
    let config = "name = \"api\"\nmain = \"index.js\"\ncompatibility_date = \"2026-01-01\"\n";
    repo.write(
        "workers/api/wrangler.toml",
        &format!("{config}[triggers]\ncrons = [\"*/5 * * * *\"]\n"),
    );
    repo.commit("initial");
    let options = flaresync_reconcile::SyncOptions {
        dry_run: false,
        trigger: flaresync_reconcile::TriggerSource::Poll,
    };
    let first = tempfile::tempdir().expect("tempdir");
    let ctx = context(&repo, &emulator, &journal_path(&first));
    flaresync_reconcile::sync_once(&ctx, options)
        .await
        .expect("deploy");
    // A settings-only change, applied by the same (first) state directory.
    repo.write(
        "workers/api/wrangler.toml",
        &format!("{config}[triggers]\ncrons = [\"0 * * * *\"]\n"),
    );
    repo.commit("api: hourly");
    flaresync_reconcile::sync_once(&ctx, options)
        .await
        .expect("settings");

    for _ in 0..2 {
        let fresh = tempfile::tempdir().expect("tempdir");
        let other = context(&repo, &emulator, &journal_path(&fresh));
        let before = emulator.requests().len();
        let report = flaresync_reconcile::sync_once(&other, options)
            .await
            .expect("pass");
        assert!(
            writes(&requests_since(&emulator, before)).is_empty(),
            "{:#?}",
            report.workers
        );
        for worker in &report.workers {
            assert_eq!(
                worker.outcome,
                flaresync_reconcile::WorkerOutcome::InSync,
                "{worker:?}"
            );
        }
    }
}
