//! Progressive rollouts through the `flaresync` binary against an emulator process: operator
//! commands from the CLI alone and against a running loop, and a `kill -9` of the loop in the
//! middle of a rollout. `min_requests = 0`: without traffic the analysis passes, so these
//! flows need no data plane (the analysis on real traffic is tested in the reconcile crate).

mod common;

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use common::{ACCOUNT, Emulator, commit_all, flaresync, repo_emulator_state, run, set_body, sync};
use serde_json::Value;

/// Shares of the active deployment, in percent, as the emulator reports them.
fn shares(emulator: &Emulator, script: &str) -> Vec<u32> {
    let body = emulator.get(&format!(
        "/accounts/{ACCOUNT}/workers/scripts/{script}/deployments"
    ));
    body["result"]["deployments"][0]["versions"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|v| v["percentage"].as_f64().unwrap_or_default() as u32)
        .collect()
}

fn repo_with_rollout(repo: &Path, rollout: &str) {
    common::worker(repo, "api", "api", "v1");
    common::write(&repo.join("flaresync.toml"), rollout);
    commit_all(repo, "v1");
}

fn rollout_command(
    emulator: &Emulator,
    repo: &Path,
    state: &Path,
    args: &[&str],
) -> common::Output {
    let mut command = flaresync();
    command
        .arg("rollout")
        .args(args)
        .arg("--repo")
        .arg(repo)
        .arg("--state-dir")
        .arg(state);
    emulator.env(&mut command);
    run(&mut command)
}

/// Waits (polling the emulator) until `done` holds; panics after a minute.
fn until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn operators_pause_promote_and_abort_a_rollout_from_the_cli_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, emulator, state) = repo_emulator_state(dir.path());
    // Steps never fall due on their own: only the operator moves this rollout.
    repo_with_rollout(
        &repo,
        "[rollout]\nsteps = [10, 50]\nstep_interval = \"1h\"\nmin_requests = 0\n",
    );
    let repo_arg = repo.to_str().expect("utf-8");
    assert_eq!(sync(&emulator, repo_arg, &state).code, 0);
    set_body(&repo, "api", "v2");
    commit_all(&repo, "v2");
    let out = sync(&emulator, repo_arg, &state);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stdout.contains("rollout: 10% -> 50% -> 100%"),
        "the plan says it: {}",
        out.all()
    );
    assert_eq!(shares(&emulator, "api"), vec![10, 90]);

    let status = rollout_command(&emulator, &repo, &state, &["status", "api"]);
    assert!(
        status.stdout.contains("progressing, step 1 at 10%"),
        "{}",
        status.all()
    );
    let paused = rollout_command(&emulator, &repo, &state, &["pause", "api"]);
    assert_eq!(paused.code, 0, "{}", paused.all());
    let status = rollout_command(&emulator, &repo, &state, &["status", "api"]);
    assert!(
        status.stdout.contains("paused at 10%: paused by"),
        "{}",
        status.all()
    );
    let promoted = rollout_command(&emulator, &repo, &state, &["promote", "api"]);
    assert_eq!(promoted.code, 0, "{}", promoted.all());
    assert_eq!(
        shares(&emulator, "api"),
        vec![50, 50],
        "promote takes the next step at once"
    );
    let aborted = rollout_command(&emulator, &repo, &state, &["abort", "api"]);
    assert_eq!(aborted.code, 0, "{}", aborted.all());
    assert_eq!(shares(&emulator, "api"), vec![100]);
    let status = rollout_command(&emulator, &repo, &state, &["status", "api"]);
    assert!(
        status.stdout.contains("aborted: commit"),
        "{}",
        status.all()
    );
    assert!(
        status.stdout.contains("aborted by operator"),
        "{}",
        status.all()
    );
    // Nothing left to act on.
    let again = rollout_command(&emulator, &repo, &state, &["promote", "api"]);
    assert_eq!(again.code, 2, "{}", again.all());
    // The steps are visible in the history, as Cloudflare's deployment messages.
    let mut history = flaresync();
    history
        .args(["history", "api", "--repo", repo_arg, "--state-dir"])
        .arg(&state);
    emulator.env(&mut history);
    let history = run(&mut history);
    assert!(
        history.stdout.contains("rollout step 2/3 at 50%"),
        "{}",
        history.all()
    );
}

