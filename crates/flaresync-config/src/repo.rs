//! `flaresync.toml`: repository-wide settings and per-Worker overrides/policies.
//!
//! ```toml
//! env = "production"            # wrangler --env for every Worker (default: top level)
//! account_id = "0123..."        # default account (a wrangler `account_id` wins per Worker)
//! branch = "main"               # branch whose head is the desired state
//! version_window = 100          # how many versions back a rollback may reach
//! exclude = ["examples", "legacy/**"]
//! rollback_policy = "refuse"    # repo default, see WorkerPolicy
//! drift_policy = "report"       # repo default
//! allow_secret_change_rollback = false  # repo default
//! d1_blocks_rollback = true     # repo default
//! rollout = { steps = [10, 50, 100], step_interval = "2m", bake = "10m" }  # see crate::rollout
//! journal = "postgres://flaresync@db.internal/flaresync"  # shared journal and leases; no password
//! state_record = false          # never keep the state record (true: always; default: over 100 Workers)
//!
//! [workers.api]                 # key: worker directory or script name
//! env = "staging"               # "" = top level even when a repo env is set
//! main = "dist/index.js"        # replaces wrangler's `main` (relative to the worker dir)
//! order = 10                    # lower rolls out first
//! depends_on = ["auth"]         # script names or dirs that must roll out first
//! rollback_policy = "redeploy"  # "refuse" | "redeploy"
//! drift_policy = "heal"         # "report" | "heal"
//! allow_secret_change_rollback = true
//! d1_blocks_rollback = false
//! health_check = { url = "https://api.example.com/health", expected_status = 200, timeout_ms = 5000 }
//! rollout = false               # or a table replacing the repository's
//! skip = false
//! ```

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::{ConfigError, Warning};
use crate::modules::glob_matches;
use crate::reader::{Cx, Tbl};
use crate::rollout::{Rollout, RolloutSetting};
use crate::source::{ConfigFormat, Node, SourceFile, Val, decode_utf8, parse_document};
use crate::tree::SourceTree;

/// Name of the repository config file (at the repository root).
pub const REPO_CONFIG_FILE: &str = "flaresync.toml";

/// Default for `version_window` (Cloudflare keeps 100 deployable versions; SPEC §6.1).
pub const DEFAULT_VERSION_WINDOW: u32 = 100;

/// What to do when Git asks for a rollback Cloudflare cannot perform.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RollbackPolicy {
    /// Block and report (default).
    #[default]
    Refuse,
    /// Upload the reverted content as a new version instead.
    Redeploy,
}

/// What to do when the live Worker differs from Git without a commit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DriftPolicy {
    /// Report only (default).
    #[default]
    Report,
    /// Redeploy the Git state.
    Heal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthCheck {
    pub url: String,
    /// Default 200.
    pub expected_status: u16,
    /// Default 5000.
    pub timeout_ms: u64,
}

/// `[workers.<key>]` as written (every field optional).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WorkerOverrides {
    /// `Some("")` selects the top level even when the repository sets an env.
    pub env: Option<String>,
    pub main: Option<String>,
    pub order: Option<i64>,
    pub depends_on: Vec<String>,
    pub rollback_policy: Option<RollbackPolicy>,
    pub drift_policy: Option<DriftPolicy>,
    pub allow_secret_change_rollback: Option<bool>,
    pub d1_blocks_rollback: Option<bool>,
    pub health_check: Option<HealthCheck>,
    /// `rollout = {...}` (merged key by key over the repository's) or `rollout = false`.
    pub rollout: Option<RolloutSetting>,
    pub skip: Option<bool>,
}

/// Resolved per-Worker policy (overrides applied over repository defaults).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkerPolicy {
    /// Rollout order; lower first, ties by script name. Default 0.
    pub order: i64,
    /// Script names or worker dirs that must be rolled out before this one.
    pub depends_on: Vec<String>,
    pub rollback_policy: RollbackPolicy,
    pub drift_policy: DriftPolicy,
    /// Allow a rollback whose target has different secrets (Cloudflare's `force=true`).
    pub allow_secret_change_rollback: bool,
    /// Refuse rollbacks across D1 schema changes (default true).
    pub d1_blocks_rollback: bool,
    pub health_check: Option<HealthCheck>,
    /// Progressive delivery of new versions (`None`: every change goes out at 100%).
    pub rollout: Option<Rollout>,
    /// Do not manage this Worker.
    pub skip: bool,
}

impl Default for WorkerPolicy {
    fn default() -> Self {
        WorkerPolicy {
            order: 0,
            depends_on: Vec::new(),
            rollback_policy: RollbackPolicy::Refuse,
            drift_policy: DriftPolicy::Report,
            allow_secret_change_rollback: false,
            d1_blocks_rollback: true,
            health_check: None,
            rollout: None,
            skip: false,
        }
    }
}

