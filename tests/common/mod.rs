//! Shared harness of the end-to-end flow tests: the `flaresync` binary, an emulator process,
//! git repositories driven with the `git` CLI, and the real wrangler CLI.
#![allow(dead_code)] // each test file uses a part of it

pub mod postgres;

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
};

use assert_cmd::cargo::CommandCargoExt;
use serde_json::Value;

pub const TOKEN: &str = "git-flows-token";
pub const ACCOUNT: &str = "00000000000000000000000000f10f10";
pub const GIT_TOKEN: &str = "ghp_gitFlowsSecretToken0123456789";

pub fn flaresync() -> Command {
    let mut command = Command::cargo_bin("flaresync").expect("the flaresync binary is built");
    for name in [
        "CLOUDFLARE_API_BASE_URL",
        "CLOUDFLARE_API_TOKEN",
        "CLOUDFLARE_ACCOUNT_ID",
        "FLARESYNC_STATE_DIR",
        "FLARESYNC_REPO",
        "FLARESYNC_BRANCH",
        "GIT_USERNAME",
        "GIT_PASSWORD",
        // Colour and GitHub settings of the machine running the tests are not the test's.
        "NO_COLOR",
        "CLICOLOR",
        "CLICOLOR_FORCE",
        "FLARESYNC_COLOR",
        "GITHUB_TOKEN",
        "GITHUB_REPOSITORY",
        "GITHUB_API_URL",
        "GITHUB_EVENT_PATH",
        // Nor its notification sinks: a test's deploys must never reach a real GitHub or Slack.
        "FLARESYNC_GITHUB_TOKEN",
        "FLARESYNC_GITHUB_REPOSITORY",
        "FLARESYNC_GITHUB_API_URL",
        "FLARESYNC_NOTIFY_WEBHOOK_URL",
        "FLARESYNC_NOTIFY_WEBHOOK_SECRET",
        "FLARESYNC_SLACK_WEBHOOK_URL",
        "FLARESYNC_NOTIFY_GITHUB",
    ] {
        command.env_remove(name);
    }
    command.env("FLARESYNC_LOG", "info");
    command.env("FLARESYNC_GIT_TOKEN", GIT_TOKEN);
    command
}

pub fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Flow Tester")
        .env("GIT_AUTHOR_EMAIL", "flow@example.com")
        .env("GIT_COMMITTER_NAME", "Flow Tester")
        .env("GIT_COMMITTER_EMAIL", "flow@example.com")
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// Builds the fixture repository (tags c1..c5) in a fresh temporary directory.
pub fn fixture_repo() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("repo");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/make_config_repo.sh");
    let status = Command::new("bash")
        .arg(&script)
        .arg(&repo)
        .status()
        .expect("bash runs the fixture script");
    assert!(status.success(), "{} failed", script.display());
    (dir, repo)
}

/// A new Git repository at `<dir>/repo` on branch `main`; its path.
pub fn init_repo(dir: &Path) -> PathBuf {
    let repo = dir.join("repo");
    std::fs::create_dir_all(&repo).expect("mkdir");
    git(&repo, &["init", "-q", "-b", "main"]);
    repo
}

/// What most flows start from, all below `dir`: a new repository ([`init_repo`]), a running
/// emulator and the path of a state directory.
pub fn repo_emulator_state(dir: &Path) -> (PathBuf, Emulator, PathBuf) {
    let repo = init_repo(dir);
    let emulator = Emulator::start(&dir.join("emulator"));
    (repo, emulator, dir.join("state"))
}

pub fn write(path: &Path, content: &str) {
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
    std::fs::write(path, content).expect("write");
}

pub fn worker(repo: &Path, dir: &str, name: &str, body: &str) {
    write(
        &repo.join(dir).join("wrangler.toml"),
        &format!(
            "name = \"{name}\"\nmain = \"dist/index.js\"\ncompatibility_date = \"2025-06-01\"\n"
        ),
    );
    set_body(repo, dir, body);
}

pub fn set_body(repo: &Path, dir: &str, body: &str) {
    let path = repo.join(dir).join("dist/index.js");
    let _ = std::fs::remove_file(&path);
    write(
        &path,
        &format!("export default {{ fetch() {{ return new Response({body:?}); }} }};\n"),
    );
}

pub fn commit_all(repo: &Path, message: &str) -> String {
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-q", "--allow-empty", "-m", message]);
    git(repo, &["rev-parse", "HEAD"])
}

pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn all(&self) -> String {
        format!("stdout:\n{}\nstderr:\n{}", self.stdout, self.stderr)
    }
}

