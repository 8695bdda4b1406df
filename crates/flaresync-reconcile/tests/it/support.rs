//! Test support: a git repository of Workers built with the git CLI (fixed names and dates, so
//! runs are reproducible), and a Context wired to an in-process emulator.

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::Arc,
};

use flaresync_cloudflare::{Client, ClientConfig, Secret};
use flaresync_emulator::testing::TestEmulator;
use flaresync_reconcile::{
    Context, ContextOptions, SyncOptions, SyncReport, TriggerSource, sync_once,
};

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

    /// A repository holding a Worker per `(name, body)`, not yet committed.
    pub fn with_workers(workers: &[(&str, &str)]) -> Repo {
        let repo = Repo::new();
        for (name, body) in workers {
            repo.worker(name, body);
        }
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
    client_with(emulator, |_| {})
}

/// A client of the emulator whose configuration `configure` adjusts first.
pub fn client_with(emulator: &TestEmulator, configure: impl FnOnce(&mut ClientConfig)) -> Client {
    let mut config = ClientConfig::new(
        emulator.base_url(),
        emulator.account_id(),
        Secret::new(emulator.token()),
    );
    configure(&mut config);
    Client::new(config).expect("client config is valid")
}

/// The operator the tests' contexts name for CLI passes (the binary resolves `user@host`).
pub const OPERATOR: &str = "ops@laptop";

pub fn options() -> ContextOptions {
    ContextOptions {
        health_attempts: 1,
        health_interval: std::time::Duration::from_millis(10),
        operator: Some(OPERATOR.into()),
        ..ContextOptions::default()
    }
}

pub fn context(repo: &Repo, emulator: &TestEmulator, journal: &Path) -> Arc<Context> {
    context_with(repo, emulator, journal, |_| {})
}

/// [`context`] over a client whose configuration `configure` adjusts first.
pub fn context_with(
    repo: &Repo,
    emulator: &TestEmulator,
    journal: &Path,
    configure: impl FnOnce(&mut ClientConfig),
) -> Arc<Context> {
    context_with_client(repo, client_with(emulator, configure), journal)
}

/// A context like [`context`]'s, talking through `client`.
pub fn context_with_client(repo: &Repo, client: Client, journal: &Path) -> Arc<Context> {
    let source = flaresync_git::GitSource::open_local(repo.path(), "main").expect("repo opens");
    Arc::new(
        Context::with_options(
            source,
            client,
            journal,
            flaresync_config::RepoConfig::default(),
            options(),
        )
        .expect("context"),
    )
}

/// [`context`] over a client that does not retry: a scenario's own requeue has to.
pub fn context_without_retries(
    repo: &Repo,
    emulator: &TestEmulator,
    journal: &Path,
) -> Arc<Context> {
    context_with(repo, emulator, journal, |config| {
        config.retry.max_attempts = 1
    })
}

/// What most scenarios start from: the emulator, the repository, the state directory (removed
/// when dropped) and a context over it.
pub type Setup = (TestEmulator, Repo, tempfile::TempDir, Arc<Context>);

/// A fresh emulator and a first commit holding a Worker per `(name, body)`, opened with
/// [`context`].
pub async fn start(workers: &[(&str, &str)], message: &str) -> Setup {
    open(emulator().await, Repo::with_workers(workers), message)
}

/// Commits what `repo` holds and opens a context with [`context`] over a fresh state directory.
pub fn open(emulator: TestEmulator, repo: Repo, message: &str) -> Setup {
    open_with(emulator, repo, message, context)
}

/// [`open`] with the context opened by `open_context`.
pub fn open_with(
    emulator: TestEmulator,
    mut repo: Repo,
    message: &str,
    open_context: impl FnOnce(&Repo, &TestEmulator, &Path) -> Arc<Context>,
) -> Setup {
    repo.commit(message);
    let state = tempfile::tempdir().expect("tempdir");
    let ctx = open_context(&repo, &emulator, &journal_path(&state));
    (emulator, repo, state, ctx)
}

pub async fn emulator() -> TestEmulator {
    TestEmulator::start().await.expect("emulator starts")
}

/// `…/accounts/{account}{path}` of the emulator's API.
pub fn url(emulator: &TestEmulator, path: &str) -> String {
    format!(
        "{}/accounts/{}{path}",
        emulator.base_url(),
        emulator.account_id()
    )
}