/// The repository config (defaults when `flaresync.toml` is absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepoConfig {
    /// Target environment (`--env`), `None` = top level.
    pub env: Option<String>,
    pub account_id: Option<String>,
    pub branch: Option<String>,
    pub version_window: u32,
    /// Directory paths or globs (repo-relative) never searched for Workers.
    pub exclude: Vec<String>,
    pub rollback_policy: RollbackPolicy,
    pub drift_policy: DriftPolicy,
    /// Repository default for `allow_secret_change_rollback` (per-Worker keys win).
    pub allow_secret_change_rollback: bool,
    /// Repository default for `d1_blocks_rollback` (per-Worker keys win).
    pub d1_blocks_rollback: bool,
    /// Repository default of `rollout` (a Worker's own keys are merged over it).
    pub rollout: Option<Rollout>,
    /// Keyed by worker directory or script name, as written.
    pub workers: BTreeMap<String, WorkerOverrides>,
    /// PostgreSQL journal URL (`postgres://…`, without a password); `None`: the SQLite file
    /// of the state directory. `--journal` / `FLARESYNC_JOURNAL_URL` win.
    pub journal: Option<String>,
    /// Keep the state record in the account's KV (`None`: flaresync's default, see the
    /// binary's `--state-record`). `--state-record` / `--no-state-record` win.
    pub state_record: Option<bool>,
}

impl Default for RepoConfig {
    fn default() -> Self {
        RepoConfig {
            env: None,
            account_id: None,
            branch: None,
            version_window: DEFAULT_VERSION_WINDOW,
            exclude: Vec::new(),
            rollback_policy: RollbackPolicy::Refuse,
            drift_policy: DriftPolicy::Report,
            allow_secret_change_rollback: false,
            d1_blocks_rollback: true,
            rollout: None,
            workers: BTreeMap::new(),
            journal: None,
            state_record: None,
        }
    }
}

impl RepoConfig {
    /// Overrides for a Worker: by directory first, then by any of the given script names.
    pub fn overrides_for(&self, dir: &str, names: &[&str]) -> Option<(&str, &WorkerOverrides)> {
        let dir = dir.trim_matches('/');
        if let Some((key, o)) = self
            .workers
            .iter()
            .find(|(key, _)| key.trim_matches('/') == dir)
        {
            return Some((key.as_str(), o));
        }
        names.iter().find_map(|name| {
            self.workers
                .get_key_value(*name)
                .map(|(k, o)| (k.as_str(), o))
        })
    }

    /// Resolved policy for a Worker (see [`RepoConfig::overrides_for`]).
    pub fn policy_for(&self, dir: &str, names: &[&str]) -> WorkerPolicy {
        let overrides = self.overrides_for(dir, names).map(|(_, o)| o);
        let mut policy = WorkerPolicy {
            rollback_policy: self.rollback_policy,
            drift_policy: self.drift_policy,
            allow_secret_change_rollback: self.allow_secret_change_rollback,
            d1_blocks_rollback: self.d1_blocks_rollback,
            rollout: self.rollout.clone(),
            ..WorkerPolicy::default()
        };
        if let Some(o) = overrides {
            policy.order = o.order.unwrap_or(0);
            policy.depends_on = o.depends_on.clone();
            policy.rollback_policy = o.rollback_policy.unwrap_or(self.rollback_policy);
            policy.drift_policy = o.drift_policy.unwrap_or(self.drift_policy);
            policy.allow_secret_change_rollback = o
                .allow_secret_change_rollback
                .unwrap_or(self.allow_secret_change_rollback);
            policy.d1_blocks_rollback = o.d1_blocks_rollback.unwrap_or(self.d1_blocks_rollback);
            policy.health_check = o.health_check.clone();
            match &o.rollout {
                None => {}
                Some(RolloutSetting::Off) => policy.rollout = None,
                Some(RolloutSetting::On(rollout)) => policy.rollout = Some((**rollout).clone()),
            }
            policy.skip = o.skip.unwrap_or(false);
        }
        policy
    }

    /// Whether a repo-relative directory is excluded (exact path, prefix directory, or glob).
    pub fn is_excluded(&self, dir: &str) -> bool {
        let dir = dir.trim_matches('/');
        self.exclude.iter().any(|pattern| {
            let pattern = pattern.trim_start_matches("./").trim_end_matches('/');
            if pattern.is_empty() {
                return false;
            }
            dir == pattern || dir.starts_with(&format!("{pattern}/")) || glob_matches(pattern, dir)
        })
    }
}

