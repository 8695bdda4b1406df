//! The desired state of every Worker at a commit, computed incrementally.
//!
//! Reading a Worker means parsing its config and hashing its bundle, which is the expensive
//! part of walking history (revert detection and mapping rebuilds look at many commits). A
//! Worker is re-read only when one of its inputs changed: the cache key is the object id of
//! the Worker directory's tree, of `flaresync.toml`, and of every input outside the directory
//! the loader reported ([`LoadedWorker::inputs`]). Git object ids are content hashes, so equal
//! ids mean equal content and the cached result is exact.
//!
//! A failed load does not report its inputs, so its cache entry is keyed by the whole root
//! tree: errors are re-read on any change, which is always correct.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use flaresync_config::{
    ConfigError, Digest, LoadedWorker, REPO_CONFIG_FILE, RepoConfig, TreeError, Warning,
    discover_workers, duplicate_scripts, load_repo_config, load_worker,
};
use git2::{Oid, Repository};

use crate::state_memo::StateMemo;
use crate::tree::CommitTree;

/// At most this many cached results are kept per Worker directory.
const ENTRIES_PER_DIR: usize = 32;

/// Errors computing a desired state.
#[derive(Debug, thiserror::Error)]
pub enum DesiredError {
    /// The commit is not in the repository.
    #[error("commit {commit} cannot be read: {message}")]
    Commit { commit: Oid, message: String },
    /// `flaresync.toml` at this commit is invalid: no Worker can be read.
    #[error("{REPO_CONFIG_FILE} at commit {commit} is invalid: {source}")]
    RepoConfig {
        commit: Oid,
        #[source]
        source: Arc<ConfigError>,
    },
    /// Listing the tree to discover Workers failed.
    #[error("cannot discover workers at commit {commit}: {source}")]
    Discover {
        commit: Oid,
        #[source]
        source: TreeError,
    },
}

/// The result of loading one Worker directory (shared between cache and states).
pub type WorkerResult = Arc<Result<LoadedWorker, ConfigError>>;

/// Every Worker's desired state at one commit.
#[derive(Debug, Clone)]
pub struct DesiredState {
    pub commit: Oid,
    pub repo_config: Arc<RepoConfig>,
    /// `flaresync.toml` warnings plus repository-level warnings (overrides matching nothing).
    pub warnings: Vec<Warning>,
    /// Keyed by repo-relative Worker directory (errors have no script name). Two directories
    /// claiming one script name both hold [`ConfigError::DuplicateScript`].
    pub workers: BTreeMap<String, WorkerResult>,
    /// Directories skipped by `skip = true`.
    pub skipped: Vec<String>,
}

impl DesiredState {
    /// Successfully loaded Workers by Cloudflare script name.
    pub fn by_script(&self) -> BTreeMap<&str, &LoadedWorker> {
        self.workers
            .values()
            .filter_map(|result| result.as_ref().as_ref().ok())
            .map(|worker| (worker.spec.name.as_str(), worker))
            .collect()
    }

    /// The Worker with script name `script`, if it loaded.
    pub fn worker(&self, script: &str) -> Option<&LoadedWorker> {
        self.workers
            .values()
            .filter_map(|result| result.as_ref().as_ref().ok())
            .find(|worker| worker.spec.name == script)
    }

    /// Directories whose Worker failed to load, with the error.
    pub fn errors(&self) -> Vec<(&str, &ConfigError)> {
        self.workers
            .iter()
            .filter_map(|(dir, result)| {
                result
                    .as_ref()
                    .as_ref()
                    .err()
                    .map(|error| (dir.as_str(), error))
            })
            .collect()
    }

    /// Script names whose desired state differs from `older` (added, removed, changed digest
    /// or started/stopped failing to load), sorted. A commit touching no Worker gives `[]`.
    pub fn changed_since(&self, older: &DesiredState) -> Vec<String> {
        let digests = |state: &DesiredState| -> BTreeMap<String, Digest> {
            state
                .by_script()
                .into_iter()
                .map(|(name, worker)| (name.to_owned(), worker.digest.clone()))
                .collect()
        };
        let (old, new) = (digests(older), digests(self));
        let mut changed: Vec<String> = new
            .iter()
            .filter(|(name, digest)| old.get(*name) != Some(digest))
            .map(|(name, _)| name.clone())
            .chain(old.keys().filter(|name| !new.contains_key(*name)).cloned())
            .collect();
        changed.sort();
        changed.dedup();
        changed
    }

