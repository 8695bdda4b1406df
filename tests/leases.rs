//! The PostgreSQL journal and leases with the real binary, the emulator in its own process and
//! a real PostgreSQL (started by `flaresync_journal::test_postgres`; skipped only with
//! `FLARESYNC_SKIP_POSTGRES=1`):
//! - `sync --journal postgres://…` journals there (and nothing in the state directory);
//! - a `sync` that finds the lease held waits `--lease-wait`, then exits 3 naming the holder,
//!   having written nothing;
//! - a `run` paused (SIGSTOP) past its lease's TTL, whose lease was taken over meanwhile, makes
//!   no Cloudflare write after SIGCONT (fencing), and converges once the lease is free again.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use common::postgres::{database, eventually};
use common::*;
use flaresync_journal::{Acquired, Journal, JournalLocation, Outcome};

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        // A stopped process must be continued to die of SIGKILL promptly everywhere.
        signal(&self.0, libc::SIGCONT);
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn signal(child: &Child, signal: i32) {
    let pid = i32::try_from(child.id()).expect("pid");
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0, "kill -{signal}");
}

fn journal(url: &str) -> Journal {
    Journal::open_location(&JournalLocation::postgres(url).expect("url")).expect("journal")
}

/// The name `flaresync` gives a local repository without `origin` in the lease table.
fn lease_name(repo: &Path) -> String {
    repo.canonicalize()
        .expect("canonical")
        .display()
        .to_string()
}

fn writes(emulator: &Emulator) -> usize {
    emulator
        .request_log()
        .iter()
        .filter(|r| r["method"] != "GET")
        .count()
}

fn setup(dir: &Path) -> (PathBuf, Emulator, String) {
    let (repo, emulator, _) = repo_emulator_state(dir);
    worker(&repo, "workers/api", "lease-api", "v1");
    let first = commit_all(&repo, "api v1");
    (repo, emulator, first)
}

fn sync_command(
    emulator: &Emulator,
    repo: &Path,
    state: &Path,
    url: &str,
) -> std::process::Command {
    let mut command = flaresync();
    command
        .args(["sync", "--repo"])
        .arg(repo)
        .arg("--state-dir")
        .arg(state)
        .env("FLARESYNC_JOURNAL_URL", url);
    emulator.env(&mut command);
    command
}

#[test]
fn sync_journals_in_postgres_and_waits_for_a_held_lease_naming_the_holder() {
    let Some(url) = database("cisync") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, emulator, first) = setup(dir.path());
    let state = dir.path().join("state");

    // Another CI job holds the lease: this one waits 1 s, then gives up without writing.
    let other = journal(&url)
        .lease(
            &lease_name(&repo),
            ACCOUNT,
            "ci@runner-7/job-41",
            Duration::from_secs(60),
        )
        .expect("lease");
    assert_eq!(
        other.acquire().expect("acquire"),
        Acquired::Held { token: 1 }
    );
    let out = run(sync_command(&emulator, &repo, &state, &url).args(["--lease-wait", "1"]));
    assert_eq!(out.code, 3, "{}", out.all());
    assert!(
        out.stderr.contains("held by ci@runner-7/job-41"),
        "{}",
        out.all()
    );
    assert!(out.stderr.contains("--lease-wait"), "{}", out.all());
    assert_eq!(writes(&emulator), 0, "nothing was written while waiting");

    // Once the other job is done, the sync deploys and journals in PostgreSQL.
    other.release().expect("release");
    let out = run(&mut sync_command(&emulator, &repo, &state, &url));
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(
        emulator.live_tag("lease-api").as_deref(),
        Some(first.as_str())
    );
    let entries = journal(&url).history("lease-api").expect("history");
    assert!(
        entries
            .iter()
            .any(|e| e.entry.outcome == Outcome::Success
                && e.entry.commit.as_deref() == Some(&first)),
        "{entries:?}"
    );
    assert!(
        !state.join("journal.sqlite3").exists(),
        "no SQLite journal beside the PostgreSQL one"
    );
    // The lease was released at the end: the next holder takes over at once, token 3.
    assert_eq!(
        other.acquire().expect("acquire"),
        Acquired::Held { token: 3 }
    );
}

