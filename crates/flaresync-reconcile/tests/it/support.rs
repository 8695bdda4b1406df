//! Test support: a git repository of Workers built with the git CLI (fixed names and dates, so
//! runs are reproducible), and a Context wired to an in-process emulator.

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::Arc,
};

use flaresync_cloudflare::{Client, ClientConfig, Secret};
use flaresync_emulator::testing::TestEmulator;
use flaresync_reconcile::{Context, ContextOptions};

pub struct Repo {
    dir: tempfile::TempDir,
    tick: u32,
}

impl Repo {
    pub fn new() -> Repo {
        let repo = Repo {
            dir: tempfile::tempdir().expect("tempdir"),
            tick: 0,
        };
        repo.git(&["init", "-q", "-b", "main"]);
        repo.git(&["config", "commit.gpgsign", "false"]);
        repo
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn git(&self, args: &[&str]) -> String {
        let date = format!(
            "2026-01-01T{:02}:{:02}:00+0000",
            self.tick / 60,
            self.tick % 60
        );
        let output = Command::new("git")
            .args(args)
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "Alice Author")
            .env("GIT_AUTHOR_EMAIL", "alice@example.com")
            .env("GIT_COMMITTER_NAME", "Carl Committer")
            .env("GIT_COMMITTER_EMAIL", "carl@example.com")
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .output()
            .expect("git runs");
        assert!(
            output.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    pub fn write(&self, path: &str, content: &str) {
        let full = self.dir.path().join(path);
        std::fs::create_dir_all(full.parent().expect("has parent")).expect("mkdir");
        std::fs::write(full, content).expect("write");
    }

    /// A Worker directory `workers/<name>` whose response body is `body`.
    pub fn worker(&self, name: &str, body: &str) {
        self.write(
            &format!("workers/{name}/wrangler.toml"),
            &format!(
                "name = \"{name}\"\nmain = \"index.js\"\ncompatibility_date = \"2026-01-01\"\n"
            ),
        );
        self.set_body(name, body);
    }

    pub fn set_body(&self, name: &str, body: &str) {
        self.write(
            &format!("workers/{name}/index.js"),
            &format!("export default {{ fetch() {{ return new Response({body:?}); }} }};\n"),
        );
    }

    /// Commits everything; returns the full commit id.
    pub fn commit(&mut self, message: &str) -> String {
        self.tick += 1;
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", message]);
        self.head()
    }

    pub fn revert_head(&mut self) -> String {
        self.tick += 1;
        self.git(&["revert", "--no-edit", "HEAD"]);
        self.head()
    }

    pub fn head(&self) -> String {
        self.git(&["rev-parse", "HEAD"])
    }
}

pub fn client(emulator: &TestEmulator) -> Client {
    Client::new(ClientConfig::new(
        emulator.base_url(),
        emulator.account_id(),
        Secret::new(emulator.token()),
    ))
    .expect("client config is valid")
}

pub fn options() -> ContextOptions {
    ContextOptions {
        health_attempts: 1,
        health_interval: std::time::Duration::from_millis(10),
        ..ContextOptions::default()
    }
}

pub fn context(repo: &Repo, emulator: &TestEmulator, journal: &Path) -> Arc<Context> {
    let source = flaresync_git::GitSource::open_local(repo.path(), "main").expect("repo opens");
    Arc::new(
        Context::with_options(
            source,
            client(emulator),
            journal,
            flaresync_config::RepoConfig::default(),
            options(),
        )
        .expect("context"),
    )
}

pub fn journal_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("journal.sqlite")
}

/// Requests the emulator logged after position `from`, as `METHOD path` strings.
pub fn requests_since(emulator: &TestEmulator, from: usize) -> Vec<String> {
    emulator
        .requests()
        .into_iter()
        .skip(from)
        .map(|request| {
            let path = request
                .path
                .strip_prefix("/client/v4")
                .unwrap_or(&request.path)
                .to_owned();
            format!("{} {path}", request.method)
        })
        .collect()
}

pub fn writes(requests: &[String]) -> Vec<String> {
    requests
        .iter()
        .filter(|request| !request.starts_with("GET "))
        .cloned()
        .collect()
}

/// A fault that delays `count` matching requests by `latency_ms`.
pub fn latency(
    method: &str,
    path_regex: &str,
    count: u32,
    latency_ms: u64,
) -> flaresync_emulator::FaultSpec {
    flaresync_emulator::FaultSpec {
        method: Some(method.into()),
        path_prefix: None,
        path_regex: Some(path_regex.into()),
        kind: flaresync_emulator::FaultKind::Latency,
        count: Some(count),
        probability: None,
        status: None,
        retry_after: None,
        latency_ms: Some(latency_ms),
        code: None,
        message: None,
    }
}
