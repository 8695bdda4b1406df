//! Progressive rollouts through the `flaresync` binary against an emulator process: operator
//! commands from the CLI alone and against a running loop, and a `kill -9` of the loop in the
//! middle of a rollout. `min_requests = 0`: without traffic the analysis passes, so these
//! flows need no data plane (the analysis on real traffic is tested in the reconcile crate).

mod common;

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use common::{
    ACCOUNT, Emulator, commit_all, flaresync, git, repo_emulator_state, run, set_body, sync,
    wrangler, wrangler_entry,
};
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

/// A repository with `rollout` whose v1 is deployed (a first deploy: at 100%) and whose v2 is
/// committed, the emulator, and the state directory.
fn v2_committed(dir: &Path, rollout: &str) -> (PathBuf, Emulator, PathBuf) {
    let (repo, emulator, state) = repo_emulator_state(dir);
    repo_with_rollout(&repo, rollout);
    let repo_arg = repo.to_str().expect("utf-8");
    assert_eq!(sync(&emulator, repo_arg, &state).code, 0);
    set_body(&repo, "api", "v2");
    commit_all(&repo, "v2");
    (repo, emulator, state)
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
    // Steps never fall due on their own: only the operator moves this rollout.
    let (repo, emulator, state) = v2_committed(
        dir.path(),
        "[rollout]\nsteps = [10, 50]\nstep_interval = \"1h\"\nmin_requests = 0\n",
    );
    let repo_arg = repo.to_str().expect("utf-8");
    let out = sync(&emulator, repo_arg, &state);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stdout.contains("rollout: 10% -> 50% -> 100%"),
        "the plan says it: {}",
        out.all()
    );
    assert!(
        out.stdout.contains(
            "api: deploy the uploaded version as split deployments beside the live version: 10% -> 50% -> 100%"
        ),
        "and so does its step: {}",
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
    // And in real wrangler's `deployments list`, with the commit.
    let Some(entry) = wrangler_entry() else {
        return;
    };
    let head = git(&repo, &["rev-parse", "--short=7", "HEAD"]);
    let listed = wrangler(
        &entry,
        &emulator,
        &repo.join("api"),
        &["deployments", "list", "--name", "api"],
    );
    assert!(
        listed.stdout.contains("rollout step 2/3 at 50%: version "),
        "{}",
        listed.all()
    );
    assert!(
        listed.stdout.contains(&format!("of commit {head}")),
        "{}",
        listed.all()
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
    let (repo, emulator, state) = v2_committed(
        dir.path(),
        "[rollout]\nsteps = [10, 50]\nstep_interval = \"1h\"\nbake = \"1s\"\nmin_requests = 0\n",
    );

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

/// `flaresync rollout <args> --server <loop>`, with `token` as the admin token (none: unset).
fn remote(port: u16, args: &[&str], token: Option<&str>) -> common::Output {
    let mut command = flaresync();
    command
        .arg("rollout")
        .args(args)
        .args(["--server", &format!("http://127.0.0.1:{port}")]);
    match token {
        Some(token) => command.env("FLARESYNC_ADMIN_TOKEN", token),
        None => command.env_remove("FLARESYNC_ADMIN_TOKEN"),
    };
    run(&mut command)
}

/// The phase `/status` shows for `worker`'s rollout.
fn phase(port: u16, worker: &str) -> Option<String> {
    let status = status(port)?;
    status["workers"]
        .as_array()?
        .iter()
        .find(|w| w["worker"] == worker)?["rollout"]["phase"]
        .as_str()
        .map(str::to_owned)
}

/// Asserts that `flaresync rollout <args>` from the journal alone prints what `remote` did.
fn same_as_local(
    remote: &common::Output,
    emulator: &Emulator,
    repo: &Path,
    state: &Path,
    args: &[&str],
) {
    let local = rollout_command(emulator, repo, state, args);
    assert_eq!(
        remote.stdout,
        local.stdout,
        "{}\n{}",
        remote.all(),
        local.all()
    );
}

/// Issue 13 item 5: `status`, `pause` and `resume` against a running loop, through its
/// authenticated API (a command without the admin token, or with a wrong one, changes nothing).
#[test]
fn status_pause_and_resume_work_against_a_running_loop() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Steps never fall due on their own: only the operator moves this rollout.
    let (repo, emulator, state) = v2_committed(
        dir.path(),
        "[rollout]\nsteps = [10, 50]\nstep_interval = \"1h\"\nmin_requests = 0\n",
    );
    let port = free_port();
    let mut child = start_loop(&emulator, &repo, &state, port);
    until("the rollout on /status", || phase(port, "api").is_some());

    let out = remote(port, &["status", "api"], None);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stdout.starts_with("api") && out.stdout.contains(": progressing, step 1 at 10%"),
        "{}",
        out.all()
    );
    let out = remote(port, &["status", "web"], None);
    assert!(out.stdout.contains("no rollouts"), "{}", out.all());

    // Without the token, or with a wrong one, nothing is recorded.
    let out = remote(port, &["pause", "api"], None);
    assert_ne!(out.code, 0, "{}", out.all());
    assert!(
        out.stderr.contains("FLARESYNC_ADMIN_TOKEN"),
        "{}",
        out.all()
    );
    let out = remote(port, &["pause", "api"], Some("wrong-secret"));
    assert_eq!(out.code, 2, "{}", out.all());
    let out = remote(port, &["pause", "api"], Some("admin-secret"));
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("\"pause\""), "{}", out.all());
    until("paused on /status", || {
        phase(port, "api").as_deref() == Some("paused")
    });
    let out = remote(port, &["status", "api"], None);
    assert!(
        out.stdout
            .contains(": paused at 10%: paused by the status API"),
        "{}",
        out.all()
    );
    // The same table as the CLI alone prints from the journal.
    same_as_local(&out, &emulator, &repo, &state, &["status", "api"]);

    let out = remote(port, &["resume", "api"], Some("admin-secret"));
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("\"resume\""), "{}", out.all());
    until("progressing on /status", || {
        phase(port, "api").as_deref() == Some("progressing")
    });
    let out = remote(port, &["status"], None);
    assert!(
        out.stdout.contains("progressing, step 1 at 10%"),
        "{}",
        out.all()
    );
    same_as_local(&out, &emulator, &repo, &state, &["status", "api"]);
    // `--format json` gives the same rows as JSON, from the loop and from the journal.
    let out = remote(port, &["status", "api", "--format", "json"], None);
    assert_eq!(out.code, 0, "{}", out.all());
    let rows: Value = serde_json::from_str(&out.stdout).expect("JSON");
    assert_eq!(rows[0]["worker"], "api", "{rows}");
    assert_eq!(rows[0]["state"], "progressing, step 1 at 10%", "{rows}");
    same_as_local(
        &out,
        &emulator,
        &repo,
        &state,
        &["status", "api", "--format", "json"],
    );
    assert_eq!(shares(&emulator, "api"), vec![10, 90]);
    let _ = child.kill();
    let _ = child.wait();
}

