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
    let named = workers.iter().filter_map(|(dir, result)| {
        let worker = result.as_ref().ok()?;
        Some((
            worker.account_id.clone(),
            worker.spec.name.clone(),
            dir.clone(),
        ))
    });
    for (dir, error) in duplicate_scripts(named) {
        workers.insert(dir, Err(error));
    }
    RepoLoad {
        workers,
        warnings,
        skipped,
    }
}

/// The [`ConfigError::DuplicateScript`] of every directory whose Worker has the script name of
/// another one in the same scope (e.g. its account), as `(dir, error)` pairs. `workers` are
/// `(scope, script name, dir)`; each error names the other directories in the order given.
pub fn duplicate_scripts<S: Ord>(
    workers: impl IntoIterator<Item = (S, String, String)>,
) -> Vec<(String, ConfigError)> {
    let mut by_name: BTreeMap<(S, String), Vec<String>> = BTreeMap::new();
    for (scope, name, dir) in workers {
        by_name.entry((scope, name)).or_default().push(dir);
    }
    let mut errors = Vec::new();
    for ((_, name), dirs) in by_name {
        if dirs.len() < 2 {
            continue;
        }
        for dir in &dirs {
            let others: Vec<String> = dirs
                .iter()
                .filter(|other| *other != dir)
                .map(|other| format!("{other:?}"))
                .collect();
            errors.push((
                dir.clone(),
                ConfigError::DuplicateScript {
                    dir: dir.clone(),
                    name: name.clone(),
                    other_dirs: others.join(", "),
                },
            ));
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_shared_within_a_scope_are_duplicates() {
        let workers = [
            ("acct-1", "api", "a"),
            ("acct-1", "api", "b"),
            ("acct-1", "api", "c"),
            ("acct-2", "api", "d"),
            ("acct-1", "web", "e"),
        ]
        .map(|(scope, name, dir)| (scope, name.to_owned(), dir.to_owned()));
        let found: Vec<(String, String)> = duplicate_scripts(workers)
            .into_iter()
            .map(|(dir, error)| (dir, error.to_string()))
            .collect();
        let expected = [
            (
                "a",
                ConfigError::DuplicateScript {
                    dir: "a".into(),
                    name: "api".into(),
                    other_dirs: "\"b\", \"c\"".into(),
                },
            ),
            (
                "b",
                ConfigError::DuplicateScript {
                    dir: "b".into(),
                    name: "api".into(),
                    other_dirs: "\"a\", \"c\"".into(),
                },
            ),
            (
                "c",
                ConfigError::DuplicateScript {
                    dir: "c".into(),
                    name: "api".into(),
                    other_dirs: "\"a\", \"b\"".into(),
                },
            ),
        ]
        .map(|(dir, error)| (dir.to_owned(), error.to_string()));
        assert_eq!(found, expected);
    }
}
