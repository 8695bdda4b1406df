//! Which environment a Worker is loaded with: its `[workers.<key>]` override in
//! flaresync.toml (found by directory, else by script name) or the repository's `env`.

use crate::error::ConfigError;
use crate::repo::{RepoConfig, WorkerOverrides};
use crate::wrangler::{ParsedConfig, parse_config};

/// The config parsed for the environment that applies.
pub(super) struct EnvChoice {
    /// The environment applied (`None` = top level).
    pub env: Option<String>,
    pub parsed: ParsedConfig,
    /// The `[workers.<key>]` section that applies, if any.
    pub overrides: Option<(String, WorkerOverrides)>,
    /// The top-level script name (without an env's suffix); overrides may be keyed by it.
    pub top_name: Option<String>,
}

/// Parses the config for the env of the override keyed by `dir`, else for the env of the
/// override keyed by the script name (top-level or resolved), else for the repository's env.
pub(super) fn parse_for_env(
    repo: &RepoConfig,
    dir: &str,
    config_path: &str,
    bytes: &[u8],
) -> Result<EnvChoice, ConfigError> {
    let by_dir = repo
        .overrides_for(dir, &[])
        .map(|(key, o)| (key.to_owned(), o.clone()));
    let mut env = env_for(repo, by_dir.as_ref().map(|(_, o)| o));
    let mut parsed = parse_config(config_path, bytes, env.as_deref())?;
    let mut overrides = by_dir;
    // Script names an override may be keyed by: the top-level name and the resolved one.
    let top_name = if env.is_some() {
        parse_config(config_path, bytes, None)
            .ok()
            .and_then(|p| p.name)
    } else {
        parsed.name.clone()
    };
    if overrides.is_none() {
        let names: Vec<&str> = parsed
            .name
            .as_deref()
            .into_iter()
            .chain(top_name.as_deref())
            .collect();
        if let Some((key, o)) = repo.overrides_for(dir, &names) {
            let wanted = env_for(repo, Some(o));
            if wanted != env {
                env = wanted;
                parsed = parse_config(config_path, bytes, env.as_deref())?;
            }
            overrides = Some((key.to_owned(), o.clone()));
        }
    }
    Ok(EnvChoice {
        env,
        parsed,
        overrides,
        top_name,
    })
}

/// The override's env (`""` = top level), else the repository's.
fn env_for(repo: &RepoConfig, o: Option<&WorkerOverrides>) -> Option<String> {
    match o.and_then(|o| o.env.clone()) {
        Some(env) => Some(env).filter(|e| !e.is_empty()),
        None => repo.env.clone(),
    }
}
