//! `flaresync run --fleet`: replicas sharing (repository, account) entries through one
//! PostgreSQL journal (started by `flaresync_journal::test_postgres`; skipped only with
//! `FLARESYNC_SKIP_POSTGRES=1`), the emulator in its own process, real git repositories.
//! - two replicas, the owner killed (-9) mid-deploy: the standby takes the lease over after
//!   the TTL and converges, with one version per commit and a complete journal;
//! - ten repositories across three replicas: every one converges, leases spread within one;
//! - a fleet file holding a literal token is refused, naming file:line, without echoing it.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::postgres::{database, eventually};
use common::*;
use flaresync_journal::{Journal, JournalLocation, Outcome, lease::scope_name};
use serde_json::Value;

/// The variable the fleet files of these tests name for the emulator's token.
const TOKEN_VAR: &str = "FLEET_TEST_CLOUDFLARE_TOKEN";

struct Replica {
    child: Child,
    log: PathBuf,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Replica {
    fn start(dir: &Path, name: &str, fleet: &Path, url: &str, emulator: &Emulator) -> Self {
        Self::spawn(
            dir,
            name,
            url,
            emulator,
            &["--fleet".as_ref(), fleet.as_os_str()],
            &[],
        )
    }

    /// `flaresync run <what>` (a fleet, or `--repo`) with a short lease against `url`.
    fn spawn(
        dir: &Path,
        name: &str,
        url: &str,
        emulator: &Emulator,
        what: &[&std::ffi::OsStr],
        env: &[(&str, &str)],
    ) -> Self {
        let log = dir.join(format!("{name}.log"));
        let mut command = flaresync();
        command
            .arg("run")
            .args(what)
            .args(["--status-listen", "127.0.0.1:0", "--lease-ttl", "2"])
            .args(["--resync-interval-secs", "2", "--state-dir"])
            .arg(dir.join(format!("state-{name}")))
            .env("FLARESYNC_JOURNAL_URL", url)
            .env("CLOUDFLARE_API_BASE_URL", &emulator.base_url)
            .env(TOKEN_VAR, TOKEN)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log"));
        Replica {
            child: command.spawn().expect("replica starts"),
            log,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The status server's address, once the replica printed it.
    fn address(&self) -> String {
        self.address_after("/healthz and /status on http://")
    }

    /// The address printed right after `marker`.
    fn address_after(&self, marker: &str) -> String {
        let mut found = None;
        eventually(300, "the replica prints its status address", || {
            found = self
                .log()
                .split(marker)
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .map(str::to_owned);
            found.is_some()
        });
        found.unwrap_or_default()
    }

    /// `GET path` on the replica's status server (the test's own client: curl).
    fn get(&self, address: &str, path: &str) -> Option<String> {
        let output = std::process::Command::new("curl")
            .args(["-sS", "--max-time", "5"])
            .arg(format!("http://{address}{path}"))
            .output()
            .ok()?;
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
    }

    fn status(&self, address: &str) -> Option<Value> {
        serde_json::from_str(&self.get(address, "/status")?).ok()
    }
}

/// A repository `dir/<name>` with one Worker `<name>` at `v1`; returns it and the commit.
fn repository(dir: &Path, name: &str) -> (PathBuf, String) {
    let repo = dir.join(name);
    std::fs::create_dir_all(&repo).expect("mkdir");
    git(&repo, &["init", "-q", "-b", "main"]);
    worker(&repo, "workers/app", name, "v1");
    let commit = commit_all(&repo, &format!("{name} v1"));
    (repo, commit)
}

fn fleet_file(dir: &Path, repos: &[PathBuf]) -> PathBuf {
    let mut text = String::from("# written by tests/fleet.rs\n");
    for repo in repos {
        text.push_str(&format!(
            "\n[[entry]]\nrepo = {:?}\naccount_id = \"{ACCOUNT}\"\ntoken_env = \"{TOKEN_VAR}\"\n",
            repo.display().to_string()
        ));
    }
    let path = dir.join("fleet.toml");
    std::fs::write(&path, text).expect("fleet.toml");
    path
}

fn owners(status: &Value) -> Vec<Option<String>> {
    status["entries"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|e| e["owner"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn the_standby_takes_over_a_killed_owner_mid_deploy_without_a_duplicate_version() {
    let Some(url) = database("fleetkill") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let emulator = Emulator::start(&dir.path().join("emulator"));
    let (repo, first) = repository(dir.path(), "fleet-api");
    let fleet = fleet_file(dir.path(), std::slice::from_ref(&repo));

    let owner = Replica::start(dir.path(), "a", &fleet, &url, &emulator);
    let owner_address = owner.address();
    eventually(300, "the first replica deploys v1", || {
        emulator.live_tag("fleet-api").as_deref() == Some(first.as_str())
    });
    let owner_name = owner
        .status(&owner_address)
        .and_then(|s| s["replica"].as_str().map(str::to_owned))
        .expect("the owner names itself");

    // The standby serves /healthz and /status while another replica owns everything.
    let standby = Replica::start(dir.path(), "b", &fleet, &url, &emulator);
    let standby_address = standby.address();
    assert_eq!(
        standby.get(&standby_address, "/healthz").as_deref(),
        Some("ok\n")
    );
    eventually(100, "the standby shows who owns the entry", || {
        standby.status(&standby_address).is_some_and(|s| {
            s["replicas"].as_array().is_some_and(|r| r.len() == 2)
                && owners(&s) == vec![Some(owner_name.clone())]
                && s["entries"][0]["mine"] == false
                && s["entries"][0]["token"] == 1
        })
    });

    // v2, with the deployment held in the emulator: the owner uploads, then is killed.
    emulator.admin(
        "POST",
        "/__emulator/faults",
        Some(
            serde_json::json!({"method": "POST", "path_regex": "/deployments$",
            "kind": "latency", "latency_ms": 20000, "count": 1}),
        ),
    );
    set_body(&repo, "workers/app", "v2");
    let second = commit_all(&repo, "fleet-api v2");
    eventually(300, "the owner uploads v2", || {
        emulator.versions("fleet-api").len() == 2
    });
    std::thread::sleep(Duration::from_millis(300));
    let mut owner = owner;
    owner.child.kill().expect("kill -9");
    let _ = owner.child.wait();
    let killed = Instant::now();

    eventually(300, "the standby converges on v2", || {
        emulator.live_tag("fleet-api").as_deref() == Some(second.as_str())
    });
    eprintln!(
        "failover: v2 live {:.1} s after the kill (lease ttl 2 s)",
        killed.elapsed().as_secs_f64()
    );
    let tags = emulator.versions("fleet-api");
    tags_are_unique(&tags);
    assert_eq!(tags.len(), 2, "one version per commit: {tags:?}");
    // /status is the view of the last round (a third of the TTL at most behind).
    eventually(
        100,
        "the standby's status shows it owns the entry, token 2",
        || {
            standby.status(&standby_address).is_some_and(|s| {
                s["entries"][0]["mine"] == true
                    && s["entries"][0]["token"] == 2
                    && s["entries"][0]["state"] == "running"
            })
        },
    );

    // The journal, read in the entry's scope: v2 deployed, nothing left half-done.
    let lease_name = repo.canonicalize().expect("path").display().to_string();
    let journal = Journal::open_location(&JournalLocation::postgres(&url).expect("url"))
        .expect("journal")
        .scoped(scope_name(&lease_name, ACCOUNT));
    let history = journal.history("fleet-api").expect("history");
    assert!(
        history.iter().any(|e| e.entry.outcome == Outcome::Success
            && e.entry.commit.as_deref() == Some(second.as_str())),
        "{history:?}"
    );
    assert_eq!(journal.in_flight().expect("in flight"), Vec::new());
    assert!(
        standby.log().contains("fencing token 2"),
        "{}",
        standby.log()
    );
}

#[test]
fn ten_repositories_across_three_replicas_converge_evenly_spread() {
    let Some(url) = database("fleetten") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let emulator = Emulator::start(&dir.path().join("emulator"));
    let repos: Vec<(PathBuf, String)> = (0..10)
        .map(|i| repository(dir.path(), &format!("fleet-{i}")))
        .collect();
    let paths: Vec<PathBuf> = repos.iter().map(|(path, _)| path.clone()).collect();
    let fleet = fleet_file(dir.path(), &paths);
    let replicas: Vec<Replica> = ["a", "b", "c"]
        .iter()
        .map(|name| Replica::start(dir.path(), name, &fleet, &url, &emulator))
        .collect();
    let addresses: Vec<String> = replicas.iter().map(Replica::address).collect();

    for (i, (_, commit)) in repos.iter().enumerate() {
        let script = format!("fleet-{i}");
        let deadline = Instant::now() + Duration::from_secs(120);
        while emulator.live_tag(&script).as_deref() != Some(commit.as_str()) {
            let logs: Vec<String> = replicas.iter().map(Replica::log).collect();
            assert!(
                Instant::now() < deadline,
                "{script} did not converge; replica logs:\n{}",
                logs.join("\n----\n")
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        tags_are_unique(&emulator.versions(&script));
    }
    let mut last = Value::Null;
    eventually(
        300,
        "the leases spread within one across three replicas",
        || {
            let Some(status) = replicas[0].status(&addresses[0]) else {
                return false;
            };
            let owned = owners(&status);
            last = status;
            let names: Vec<String> = last["replicas"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .filter_map(|r| r.as_str().map(str::to_owned))
                .collect();
            let counts: Vec<usize> = names
                .iter()
                .map(|name| owned.iter().filter(|o| o.as_deref() == Some(name)).count())
                .collect();
            names.len() == 3
                && owned.iter().all(Option::is_some)
                && counts
                    .iter()
                    .max()
                    .zip(counts.iter().min())
                    .is_some_and(|(max, min)| max - min <= 1)
        },
    );
    // Each entry is its owner's own, running there and in sync, and no one else's.
    eventually(300, "every replica reports its own entries in sync", || {
        let statuses: Vec<Value> = replicas
            .iter()
            .zip(&addresses)
            .filter_map(|(replica, address)| replica.status(address))
            .collect();
        let mine: Vec<&Value> = statuses
            .iter()
            .flat_map(|s| s["entries"].as_array().into_iter().flatten())
            .filter(|e| e["mine"] == true)
            .collect();
        last = Value::Array(statuses.clone());
        statuses.len() == 3
            && mine.len() == 10
            && mine
                .iter()
                .all(|e| e["state"] == "running" && e["in_sync"] == 1 && e["workers"] == 1)
    });
    eprintln!("fleet status: {last}");
}

#[test]
fn a_single_repository_standby_answers_healthz_and_names_the_owner() {
    let Some(url) = database("standby") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let emulator = Emulator::start(&dir.path().join("emulator"));
    let (repo, first) = repository(dir.path(), "solo-api");
    // `run --repo` takes its token and account from the usual variables.
    let env = [
        ("CLOUDFLARE_API_TOKEN", TOKEN),
        ("CLOUDFLARE_ACCOUNT_ID", ACCOUNT),
    ];
    let spawn = |name: &str| {
        let what = ["--repo".as_ref(), repo.as_os_str()];
        Replica::spawn(dir.path(), name, &url, &emulator, &what, &env)
    };
    let leader = spawn("leader");
    eventually(300, "the leader deploys v1", || {
        emulator.live_tag("solo-api").as_deref() == Some(first.as_str())
    });
    let standby = spawn("standby");
    let address = standby.address_after("standby: /healthz and /status on http://");
    assert_eq!(standby.get(&address, "/healthz").as_deref(), Some("ok\n"));
    eventually(100, "the standby names the leader as the owner", || {
        standby.status(&address).is_some_and(|s| {
            let entry = &s["entries"][0];
            entry["state"] == "standby"
                && entry["token"] == 1
                && entry["owner"]
                    .as_str()
                    .is_some_and(|owner| leader.log().contains(owner))
        })
    });
    drop(leader);
    // The leader gone (-9), the standby takes the lease and its loop serves the full status.
    eventually(300, "the standby becomes the leader", || {
        standby.log().contains("fencing token 2")
            && standby
                .get(&address, "/status")
                .is_some_and(|body| body.contains("\"workers\""))
    });
}

#[test]
fn a_fleet_file_with_a_literal_token_is_refused_naming_the_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fleet = dir.path().join("fleet.toml");
    std::fs::write(
        &fleet,
        format!(
            "[[entry]]\nrepo = \"/srv/shop\"\naccount_id = \"{ACCOUNT}\"\n\
             token = \"cf-literal-secret-0123456789\"\n"
        ),
    )
    .expect("write");
    let out = run(flaresync()
        .args(["run", "--fleet"])
        .arg(&fleet)
        .env("FLARESYNC_JOURNAL_URL", "postgres://fs@127.0.0.1:1/none"));
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(
        out.stderr
            .contains(&format!("{}:4: `token` puts a secret", fleet.display())),
        "{}",
        out.all()
    );
    assert!(!out.all().contains("cf-literal-secret"), "{}", out.all());

    // Without a PostgreSQL journal there is nothing to share leases through.
    std::fs::write(
        &fleet,
        format!("[[entry]]\nrepo = \"/srv/shop\"\naccount_id = \"{ACCOUNT}\"\ntoken_env = \"T\"\n"),
    )
    .expect("write");
    let out = run(flaresync().args(["run", "--fleet"]).arg(&fleet));
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(
        out.stderr.contains("--fleet needs a PostgreSQL journal"),
        "{}",
        out.all()
    );
}
