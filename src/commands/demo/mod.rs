//! `flaresync demo`: the main job on the embedded default, with no Cloudflare account.
//!
//! 1. starts the emulator (in-process, on loopback);
//! 2. creates the KV namespaces, R2 bucket and queue the example Workers bind;
//! 3. writes the example config repository (examples/demo-repo, embedded in the binary) into a
//!    directory and commits it with git;
//! 4. reconciles: three Workers deployed (demo-api by script upload, it carries a DO migration);
//! 5. commits a change and reconciles: a new version, deployed;
//! 6. `git revert`s it and reconciles: a rollback to the existing version, no upload (with
//!    workerd installed, demo-api's HTTP answers show each step: hello, howdy, hello again);
//! 7. commits a new Durable Object migration, then reverts it: the rollback is blocked, and
//!    flaresync explains why and what to write instead;
//! 9. (with the data plane) a commit gives demo-auth a rollout strategy and a bug on 20% of
//!    requests: the canary at 10% is analysed on the demo's traffic and aborted, demo-auth is
//!    back on stable, and the revert branch exists.

mod emulator;
mod repo;
mod rollout;
mod traffic;

use std::path::PathBuf;

use anyhow::{Context as _, anyhow, bail};
use flaresync_cloudflare::{Client, ClientConfig, Secret};
use flaresync_git::GitSource;
use flaresync_reconcile::{Context, SyncOptions, SyncReport, TriggerSource, WorkerOutcome};
use git2::Repository;

use self::{
    emulator::LocalCloudflare,
    repo::{Author, FILES, commit_all, revert_head, write},
    traffic::Web,
};
use crate::{
    cli::DemoArgs,
    settings::{DEFAULT_EMULATOR_ACCOUNT, DEFAULT_EMULATOR_TOKEN},
};

/// The Worker config the demo's commits change.
const API_CONFIG: &str = "workers/api/wrangler.toml";

pub async fn run(args: DemoArgs) -> anyhow::Result<u8> {
    let scratch = tempfile::tempdir().context("cannot create a temporary directory")?;
    let repo_dir = repo_dir(&args, scratch.path())?;

    // 1. The emulator, and the resources the Workers bind.
    let listen = args.keep_serving.as_deref().unwrap_or("127.0.0.1:0");
    let cloudflare = LocalCloudflare::start(listen, &scratch.path().join("emulator")).await?;
    section(&format!(
        "1. Emulator of the Cloudflare API on {}",
        cloudflare.base_url
    ));
    let resources = cloudflare.create_resources().await?;
    println!(
        "created KV namespaces CACHE={} SESSIONS={}, R2 bucket demo-uploads, queue demo-jobs",
        resources.kv_cache, resources.kv_sessions
    );

    // 2-3. The config repository, deployed.
    let demo = Demo::create(&repo_dir, &resources, &cloudflare.base_url, scratch.path())?;
    section("3. flaresync sync: first deploy (demo-auth before demo-api: service binding)");
    let report = sync(&demo.ctx).await?;
    expect_applied(&report, &["demo-api", "demo-auth", "demo-jobs"])?;
    let web = Web::new(cloudflare.data, &cloudflare.subdomain);
    web.show("demo-api", "hello").await;

    let mut demo = demo;
    demo.web = web;
    demo.forward_then_revert().await?;
    demo.migration_then_blocked_revert().await?;
    demo.history().await?;
    demo.rollout_aborted().await?;

    println!();
    println!(
        "Done: a revert became a rollback, and a revert across a Durable Object migration was refused with its reason."
    );
    if args.keep_serving.is_some() {
        println!(
            "The emulator keeps serving on http://{}/client/v4 (token {DEFAULT_EMULATOR_TOKEN}, account {DEFAULT_EMULATOR_ACCOUNT}); Ctrl-C to stop.",
            cloudflare.addr
        );
        flaresync_reconcile::shutdown_signal().await;
    }
    cloudflare.stop().await;
    match &args.dir {
        Some(_) => println!("The config repository is kept in {}.", repo_dir.display()),
        None => println!(
            "The config repository and the emulator were temporary: `flaresync demo --dir DIR` keeps the repository, `--keep-serving 127.0.0.1:8788` keeps the emulator running to explore with wrangler or `flaresync history`."
        ),
    }
    Ok(0)
}

/// `--dir` (which must be empty or new), else a directory in `scratch`.
fn repo_dir(args: &DemoArgs, scratch: &std::path::Path) -> anyhow::Result<PathBuf> {
    let dir = match &args.dir {
        Some(dir) => {
            if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
                bail!(
                    "{} is not empty; pass an empty or new directory to --dir",
                    dir.display()
                );
            }
            dir.clone()
        }
        None => scratch.join("config-repo"),
    };
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// The demo's repository and the flaresync context deploying it.
struct Demo {
    repo_dir: PathBuf,
    repo: Repository,
    author: Author,
    client: Client,
    ctx: Context,
    first: git2::Oid,
    /// The deployed Workers' HTTP answers (data plane).
    web: Web,
}