/// `PUT …/scripts/{name}/secrets` as `wrangler secret put` does.
pub async fn put_secret(emulator: &TestEmulator, script: &str, name: &str, text: &str) {
    let response = reqwest::Client::new()
        .put(url(emulator, &format!("/workers/scripts/{script}/secrets")))
        .bearer_auth(emulator.token())
        .json(&serde_json::json!({"name": name, "text": text, "type": "secret_text"}))
        .send()
        .await
        .expect("request is sent");
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    assert!(status.is_success(), "secret put failed: {status} {body}");
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

/// A write as [`requests_since`] shows it: `POST …/workers/scripts/{script}/{what}`.
pub fn post(emulator: &TestEmulator, script: &str, what: &str) -> String {
    format!(
        "POST /accounts/{}/workers/scripts/{script}/{what}",
        emulator.account_id()
    )
}

/// The writes of an upload and its deployment: `POST …/versions`, then `POST …/deployments`.
pub fn upload_and_deploy(emulator: &TestEmulator, script: &str) -> Vec<String> {
    vec![
        post(emulator, script, "versions"),
        post(emulator, script, "deployments"),
    ]
}

/// How many versions the script has.
pub async fn version_count(ctx: &Context, script: &str) -> usize {
    ctx.client()
        .list_versions(script)
        .await
        .expect("lists")
        .len()
}

/// The script's active deployment, which it must have.
pub async fn active_deployment(ctx: &Context, script: &str) -> flaresync_cloudflare::Deployment {
    ctx.client()
        .active_deployment(script)
        .await
        .expect("reads deployments")
        .expect("has a deployment")
}

/// The report of Worker `name`, which the pass must have.
pub fn worker<'a>(
    report: &'a flaresync_reconcile::SyncReport,
    name: &str,
) -> &'a flaresync_reconcile::WorkerReport {
    report
        .workers
        .iter()
        .find(|w| w.worker == name)
        .unwrap_or_else(|| panic!("{name} is reported: {report:#?}"))
}

/// Awaits `pass` and returns its output with the writes the emulator received meanwhile.
pub async fn sent_by<T>(
    emulator: &TestEmulator,
    pass: impl std::future::Future<Output = T>,
) -> (T, Vec<String>) {
    let before = emulator.requests().len();
    let output = pass.await;
    (output, writes(&requests_since(emulator, before)))
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
    let kind = flaresync_emulator::FaultKind::Latency;
    flaresync_emulator::FaultSpec {
        latency_ms: Some(latency_ms),
        ..flaresync_emulator::FaultSpec::matching(method, path_regex, kind, count)
    }
}

/// The Workers named `w…` whose first upload (`PUT …/workers/scripts/{w}`) is in `requests`,
/// in order.
pub fn uploaded(requests: &[String], account: &str) -> Vec<String> {
    let prefix = format!("PUT /accounts/{account}/workers/scripts/");
    requests
        .iter()
        .filter_map(|request| request.strip_prefix(&prefix))
        .filter(|script| script.starts_with('w') && !script.contains('/'))
        .map(str::to_owned)
        .collect()
}

/// Polls the emulator's log (from `from`) until `done` holds for it, or fails after 60 s.
pub async fn wait_for_log(
    emulator: &TestEmulator,
    from: usize,
    what: &str,
    done: impl Fn(&[String]) -> bool,
) -> Vec<String> {
    for _ in 0..1200 {
        let log = requests_since(emulator, from);
        if done(&log) {
            return log;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

/// A request budget that takes minutes for hundreds of Workers: 5 requests a second, 2 of the
/// 6 burst tokens kept for rollbacks (so a long forward deploy is still under way when a
/// rollback comes in).
pub fn paced_budget() -> flaresync_cloudflare::BudgetConfig {
    flaresync_cloudflare::BudgetConfig {
        limit: 56,
        window: std::time::Duration::from_secs(10),
        burst: 6,
        server_reserve: 0,
        rollback_reserve: 2,
        sized_for: None,
    }
}

/// A pass that applies, as `flaresync sync` starts it.
pub fn apply() -> SyncOptions {
    SyncOptions {
        dry_run: false,
        trigger: TriggerSource::Cli,
    }
}

/// One applying pass, which must run (its report may still say a Worker failed).
pub async fn sync(ctx: &Context) -> SyncReport {
    sync_once(ctx, apply()).await.expect("the pass runs")
}

/// What on call does with `wrangler rollback` or `wrangler versions deploy` by hand.
pub async fn deploy_by_hand(
    ctx: &Context,
    script: &str,
    deployment: flaresync_cloudflare::NewDeployment,
) {
    ctx.client()
        .create_deployment(script, &deployment, false)
        .await
        .expect("the hand-made deployment is accepted");
}
