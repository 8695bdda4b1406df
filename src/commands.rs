//! Subcommand implementations: thin glue between the CLI arguments and the library crates.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use anyhow::{Context as _, anyhow, bail};
use flaresync_cloudflare::{Client, ClientConfig, Secret};
use flaresync_config::{DirTree, RepoConfig};
use flaresync_git::{Credentials, GitSource};
use flaresync_journal::{DeploymentRecord, Journal, VersionRecord};
use flaresync_reconcile::{
    Context, SyncOptions, TriggerSource, server::WebhookConfig, watcher::WatchConfig,
    webhook::WebhookSecret,
};

use crate::cli::{
    ApiArgs, EmulatorArgs, ExplainArgs, Format, HistoryArgs, PlanArgs, RepoArgs, RunArgs, SyncArgs,
    ValidateArgs,
};

/// Account id the emulator serves when none is given (32 hex, obviously fake).
pub const DEFAULT_EMULATOR_ACCOUNT: &str = "f1a2e5ec0000000000000000000000de";
/// Token the emulator accepts when none is given.
pub const DEFAULT_EMULATOR_TOKEN: &str = "emulator-token";

/// A known fix for an error, printed after it as `hint: ...`.
pub fn hint_for(error: &anyhow::Error) -> Option<&'static str> {
    let text = format!("{error:#}");
    if text.contains("CLOUDFLARE_API_TOKEN") {
        Some(
            "export CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID (as for wrangler); to try flaresync without an account run `flaresync demo`, or start `flaresync emulator` and export the CLOUDFLARE_API_BASE_URL, token and account it prints",
        )
    } else if text.contains("CLOUDFLARE_ACCOUNT_ID") {
        Some("export CLOUDFLARE_ACCOUNT_ID or set account_id in flaresync.toml")
    } else if text.contains("another flaresync") {
        Some("wait for it to finish, or give this one its own --state-dir")
    } else if text.contains("unknown revision") {
        Some(
            "use a branch, tag or commit of the repository (`git branch -a` lists them); for a remote --repo, branches are origin/<name>",
        )
    } else if text.contains("cannot listen on") {
        Some("pick another address with --status-listen (or --listen for the emulator)")
    } else {
        None
    }
}

// === emulator ===

pub async fn emulator(args: EmulatorArgs) -> anyhow::Result<u8> {
    let mut tokens = args.tokens.clone();
    // Which token to name in the banner: only the built-in default is printed (a token from
    // the command line or the environment may be a real one and is never echoed).
    let mut shown_token = "<one of the --token values>";
    if tokens.is_empty() {
        match std::env::var("CLOUDFLARE_API_TOKEN")
            .ok()
            .filter(|t| !t.is_empty())
        {
            Some(token) => {
                tokens.push(token);
                shown_token = "<your CLOUDFLARE_API_TOKEN>";
            }
            None => {
                tokens.push(DEFAULT_EMULATOR_TOKEN.to_owned());
                shown_token = DEFAULT_EMULATOR_TOKEN;
            }
        }
    }
    let account_id = args
        .account_id
        .clone()
        .or_else(|| {
            std::env::var("CLOUDFLARE_ACCOUNT_ID")
                .ok()
                .filter(|a| !a.is_empty())
        })
        .unwrap_or_else(|| DEFAULT_EMULATOR_ACCOUNT.to_owned());
    let mut config = flaresync_emulator::EmulatorConfig::new(account_id.clone(), tokens);
    config.state_dir = args.state.clone();
    config.version_window = args.version_window;
    config.rate_limit = flaresync_emulator::RateLimit {
        requests: args.rate_limit,
        window: Duration::from_secs(args.rate_limit_window_secs),
    };
    if let Some(dir) = &args.state {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the state directory {}", dir.display()))?;
    }
    let emulator =
        flaresync_emulator::Emulator::open(config).context("cannot open the emulator")?;
    let listener = tokio::net::TcpListener::bind(args.listen.as_str())
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    eprintln!("flaresync emulator listening on http://{addr}/client/v4 (account {account_id})");
    eprintln!(
        "point wrangler or flaresync at it:\n  export CLOUDFLARE_API_BASE_URL=http://{addr}/client/v4 CLOUDFLARE_ACCOUNT_ID={account_id} CLOUDFLARE_API_TOKEN={shown_token}"
    );
    emulator
        .serve(listener, flaresync_reconcile::shutdown_signal())
        .await
        .context("emulator stopped with an error")?;
    Ok(0)
}

