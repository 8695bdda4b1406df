//! Settings, resolved once from flags, the environment and `flaresync.toml` before a command
//! runs (ripgrep's low-level args -> `HiArgs`). Every fact lives here once: where the token
//! comes from, the account-id rule, the API base URL, the state directory and journal path.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow};
use flaresync_cloudflare::{Client, ClientConfig, Secret};
use flaresync_config::RepoConfig;
use flaresync_journal::{Journal, JournalLocation};

use crate::cli::{ApiArgs, RepoArgs};

/// Where the API token comes from (as for wrangler).
pub const TOKEN_VAR: &str = flaresync_cloudflare::config::ENV_API_TOKEN;
/// Account id the emulator serves when none is given (32 hex, obviously fake).
pub const DEFAULT_EMULATOR_ACCOUNT: &str = "f1a2e5ec0000000000000000000000de";
/// Token the emulator accepts when none is given.
pub const DEFAULT_EMULATOR_TOKEN: &str = "emulator-token";

/// The API token from the environment, if set and not blank. The one place it is read.
pub fn env_token() -> Option<String> {
    std::env::var(TOKEN_VAR)
        .ok()
        .map(|token| token.trim().to_owned())
        .filter(|token| !token.is_empty())
}

/// Who runs this command, `user@host`, from the environment and the kernel's host name: the
/// journal names them as the actor of CLI passes. The one place it is read.
pub fn operator() -> Option<String> {
    let user = ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|var| std::env::var(var).ok().filter(|v| !v.trim().is_empty()))?;
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty());
    Some(match host {
        Some(host) => format!("{}@{host}", user.trim()),
        None => user.trim().to_owned(),
    })
}

/// Where to open the pull request for the revert of an aborted rollout, from
/// `FLARESYNC_GITHUB_TOKEN`/`GITHUB_TOKEN`, `FLARESYNC_GITHUB_REPOSITORY`/`GITHUB_REPOSITORY` and
/// `FLARESYNC_GITHUB_API_URL`. The one place they are read.
pub fn github() -> Option<flaresync_reconcile::github::GithubConfig> {
    flaresync_reconcile::github::GithubConfig::from_lookup(|name| std::env::var(name).ok())
}

/// The Slack incoming-webhook URL (a secret: environment only).
pub const SLACK_URL_VAR: &str = "FLARESYNC_SLACK_WEBHOOK_URL";
/// The JSON webhook's signing secret (environment only).
pub const WEBHOOK_SECRET_VAR: &str = "FLARESYNC_NOTIFY_WEBHOOK_SECRET";

/// Where notifications go: `--notify-webhook` / `FLARESYNC_NOTIFY_WEBHOOK_URL` and its secret,
/// `FLARESYNC_SLACK_WEBHOOK_URL`, `--notify-github` (GitHub's own settings: [`github`]). The
/// one place they are read.
pub fn notify(
    args: &crate::cli::NotifyArgs,
) -> anyhow::Result<flaresync_reconcile::notify::NotifyConfig> {
    let env = |name: &str| {
        std::env::var(name)
            .ok()
            .map(|value| value.trim().to_owned())
            .filter(|value| !value.is_empty())
    };
    let webhook = args
        .notify_webhook
        .as_deref()
        .map(str::trim)
        .filter(|url| !url.is_empty())
        .map(|url| checked_url(url, "--notify-webhook (FLARESYNC_NOTIFY_WEBHOOK_URL)"))
        .transpose()?;
    let slack = env(SLACK_URL_VAR)
        .map(|url| checked_url(&url, SLACK_URL_VAR))
        .transpose()?;
    Ok(flaresync_reconcile::notify::NotifyConfig {
        webhook,
        webhook_secret: env(WEBHOOK_SECRET_VAR)
            .map(|secret| flaresync_reconcile::webhook::WebhookSecret::new(secret.into_bytes())),
        slack,
        github: args.notify_github,
        ..Default::default()
    })
}

