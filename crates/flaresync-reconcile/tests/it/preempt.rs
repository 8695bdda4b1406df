//! Rollbacks never wait (issue 17 item 3): a revert committed while `run` deploys hundreds of
//! Workers, paced by a small request budget, reaches Cloudflare before that deploy finishes.
//! Measured by the order of the emulator's request log, never by the clock.

use std::time::Duration;

use flaresync_reconcile::{
    RunConfig, SyncOptions, TriggerSource, run, sync_once, watcher::WatchConfig,
};

use crate::support::{Repo, context_with, emulator, journal_path, uploaded, wait_for_log};

const FORWARD: usize = 200;

#[tokio::test]
async fn a_revert_preempts_a_long_forward_deploy_and_goes_first() {
    let emulator = emulator().await;
    let account = emulator.account_id().to_owned();
    let mut repo = Repo::new();
    repo.worker("api", "api v1");
    repo.commit("api v1");
    let state = tempfile::tempdir().expect("tempdir");
    // A budget that takes minutes for the forward deploy: 5 requests a second, 2 of the 6
    // burst tokens kept for rollbacks.
    let ctx = context_with(&repo, &emulator, &journal_path(&state), |config| {
        config.budget = crate::support::paced_budget();
    });
    let options = SyncOptions {
        dry_run: false,
        trigger: TriggerSource::Cli,
    };
    // api has v1 and v2 on Cloudflare, v2 active.
    sync_once(&ctx, options).await.expect("deploys v1");
    repo.set_body("api", "api v2");
    let v2 = repo.commit("api v2");
    sync_once(&ctx, options).await.expect("deploys v2");

    for index in 0..FORWARD {
        repo.worker(&format!("w{index:03}"), &format!("forward {index}"));
    }
    repo.commit("200 new Workers");
    let start = emulator.requests().len();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let config = RunConfig {
        poll_interval: None,
        debounce: Duration::from_millis(50),
        watch: Some(WatchConfig {
            root: repo.path().to_owned(),
            debounce: Duration::from_millis(50),
            ignore: Vec::new(),
        }),
        reconcile_on_sighup: false,
        // The forward deploy is still under way at the end: abandon it (the journal resumes).
        shutdown_grace: Duration::from_millis(100),
        ..RunConfig::default()
    };
    let task = tokio::spawn(run(ctx.clone(), config, async move {
        let _ = stopped.await;
    }));

    // The forward deploy is under way.
    wait_for_log(&emulator, start, "the forward deploy", |log| {
        uploaded(log, &account).len() >= 20
    })
    .await;
    let revert_at = emulator.requests().len();
    let committed = std::time::Instant::now();
    repo.git(&["revert", "--no-edit", &v2]);
    let api_deployment = format!("POST /accounts/{account}/workers/scripts/api/deployments");
    let log = wait_for_log(&emulator, start, "the rollback of api", |log| {
        log.contains(&api_deployment)
    })
    .await;
    let reached = committed.elapsed();
    let rollback = log
        .iter()
        .position(|request| *request == api_deployment)
        .expect("logged");
    let before = uploaded(&log[..rollback], &account);
    let between = uploaded(&log[revert_at - start..rollback], &account);
    // The forward deploy goes on after the rollback.
    let later = wait_for_log(&emulator, start, "the forward deploy to go on", |log| {
        uploaded(&log[rollback..], &account).len() >= 2
    })
    .await;
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(30), task)
        .await
        .expect("loop stops")
        .expect("joins")
        .expect("ends cleanly");

    println!(
        "revert during a deploy of {FORWARD} Workers: reached Cloudflare {:.2} s after the commit, \
         {} Workers deployed before it ({} of them after the commit)",
        reached.as_secs_f64(),
        before.len(),
        between.len()
    );
    assert!(
        before.len() < FORWARD,
        "the rollback waited for the whole forward deploy"
    );
    let after = uploaded(&later[rollback..], &account);
    assert!(
        after.iter().all(|worker| !before.contains(worker)),
        "the forward deploy continues where it stopped: {after:?}"
    );
    // A rollback: api's earlier version deployed again, nothing uploaded for it.
    let api_writes: Vec<&String> = later[revert_at - start..]
        .iter()
        .filter(|request| request.contains("/workers/scripts/api") && !request.starts_with("GET"))
        .collect();
    assert_eq!(api_writes, [&api_deployment], "{api_writes:?}");
}