// === validate ===

pub fn validate(args: ValidateArgs) -> anyhow::Result<u8> {
    match &args.rev {
        None => {
            if args.format != Format::Json {
                println!(
                    "validating the working tree of {} (uncommitted files included; sync and plan read commits: --rev HEAD checks what is committed)",
                    args.repo.display()
                );
            }
            validate_tree(&args, &DirTree::new(&args.repo))
        }
        Some(rev) => {
            let root = local_root(&args.repo)?;
            let git = git2::Repository::open(&root)
                .with_context(|| format!("cannot open the git repository {}", root.display()))?;
            let commit = git
                .revparse_single(rev)
                .and_then(|object| object.peel_to_commit())
                .map_err(|_| anyhow!("unknown revision {rev:?} in the config repository"))?;
            let tree = flaresync_git::CommitTree::new(&git, commit.id())
                .with_context(|| format!("cannot read the tree of {rev}"))?;
            if args.format != Format::Json {
                println!(
                    "validating commit {} ({rev})",
                    &commit.id().to_string()[..12]
                );
            }
            validate_tree(&args, &tree)
        }
    }
}

fn validate_tree(
    args: &ValidateArgs,
    tree: &dyn flaresync_config::SourceTree,
) -> anyhow::Result<u8> {
    let (repo_config, repo_warnings) = flaresync_config::load_repo_config(tree)
        .with_context(|| format!("invalid flaresync.toml in {}", args.repo.display()))?;
    let load = flaresync_config::load_all(tree, &repo_config);
    let mut failed = 0usize;
    let mut report = Vec::new();
    for (dir, result) in &load.workers {
        match result {
            Ok(loaded) => report.push(serde_json::json!({
                "dir": dir,
                "worker": loaded.spec.name,
                "ok": true,
                "digest": loaded.spec.digest(),
                "modules": loaded.spec.modules.len(),
                "bindings": loaded.spec.bindings.len(),
                "migrations": loaded.spec.migrations.iter().map(|m| m.tag.clone()).collect::<Vec<_>>(),
                "warnings": loaded.warnings,
            })),
            Err(error) => {
                failed += 1;
                report.push(serde_json::json!({"dir": dir, "ok": false, "error": error.to_string()}));
            }
        }
    }
    let warnings: Vec<_> = repo_warnings.iter().chain(load.warnings.iter()).collect();
    match args.format {
        Format::Json => {
            let out = serde_json::json!({"workers": report, "warnings": warnings, "skipped": load.skipped});
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        Format::Text | Format::Markdown => {
            for warning in &warnings {
                println!("warning: {warning}");
            }
            for (dir, result) in &load.workers {
                match result {
                    Ok(loaded) => {
                        println!(
                            "ok    {:<24} {} ({} module(s), {} binding(s), digest {})",
                            loaded.spec.name,
                            display_dir(dir),
                            loaded.spec.modules.len(),
                            loaded.spec.bindings.len(),
                            &loaded.spec.digest()[..12]
                        );
                        for warning in &loaded.warnings {
                            println!("      warning: {warning}");
                        }
                    }
                    Err(error) => println!("error {}: {error}", display_dir(dir)),
                }
            }
            for dir in &load.skipped {
                println!("skip  {} (skip = true in flaresync.toml)", display_dir(dir));
            }
            if load.workers.is_empty() {
                println!(
                    "no workers found under {} (a worker is a directory with wrangler.toml, wrangler.json or wrangler.jsonc)",
                    args.repo.display()
                );
            }
        }
    }
    Ok(if failed > 0 { 2 } else { 0 })
}

fn display_dir(dir: &str) -> &str {
    if dir.is_empty() { "." } else { dir }
}

// === explain ===

pub fn explain(args: ExplainArgs) -> anyhow::Result<u8> {
    match args.rule {
        Some(id) => {
            let rule = flaresync_plan::rule(&id)
                .ok_or_else(|| anyhow!("no rule {id:?}; `flaresync explain` lists all rules"))?;
            println!("{} {}: {}\n", rule.id(), rule.name(), rule.summary());
            println!("{}", rule.doc().trim_end());
        }
        None => {
            for rule in flaresync_plan::rules() {
                println!("{}  {:<34} {}", rule.id(), rule.name(), rule.summary());
            }
        }
    }
    Ok(0)
}

// === shared setup ===

/// Whether `repo` names a remote (URL or scp-like `user@host:path`) rather than a local path.
pub fn is_remote(repo: &str) -> bool {
    repo.contains("://") || (repo.contains('@') && repo.contains(':') && !Path::new(repo).exists())
}

/// The state directory (journal, lock, clone) of one config repository: `--state-dir`, else
/// one directory per repository under `$XDG_STATE_HOME/flaresync` (or `~/.local/state`), so two
/// repositories never share a journal.
pub fn state_dir(repo: &RepoArgs) -> PathBuf {
    if let Some(dir) = &repo.state_dir {
        return dir.clone();
    }
    let base = if let Some(dir) = std::env::var_os("XDG_STATE_HOME") {
        PathBuf::from(dir).join("flaresync")
    } else if let Some(home) = std::env::var_os("HOME") {
        PathBuf::from(home).join(".local/state/flaresync")
    } else {
        PathBuf::from(".flaresync")
    };
    base.join(repo_key(&repo.repo))
}

/// The journal of a repository's state directory.
pub fn journal_path(repo: &RepoArgs) -> PathBuf {
    state_dir(repo).join("journal.sqlite3")
}

/// A readable, filesystem-safe and stable name for a repository: its (credential-free) URL or
/// its root path, plus a short hash so different repositories with similar names never collide.
fn repo_key(repo: &str) -> String {
    use sha2::Digest as _;
    let identity = if is_remote(repo) {
        flaresync_git::source::redact_url(repo)
    } else {
        local_root(Path::new(repo))
            .ok()
            .and_then(|root| root.canonicalize().ok())
            .map(|root| root.display().to_string())
            .unwrap_or_else(|| repo.to_owned())
    };
    let readable: String = identity
        .rsplit(['/', '\\', ':'])
        .find(|part| !part.is_empty())
        .unwrap_or("repo")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    let hash = hex::encode(&sha2::Sha256::digest(identity.as_bytes())[..6]);
    format!("{readable}-{hash}")
}

/// Opens the git source the arguments name (cloning a remote into the state directory).
pub fn open_source(repo: &RepoArgs) -> anyhow::Result<GitSource> {
    if is_remote(&repo.repo) {
        let cache = state_dir(repo).join("clone");
        std::fs::create_dir_all(&cache)
            .with_context(|| format!("cannot create {}", cache.display()))?;
        let open = |branch: &str| -> anyhow::Result<GitSource> {
            let credentials =
                Credentials::from_env().context("invalid git credentials in the environment")?;
            GitSource::remote(&repo.repo, &cache, branch, credentials).with_context(|| {
                format!(
                    "cannot use the remote repository {}",
                    flaresync_git::source::redact_url(&repo.repo)
                )
            })
        };
        match &repo.branch {
            Some(branch) => open(branch),
            None => {
                // The branch the remote's HEAD names; flaresync.toml `branch` at that head may
                // still redirect (see `context`).
                let probe = open("main")?;
                let branch = probe.remote_default_branch().with_context(|| {
                    "cannot ask the remote for its default branch; pass --branch".to_owned()
                })?;
                drop(probe);
                open(&branch)
            }
        }
    } else {
        let root = local_root(Path::new(&repo.repo))?;
        let branch = match &repo.branch {
            Some(branch) => branch.clone(),
            None => local_branch(&root)?,
        };
        GitSource::open_local(&root, &branch)
            .with_context(|| format!("cannot open the git repository {}", root.display()))
    }
}

/// The repository holding `path`, searched upward like git does (so `--repo workers/api` or
/// running inside a worker directory works).
pub fn local_root(path: &Path) -> anyhow::Result<PathBuf> {
    if !path.exists() {
        bail!(
            "{} does not exist; pass --repo <path of the config repository>",
            path.display()
        );
    }
    let git = git2::Repository::discover(path).map_err(|_| {
        anyhow!(
            "{} is not inside a git repository; flaresync deploys what is committed: run `git init` and commit the config repository, or pass --repo <its path>",
            path.display()
        )
    })?;
    Ok(match git.workdir() {
        Some(workdir) => workdir.to_path_buf(),
        None => git.path().to_path_buf(),
    })
}

/// The branch to follow in a local repository: flaresync.toml `branch`, else HEAD's branch.
fn local_branch(path: &Path) -> anyhow::Result<String> {
    let git = git2::Repository::open(path)
        .with_context(|| format!("{} is not a git repository", path.display()))?;
    let configured = git.workdir().and_then(|workdir| {
        flaresync_config::load_repo_config(&DirTree::new(workdir))
            .ok()
            .and_then(|(config, _)| config.branch)
    });
    if let Some(branch) = configured {
        return Ok(branch);
    }
    let head = git
        .head()
        .context("the repository has no HEAD commit yet")?;
    head.shorthand()
        .ok()
        .filter(|name| *name != "HEAD")
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("HEAD is detached; pass --branch"))
}