/// Reads `flaresync.toml` from the repository root; absent file => defaults.
///
/// # Errors
/// Invalid TOML, wrong value types or unknown enum values, with `flaresync.toml:line:col`.
/// Unknown keys are warnings.
pub fn load_repo_config(tree: &dyn SourceTree) -> Result<(RepoConfig, Vec<Warning>), ConfigError> {
    match tree
        .read(REPO_CONFIG_FILE)
        .map_err(|e| ConfigError::tree(REPO_CONFIG_FILE, e))?
    {
        None => Ok((RepoConfig::default(), Vec::new())),
        Some(bytes) => parse_repo_config(REPO_CONFIG_FILE, &bytes),
    }
}

/// `journal` must name a PostgreSQL database and carry no password: flaresync.toml is
/// committed, the password belongs in `FLARESYNC_JOURNAL_URL` (or a `.pgpass`-style secret).
fn check_journal_url(cx: &Cx<'_>, node: &Node, url: String) -> Result<String, ConfigError> {
    let lower = url.trim().to_ascii_lowercase();
    if !(lower.starts_with("postgres://") || lower.starts_with("postgresql://")) {
        return Err(cx.err(
            node,
            "`journal` must be a postgres:// URL (leave it out for the SQLite journal of the state directory)",
        ));
    }
    if crate::url::split_credentials(&url).1.is_some() || lower.contains("password=") {
        return Err(cx.err(
            node,
            "`journal` holds a password, and flaresync.toml is committed: remove it from the URL and pass the full URL in FLARESYNC_JOURNAL_URL instead (then rotate the password)",
        ));
    }
    Ok(url.trim().to_owned())
}

/// Parses the text of a `flaresync.toml`.
pub fn parse_repo_config(
    path: &str,
    bytes: &[u8],
) -> Result<(RepoConfig, Vec<Warning>), ConfigError> {
    let text = decode_utf8(path, bytes)?;
    let source = SourceFile::new(path, text);
    let mut cx = Cx::new(&source);
    let root = parse_document(&source, ConfigFormat::Toml, &mut cx.warnings)?;
    let mut top = Tbl::new(&cx, &root, "")?;
    let mut config = RepoConfig {
        env: top.str(&cx, "env")?.filter(|e| !e.is_empty()),
        account_id: top.str(&cx, "account_id")?,
        branch: top.str(&cx, "branch")?,
        ..RepoConfig::default()
    };
    if let Some(journal) = top.str(&cx, "journal")? {
        let node = top.get("journal").unwrap_or(&root);
        config.journal = Some(check_journal_url(&cx, node, journal)?);
    }
    config.state_record = top.bool(&cx, "state_record")?;
    if let Some(window) = top.u64(&cx, "version_window")? {
        let node = top.get("version_window").unwrap_or(&root);
        config.version_window = u32::try_from(window)
            .ok()
            .filter(|w| *w > 0)
            .ok_or_else(|| cx.err(node, "`version_window` must be between 1 and 4294967295"))?;
    }
    if let Some(node) = top.get("exclude") {
        config.exclude = match &node.value {
            Val::Str(s) => vec![s.clone()],
            _ => crate::reader::str_list(&cx, node, "exclude")?,
        };
    }
    config.rollback_policy =
        choice(&cx, &mut top, "rollback_policy", ROLLBACK_POLICIES)?.unwrap_or_default();
    config.drift_policy =
        choice(&cx, &mut top, "drift_policy", DRIFT_POLICIES)?.unwrap_or_default();
    config.allow_secret_change_rollback = top
        .bool(&cx, "allow_secret_change_rollback")?
        .unwrap_or(false);
    config.d1_blocks_rollback = top.bool(&cx, "d1_blocks_rollback")?.unwrap_or(true);
    if let Some(node) = top.get("rollout") {
        config.rollout = match crate::rollout::read_setting(&mut cx, node, "rollout", false, None)?
        {
            RolloutSetting::On(rollout) => Some(*rollout),
            RolloutSetting::Off => None,
        };
    }
    if let Some(mut workers) = top.table(&cx, "workers")? {
        let entries = workers.entries;
        for entry in entries {
            workers.mark(&entry.key);
            let path = format!("workers.{}", entry.key);
            let mut w = Tbl::new(&cx, &entry.node, &path)?;
            let overrides = read_overrides(&mut cx, &mut w, config.rollout.as_ref())?;
            w.finish(&mut cx, &[]);
            config.workers.insert(entry.key.clone(), overrides);
        }
        workers.finish(&mut cx, &[]);
    }
    top.finish(&mut cx, &[]);
    Ok((config, cx.take_warnings()))
}

