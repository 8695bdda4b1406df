//! Three flaresync processes on one API token at once (`run`, `plan --live` and `sync`, real
//! binaries) against the emulator's own rate limiter: each sizes its request budget from the
//! `Ratelimit-Policy` header and stops at the reserve of the quota the `Ratelimit` header
//! reports, so together they never trip the lockout (issue 17 item 7).
//!
//! The limiter runs scaled down (60 requests per 10 s instead of Cloudflare's 1200 per 300 s)
//! so that the three spend several windows' worth in seconds; the headers carry the same
//! syntax either way.

mod common;

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use common::*;

const QUOTA: u32 = 60;
const WORKERS: usize = 20;
/// A second token of the same account, with its own quota, for the setup.
const SETUP_TOKEN: &str = "shared-token-setup";

fn repo_with(dir: &Path, prefix: &str, body: &str) -> std::path::PathBuf {
    let repo = init_repo(dir);
    for index in 0..WORKERS {
        let name = format!("{prefix}{index:02}");
        worker(&repo, &format!("workers/{name}"), &name, body);
    }
    commit_all(&repo, &format!("{prefix} workers"));
    repo
}

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn command(emulator: &Emulator, args: &[&str], repo: &Path, state: &Path) -> Command {
    let mut command = flaresync();
    command
        .args(args)
        .arg("--repo")
        .arg(repo)
        .arg("--state-dir")
        .arg(state);
    emulator.env(&mut command);
    command
}

#[test]
fn run_plan_live_and_sync_on_one_token_never_trip_the_lockout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let quota = QUOTA.to_string();
    let emulator = Emulator::start_with(
        &dir.path().join("emulator"),
        &[
            "--token",
            SETUP_TOKEN,
            "--rate-limit",
            &quota,
            "--rate-limit-window-secs",
            "10",
        ],
    );
    // Deployed beforehand (on the setup token), then changed: what `plan --live` reads.
    let planned = repo_with(&dir.path().join("c"), "c", "v1");
    let mut setup = command(&emulator, &["sync"], &planned, &dir.path().join("state-c"));
    setup.env("CLOUDFLARE_API_TOKEN", SETUP_TOKEN);
    let out = run(&mut setup);
    assert_eq!(out.code, 0, "{}", out.all());
    for index in 0..WORKERS {
        set_body(&planned, &format!("workers/c{index:02}"), "v2");
    }
    commit_all(&planned, "c v2");
    let deployed = repo_with(&dir.path().join("a"), "a", "v1");
    let synced = repo_with(&dir.path().join("b"), "b", "v1");
    let start = emulator.request_log().len();

    let started = Instant::now();
    let log = std::fs::File::create(dir.path().join("run.log")).expect("log file");
    let mut looped = command(
        &emulator,
        &["run", "--status-listen", "127.0.0.1:0"],
        &deployed,
        &dir.path().join("state-a"),
    );
    looped.stdout(log.try_clone().expect("clone")).stderr(log);
    let _run = Kill(looped.spawn().expect("run starts"));
    let plan = command(
        &emulator,
        &["plan", "--live"],
        &planned,
        &dir.path().join("state-plan"),
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("plan starts");
    let sync = command(&emulator, &["sync"], &synced, &dir.path().join("state-b"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sync starts");
    let plan = plan.wait_with_output().expect("plan ends");
    let sync = sync.wait_with_output().expect("sync ends");
    assert_eq!(
        plan.status.code(),
        Some(1),
        "plan --live sees the changes: {}",
        String::from_utf8_lossy(&plan.stderr)
    );
    assert_eq!(
        sync.status.code(),
        Some(0),
        "sync deploys: {}",
        String::from_utf8_lossy(&sync.stderr)
    );
    // `run` deploys its Workers too (its first pass).
    let deadline = Instant::now() + Duration::from_secs(120);
    let prefix = format!("/client/v4/accounts/{ACCOUNT}/workers/scripts/a");
    loop {
        let uploads = emulator.request_log()[start..]
            .iter()
            .filter(|r| r["method"] == "PUT")
            .filter(|r| r["path"].as_str().is_some_and(|p| p.starts_with(&prefix)))
            .count();
        if uploads >= WORKERS {
            break;
        }
        assert!(Instant::now() < deadline, "run never deployed its Workers");
        std::thread::sleep(Duration::from_millis(500));
    }
    let took = started.elapsed();

    let log = emulator.request_log();
    let requests = &log[start..];
    let locked_out: Vec<_> = requests.iter().filter(|r| r["status"] == 429).collect();
    println!(
        "run + plan --live + sync on one token: {} requests in {:.1} s, {} answered 429 \
         (limit {QUOTA} per 10 s)",
        requests.len(),
        took.as_secs_f64(),
        locked_out.len()
    );
    assert!(
        requests.len() > 2 * QUOTA as usize,
        "together they needed several windows' quota: {}",
        requests.len()
    );
    assert!(locked_out.is_empty(), "lockouts: {locked_out:#?}");
}