/// `flaresync run` on the repository with an admin token, on a free port.
fn start_loop(emulator: &Emulator, repo: &Path, state: &Path, port: u16) -> Child {
    let mut command = flaresync();
    command
        .args([
            "run",
            "--status-listen",
            &format!("127.0.0.1:{port}"),
            "--repo",
        ])
        .arg(repo)
        .arg("--state-dir")
        .arg(state)
        .env("FLARESYNC_ADMIN_TOKEN", "admin-secret")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    emulator.env(&mut command);
    command.spawn().expect("the loop starts")
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

fn status(port: u16) -> Option<Value> {
    let output = Command::new("curl")
        .args(["-sS", &format!("http://127.0.0.1:{port}/status")])
        .output()
        .ok()?;
    serde_json::from_slice(&output.stdout).ok()
}

#[test]
fn a_running_loop_takes_commands_and_a_kill_9_mid_rollout_resumes_without_duplicates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, emulator, state) = repo_emulator_state(dir.path());
    repo_with_rollout(
        &repo,
        "[rollout]\nsteps = [10, 50]\nstep_interval = \"1h\"\nbake = \"1s\"\nmin_requests = 0\n",
    );
    let repo_arg = repo.to_str().expect("utf-8");
    assert_eq!(sync(&emulator, repo_arg, &state).code, 0);
    set_body(&repo, "api", "v2");
    commit_all(&repo, "v2");

    let port = free_port();
    let mut child = start_loop(&emulator, &repo, &state, port);
    until("the first step", || {
        shares(&emulator, "api") == vec![10, 90]
    });
    until("/status with the rollout", || {
        status(port).is_some_and(|s| {
            s["workers"]
                .as_array()
                .is_some_and(|ws| ws.iter().any(|w| w["rollout"]["phase"] == "progressing"))
        })
    });
    // A command through the loop's authenticated API (the step interval is an hour).
    let mut promote = flaresync();
    promote
        .args([
            "rollout",
            "promote",
            "api",
            "--server",
            &format!("http://127.0.0.1:{port}"),
        ])
        .env("FLARESYNC_ADMIN_TOKEN", "admin-secret");
    let out = run(&mut promote);
    assert_eq!(out.code, 0, "{}", out.all());
    until("the promoted step", || {
        shares(&emulator, "api") == vec![50, 50]
    });
    let metrics = Command::new("curl")
        .args(["-sS", &format!("http://127.0.0.1:{port}/metrics")])
        .output()
        .expect("curl");
    let metrics = String::from_utf8_lossy(&metrics.stdout).into_owned();
    assert!(
        metrics.contains("flaresync_rollout_weight_percent{worker=\"api\"} 50"),
        "{metrics}"
    );

    // kill -9 mid-rollout, promote once more through the CLI alone (a step that waited an
    // hour), then a new loop finishes the bake from the journal and Cloudflare's deployment.
    child.kill().expect("kill -9");
    let _ = child.wait();
    let out = rollout_command(&emulator, &repo, &state, &["promote", "api"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(shares(&emulator, "api"), vec![100]);
    let mut child = start_loop(&emulator, &repo, &state, port);
    until("the rollout to complete", || {
        rollout_command(&emulator, &repo, &state, &["status", "api"])
            .stdout
            .contains(": completed")
    });
    let _ = child.kill();
    let _ = child.wait();
    let tags = emulator.versions("api");
    assert_eq!(tags.len(), 2, "one version per commit: {tags:?}");
    common::tags_are_unique(&tags);
}
