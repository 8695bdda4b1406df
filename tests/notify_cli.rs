//! `flaresync sync` sends notifications configured by flags and environment, and waits for
//! them before it exits; misconfigured sinks are refused without echoing their URL.

mod common;
#[allow(dead_code)] // the recorder of flaresync-reconcile's tests; this file uses a part of it
#[path = "../crates/flaresync-reconcile/tests/it/recorder.rs"]
mod recorder;

use common::{Emulator, commit_all, flaresync, repo_emulator_state, run, worker};
use flaresync_reconcile::webhook::{WebhookSecret, verify_signature};

const SLACK_SECRET_PATH: &str = "/services/T9/B9/cliSlackS3cret";

fn sync_with_sinks(
    emulator: &Emulator,
    repo: &std::path::Path,
    state: &std::path::Path,
    hook: &str,
    slack: &str,
) -> common::Output {
    let mut command = flaresync();
    command
        .args(["sync", "--repo"])
        .arg(repo)
        .arg("--state-dir")
        .arg(state)
        .args(["--notify-webhook", hook])
        .env("FLARESYNC_NOTIFY_WEBHOOK_SECRET", "cli-hook-secret")
        .env("FLARESYNC_SLACK_WEBHOOK_URL", slack);
    emulator.env(&mut command);
    run(&mut command)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_delivers_its_events_before_it_exits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, emulator, state) = repo_emulator_state(dir.path());
    worker(&repo, "workers/api", "api", "api v1");
    let head = commit_all(&repo, "api v1");
    let receiver = recorder::Recorder::start().await;
    let hook = format!("{}/hook", receiver.url);
    let slack = format!("{}{SLACK_SECRET_PATH}", receiver.url);
    let out = tokio::task::spawn_blocking({
        let (repo, state) = (repo.clone(), state.clone());
        move || sync_with_sinks(&emulator, &repo, &state, &hook, &slack)
    })
    .await
    .expect("sync ran");
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(!out.all().contains("cliSlackS3cret"), "{}", out.all());

    let hooks = receiver.to("/hook");
    assert_eq!(hooks.len(), 1, "delivered before exit: {hooks:#?}");
    assert_eq!(hooks[0].body["kind"], "deploy");
    assert_eq!(hooks[0].body["commit"], head);
    assert_eq!(
        verify_signature(
            &WebhookSecret::new("cli-hook-secret"),
            &hooks[0].raw,
            hooks[0].header("x-flaresync-signature-256")
        ),
        Ok(())
    );
    let slack = receiver.to(SLACK_SECRET_PATH);
    assert_eq!(slack.len(), 1);
    assert_eq!(
        slack[0].body["text"],
        format!(":white_check_mark: api deployed commit {}", &head[..7])
    );
}

#[test]
fn a_sink_url_that_is_not_a_url_is_refused_without_echoing_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, emulator, state) = repo_emulator_state(dir.path());
    worker(&repo, "workers/api", "api", "api v1");
    commit_all(&repo, "api v1");
    let out = sync_with_sinks(
        &emulator,
        &repo,
        &state,
        "https://hooks.example.com/x",
        "hooks.slack.com/services/T9/B9/cliSlackS3cret",
    );
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(
        out.stderr
            .contains("FLARESYNC_SLACK_WEBHOOK_URL is not an http(s) URL"),
        "{}",
        out.all()
    );
    assert!(!out.all().contains("cliSlackS3cret"), "{}", out.all());
    assert!(emulator.versions("api").is_empty(), "nothing was deployed");
}