/// `url` when it is an http(s) URL; the error names the setting and shows the URL masked.
fn checked_url(url: &str, setting: &str) -> anyhow::Result<String> {
    if url.starts_with("https://") || url.starts_with("http://") {
        Ok(url.to_owned())
    } else {
        Err(anyhow!(
            "{setting} is not an http(s) URL ({}); give the full URL, e.g. https://hooks.example.com/flaresync",
            flaresync_reconcile::notify::masked(url)
        ))
    }
}

/// How the GitHub token variables are named in messages (the first wins).
pub const GITHUB_TOKEN_VAR: &str = "FLARESYNC_GITHUB_TOKEN (or GITHUB_TOKEN)";

/// The GitHub token from the environment (`FLARESYNC_GITHUB_TOKEN`, else `GITHUB_TOKEN` as
/// Actions sets it), if set and not blank: the same rule [`github`] follows.
pub fn github_token() -> Option<String> {
    github_env(&flaresync_reconcile::github::TOKEN_VARS)
}

/// The GitHub repository (owner/name): `flag`, else `FLARESYNC_GITHUB_REPOSITORY`, else
/// `GITHUB_REPOSITORY` as Actions sets it; the same rule [`github`] follows.
pub fn github_repository(flag: Option<&str>) -> Option<String> {
    flag.map(str::to_owned)
        .or_else(|| github_env(&flaresync_reconcile::github::REPOSITORY_VARS))
}

/// GitHub's REST API base URL: `flag`, else `FLARESYNC_GITHUB_API_URL`, else `GITHUB_API_URL`
/// as Actions sets it (GitHub Enterprise), else GitHub.com; the same rule [`github`] follows.
pub fn github_api_url(flag: Option<&str>) -> String {
    flag.map(str::to_owned)
        .or_else(|| github_env(&flaresync_reconcile::github::API_URL_VARS))
        .unwrap_or_else(|| flaresync_reconcile::github::DEFAULT_API_URL.to_owned())
}

fn github_env(names: &[&str]) -> Option<String> {
    flaresync_reconcile::github::first_set(names, |name| std::env::var(name).ok())
}

/// The config repository a command works on, and where flaresync keeps its state for it.
#[derive(Debug, Clone)]
pub struct RepoSettings {
    /// Local path or remote URL, as given (may hold credentials: never print it raw).
    pub location: String,
    /// Whether `location` names a remote.
    pub remote: bool,
    /// `--branch`; `None`: flaresync.toml `branch`, else the remote/local HEAD branch.
    pub branch: Option<String>,
    /// Journal, lock and remote clone.
    pub state_dir: PathBuf,
    /// `--journal` / `FLARESYNC_JOURNAL_URL` (may hold a password: never print it raw).
    pub journal: Option<String>,
}

impl RepoSettings {
    pub fn resolve(args: &RepoArgs) -> Self {
        let remote = is_remote(&args.repo);
        let state_dir = match &args.state_dir {
            Some(dir) => dir.clone(),
            None => default_state_root().join(repo_key(&args.repo, remote)),
        };
        RepoSettings {
            location: args.repo.clone(),
            remote,
            branch: args.branch.clone(),
            state_dir,
            journal: args.journal.clone().filter(|j| !j.trim().is_empty()),
        }
    }

    /// Where the journal is: `--journal` / `FLARESYNC_JOURNAL_URL`, else flaresync.toml
    /// `journal` (when the caller read it), else the SQLite file of the state directory.
    pub fn journal_location(
        &self,
        repo_config: Option<&RepoConfig>,
    ) -> anyhow::Result<JournalLocation> {
        let configured = self
            .journal
            .as_deref()
            .or_else(|| repo_config.and_then(|c| c.journal.as_deref()));
        match configured {
            None => Ok(JournalLocation::Sqlite(self.journal_path())),
            Some(value) => JournalLocation::postgres(value)
                .or_else(|| {
                    (!value.contains("://")).then(|| JournalLocation::Sqlite(value.into()))
                })
                .ok_or_else(|| {
                    anyhow!(
                        "--journal / FLARESYNC_JOURNAL_URL: {} is neither a postgres:// URL nor a file path",
                        flaresync_config::url::display_url(value)
                    )
                }),
        }
    }