    /// Directories whose Worker fails to load (they have no script name to report), sorted.
    pub fn failing_dirs(&self) -> Vec<&str> {
        self.errors().into_iter().map(|(dir, _)| dir).collect()
    }

    /// `(digest, version_digest)` of the Worker named `script`.
    pub fn digests(&self, script: &str) -> Option<(Digest, Digest)> {
        self.worker(script)
            .map(|worker| (worker.digest.clone(), worker.version_digest.clone()))
    }
}

/// Counters showing how much work the cache saved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Worker directories actually read through the config loader.
    pub worker_loads: u64,
    /// Worker directories answered from the cache.
    pub worker_hits: u64,
    /// `flaresync.toml` parses.
    pub repo_config_loads: u64,
    /// Desired states served whole from the per-commit memo.
    pub state_hits: u64,
}

/// What a cached result depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
struct WorkerKey {
    repo_config: Option<Oid>,
    dir_tree: Oid,
    /// Inputs outside the directory, with their object id (`None` = absent).
    outside: Vec<(String, Option<Oid>)>,
    /// Set for failed loads, whose inputs are unknown.
    root_tree: Option<Oid>,
}

#[derive(Debug)]
struct CachedWorker {
    key: WorkerKey,
    result: WorkerResult,
}

type RepoConfigLoad = Arc<Result<(Arc<RepoConfig>, Vec<Warning>), Arc<ConfigError>>>;

/// Computes [`DesiredState`]s, re-reading only Workers whose inputs changed.
#[derive(Debug, Default)]
pub struct DesiredStateCache {
    repo_configs: HashMap<Option<Oid>, RepoConfigLoad>,
    workers: HashMap<String, Vec<CachedWorker>>,
    /// Whole states by commit (cheap to clone: the results are shared), bounded.
    states: StateMemo,
    stats: CacheStats,
}

fn in_dir(dir: &str, path: &str) -> bool {
    dir.is_empty() || path == dir || path.starts_with(&format!("{dir}/"))
}