/// Builds the API client: token from CLOUDFLARE_API_TOKEN, account from args or flaresync.toml.
pub fn client(api: &ApiArgs, repo_config: Option<&RepoConfig>) -> anyhow::Result<Client> {
    let token = std::env::var("CLOUDFLARE_API_TOKEN")
        .ok()
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| anyhow!("CLOUDFLARE_API_TOKEN is not set"))?;
    let account_id = api
        .account_id
        .clone()
        .or_else(|| repo_config.and_then(|c| c.account_id.clone()))
        .ok_or_else(|| anyhow!("no account id: CLOUDFLARE_ACCOUNT_ID is not set and flaresync.toml has no account_id"))?;
    if account_id.len() != 32 || !account_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!(
            "account id {account_id:?} is not a Cloudflare account id (32 hex characters); copy it from the dashboard (Workers & Pages, right column) or `wrangler whoami`"
        );
    }
    let config = ClientConfig::new(
        api.api_base_url.clone(),
        account_id,
        Secret::new(token.trim()),
    );
    Client::new(config).context("invalid Cloudflare API settings")
}

/// flaresync.toml at the branch head of `source`.
/// flaresync.toml at the branch head of `source`. The fetch this needs is undone for the
/// head classification (the previous head is restored), so the first pass still reports how
/// the branch moved (fast-forward, rewritten) since flaresync last looked.
pub fn head_repo_config(source: &mut GitSource) -> anyhow::Result<RepoConfig> {
    // A local branch is read directly; only a remote (whose clone holds no local branches,
    // only origin/* tracking refs) needs a fetch first.
    let local_head = source
        .repo()
        .find_branch(source.branch(), git2::BranchType::Local)
        .ok()
        .and_then(|branch| branch.get().peel_to_commit().ok())
        .map(|commit| commit.id());
    let head = match local_head {
        Some(head) => head,
        None => {
            let previous = source.last_head();
            let update = source.fetch().context("cannot read the branch head")?;
            source.set_last_head(previous.or(update.old));
            update.new
        }
    };
    let (config, warnings) = source
        .repo_config_at(head)
        .context("invalid flaresync.toml at the branch head")?;
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    Ok(config)
}