/// A Worker's table; its `rollout` keys merge over `default_rollout` (the repository's).
fn read_overrides(
    cx: &mut Cx<'_>,
    w: &mut Tbl<'_>,
    default_rollout: Option<&Rollout>,
) -> Result<WorkerOverrides, ConfigError> {
    let depends_on = match w.get("depends_on") {
        None => Vec::new(),
        Some(Node {
            value: Val::Str(s), ..
        }) => vec![s.clone()],
        Some(node) => crate::reader::str_list(cx, node, &w.key_path("depends_on"))?,
    };
    let order = match w.get("order") {
        None => None,
        Some(Node {
            value: Val::Int(i), ..
        }) => Some(*i),
        Some(node) => {
            return Err(cx.err(
                node,
                format!("`{}` must be an integer", w.key_path("order")),
            ));
        }
    };
    let health_check = match w.table(cx, "health_check")? {
        None => None,
        Some(mut h) => {
            let url = h.req_nonempty(cx, "url", "set the URL to probe after a rollout")?;
            let expected_status = match h.u64(cx, "expected_status")? {
                None => 200,
                Some(s) if (100..=599).contains(&s) => s as u16,
                Some(_) => {
                    let node = h.get("expected_status").unwrap_or(h.node);
                    return Err(cx.err(
                        node,
                        "`expected_status` must be an HTTP status between 100 and 599",
                    ));
                }
            };
            let timeout_ms = h.u64(cx, "timeout_ms")?.unwrap_or(5000);
            h.finish(cx, &[]);
            Some(HealthCheck {
                url,
                expected_status,
                timeout_ms,
            })
        }
    };
    let rollout = match w.get("rollout") {
        None => None,
        Some(node) => Some(crate::rollout::read_setting(
            cx,
            node,
            &w.key_path("rollout"),
            true,
            default_rollout,
        )?),
    };
    Ok(WorkerOverrides {
        rollout,
        env: w.str(cx, "env")?,
        main: w.str(cx, "main")?,
        order,
        depends_on,
        rollback_policy: choice(cx, w, "rollback_policy", ROLLBACK_POLICIES)?,
        drift_policy: choice(cx, w, "drift_policy", DRIFT_POLICIES)?,
        allow_secret_change_rollback: w.bool(cx, "allow_secret_change_rollback")?,
        d1_blocks_rollback: w.bool(cx, "d1_blocks_rollback")?,
        health_check,
        skip: w.bool(cx, "skip")?,
    })
}

const ROLLBACK_POLICIES: &[(&str, RollbackPolicy)] = &[
    ("refuse", RollbackPolicy::Refuse),
    ("redeploy", RollbackPolicy::Redeploy),
];

const DRIFT_POLICIES: &[(&str, DriftPolicy)] =
    &[("report", DriftPolicy::Report), ("heal", DriftPolicy::Heal)];