/// `^path$` as a regex for the emulator's fault rules (paths hold no regex metacharacters).
fn exact(path: &str) -> String {
    format!("^{path}$")
}

/// Issue 13 item 7: `kill -9` of `flaresync run` while it deploys a rollout step (the request
/// held in the emulator), then a new loop finishes the rollout from the journal and Cloudflare's
/// deployment: one version per commit, each step deployed once.
#[test]
fn a_kill_9_while_a_step_is_deployed_resumes_without_duplicates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, emulator, state) = v2_committed(
        dir.path(),
        "[rollout]\nsteps = [10, 50]\nstep_interval = \"500ms\"\nbake = \"500ms\"\nmin_requests = 0\n",
    );
    // The first step (10%) passes; the second (50%) is held while the loop is killed.
    let deployments = exact(&format!(
        "/accounts/{ACCOUNT}/workers/scripts/api/deployments"
    ));
    let fault = |latency: u64| {
        serde_json::json!({"method": "POST", "path_regex": deployments, "kind": "latency",
                           "latency_ms": latency, "count": 1})
    };
    for latency in [0, 3000] {
        let answer = emulator.admin("POST", "/__emulator/faults", Some(fault(latency)));
        assert!(answer.contains("\"success\":true"), "{answer}");
    }
    let faults_left = || {
        let list: Value =
            serde_json::from_str(&emulator.admin("GET", "/__emulator/faults", None)).expect("JSON");
        list["result"].as_array().map_or(0, Vec::len)
    };
    let port = free_port();
    let mut child = start_loop(&emulator, &repo, &state, port);
    until("the second step's deployment to be held", || {
        faults_left() == 0
    });
    // SIGKILL: no destructor, no journal outcome for the step in flight.
    child.kill().expect("kill -9");
    let _ = child.wait();
    // Let the held request finish (or be dropped) before the next loop starts.
    std::thread::sleep(Duration::from_millis(3300));

    let mut child = start_loop(&emulator, &repo, &state, port);
    until("the rollout to complete", || {
        rollout_command(&emulator, &repo, &state, &["status", "api"])
            .stdout
            .contains(": completed")
    });
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(shares(&emulator, "api"), vec![100]);
    let tags = emulator.versions("api");
    assert_eq!(tags.len(), 2, "one version per commit: {tags:?}");
    common::tags_are_unique(&tags);
    let body = emulator.get(&format!(
        "/accounts/{ACCOUNT}/workers/scripts/api/deployments"
    ));
    let steps: Vec<String> = body["result"]["deployments"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|d| d["annotations"]["workers/message"].as_str())
        .filter_map(|m| m.split("rollout step ").nth(1))
        .map(|m| m.split(':').next().unwrap_or_default().to_owned())
        .collect();
    let mut unique = steps.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        steps.len(),
        "a step deployed twice: {steps:?}"
    );
    assert_eq!(steps.len(), 3, "steps 10%, 50%, 100%: {steps:?}");
}