/// Held while a `sync` or `run` works on a state directory: two passes interleaving on one
/// journal would each see the other's fresh versions as strangers.
pub struct StateLock {
    _file: std::fs::File,
}

pub fn lock_state(dir: &Path) -> anyhow::Result<StateLock> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join("flaresync.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(StateLock { _file: file }),
        Err(std::fs::TryLockError::WouldBlock) => bail!(
            "another flaresync (sync or run) is using the state directory {}",
            dir.display()
        ),
        Err(std::fs::TryLockError::Error(error)) => {
            Err(error).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

pub fn context(repo: &RepoArgs, api: &ApiArgs) -> anyhow::Result<Context> {
    let mut source = open_source(repo)?;
    let mut repo_config = head_repo_config(&mut source)?;
    // Without --branch, flaresync.toml's `branch` (read at the default branch's head) decides.
    if repo.branch.is_none()
        && let Some(branch) = repo_config.branch.clone()
        && branch != source.branch()
    {
        let redirected = RepoArgs {
            branch: Some(branch),
            ..repo.clone()
        };
        source = open_source(&redirected)?;
        repo_config = head_repo_config(&mut source)?;
    }
    let client = client(api, Some(&repo_config))?;
    let dir = state_dir(repo);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let journal = journal_path(repo);
    // The head flaresync last acted on, so a reset or force-push since is reported as a
    // rewrite, also for local repositories and across restarts.
    if source.last_head().is_none()
        && let Ok(previous) = Journal::open(&journal)
        && let Ok(Some(commit)) = previous.last_commit()
        && let Ok(oid) = source.resolve_commit(&commit)
    {
        source.set_last_head(Some(oid));
    }
    Context::new(source, client, &journal, repo_config)
        .with_context(|| format!("cannot open the journal {}", journal.display()))
}

// === sync / run ===

pub async fn sync(args: SyncArgs) -> anyhow::Result<u8> {
    let _lock = lock_state(&state_dir(&args.repo))?;
    let ctx = context(&args.repo, &args.api)?;
    let report = flaresync_reconcile::sync_once(
        &ctx,
        SyncOptions {
            dry_run: args.dry_run,
            trigger: TriggerSource::Cli,
        },
    )
    .await
    .context("reconcile pass failed")?;
    print_report(&report, args.format)?;
    Ok(if args.dry_run {
        u8::try_from(flaresync_plan::exit_code(&report.plan)).unwrap_or(2)
    } else if report.converged() {
        0
    } else {
        2
    })
}

pub fn print_report(
    report: &flaresync_reconcile::SyncReport,
    format: Format,
) -> anyhow::Result<()> {
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(report)?),
        Format::Markdown => println!("{}", flaresync_plan::render_markdown(&report.plan)),
        Format::Text => {
            print!("{}", flaresync_plan::render_text(&report.plan));
            println!();
            for worker in &report.workers {
                println!("{}", worker_line(worker));
            }
        }
    }
    Ok(())
}