impl DesiredStateCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// How much was read and how much was reused so far.
    pub fn stats(&self) -> CacheStats {
        self.stats
    }

    /// For each Worker directory that fails to load at `commit`, the script name it had at the
    /// nearest first-parent ancestor (at most `depth` commits back) where it loaded. A broken
    /// config then keeps its Worker's identity (blocked, left untouched) instead of reading as
    /// "Worker removed from Git" plus an unknown directory, even in a process that never saw
    /// the good state. Ancestors whose state cannot be read are passed over.
    pub fn last_good_names(
        &mut self,
        repo: &Repository,
        commit: Oid,
        depth: usize,
    ) -> Result<BTreeMap<String, String>, DesiredError> {
        let state = self.desired_state(repo, commit)?;
        let mut missing: Vec<String> = state
            .failing_dirs()
            .into_iter()
            .map(str::to_owned)
            .collect();
        let mut names = BTreeMap::new();
        let mut current = commit;
        for _ in 0..depth {
            if missing.is_empty() {
                break;
            }
            let Some(parent) = repo
                .find_commit(current)
                .ok()
                .and_then(|c| c.parent_id(0).ok())
            else {
                break;
            };
            current = parent;
            let Ok(older) = self.desired_state(repo, parent) else {
                continue;
            };
            missing.retain(|dir| {
                match older
                    .workers
                    .get(dir)
                    .and_then(|r| r.as_ref().as_ref().ok())
                {
                    Some(loaded) => {
                        names.insert(dir.clone(), loaded.spec.name.clone());
                        false
                    }
                    None => true,
                }
            });
        }
        Ok(names)
    }

    /// The desired state of every Worker at `commit`.
    pub fn desired_state(
        &mut self,
        repo: &Repository,
        commit: Oid,
    ) -> Result<DesiredState, DesiredError> {
        if let Some(state) = self.states.get(commit) {
            self.stats.state_hits += 1;
            return Ok(state);
        }
        let tree = CommitTree::new(repo, commit).map_err(|e| DesiredError::Commit {
            commit,
            message: e.message().to_owned(),
        })?;
        let state = self.compute(&tree)?;
        self.states.insert(state.clone());
        Ok(state)
    }

    pub(crate) fn oid_at(tree: &CommitTree<'_>, path: &str) -> Option<Oid> {
        // An unreadable path counts as absent; the loader will report the real error.
        tree.entry(path).ok().flatten().map(|entry| entry.oid)
    }

    fn compute(&mut self, tree: &CommitTree<'_>) -> Result<DesiredState, DesiredError> {
        let commit = tree.commit();
        let config_oid = Self::oid_at(tree, REPO_CONFIG_FILE);
        let load = match self.repo_configs.get(&config_oid) {
            Some(load) => load.clone(),
            None => {
                self.stats.repo_config_loads += 1;
                let load: RepoConfigLoad = Arc::new(
                    load_repo_config(tree)
                        .map(|(config, warnings)| (Arc::new(config), warnings))
                        .map_err(Arc::new),
                );
                self.repo_configs.insert(config_oid, load.clone());
                load
            }
        };
        let (repo_config, mut warnings) = match load.as_ref() {
            Ok((config, warnings)) => (config.clone(), warnings.clone()),
            Err(source) => {
                return Err(DesiredError::RepoConfig {
                    commit,
                    source: source.clone(),
                });
            }
        };
        let dirs = discover_workers(tree, &repo_config)
            .map_err(|source| DesiredError::Discover { commit, source })?;

        let mut workers = BTreeMap::new();
        let mut skipped = Vec::new();
        let mut matched_overrides: Vec<String> = Vec::new();
        for dir in dirs {
            let result = self.worker(tree, &dir, config_oid, &repo_config);
            match result.as_ref() {
                Ok(worker) => {
                    if let Some((key, _)) =
                        repo_config.overrides_for(&dir, &[worker.spec.name.as_str()])
                    {
                        matched_overrides.push(key.to_owned());
                    }
                    if worker.policy.skip {
                        skipped.push(dir);
                        continue;
                    }
                }
                Err(_) => {
                    if let Some((key, overrides)) = repo_config.overrides_for(&dir, &[]) {
                        matched_overrides.push(key.to_owned());
                        if overrides.skip == Some(true) {
                            skipped.push(dir);
                            continue;
                        }
                    }
                }
            }
            workers.insert(dir, result);
        }
        for key in repo_config.workers.keys() {
            if !matched_overrides.contains(key) {
                warnings.push(Warning::file(
                    REPO_CONFIG_FILE,
                    format!(
                        "[workers.{key:?}] matches no worker directory or script name; fix the \
                         key or remove the section"
                    ),
                ));
            }
        }
        mark_duplicates(&mut workers);
        Ok(DesiredState {
            commit,
            repo_config,
            warnings,
            workers,
            skipped,
        })
    }

    /// The `flaresync.toml` already parsed for `config_oid`, if it loaded.
    pub(crate) fn repo_config(&self, config_oid: Option<Oid>) -> Option<Arc<RepoConfig>> {
        match self.repo_configs.get(&config_oid)?.as_ref() {
            Ok((config, _)) => Some(config.clone()),
            Err(_) => None,
        }
    }

    /// The Worker in `dir`, from the cache when none of its inputs changed.
    pub(crate) fn worker(
        &mut self,
        tree: &CommitTree<'_>,
        dir: &str,
        config_oid: Option<Oid>,
        repo_config: &RepoConfig,
    ) -> WorkerResult {
        let dir_tree = Self::oid_at(tree, dir);
        let root_tree = tree.tree_id();
        if let (Some(dir_tree), Some(entries)) = (dir_tree, self.workers.get(dir)) {
            let hit = entries.iter().find(|cached| {
                cached.key.repo_config == config_oid
                    && cached.key.dir_tree == dir_tree
                    && cached.key.root_tree.is_none_or(|root| root == root_tree)
                    && cached
                        .key
                        .outside
                        .iter()
                        .all(|(path, oid)| Self::oid_at(tree, path) == *oid)
            });
            if let Some(hit) = hit {
                self.stats.worker_hits += 1;
                return hit.result.clone();
            }
        }
        self.stats.worker_loads += 1;
        let result: WorkerResult = Arc::new(load_worker(tree, dir, repo_config));
        let Some(dir_tree) = dir_tree else {
            return result;
        };
        let key = match result.as_ref() {
            Ok(worker) => WorkerKey {
                repo_config: config_oid,
                dir_tree,
                outside: outside_inputs(tree, dir, &worker.inputs),
                root_tree: None,
            },
            Err(_) => WorkerKey {
                repo_config: config_oid,
                dir_tree,
                outside: Vec::new(),
                root_tree: Some(root_tree),
            },
        };
        let entries = self.workers.entry(dir.to_owned()).or_default();
        if entries.len() >= ENTRIES_PER_DIR {
            entries.pop();
        }
        entries.insert(
            0,
            CachedWorker {
                key,
                result: result.clone(),
            },
        );
        result
    }
}