    /// Opens the journal at [`RepoSettings::journal_location`].
    pub fn open_journal(&self, repo_config: Option<&RepoConfig>) -> anyhow::Result<Journal> {
        let location = self.journal_location(repo_config)?;
        Journal::open_location(&location)
            .with_context(|| format!("cannot open the journal {}", location.display()))
    }

    /// The repository's name in the lease table: the same for every process that deploys it
    /// (a remote's URL without credentials; a local checkout's `origin`, else its path).
    pub fn lease_name(&self) -> String {
        if self.remote {
            return flaresync_config::url::display_url(&self.location);
        }
        let root = crate::source::local_root(Path::new(&self.location)).ok();
        let origin = root.as_ref().and_then(|root| {
            let git = git2::Repository::open(root).ok()?;
            let remote = git.find_remote("origin").ok()?;
            remote.url().ok().map(flaresync_config::url::display_url)
        });
        origin
            .or_else(|| {
                root.and_then(|r| r.canonicalize().ok())
                    .map(|r| r.display().to_string())
            })
            .unwrap_or_else(|| self.location.clone())
    }

    /// The journal of this repository's state directory.
    pub fn journal_path(&self) -> PathBuf {
        self.state_dir.join("journal.sqlite3")
    }

    /// Where a remote repository is cloned.
    pub fn clone_dir(&self) -> PathBuf {
        self.state_dir.join("clone")
    }

    /// The location with any credentials removed, for messages.
    pub fn display(&self) -> String {
        flaresync_config::url::redact_url(&self.location)
    }

    /// The same repository following `branch`.
    pub fn with_branch(&self, branch: String) -> Self {
        RepoSettings {
            branch: Some(branch),
            ..self.clone()
        }
    }
}

/// How to reach Cloudflare (or the emulator).
#[derive(Debug, Clone)]
pub struct ApiSettings {
    pub base_url: String,
    /// `--account-id` / `CLOUDFLARE_ACCOUNT_ID`; flaresync.toml `account_id` otherwise.
    account_id: Option<String>,
    token: Option<Secret>,
    /// `--state-record [TITLE]` / `FLARESYNC_STATE_RECORD`, `--no-state-record`: see
    /// [`StateRecord::resolve`].
    state_record: Option<String>,
    no_state_record: bool,
}

/// The state record's namespace title unless named.
pub const STATE_RECORD_TITLE: &str = "flaresync-state";

/// By default the record is kept only in accounts listing more Workers than the free plan
/// allows (100): there its KV writes are a rounding error of the paid plan's, while on a
/// free plan they would share the account's 1,000 KV writes a day with its applications.
pub const STATE_RECORD_MIN_WORKERS: usize = 101;

/// Whether and where the state record is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateRecord {
    /// KV namespace title; `None`: never kept.
    pub title: Option<String>,
    /// Kept only in accounts listing at least this many Workers (`0`: always).
    pub min_workers: usize,
}

impl StateRecord {
    /// The flag (or its environment variable) wins, then flaresync.toml's `state_record`, then
    /// the default (kept over 100 Workers). `off`, `false`, `0` or `no` as the flag's value
    /// mean never.
    pub fn resolve(flag: Option<&str>, no_flag: bool, toml: Option<bool>) -> Self {
        let never = StateRecord {
            title: None,
            min_workers: 0,
        };
        let always = |title: &str| StateRecord {
            title: Some(title.to_owned()),
            min_workers: 0,
        };
        if no_flag {
            return never;
        }
        match flag.map(str::trim) {
            Some(value)
                if ["off", "false", "0", "no"].contains(&value.to_ascii_lowercase().as_str()) =>
            {
                never
            }
            Some("") | None => match toml {
                Some(false) => never,
                Some(true) => always(STATE_RECORD_TITLE),
                None => StateRecord {
                    title: Some(STATE_RECORD_TITLE.to_owned()),
                    min_workers: STATE_RECORD_MIN_WORKERS,
                },
            },
            Some(title) => always(title),
        }
    }
}

impl ApiSettings {
    pub fn resolve(args: &ApiArgs) -> Self {
        ApiSettings {
            base_url: args.api_base_url.clone(),
            account_id: args.account_id.clone().filter(|id| !id.trim().is_empty()),
            token: env_token().map(Secret::new),
            state_record: args.state_record.clone(),
            no_state_record: args.no_state_record,
        }
    }