pub fn run(command: &mut Command) -> Output {
    let output = command.output().expect("flaresync runs");
    let out = Output {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert!(
        !out.stdout.contains(GIT_TOKEN) && !out.stderr.contains(GIT_TOKEN),
        "the git token leaked:\n{}",
        out.all()
    );
    assert!(
        !out.stdout.contains(TOKEN) && !out.stderr.contains(TOKEN),
        "the API token leaked:\n{}",
        out.all()
    );
    out
}

/// An emulator in its own process.
pub struct Emulator {
    child: Child,
    pub base_url: String,
}

impl Emulator {
    pub fn start(state: &Path) -> Self {
        Self::start_with(state, &[])
    }

    /// [`Emulator::start`] with more `flaresync emulator` arguments (`--rate-limit`, tokens).
    pub fn start_with(state: &Path, extra: &[&str]) -> Self {
        let mut child = flaresync()
            .args([
                "emulator",
                "--listen",
                "127.0.0.1:0",
                "--token",
                TOKEN,
                "--account-id",
                ACCOUNT,
            ])
            .args(extra)
            .arg("--state")
            .arg(state)
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("emulator starts");
        let stderr = child.stderr.take().expect("piped stderr");
        let mut lines = BufReader::new(stderr).lines();
        let base_url = loop {
            let line = lines
                .next()
                .expect("emulator prints its address")
                .expect("readable stderr");
            if let Some(rest) = line.split("listening on ").nth(1) {
                break rest
                    .split_whitespace()
                    .next()
                    .expect("an address")
                    .to_owned();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Emulator { child, base_url }
    }

    /// `POST`s JSON to the API; returns the envelope's `result`.
    pub fn post(&self, path: &str, body: Value) -> Value {
        let output = Command::new("curl")
            .args(["-sS", "-X", "POST", "-H"])
            .arg(format!("Authorization: Bearer {TOKEN}"))
            .args(["-H", "Content-Type: application/json", "--data"])
            .arg(body.to_string())
            .arg(format!("{}{path}", self.base_url))
            .output()
            .expect("curl runs");
        assert!(output.status.success(), "curl POST {path}");
        let envelope: Value = serde_json::from_slice(&output.stdout).expect("JSON");
        assert_eq!(envelope["success"], true, "POST {path}: {envelope}");
        envelope["result"].clone()
    }

    /// The raw body of a `GET`.
    pub fn get_text(&self, path: &str) -> String {
        let output = Command::new("curl")
            .args(["-sS", "-H"])
            .arg(format!("Authorization: Bearer {TOKEN}"))
            .arg(format!("{}{path}", self.base_url))
            .output()
            .expect("curl runs");
        assert!(output.status.success(), "curl {path}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    pub fn get(&self, path: &str) -> Value {
        serde_json::from_str(&self.get_text(path)).expect("JSON")
    }

    /// `(workers/tag, number)` of every version of `script`, newest first.
    pub fn versions(&self, script: &str) -> Vec<String> {
        let body = self.get(&format!(
            "/accounts/{ACCOUNT}/workers/scripts/{script}/versions?per_page=100"
        ));
        body["result"]["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|v| {
                v["annotations"]["workers/tag"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned()
            })
            .collect()
    }

    /// The `workers/tag` of the version deployed at 100%.
    pub fn live_tag(&self, script: &str) -> Option<String> {
        let body = self.get(&format!(
            "/accounts/{ACCOUNT}/workers/scripts/{script}/deployments"
        ));
        let id = body["result"]["deployments"][0]["versions"][0]["version_id"]
            .as_str()?
            .to_owned();
        let version = self.get(&format!(
            "/accounts/{ACCOUNT}/workers/scripts/{script}/versions/{id}"
        ));
        version["result"]["annotations"]["workers/tag"]
            .as_str()
            .map(str::to_owned)
    }

    /// Calls the emulator's admin API (`/__emulator/...`, outside `/client/v4`); returns the body.
    pub fn admin(&self, method: &str, path: &str, body: Option<Value>) -> String {
        let root = self.base_url.trim_end_matches("/client/v4");
        let mut command = Command::new("curl");
        command
            .args(["-sS", "-X", method, "-H"])
            .arg(format!("Authorization: Bearer {TOKEN}"))
            .arg(format!("{root}{path}"));
        if let Some(body) = body {
            command
                .args(["-H", "Content-Type: application/json", "--data"])
                .arg(body.to_string());
        }
        let output = command.output().expect("curl runs");
        assert!(output.status.success(), "curl {method} {path}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// The emulator's request log (`GET /__emulator/requests`), oldest first: each entry's
    /// `method`, `path`, `status`, `seq`, `at`.
    pub fn request_log(&self) -> Vec<Value> {
        let text = self.admin("GET", "/__emulator/requests", None);
        let log: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        log["result"].as_array().cloned().unwrap_or_default()
    }

    pub fn env(&self, command: &mut Command) {
        command
            .env("CLOUDFLARE_API_BASE_URL", &self.base_url)
            .env("CLOUDFLARE_API_TOKEN", TOKEN)
            .env("CLOUDFLARE_ACCOUNT_ID", ACCOUNT);
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn sync(emulator: &Emulator, repo: &str, state: &Path) -> Output {
    let mut command = flaresync();
    command
        .args(["sync", "--repo", repo, "--state-dir"])
        .arg(state);
    emulator.env(&mut command);
    run(&mut command)
}

pub fn tags_are_unique(tags: &[String]) {
    let mut unique = tags.to_vec();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), tags.len(), "duplicate versions: {tags:?}");
}

/// A work clone pushing to a bare remote.
pub struct Remote {
    _dir: tempfile::TempDir,
    pub work: PathBuf,
    pub bare: PathBuf,
    pub state: PathBuf,
}

impl Remote {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let bare = dir.path().join("remote.git");
        let work = dir.path().join("work");
        std::fs::create_dir_all(&work).expect("mkdir");
        git(
            dir.path(),
            &["init", "-q", "--bare", "-b", "main", "remote.git"],
        );
        git(&work, &["init", "-q", "-b", "main"]);
        git(
            &work,
            &["remote", "add", "origin", bare.to_str().expect("utf-8")],
        );
        let state = dir.path().join("state");
        Remote {
            work,
            bare,
            state,
            _dir: dir,
        }
    }

    pub fn url(&self) -> String {
        format!("file://{}", self.bare.display())
    }

    pub fn push(&self, force: bool) {
        if force {
            git(&self.work, &["push", "-q", "--force", "origin", "main"]);
        } else {
            git(&self.work, &["push", "-q", "origin", "main"]);
        }
    }
}

/// The real wrangler CLI installed by `crates/flaresync-emulator/scripts/install-wrangler.sh`.
/// `None` (after a note) when it is missing and `FLARESYNC_SKIP_WRANGLER=1`; a missing wrangler
/// otherwise fails the test with what to run.
pub fn wrangler_entry() -> Option<PathBuf> {
    let cache = match std::env::var_os("FLARESYNC_CACHE") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join(".cache"),
    };
    let entry = cache.join("wrangler/node_modules/wrangler/bin/wrangler.js");
    if entry.exists() {
        return Some(entry);
    }
    if std::env::var("FLARESYNC_SKIP_WRANGLER").as_deref() == Ok("1") {
        eprintln!(
            "SKIPPED: wrangler is not installed at {} and FLARESYNC_SKIP_WRANGLER=1 is set; \
             run crates/flaresync-emulator/scripts/install-wrangler.sh to enable this test",
            entry.display()
        );
        return None;
    }
    panic!(
        "wrangler is not installed at {}: run crates/flaresync-emulator/scripts/install-wrangler.sh \
         first (scripts/test does), or set FLARESYNC_SKIP_WRANGLER=1 to skip this test",
        entry.display()
    );
}

/// Runs wrangler in `project` against `emulator`; panics with its output when it fails.
pub fn wrangler(entry: &Path, emulator: &Emulator, project: &Path, args: &[&str]) -> Output {
    let home = project.with_file_name("wrangler-home");
    std::fs::create_dir_all(&home).expect("wrangler home");
    let output = Command::new("node")
        .arg(entry)
        .args(args)
        .current_dir(project)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("CLOUDFLARE_API_BASE_URL", &emulator.base_url)
        .env("CLOUDFLARE_API_TOKEN", TOKEN)
        .env("CLOUDFLARE_ACCOUNT_ID", ACCOUNT)
        .env("CI", "true")
        .env("WRANGLER_SEND_METRICS", "false")
        .env("WRANGLER_SEND_ERROR_REPORTS", "false")
        .env("WRANGLER_HIDE_BANNER", "true")
        .env("npm_registry", "http://127.0.0.1:9/")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("node runs wrangler (is Node.js installed?)");
    let out = Output {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert_eq!(out.code, 0, "wrangler {args:?} failed:\n{}", out.all());
    out
}

/// The id of the emulator's seeded zone, `example.com`.
pub fn zone_id(emulator: &Emulator) -> String {
    let zones = emulator.get("/zones?name=example.com");
    zones["result"][0]["id"]
        .as_str()
        .expect("the seeded zone")
        .to_owned()
}

/// `(pattern, script)` of every route of the seeded zone, sorted.
pub fn routes(emulator: &Emulator) -> Vec<(String, String)> {
    let list = emulator.get(&format!("/zones/{}/workers/routes", zone_id(emulator)));
    let mut out: Vec<(String, String)> = list["result"]
        .as_array()
        .expect("routes")
        .iter()
        .map(|r| {
            let text = |key: &str| r[key].as_str().unwrap_or_default().to_owned();
            (text("pattern"), text("script"))
        })
        .collect();
    out.sort();
    out
}
