//! `flaresync demo`: the main job on the embedded default, with no Cloudflare account.
//!
//! 1. starts the emulator (in-process, on loopback);
//! 2. creates the KV namespaces, R2 bucket and queue the example Workers bind;
//! 3. writes the example config repository (examples/demo-repo, embedded in the binary) into a
//!    directory and commits it with git;
//! 4. reconciles: three Workers deployed (demo-api by script upload, it carries a DO migration);
//! 5. commits a change and reconciles: a new version, deployed;
//! 6. `git revert`s it and reconciles: a rollback to the existing version, no upload;
//! 7. commits a new Durable Object migration, then reverts it: the rollback is blocked, and
//!    flaresync explains why and what to write instead.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context as _, anyhow, bail};
use flaresync_cloudflare::{Client, ClientConfig, Secret};
use flaresync_git::GitSource;
use flaresync_reconcile::{Context, SyncOptions, SyncReport, TriggerSource, WorkerOutcome};
use git2::{Repository, Signature, Time};

use crate::{
    cli::DemoArgs,
    settings::{DEFAULT_EMULATOR_ACCOUNT, DEFAULT_EMULATOR_TOKEN},
};

/// The example repository, embedded so `flaresync demo` works from any directory.
const FILES: &[(&str, &str)] = &[
    (
        "flaresync.toml",
        include_str!("../../examples/demo-repo/flaresync.toml"),
    ),
    (
        "workers/api/wrangler.toml",
        include_str!("../../examples/demo-repo/workers/api/wrangler.toml"),
    ),
    (
        "workers/api/dist/index.js",
        include_str!("../../examples/demo-repo/workers/api/dist/index.js"),
    ),
    (
        "workers/auth/wrangler.jsonc",
        include_str!("../../examples/demo-repo/workers/auth/wrangler.jsonc"),
    ),
    (
        "workers/auth/dist/index.js",
        include_str!("../../examples/demo-repo/workers/auth/dist/index.js"),
    ),
    (
        "workers/jobs/wrangler.toml",
        include_str!("../../examples/demo-repo/workers/jobs/wrangler.toml"),
    ),
    (
        "workers/jobs/dist/index.js",
        include_str!("../../examples/demo-repo/workers/jobs/dist/index.js"),
    ),
];

/// Fixed author and clock, so the demo's commit ids are the same on every machine.
struct Author {
    seconds: i64,
}

impl Author {
    fn next(&mut self) -> anyhow::Result<Signature<'static>> {
        self.seconds += 60;
        Ok(Signature::new(
            "Dana Developer",
            "dana@example.com",
            &Time::new(self.seconds, 0),
        )?)
    }
}

