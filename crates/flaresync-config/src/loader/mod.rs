//! Repository -> desired state: discover Worker directories, read each config and its built
//! bundle through a [`SourceTree`], and build [`WorkerSpec`]s.
//!
//! No build step runs: `main` must point at committed JavaScript (or Python/Wasm module
//! output). Paths may not leave the repository, neither lexically (`..`, absolute paths) nor
//! through symlinks.
//!
//! Steps of [`load_worker`]: `repo_reader` (every read, inside the repository), `env_choice`
//! (which env applies), `required_keys`, `module_plan` (which files are modules, decided from
//! the config alone), `bundle` (reading them), `size` (Cloudflare's limits), `source_maps`
//! (`upload_source_maps`) and `assets_dir` (the static assets directory). An assets-only Worker (assets, no `main`) has no modules.

mod assets_dir;
mod bundle;
mod discover;
mod env_choice;
mod misspelling;
mod module_plan;
mod paths;
mod repo_load;
mod repo_reader;
mod required_keys;
mod size;
mod source_maps;

use std::collections::BTreeMap;

use crate::error::{ConfigError, Warning};
use crate::model::WorkerSpec;
use crate::repo::{RepoConfig, WorkerPolicy};
use crate::tree::SourceTree;

pub use discover::discover_workers;
pub use repo_load::{duplicate_scripts, load_all};
pub use size::gzip_size;
pub use source_maps::SOURCE_MAP_TYPE;

use assets_dir::read_assets;
use bundle::read_modules;
use env_choice::parse_for_env;
use module_plan::plan_modules;
use repo_reader::Reader;
use required_keys::required_name;
use size::check_size;

/// Config file names, in wrangler's order of precedence within one directory.
pub const CONFIG_FILE_NAMES: [&str; 3] = ["wrangler.json", "wrangler.jsonc", "wrangler.toml"];

/// Cloudflare's Worker size limit after gzip on the Paid plan (SPEC §6.3: 10 MB compressed).
pub const MAX_BUNDLE_GZIP_BYTES: u64 = 10 * 1024 * 1024;

/// Upper bound on the uncompressed upload (64 MiB, the uncompressed cap cited in SPEC §6.3).
/// Checked first, so a huge bundle is rejected without compressing it.
pub const MAX_BUNDLE_UNCOMPRESSED_BYTES: u64 = 64 * 1024 * 1024;

/// One Worker read from the repository.
#[derive(Debug, Clone)]
pub struct LoadedWorker {
    pub spec: WorkerSpec,
    /// `spec.digest()`, computed once when loaded (the spec is not changed after): digests
    /// serialise the whole spec, modules included, and are compared on every pass and plan.
    pub digest: crate::Digest,
    /// `spec.version_digest()`, computed once when loaded.
    pub version_digest: crate::Digest,
    pub warnings: Vec<Warning>,
    /// Every repository path this result depends on: files read (and the symlink-free path
    /// they resolved to), config names probed (present or not), `flaresync.toml`, and
    /// directories whose listing was used for module collection ("" = repository root).
    /// Sorted, unique. The git layer uses it for incremental caching.
    pub inputs: Vec<String>,
    /// The environment that was applied (`None` = top level).
    pub env: Option<String>,
    /// `account_id` from the wrangler config, else from flaresync.toml.
    pub account_id: Option<String>,
    /// Rollout / rollback policy from flaresync.toml.
    pub policy: WorkerPolicy,
    /// The `[workers.<key>]` section of flaresync.toml that applies, if any.
    pub override_key: Option<String>,
}

/// Result of [`load_all`]: one entry per discovered directory.
#[derive(Debug)]
pub struct RepoLoad {
    /// Keyed by repo-relative worker directory. Skipped Workers (`skip = true`) are absent.
    pub workers: BTreeMap<String, Result<LoadedWorker, ConfigError>>,
    /// Repository-level warnings (e.g. overrides that match no Worker).
    pub warnings: Vec<Warning>,
    /// Directories skipped by `skip = true`.
    pub skipped: Vec<String>,
}