pub fn worker_line(worker: &flaresync_reconcile::WorkerReport) -> String {
    use flaresync_reconcile::WorkerOutcome;
    let outcome = match &worker.outcome {
        WorkerOutcome::InSync => "in sync".to_owned(),
        WorkerOutcome::Applied { version_id, .. } => match version_id {
            Some(version) => format!("applied, version {} live", short_id(version)),
            None => "applied".to_owned(),
        },
        WorkerOutcome::Planned => "planned (dry run)".to_owned(),
        WorkerOutcome::HeldForDrift => {
            "held: its deployment was changed outside flaresync (drift); \
             nothing was written. Set drift_policy = \"heal\" in flaresync.toml to restore Git's \
             version, or commit what is live"
                .to_owned()
        }
        WorkerOutcome::Blocked => "blocked (see the findings above)".to_owned(),
        WorkerOutcome::Skipped => "skipped".to_owned(),
        WorkerOutcome::Failed => "failed".to_owned(),
        WorkerOutcome::Removed => "removed from Git (left in place)".to_owned(),
    };
    let mut line = format!("{:<16} {outcome}", worker.worker);
    if let Some(error) = &worker.error
        && worker.outcome != WorkerOutcome::Blocked
    {
        line.push_str(&format!(": {} [{}]", error.message, error.reason));
    }
    for note in &worker.notes {
        line.push_str(&format!("\n{:<16} note: {note}", ""));
    }
    line
}

