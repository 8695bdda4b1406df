//! Opening the config repository a command works on: the Git source at its followed branch,
//! `flaresync.toml` at the branch head, and the reconcile context over both.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow};
use flaresync_config::{DirTree, RepoConfig};
use flaresync_git::{Credentials, GitSource};
use flaresync_reconcile::{Context, ContextOptions};

use crate::lock::private_state_dir;
use crate::settings::{ApiSettings, RepoSettings};

/// The repository opened at its followed branch, with the `flaresync.toml` of the branch head.
pub struct Opened {
    pub source: GitSource,
    pub repo_config: RepoConfig,
    /// The settings, with the branch `flaresync.toml` redirected to.
    pub repo: RepoSettings,
}

impl Opened {
    /// Opens the repository. Without `--branch`, flaresync.toml's `branch` (read at the
    /// default branch's head) decides which branch is followed.
    pub fn open(repo: &RepoSettings) -> anyhow::Result<Self> {
        let mut source = open_source(repo)?;
        let repo_config = head_repo_config(&mut source)?;
        if repo.branch.is_none()
            && let Some(branch) = repo_config.branch.clone()
            && branch != source.branch()
        {
            let redirected = repo.with_branch(branch);
            let mut source = open_source(&redirected)?;
            let repo_config = head_repo_config(&mut source)?;
            return Ok(Opened {
                source,
                repo_config,
                repo: redirected,
            });
        }
        Ok(Opened {
            source,
            repo_config,
            repo: repo.clone(),
        })
    }

    /// The reconcile context over this repository: the API client, and the journal of its state
    /// directory (created if missing).
    pub fn context(self, api: &ApiSettings) -> anyhow::Result<Context> {
        self.context_with(api, ContextOptions::default())
    }

    /// [`Opened::context`] with explicit tunables (`run`'s refresh settings).
    pub fn context_with(
        self,
        api: &ApiSettings,
        options: ContextOptions,
    ) -> anyhow::Result<Context> {
        let Opened {
            mut source,
            repo_config,
            repo,
        } = self;
        let client = api.client(Some(&repo_config))?;
        private_state_dir(&repo.state_dir)?;
        let journal = repo.open_journal(Some(&repo_config))?;
        // A shared PostgreSQL journal keeps each (repository, account) pair's entries apart,
        // under the same name as its lease.
        let journal = if journal.has_leases() {
            let scope =
                flaresync_journal::lease::scope_name(&repo.lease_name(), client.account_id());
            journal.scoped(scope)
        } else {
            journal
        };
        // The head flaresync last acted on, so a reset or force-push since is reported as a
        // rewrite, also for local repositories and across restarts.
        if source.last_head().is_none()
            && let Ok(Some(commit)) = journal.last_commit()
            && let Ok(oid) = source.resolve_commit(&commit)
        {
            source.set_last_head(Some(oid));
        }
        // Facts of this process and its environment, resolved once for every command.
        let record = api.state_record(&repo_config);
        let options = ContextOptions {
            operator: crate::settings::operator(),
            github: crate::settings::github(),
            state_record: record.title,
            state_record_min_workers: record.min_workers,
            ..options
        };
        Ok(Context::with_journal(
            source,
            client,
            journal,
            repo_config,
            options,
        ))
    }
}

/// Opens the git source the settings name (cloning a remote into the state directory).
pub fn open_source(repo: &RepoSettings) -> anyhow::Result<GitSource> {
    if !repo.remote {
        let root = local_root(Path::new(&repo.location))?;
        let branch = match &repo.branch {
            Some(branch) => branch.clone(),
            None => local_branch(&root)?,
        };
        return GitSource::open_local(&root, &branch)
            .with_context(|| format!("cannot open the git repository {}", root.display()));
    }
    let cache = repo.clone_dir();
    private_state_dir(&repo.state_dir)?;
    private_state_dir(&cache)?;
    let open = |branch: &str| -> anyhow::Result<GitSource> {
        let credentials =
            Credentials::from_env().context("invalid git credentials in the environment")?;
        GitSource::remote(&repo.location, &cache, branch, credentials)
            .with_context(|| format!("cannot use the remote repository {}", repo.display()))
    };
    match &repo.branch {
        Some(branch) => open(branch),
        None => {
            // The branch the remote's HEAD names; flaresync.toml `branch` at that head may
            // still redirect (see [`Opened::open`]).
            let probe = open("main")?;
            let branch = probe
                .remote_default_branch()
                .context("cannot ask the remote for its default branch; pass --branch")?;
            drop(probe);
            open(&branch)
        }
    }
}

/// The repository holding `path`, searched upward like git does (so `--repo workers/api` or
/// running inside a worker directory works).
pub fn local_root(path: &Path) -> anyhow::Result<PathBuf> {
    if !path.exists() {
        anyhow::bail!(
            "{} does not exist; pass --repo <path of the config repository>",
            display_path(path)
        );
    }
    let git = git2::Repository::discover(path).map_err(|_| {
        anyhow!(
            "{} is not inside a git repository; flaresync deploys what is committed: run `git init` and commit the config repository, or pass --repo <its path>",
            display_path(path)
        )
    })?;
    Ok(match git.workdir() {
        Some(workdir) => workdir.to_path_buf(),
        None => git.path().to_path_buf(),
    })
}

/// A `--repo` path for messages: a URL given where a path was expected keeps no credentials.
pub fn display_path(path: &Path) -> String {
    flaresync_config::url::redact_url(&path.to_string_lossy())
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
    ensure_has_commits(&git, path)?;
    let head = git
        .head()
        .map_err(|_| anyhow!("cannot read HEAD of {}; pass --branch", path.display()))?;
    head.shorthand()
        .ok()
        .filter(|name| *name != "HEAD")
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("HEAD is detached; pass --branch"))
}

/// Refuses a repository without a commit, in flaresync's words (not libgit2's).
pub fn ensure_has_commits(git: &git2::Repository, path: &Path) -> anyhow::Result<()> {
    if git.is_empty().unwrap_or(false) {
        anyhow::bail!(
            "the repository {} has no commits yet; flaresync reads what is committed: commit the Worker configs first",
            path.display()
        );
    }
    Ok(())
}

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