#[test]
fn a_password_in_the_journal_url_never_shows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, emulator, _) = setup(dir.path());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let url = format!("postgres://fs:hunter2-secret@127.0.0.1:{port}/flaresync");
    let out = run(&mut sync_command(
        &emulator,
        &repo,
        &dir.path().join("state"),
        &url,
    ));
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(!out.all().contains("hunter2"), "{}", out.all());
    assert!(
        out.stderr.contains(&format!("127.0.0.1:{port}")),
        "{}",
        out.all()
    );
    assert_eq!(writes(&emulator), 0);
}

#[test]
fn a_paused_ex_leader_makes_no_cloudflare_write_after_losing_its_lease() {
    let Some(url) = database("fencing") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, emulator, first) = setup(dir.path());
    let log_path = dir.path().join("run.log");
    let log = std::fs::File::create(&log_path).expect("log");
    let mut command = flaresync();
    command
        .args(["run", "--status-listen", "127.0.0.1:0", "--lease-ttl", "2"])
        .args(["--resync-interval-secs", "1", "--repo"])
        .arg(&repo)
        .arg("--state-dir")
        .arg(dir.path().join("state-a"))
        .env("FLARESYNC_JOURNAL_URL", &url)
        .stdout(Stdio::null())
        .stderr(log);
    emulator.env(&mut command);
    let leader = Kill(command.spawn().expect("run starts"));
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    eventually(300, "the leader deploys v1", || {
        emulator.live_tag("lease-api").as_deref() == Some(first.as_str())
    });
    assert!(log().contains("fencing token 1"), "{}", log());

    // Paused past its TTL (a partition, a GC pause, a frozen VM); another takes over.
    signal(&leader.0, libc::SIGSTOP);
    let takeover = journal(&url)
        .lease(
            &lease_name(&repo),
            ACCOUNT,
            "replica-b",
            Duration::from_secs(600),
        )
        .expect("lease");
    let mut token = None;
    eventually(300, "the paused leader's lease expires", || {
        // An error is a lock the paused process held mid-transaction: the server frees it.
        if let Ok(Acquired::Held { token: t }) = takeover.acquire() {
            token = Some(t);
        }
        token.is_some()
    });
    assert_eq!(token, Some(2));
    worker(&repo, "workers/api", "lease-api", "v2");
    let second = commit_all(&repo, "api v2");
    let before = writes(&emulator);

    // Woken up, the ex-leader sees v2 and tries to deploy it: every write is refused.
    signal(&leader.0, libc::SIGCONT);
    let refused = |j: &Journal| {
        j.history("lease-api")
            .expect("history")
            .iter()
            .any(|e| e.entry.outcome == Outcome::Failure && e.entry.message.contains("not sent"))
    };
    let shared = journal(&url);
    eventually(300, "the ex-leader tries v2 and is refused", || {
        refused(&shared)
    });
    assert_eq!(
        writes(&emulator),
        before,
        "no write reached Cloudflare: {}",
        log()
    );
    assert_eq!(
        emulator.live_tag("lease-api").as_deref(),
        Some(first.as_str())
    );
    assert!(
        log().contains("replica-b"),
        "the log names the new holder: {}",
        log()
    );

    // The lease free again, the same process takes it (token 3) and converges: it was fenced,
    // not broken.
    takeover.release().expect("release");
    eventually(
        300,
        "the old leader converges on v2 with a new token",
        || emulator.live_tag("lease-api").as_deref() == Some(second.as_str()),
    );
    let row = takeover.current().expect("read").expect("row");
    assert_eq!(row.token, 3, "{row:?}");
    assert_ne!(row.holder, "replica-b");
}