/// Loads one Worker directory.
///
/// # Errors
/// A missing or invalid config, a missing/TypeScript/escaping `main`, module files leaving the
/// repository, a bundle above the size limits. Every error names the worker directory or the
/// `file:line:col`.
pub fn load_worker(
    tree: &dyn SourceTree,
    dir: &str,
    repo: &RepoConfig,
) -> Result<LoadedWorker, ConfigError> {
    let dir = dir.trim_matches('/').to_owned();
    let mut reader = Reader::new(tree, &dir);
    let mut warnings = Vec::new();
    // 1. The config file, by wrangler's precedence.
    let (config_path, bytes) = reader.read_config(&mut warnings)?;
    // 2. Which env: per-worker override (by dir, else by script name), else the repo's.
    let mut choice = parse_for_env(repo, &dir, &config_path, &bytes)?;
    warnings.append(&mut choice.parsed.warnings);
    let name = required_name(&choice.parsed, &warnings, &config_path)?;
    let names: Vec<&str> = std::iter::once(name.as_str())
        .chain(choice.top_name.as_deref())
        .collect();
    let policy = repo.policy_for(&dir, &names);
    // 3. main (flaresync.toml override wins), module root and module set.
    let main_override = choice.overrides.as_ref().and_then(|(_, o)| o.main.clone());
    let parsed = &choice.parsed;
    let mut spec = parsed.spec.clone();
    if parsed.main.is_none() && main_override.is_none() && parsed.spec.assets.is_some() {
        check_assets_only(&dir, &spec, &config_path, &mut warnings)?;
    } else {
        let plan = plan_modules(&dir, &config_path, parsed, main_override)?;
        let collect = parsed.module_settings.collects_additional_modules();
        let mut modules = read_modules(&mut reader, &plan, collect)?;
        check_size(&dir, &modules)?;
        if parsed.module_settings.upload_source_maps == Some(true) {
            // After the size check: maps have a limit of their own (source_maps.rs).
            let maps = source_maps::read_source_maps(&mut reader, &plan, &modules)?;
            modules.extend(maps);
            modules[1..].sort_by(|a, b| a.name.cmp(&b.name));
        }
        spec.main_module = plan.main_module;
        spec.modules = modules;
    }
    // 4. Static assets, from the same tree.
    if let Some(declared) = &parsed.spec.assets {
        let location = parsed.assets_location.as_ref();
        spec.assets = Some(read_assets(&mut reader, declared, location)?);
    }

    spec.name = name;
    spec.dir = dir;
    spec.config_path = config_path;
    let mut inputs = reader.inputs;
    inputs.sort();
    inputs.dedup();
    Ok(LoadedWorker {
        digest: spec.digest(),
        version_digest: spec.version_digest(),
        spec,
        warnings,
        inputs,
        env: choice.env,
        account_id: choice.parsed.account_id.or_else(|| repo.account_id.clone()),
        policy,
        override_key: choice.overrides.map(|(key, _)| key),
    })
}

/// An assets-only Worker: wrangler's refusals, and a warning for the bindings its upload
/// leaves out.
fn check_assets_only(
    dir: &str,
    spec: &WorkerSpec,
    config_path: &str,
    warnings: &mut Vec<Warning>,
) -> Result<(), ConfigError> {
    if let Some(refusal) = crate::assets::assets_only_refusal(spec) {
        return Err(ConfigError::bundle(dir, refusal));
    }
    let dropped = crate::assets::dropped_bindings(spec);
    if !dropped.is_empty() {
        warnings.push(Warning::file(
            config_path,
            format!(
                "an assets-only Worker (no `main`) is uploaded without bindings, as wrangler \
                 does: {} not deployed; set `main` to use them",
                dropped.join(", ")
            ),
        ));
    }
    Ok(())
}