/// The string `key` of `t` as one of `choices` (word, value): `None` when absent, an error
/// listing the words when it is any other string.
fn choice<T: Copy>(
    cx: &Cx<'_>,
    t: &mut Tbl<'_>,
    key: &str,
    choices: &[(&str, T)],
) -> Result<Option<T>, ConfigError> {
    let node = t.get(key);
    let Some(word) = t.str(cx, key)? else {
        return Ok(None);
    };
    if let Some((_, value)) = choices.iter().find(|(known, _)| *known == word) {
        return Ok(Some(*value));
    }
    let words: Vec<String> = choices
        .iter()
        .map(|(known, _)| format!("{known:?}"))
        .collect();
    Err(cx.err(
        node.unwrap_or(t.node),
        format!(
            "`{}` must be {}, found {word:?}",
            t.key_path(key),
            words.join(" or ")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_repo_config_parses() {
        let text = r#"
env = "production"
account_id = "abc"
branch = "main"
version_window = 50
exclude = ["examples", "legacy/**"]
drift_policy = "heal"

[workers.api]
env = "staging"
main = "dist/index.js"
order = 2
depends_on = ["auth"]
rollback_policy = "redeploy"
allow_secret_change_rollback = true
d1_blocks_rollback = false
health_check = { url = "https://x/health", timeout_ms = 100 }
skip = false
"#;
        let (config, warnings) = parse_repo_config("flaresync.toml", text.as_bytes()).expect("ok");
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(config.env.as_deref(), Some("production"));
        assert_eq!(config.version_window, 50);
        let policy = config.policy_for("api", &[]);
        assert_eq!(policy.order, 2);
        assert_eq!(policy.rollback_policy, RollbackPolicy::Redeploy);
        assert_eq!(policy.drift_policy, DriftPolicy::Heal);
        assert!(policy.allow_secret_change_rollback);
        assert!(!policy.d1_blocks_rollback);
        assert_eq!(
            policy.health_check,
            Some(HealthCheck {
                url: "https://x/health".into(),
                expected_status: 200,
                timeout_ms: 100
            })
        );
        assert!(config.is_excluded("examples/foo"));
        assert!(config.is_excluded("legacy/a/b"));
        assert!(!config.is_excluded("examples2"));
        let other = config.policy_for("web", &["web"]);
        assert_eq!(other.drift_policy, DriftPolicy::Heal);
        assert!(other.d1_blocks_rollback);
    }

    #[test]
    fn repo_level_legality_defaults_apply_unless_a_worker_overrides_them() {
        let text = "allow_secret_change_rollback = true\nd1_blocks_rollback = false\n\
                    [workers.api]\nd1_blocks_rollback = true\n";
        let (config, warnings) = parse_repo_config("flaresync.toml", text.as_bytes()).expect("ok");
        assert!(warnings.is_empty(), "{warnings:?}");
        let web = config.policy_for("web", &["web"]);
        assert!(web.allow_secret_change_rollback);
        assert!(!web.d1_blocks_rollback);
        let api = config.policy_for("api", &[]);
        assert!(
            api.allow_secret_change_rollback,
            "inherited from the repository"
        );
        assert!(api.d1_blocks_rollback, "the worker's own key wins");
    }

    #[test]
    fn journal_names_a_postgres_database_without_a_password() {
        let text = "journal = \"postgres://flaresync@db.internal/flaresync\"\n";
        let (config, warnings) = parse_repo_config("flaresync.toml", text.as_bytes()).expect("ok");
        assert!(warnings.is_empty());
        assert_eq!(
            config.journal.as_deref(),
            Some("postgres://flaresync@db.internal/flaresync")
        );
        for (text, says) in [
            (
                "\njournal = \"postgres://fs:hunter2@db/x\"\n",
                "holds a password",
            ),
            (
                "\njournal = \"postgres://fs@db/x?password=hunter2\"\n",
                "holds a password",
            ),
            (
                "\njournal = \"/var/lib/journal.sqlite3\"\n",
                "must be a postgres:// URL",
            ),
        ] {
            let message = parse_repo_config("flaresync.toml", text.as_bytes())
                .expect_err("refused")
                .to_string();
            assert!(message.starts_with("flaresync.toml:2:"), "{message}");
            assert!(message.contains(says), "{message}");
            assert!(!message.contains("hunter2"), "{message}");
        }
    }

    #[test]
    fn state_record_is_a_yes_or_no_left_to_the_default_when_absent() {
        let parse = |text: &str| parse_repo_config("flaresync.toml", text.as_bytes());
        assert_eq!(parse("").expect("ok").0.state_record, None);
        let (config, warnings) = parse("state_record = false\n").expect("ok");
        assert!(warnings.is_empty());
        assert_eq!(config.state_record, Some(false));
        assert_eq!(
            parse("state_record = true\n").expect("ok").0.state_record,
            Some(true)
        );
        let message = parse("state_record = \"off\"\n")
            .expect_err("a string")
            .to_string();
        assert!(message.starts_with("flaresync.toml:1:"), "{message}");
    }

    #[test]
    fn unknown_keys_warn_with_position() {
        let text = "env = \"x\"\nbrnach = \"main\"\n[workers.a]\nskp = true\n";
        let (_, warnings) = parse_repo_config("flaresync.toml", text.as_bytes()).expect("ok");
        assert_eq!(warnings.len(), 2);
        assert_eq!(warnings[0].line, Some(2));
        assert!(warnings[1].message.contains("workers.a.skp"));
    }

    #[test]
    fn bad_policy_value_is_an_error_with_position() {
        let text = "[workers.a]\nrollback_policy = \"always\"\n";
        let err = parse_repo_config("flaresync.toml", text.as_bytes()).expect_err("bad");
        let message = err.to_string();
        assert!(message.starts_with("flaresync.toml:2:19:"), "{message}");
        assert!(
            message.contains(
                "`workers.a.rollback_policy` must be \"refuse\" or \"redeploy\", found \"always\""
            ),
            "{message}"
        );
        let text = "drift_policy = \"ignore\"\n";
        let err = parse_repo_config("flaresync.toml", text.as_bytes()).expect_err("bad");
        let message = err.to_string();
        assert!(
            message.contains("`drift_policy` must be \"report\" or \"heal\", found \"ignore\""),
            "{message}"
        );
    }
}