/// Maximum symlink hops followed while resolving one input (as the loader does).
const MAX_SYMLINK_HOPS: usize = 16;

/// The key part for inputs outside `dir`: each such input with its object id, plus every
/// symlink met while resolving any input (an intermediate link outside the directory can
/// redirect a path without changing the final file the loader names).
pub(crate) fn outside_inputs(
    tree: &CommitTree<'_>,
    dir: &str,
    inputs: &[String],
) -> Vec<(String, Option<Oid>)> {
    let mut outside: BTreeMap<String, Option<Oid>> = BTreeMap::new();
    for path in inputs {
        if path != REPO_CONFIG_FILE && !in_dir(dir, path) {
            outside.insert(path.clone(), DesiredStateCache::oid_at(tree, path));
        }
        for (link, oid) in symlink_hops(tree, path) {
            if !in_dir(dir, &link) {
                outside.insert(link, Some(oid));
            }
        }
    }
    outside.into_iter().collect()
}

/// Symlinks (path, blob id) met while resolving `path` component by component.
fn symlink_hops(tree: &CommitTree<'_>, path: &str) -> Vec<(String, Oid)> {
    use flaresync_config::{EntryKind, SourceTree};
    let mut hops = Vec::new();
    let mut resolved: Vec<String> = Vec::new();
    let mut pending: std::collections::VecDeque<String> =
        path.split('/').map(str::to_owned).collect();
    while let Some(part) = pending.pop_front() {
        match part.as_str() {
            "" | "." => {}
            ".." => {
                if resolved.pop().is_none() {
                    break;
                }
            }
            _ => {
                resolved.push(part);
                let current = resolved.join("/");
                let Ok(Some(entry)) = tree.entry(&current) else {
                    break;
                };
                if entry.kind != EntryKind::Symlink {
                    continue;
                }
                if hops.len() >= MAX_SYMLINK_HOPS {
                    break;
                }
                hops.push((current.clone(), entry.oid));
                let Ok(Some(target)) = tree.read_link(&current) else {
                    break;
                };
                if target.starts_with('/') {
                    break;
                }
                resolved.pop();
                for (i, component) in target.split('/').enumerate() {
                    pending.insert(i, component.to_owned());
                }
            }
        }
    }
    hops
}

/// Two directories resolving to one script name cannot both be managed: both become errors.
fn mark_duplicates(workers: &mut BTreeMap<String, WorkerResult>) {
    let named = workers.iter().filter_map(|(dir, result)| {
        let worker = result.as_ref().as_ref().ok()?;
        Some(((), worker.spec.name.clone(), dir.clone()))
    });
    for (dir, error) in duplicate_scripts(named) {
        workers.insert(dir, Arc::new(Err(error)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_inside_a_directory() {
        assert!(in_dir("workers/api", "workers/api/index.js"));
        assert!(in_dir("workers/api", "workers/api"));
        assert!(!in_dir("workers/api", "workers/api2/index.js"));
        assert!(!in_dir("workers/api", "shared/x.js"));
        assert!(in_dir("", "anything"));
    }
}
