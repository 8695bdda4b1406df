//! Finding the Worker directories of a repository: those holding a wrangler config.

use std::collections::VecDeque;

use super::CONFIG_FILE_NAMES;
use super::paths::join_path;
use crate::repo::RepoConfig;
use crate::tree::{EntryKind, SourceTree, TreeError};

/// Repo-relative directories holding a wrangler config, sorted. Skips `node_modules`, `.git`,
/// hidden directories, symlinked directories and `exclude`d paths.
///
/// # Errors
/// Only tree read failures.
pub fn discover_workers(
    tree: &dyn SourceTree,
    repo: &RepoConfig,
) -> Result<Vec<String>, TreeError> {
    let mut found = Vec::new();
    let mut queue = VecDeque::from([String::new()]);
    while let Some(dir) = queue.pop_front() {
        let Some(entries) = tree.list(&dir)? else {
            continue;
        };
        let mut has_config = false;
        for entry in &entries {
            match entry.kind {
                EntryKind::Dir => {
                    if entry.name == "node_modules" || entry.name.starts_with('.') {
                        continue;
                    }
                    let child = join_path(&dir, &entry.name);
                    if !repo.is_excluded(&child) {
                        queue.push_back(child);
                    }
                }
                EntryKind::File | EntryKind::Symlink => {
                    if CONFIG_FILE_NAMES.contains(&entry.name.as_str()) {
                        has_config = true;
                    }
                }
            }
        }
        if has_config && !(dir.is_empty() && repo.is_excluded("")) {
            found.push(dir);
        }
    }
    found.sort();
    Ok(found)
}