    /// The settings of one fleet entry: `base`'s API and state record, the entry's own account
    /// and token.
    pub fn for_entry(base: &ApiSettings, account_id: &str, token: Secret) -> Self {
        ApiSettings {
            base_url: base.base_url.clone(),
            account_id: Some(account_id.to_owned()),
            token: Some(token),
            state_record: base.state_record.clone(),
            no_state_record: base.no_state_record,
        }
    }

    /// Whether and where the state record is kept, given the repository's flaresync.toml.
    pub fn state_record(&self, repo_config: &RepoConfig) -> StateRecord {
        StateRecord::resolve(
            self.state_record.as_deref(),
            self.no_state_record,
            repo_config.state_record,
        )
    }

    /// The API client, with the account from the flags or environment, else `repo_config`.
    pub fn client(&self, repo_config: Option<&RepoConfig>) -> anyhow::Result<Client> {
        let token = self
            .token
            .clone()
            .ok_or_else(|| anyhow!("{TOKEN_VAR} is not set"))?;
        let account_id = self
            .account_id
            .clone()
            .or_else(|| repo_config.and_then(|c| c.account_id.clone()))
            .ok_or_else(|| anyhow!("no account id: CLOUDFLARE_ACCOUNT_ID is not set and flaresync.toml has no account_id"))?;
        flaresync_cloudflare::config::validate_account_id(&account_id)?;
        let config = ClientConfig::new(self.base_url.clone(), account_id, token);
        Client::new(config).context("invalid Cloudflare API settings")
    }
}

/// Whether `repo` names a remote (URL or scp-like `user@host:path`) rather than a local path.
pub fn is_remote(repo: &str) -> bool {
    repo.contains("://") || (repo.contains('@') && repo.contains(':') && !Path::new(repo).exists())
}

/// `$XDG_STATE_HOME/flaresync`, else `~/.local/state/flaresync`: one directory per repository
/// below it, so two repositories never share a journal.
fn default_state_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_STATE_HOME") {
        PathBuf::from(dir).join("flaresync")
    } else if let Some(home) = std::env::var_os("HOME") {
        PathBuf::from(home).join(".local/state/flaresync")
    } else {
        PathBuf::from(".flaresync")
    }
}

/// A readable, filesystem-safe and stable name for a repository: its (credential-free) URL or
/// its root path, plus a short hash so different repositories with similar names never collide.
fn repo_key(repo: &str, remote: bool) -> String {
    use sha2::Digest as _;
    let identity = if remote {
        flaresync_config::url::redact_url(repo)
    } else {
        crate::source::local_root(Path::new(repo))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn title(record: &StateRecord) -> Option<&str> {
        record.title.as_deref()
    }

    #[test]
    fn the_state_record_is_kept_over_the_free_plan_by_default() {
        let record = StateRecord::resolve(None, false, None);
        assert_eq!(title(&record), Some(STATE_RECORD_TITLE));
        assert_eq!(record.min_workers, STATE_RECORD_MIN_WORKERS);
        assert_eq!(StateRecord::resolve(Some(" "), false, None), record);
    }

    #[test]
    fn the_flag_keeps_it_always_and_the_opt_outs_never() {
        let named = StateRecord::resolve(Some("team-state"), false, Some(false));
        assert_eq!((title(&named), named.min_workers), (Some("team-state"), 0));
        for off in ["off", "false", "0", "No"] {
            assert_eq!(
                title(&StateRecord::resolve(Some(off), false, None)),
                None,
                "{off}"
            );
        }
        assert_eq!(title(&StateRecord::resolve(None, true, Some(true))), None);
    }

    #[test]
    fn flaresync_toml_decides_when_no_flag_does() {
        assert_eq!(title(&StateRecord::resolve(None, false, Some(false))), None);
        let always = StateRecord::resolve(None, false, Some(true));
        assert_eq!(
            (title(&always), always.min_workers),
            (Some(STATE_RECORD_TITLE), 0)
        );
    }
}
