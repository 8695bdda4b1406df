//! Loading every Worker of a repository: one broken Worker never blocks the others, skipped
//! Workers and unmatched `[workers.<key>]` sections are reported, and duplicate script names
//! are refused.

use std::collections::BTreeMap;

use super::{LoadedWorker, RepoLoad, discover_workers, load_worker};
use crate::error::{ConfigError, Warning};
use crate::repo::{REPO_CONFIG_FILE, RepoConfig};
use crate::tree::SourceTree;

/// Loads every discovered Worker. One broken Worker never blocks the others; two directories
/// resolving to the same script name both get [`ConfigError::DuplicateScript`].
pub fn load_all(tree: &dyn SourceTree, repo: &RepoConfig) -> RepoLoad {
    let mut warnings = Vec::new();
    let dirs = match discover_workers(tree, repo) {
        Ok(dirs) => dirs,
        Err(error) => {
            let mut workers = BTreeMap::new();
            workers.insert(String::new(), Err(ConfigError::tree("", error)));
            return RepoLoad {
                workers,
                warnings,
                skipped: Vec::new(),
            };
        }
    };
    let mut workers: BTreeMap<String, Result<LoadedWorker, ConfigError>> = BTreeMap::new();
    let mut skipped = Vec::new();
    let mut matched_overrides: Vec<String> = Vec::new();
    for dir in &dirs {
        let result = load_worker(tree, dir, repo);
        if let Ok(worker) = &result {
            if let Some(key) = &worker.override_key {
                matched_overrides.push(key.clone());
            }
            if worker.policy.skip {
                skipped.push(dir.clone());
                continue;
            }
        } else if let Some((key, o)) = repo.overrides_for(dir, &[]) {
            matched_overrides.push(key.to_owned());
            if o.skip == Some(true) {
                skipped.push(dir.clone());
                continue;
            }
        }
        workers.insert(dir.clone(), result);
    }
    for key in repo.workers.keys() {
        if !matched_overrides.contains(key) {
            warnings.push(Warning::file(
                REPO_CONFIG_FILE,
                format!(
                    "[workers.{key:?}] matches no worker directory or script name; fix the key \
                     or remove the section"
                ),
            ));
        }
    }
    // Duplicate script names (within one account: the same name in two accounts is fine).
    let mut by_name: BTreeMap<(Option<String>, String), Vec<String>> = BTreeMap::new();
    for (dir, result) in &workers {
        if let Ok(worker) = result {
            by_name
                .entry((worker.account_id.clone(), worker.spec.name.clone()))
                .or_default()
                .push(dir.clone());
        }
    }
    for ((_, name), dirs) in by_name {
        if dirs.len() < 2 {
            continue;
        }
        for dir in &dirs {
            let others: Vec<String> = dirs
                .iter()
                .filter(|d| *d != dir)
                .map(|d| format!("{d:?}"))
                .collect();
            workers.insert(
                dir.clone(),
                Err(ConfigError::DuplicateScript {
                    dir: dir.clone(),
                    name: name.clone(),
                    other_dirs: others.join(", "),
                }),
            );
        }
    }
    RepoLoad {
        workers,
        warnings,
        skipped,
    }
}