impl Demo {
    /// Writes and commits the example repository; a context over it with its journal in
    /// `scratch`.
    fn create(
        repo_dir: &std::path::Path,
        resources: &emulator::Resources,
        base_url: &str,
        scratch: &std::path::Path,
    ) -> anyhow::Result<Self> {
        let mut author = Author {
            seconds: 1_767_225_600,
        }; // 2026-01-01T00:00:00Z
        let repo = Repository::init_opts(
            repo_dir,
            git2::RepositoryInitOptions::new().initial_head("main"),
        )
        .with_context(|| format!("cannot create a git repository in {}", repo_dir.display()))?;
        for (path, content) in FILES {
            let content = content
                .replace("{{KV_CACHE}}", &resources.kv_cache)
                .replace("{{KV_SESSIONS}}", &resources.kv_sessions);
            write(repo_dir, path, &content)?;
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
            base_url,
            DEFAULT_EMULATOR_ACCOUNT,
            Secret::new(DEFAULT_EMULATOR_TOKEN),
        ))?;
        let source = GitSource::open_local(repo_dir, "main")?;
        let (repo_config, _) =
            flaresync_config::load_repo_config(&flaresync_config::DirTree::new(repo_dir))?;
        let journal = scratch.join("journal.sqlite3");
        let ctx = Context::new(source, client.clone(), &journal, repo_config)?;
        Ok(Demo {
            repo_dir: repo_dir.to_owned(),
            repo,
            author,
            client,
            ctx,
            first,
            web: Web::new(None, ""),
        })
    }

    fn read(&self, path: &str) -> anyhow::Result<String> {
        std::fs::read_to_string(self.repo_dir.join(path))
            .with_context(|| format!("cannot read {path}"))
    }

    /// Steps 4-5: a change goes forward, then its `git revert` is a rollback, no upload.
    async fn forward_then_revert(&mut self) -> anyhow::Result<()> {
        let original = self.read(API_CONFIG)?;
        let changed = original.replace("GREETING = \"hello\"", "GREETING = \"howdy\"");
        write(&self.repo_dir, API_CONFIG, &changed)?;
        let change = commit_all(&self.repo, &mut self.author, "api: greet with howdy")?;
        section(&format!(
            "4. Commit {} 'api: greet with howdy' -> a new version",
            short(&change)
        ));
        let report = sync(&self.ctx).await?;
        expect_applied(&report, &["demo-api"])?;
        self.web.show("demo-api", "howdy").await;
        let versions_before = self.client.list_versions("demo-api").await?.len();

        let revert = revert_head(&self.repo, &mut self.author)?;
        section(&format!(
            "5. git revert {} (commit {}) -> rollback to the version of {}, no upload",
            short(&change),
            short(&revert),
            short(&self.first)
        ));
        let report = sync(&self.ctx).await?;
        expect_applied(&report, &["demo-api"])?;
        let versions_after = self.client.list_versions("demo-api").await?.len();
        self.web.show("demo-api", "hello").await;
        println!(
            "demo-api versions on Cloudflare: {versions_before} before the revert, {versions_after} after (nothing uploaded)"
        );
        if versions_after != versions_before {
            bail!("the revert uploaded a new version instead of rolling back");
        }
        Ok(())
    }

    /// Steps 6-7: a Durable Object migration goes forward; its revert is blocked, explained.
    async fn migration_then_blocked_revert(&mut self) -> anyhow::Result<()> {
        let with_migration = self.read(API_CONFIG)?.replace(
            "bindings = [{ name = \"COUNTER\", class_name = \"Counter\" }]",
            "bindings = [\n  { name = \"COUNTER\", class_name = \"Counter\" },\n  { name = \"LIMITER\", class_name = \"RateLimiter\" },\n]",
        ) + "\n[[migrations]]\ntag = \"v2\"\nnew_sqlite_classes = [\"RateLimiter\"]\n";
        write(&self.repo_dir, API_CONFIG, &with_migration)?;
        let bundle = "workers/api/dist/index.js";
        let code = self.read(bundle)?;
        write(
            &self.repo_dir,
            bundle,
            &format!(
                "{code}\nexport class RateLimiter {{\n  async fetch() {{\n    return new Response(\"ok\");\n  }}\n}}\n"
            ),
        )?;
        let migration = commit_all(
            &self.repo,
            &mut self.author,
            "api: add RateLimiter Durable Object (migration v2)",
        )?;
        section(&format!(
            "6. Commit {} adds DO migration v2 -> script upload applies it",
            short(&migration)
        ));
        let report = sync(&self.ctx).await?;
        expect_applied(&report, &["demo-api"])?;

        let blocked_revert = revert_head(&self.repo, &mut self.author)?;
        section(&format!(
            "7. git revert {} (commit {}) -> blocked: migrations are forward-only",
            short(&migration),
            short(&blocked_revert)
        ));
        let report = sync(&self.ctx).await?;
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
        Ok(())
    }

    /// Step 8: `flaresync history demo-api`.
    async fn history(&self) -> anyhow::Result<()> {
        section("8. flaresync history demo-api");
        let entries = self.ctx.journal().history("demo-api")?;
        let versions = self.client.list_versions("demo-api").await?;
        let deployments = self.client.list_deployments("demo-api").await?;
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
        Ok(())
    }
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