pub async fn run(args: DemoArgs) -> anyhow::Result<u8> {
    let scratch = tempfile::tempdir().context("cannot create a temporary directory")?;
    let repo_dir = match &args.dir {
        Some(dir) => {
            if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
                bail!(
                    "{} is not empty; pass an empty or new directory to --dir",
                    dir.display()
                );
            }
            dir.clone()
        }
        None => scratch.path().join("config-repo"),
    };
    std::fs::create_dir_all(&repo_dir)?;

    // 1. The emulator.
    let listen = args
        .keep_serving
        .clone()
        .unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let listener = tokio::net::TcpListener::bind(listen.as_str())
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    let mut config = flaresync_emulator::EmulatorConfig::new(
        DEFAULT_EMULATOR_ACCOUNT,
        vec![DEFAULT_EMULATOR_TOKEN.to_owned()],
    );
    config.state_dir = Some(scratch.path().join("emulator"));
    std::fs::create_dir_all(scratch.path().join("emulator"))?;
    let emulator =
        flaresync_emulator::Emulator::open(config).context("cannot start the emulator")?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(emulator.serve(listener, async move {
        let _ = stopped.await;
    }));
    let base_url = format!("http://{addr}/client/v4");
    section(&format!("1. Emulator of the Cloudflare API on {base_url}"));

    // 2. The resources the Workers bind.
    let http = reqwest::Client::new();
    let account = format!("{base_url}/accounts/{DEFAULT_EMULATOR_ACCOUNT}");
    let kv_cache = create(
        &http,
        &format!("{account}/storage/kv/namespaces"),
        serde_json::json!({"title": "demo-CACHE"}),
        "id",
    )
    .await?;
    let kv_sessions = create(
        &http,
        &format!("{account}/storage/kv/namespaces"),
        serde_json::json!({"title": "demo-SESSIONS"}),
        "id",
    )
    .await?;
    create(
        &http,
        &format!("{account}/r2/buckets"),
        serde_json::json!({"name": "demo-uploads"}),
        "name",
    )
    .await?;
    create(
        &http,
        &format!("{account}/queues"),
        serde_json::json!({"queue_name": "demo-jobs"}),
        "queue_name",
    )
    .await?;
    println!(
        "created KV namespaces CACHE={kv_cache} SESSIONS={kv_sessions}, R2 bucket demo-uploads, queue demo-jobs"
    );

    // 3. The config repository.
    let mut author = Author {
        seconds: 1_767_225_600,
    }; // 2026-01-01T00:00:00Z
    let repo = Repository::init_opts(
        &repo_dir,
        git2::RepositoryInitOptions::new().initial_head("main"),
    )
    .with_context(|| format!("cannot create a git repository in {}", repo_dir.display()))?;
    for (path, content) in FILES {
        let content = content
            .replace("{{KV_CACHE}}", &kv_cache)
            .replace("{{KV_SESSIONS}}", &kv_sessions);
        write(&repo_dir, path, &content)?;
    }
    let first = commit_all(&repo, &mut author, "Add demo-api, demo-auth and demo-jobs")?;
    section(&format!(
        "2. Config repository {} (commit {})",
        repo_dir.display(),
        short(&first)
    ));
    for (path, _) in FILES {
        println!("  {path}");
    }

    let client = Client::new(ClientConfig::new(
        base_url.clone(),
        DEFAULT_EMULATOR_ACCOUNT,
        Secret::new(DEFAULT_EMULATOR_TOKEN),
    ))?;
    let source = GitSource::open_local(&repo_dir, "main")?;
    let (repo_config, _) =
        flaresync_config::load_repo_config(&flaresync_config::DirTree::new(&repo_dir))?;
    let journal = scratch.path().join("journal.sqlite3");
    let ctx = Context::new(source, client.clone(), &journal, repo_config)?;

    section("3. flaresync sync: first deploy (demo-auth before demo-api: service binding)");
    let report = sync(&ctx).await?;
    expect_applied(&report, &["demo-api", "demo-auth", "demo-jobs"])?;

    // 4. A change goes forward.
    let api_config = "workers/api/wrangler.toml";
    let original = std::fs::read_to_string(repo_dir.join(api_config))?;
    write(
        &repo_dir,
        api_config,
        &original.replace("GREETING = \"hello\"", "GREETING = \"howdy\""),
    )?;
    let change = commit_all(&repo, &mut author, "api: greet with howdy")?;
    section(&format!(
        "4. Commit {} 'api: greet with howdy' -> a new version",
        short(&change)
    ));
    let report = sync(&ctx).await?;
    expect_applied(&report, &["demo-api"])?;
    let versions_before = client.list_versions("demo-api").await?.len();

    // 5. git revert -> rollback.
    let revert = revert_head(&repo, &mut author)?;
    section(&format!(
        "5. git revert {} (commit {}) -> rollback to the version of {}, no upload",
        short(&change),
        short(&revert),
        short(&first)
    ));
    let report = sync(&ctx).await?;
    expect_applied(&report, &["demo-api"])?;
    let versions_after = client.list_versions("demo-api").await?.len();
    println!(
        "demo-api versions on Cloudflare: {versions_before} before the revert, {versions_after} after (nothing uploaded)"
    );
    if versions_after != versions_before {
        bail!("the revert uploaded a new version instead of rolling back");
    }

    // 6. A Durable Object migration, then its revert: blocked.
    let with_migration = std::fs::read_to_string(repo_dir.join(api_config))?
        .replace(
            "bindings = [{ name = \"COUNTER\", class_name = \"Counter\" }]",
            "bindings = [\n  { name = \"COUNTER\", class_name = \"Counter\" },\n  { name = \"LIMITER\", class_name = \"RateLimiter\" },\n]",
        )
        + "\n[[migrations]]\ntag = \"v2\"\nnew_sqlite_classes = [\"RateLimiter\"]\n";
    write(&repo_dir, api_config, &with_migration)?;
    let bundle = "workers/api/dist/index.js";
    let code = std::fs::read_to_string(repo_dir.join(bundle))?;
    write(
        &repo_dir,
        bundle,
        &format!(
            "{code}\nexport class RateLimiter {{\n  async fetch() {{\n    return new Response(\"ok\");\n  }}\n}}\n"
        ),
    )?;
    let migration = commit_all(
        &repo,
        &mut author,
        "api: add RateLimiter Durable Object (migration v2)",
    )?;
    section(&format!(
        "6. Commit {} adds DO migration v2 -> script upload applies it",
        short(&migration)
    ));
    let report = sync(&ctx).await?;
    expect_applied(&report, &["demo-api"])?;

    let blocked_revert = revert_head(&repo, &mut author)?;
    section(&format!(
        "7. git revert {} (commit {}) -> blocked: migrations are forward-only",
        short(&migration),
        short(&blocked_revert)
    ));
    let report = sync(&ctx).await?;
    let api = report
        .workers
        .iter()
        .find(|w| w.worker == "demo-api")
        .ok_or_else(|| anyhow!("demo-api missing from the report"))?;
    if api.outcome != WorkerOutcome::Blocked {
        bail!(
            "expected the revert of a migration to be blocked, got {:?}",
            api.outcome
        );
    }

    section("8. flaresync history demo-api");
    let entries = ctx.journal().history("demo-api")?;
    let versions = client.list_versions("demo-api").await?;
    let deployments = client.list_deployments("demo-api").await?;
    let view = flaresync_journal::history_view(
        "demo-api",
        &entries,
        &versions
            .iter()
            .map(super::history::version_record)
            .collect::<Vec<_>>(),
        &deployments
            .iter()
            .map(super::history::deployment_record)
            .collect::<Vec<_>>(),
    );
    print!("{}", flaresync_journal::render_history(&view));

    println!();
    println!(
        "Done: a revert became a rollback, and a revert across a Durable Object migration was refused with its reason."
    );
    if args.keep_serving.is_some() {
        println!(
            "The emulator keeps serving on http://{addr}/client/v4 (token {DEFAULT_EMULATOR_TOKEN}, account {DEFAULT_EMULATOR_ACCOUNT}); Ctrl-C to stop."
        );
        flaresync_reconcile::shutdown_signal().await;
    }
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    match &args.dir {
        Some(_) => println!("The config repository is kept in {}.", repo_dir.display()),
        None => println!(
            "The config repository and the emulator were temporary: `flaresync demo --dir DIR` keeps the repository, `--keep-serving 127.0.0.1:8788` keeps the emulator running to explore with wrangler or `flaresync history`."
        ),
    }
    Ok(0)
}