fn short_id(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

pub async fn run(args: RunArgs) -> anyhow::Result<u8> {
    let _lock = lock_state(&state_dir(&args.repo))?;
    let ctx = Arc::new(context(&args.repo, &args.api)?);
    let listener = tokio::net::TcpListener::bind(args.status_listen.as_str())
        .await
        .with_context(|| format!("cannot listen on {}", args.status_listen))?;
    let listener_addr = listener.local_addr()?;
    let webhook = std::env::var("FLARESYNC_WEBHOOK_SECRET")
        .ok()
        .filter(|s| !s.is_empty())
        .map(|secret| WebhookConfig {
            secret: WebhookSecret::new(secret.into_bytes()),
            branch: ctx.branch().to_owned(),
        });
    let watch = (!is_remote(&args.repo.repo)).then(|| WatchConfig {
        root: PathBuf::from(&args.repo.repo),
        debounce: Duration::from_millis(500),
        ignore: vec![state_dir(&args.repo)],
    });
    let config = flaresync_reconcile::RunConfig {
        poll_interval: Some(Duration::from_secs(if is_remote(&args.repo.repo) {
            args.poll_interval_secs
        } else {
            args.resync_interval_secs
        })),
        watch,
        status_listener: Some(listener),
        webhook,
        ..Default::default()
    };
    eprintln!(
        "flaresync: following {} branch {}; status on http://{}/status",
        flaresync_git::source::redact_url(&args.repo.repo),
        ctx.branch(),
        listener_addr
    );
    flaresync_reconcile::run(ctx, config, flaresync_reconcile::shutdown_signal())
        .await
        .context("the reconcile loop stopped")?;
    Ok(0)
}

// === history ===

pub async fn history(args: HistoryArgs) -> anyhow::Result<u8> {
    let journal_path = journal_path(&args.repo);
    let journal = Journal::open(&journal_path)
        .with_context(|| format!("cannot open the journal {}", journal_path.display()))?;
    let entries = journal.history(&args.worker)?;
    let (versions, deployments) = if args.offline {
        (Vec::new(), Vec::new())
    } else {
        let repo_config = open_source(&args.repo)
            .ok()
            .and_then(|mut source| head_repo_config(&mut source).ok());
        let client = client(&args.api, repo_config.as_ref())?;
        let versions = match client.list_versions(&args.worker).await {
            Ok(versions) => versions,
            Err(error) if error.is_not_found() => {
                let known: Vec<String> = client
                    .list_scripts()
                    .await
                    .map(|scripts| scripts.into_iter().map(|s| s.id).collect())
                    .unwrap_or_default();
                bail!(
                    "there is no Worker named {:?} on account {}; Workers there: {}",
                    args.worker,
                    client.account_id(),
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                );
            }
            Err(error) => {
                return Err(anyhow::Error::new(error))
                    .with_context(|| format!("cannot list the versions of {}", args.worker));
            }
        };
        let deployments = client
            .list_deployments(&args.worker)
            .await
            .with_context(|| format!("cannot list the deployments of {}", args.worker))?;
        (
            versions.iter().map(version_record).collect::<Vec<_>>(),
            deployments
                .iter()
                .map(deployment_record)
                .collect::<Vec<_>>(),
        )
    };
    if entries.is_empty() && versions.is_empty() {
        bail!(
            "nothing known about worker {:?}: no journal entries in {} and no versions on Cloudflare",
            args.worker,
            journal_path.display()
        );
    }
    let view = flaresync_journal::history_view(&args.worker, &entries, &versions, &deployments);
    print!("{}", flaresync_journal::render_history(&view));
    Ok(0)
}

fn parse_time(text: Option<&str>) -> Option<chrono::DateTime<chrono::Utc>> {
    text.and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&chrono::Utc))
}

pub fn version_record(version: &flaresync_cloudflare::VersionSummary) -> VersionRecord {
    VersionRecord {
        id: version.id.clone(),
        number: version.number,
        tag: version.annotations.tag.clone(),
        message: version.annotations.message.clone(),
        created_on: parse_time(version.metadata.created_on.as_deref()),
        source: version.metadata.source.clone(),
        triggered_by: version.annotations.triggered_by.clone(),
    }
}

pub fn deployment_record(deployment: &flaresync_cloudflare::Deployment) -> DeploymentRecord {
    DeploymentRecord {
        id: deployment.id.clone(),
        created_on: parse_time(deployment.created_on.as_deref()),
        source: deployment.source.clone(),
        versions: deployment
            .versions
            .iter()
            .map(|v| (v.version_id.clone(), v.percentage))
            .collect(),
        message: deployment.annotations.message.clone(),
        triggered_by: deployment.annotations.triggered_by.clone(),
        author_email: deployment.author_email.clone(),
    }
}

// === plan ===

pub async fn plan(args: PlanArgs) -> anyhow::Result<u8> {
    let output = crate::planning::plan_refs(&args).await?;
    let rendered = match args.format {
        Format::Markdown => flaresync_plan::render_markdown(&output),
        Format::Json => flaresync_plan::render_json(&output),
        Format::Text => flaresync_plan::render_text(&output),
    };
    println!("{}", rendered.trim_end());
    Ok(u8::try_from(flaresync_plan::exit_code(&output)).unwrap_or(2))
}