fn section(title: &str) {
    println!("\n=== {title}");
}

fn short(oid: &git2::Oid) -> String {
    oid.to_string()[..7].to_owned()
}

async fn sync(ctx: &Context) -> anyhow::Result<SyncReport> {
    let report = flaresync_reconcile::sync_once(
        ctx,
        SyncOptions {
            dry_run: false,
            trigger: TriggerSource::Cli,
        },
    )
    .await
    .context("reconcile pass failed")?;
    print!("{}", flaresync_plan::render_text(&report.plan));
    println!("result:");
    for worker in &report.workers {
        println!("  {}", super::sync::worker_line(worker));
    }
    Ok(report)
}

fn expect_applied(report: &SyncReport, workers: &[&str]) -> anyhow::Result<()> {
    for name in workers {
        let worker = report
            .workers
            .iter()
            .find(|w| w.worker == *name)
            .ok_or_else(|| anyhow!("{name} missing from the report"))?;
        if !matches!(worker.outcome, WorkerOutcome::Applied { .. }) {
            bail!(
                "expected {name} to be applied, got {:?}: {:?}",
                worker.outcome,
                worker.error
            );
        }
    }
    Ok(())
}

async fn create(
    http: &reqwest::Client,
    url: &str,
    body: serde_json::Value,
    field: &str,
) -> anyhow::Result<String> {
    let response = http
        .post(url)
        .bearer_auth(DEFAULT_EMULATOR_TOKEN)
        .json(&body)
        .send()
        .await
        .with_context(|| format!("POST {url}"))?;
    let status = response.status();
    let value: serde_json::Value = response
        .json()
        .await
        .with_context(|| format!("POST {url}: not JSON"))?;
    value["result"][field]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("POST {url} answered {status}: {value}"))
}

fn write(root: &Path, path: &str, content: &str) -> anyhow::Result<()> {
    let full: PathBuf = root.join(path);
    if let Some(parent) = full.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&full, content).with_context(|| format!("cannot write {}", full.display()))
}

fn commit_all(repo: &Repository, author: &mut Author, message: &str) -> anyhow::Result<git2::Oid> {
    let mut index = repo.index()?;
    index.add_all(["*"], git2::IndexAddOption::DEFAULT, None)?;
    index.write()?;
    let tree = repo.find_tree(index.write_tree()?)?;
    let signature = author.next()?;
    let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
    let parents: Vec<&git2::Commit> = parent.iter().collect();
    Ok(repo.commit(
        Some("HEAD"),
        &signature,
        &signature,
        message,
        &tree,
        &parents,
    )?)
}

/// `git revert HEAD`, with git's message, applied to the working tree too.
fn revert_head(repo: &Repository, author: &mut Author) -> anyhow::Result<git2::Oid> {
    let head = repo.head()?.peel_to_commit()?;
    let mut index = repo.revert_commit(&head, &head.parent(0)?, 0, None)?;
    if index.has_conflicts() {
        bail!("reverting {} conflicts", head.id());
    }
    let tree = repo.find_tree(index.write_tree_to(repo)?)?;
    let signature = author.next()?;
    let subject = head.summary().ok().flatten().unwrap_or_default().to_owned();
    let message = format!(
        "Revert \"{subject}\"\n\nThis reverts commit {}.\n",
        head.id()
    );
    let id = repo.commit(
        Some("HEAD"),
        &signature,
        &signature,
        &message,
        &tree,
        &[&head],
    )?;
    repo.checkout_head(Some(git2::build::CheckoutBuilder::new().force()))?;
    Ok(id)
}
