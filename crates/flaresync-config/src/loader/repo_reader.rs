//! All repository reads of one Worker load go through [`Reader`], which keeps paths inside
//! the repository (following in-repo symlinks) and records every path it touches.

use std::collections::VecDeque;

use super::CONFIG_FILE_NAMES;
use super::paths::{PathProblem, is_absolute, join_path, path_error};
use crate::error::{ConfigError, Warning};
use crate::repo::REPO_CONFIG_FILE;
use crate::tree::{EntryKind, SourceTree};

/// At most this many symlinks are followed while resolving one path.
const MAX_SYMLINK_HOPS: usize = 16;

/// Reader that records every path it touches and keeps paths inside the repository.
pub(super) struct Reader<'t> {
    pub tree: &'t dyn SourceTree,
    /// The Worker directory, for messages.
    pub dir: String,
    /// Every path read, probed or listed (the result's `inputs`).
    pub inputs: Vec<String>,
}

impl<'t> Reader<'t> {
    /// A reader for the Worker in `dir`; the result always depends on `flaresync.toml`.
    pub fn new(tree: &'t dyn SourceTree, dir: &str) -> Self {
        Reader {
            tree,
            dir: dir.to_owned(),
            inputs: vec![REPO_CONFIG_FILE.to_owned()],
        }
    }

    pub fn problem(&self, what: &str, problem: PathProblem) -> ConfigError {
        path_error(&self.dir, what, problem)
    }

    /// Reads a repo path (following in-repo symlinks). `Ok(None)` if absent or not a file.
    pub fn read(&mut self, what: &str, path: &str) -> Result<Option<Vec<u8>>, ConfigError> {
        self.inputs.push(path.to_owned());
        self.read_listed(what, path)
    }

    /// Reads a file found by [`Reader::list_files`]: its listed directory already is an input,
    /// so only a symlink's target is recorded.
    pub fn read_listed(&mut self, what: &str, path: &str) -> Result<Option<Vec<u8>>, ConfigError> {
        let real = resolve_symlinks(self.tree, path).map_err(|p| self.problem(what, p))?;
        if real != path {
            self.inputs.push(real.clone());
        }
        self.tree
            .read(&real)
            .map_err(|e| ConfigError::tree(path, e))
    }

    /// The Worker's config file by wrangler's precedence (json, jsonc, toml) and its bytes;
    /// a warning when the directory holds several.
    pub fn read_config(
        &mut self,
        warnings: &mut Vec<Warning>,
    ) -> Result<(String, Vec<u8>), ConfigError> {
        let mut present = Vec::new();
        for name in CONFIG_FILE_NAMES {
            let path = join_path(&self.dir, name);
            self.inputs.push(path.clone());
            let kind = self
                .tree
                .kind(&path)
                .map_err(|e| ConfigError::tree(&path, e))?;
            if matches!(kind, Some(EntryKind::File | EntryKind::Symlink)) {
                present.push(path);
            }
        }
        let dir = self.dir.clone();
        let Some(config_path) = present.first().cloned() else {
            return Err(ConfigError::NoConfig { dir });
        };
        if present.len() > 1 {
            warnings.push(Warning::file(
                &config_path,
                format!(
                    "several wrangler configs in {:?} ({}); using {config_path} as wrangler \
                     does (json, then jsonc, then toml); delete the others",
                    dir,
                    present.join(", ")
                ),
            ));
        }
        let bytes = self
            .read("config", &config_path)?
            .ok_or(ConfigError::NoConfig { dir })?;
        Ok((config_path, bytes))
    }

    /// The symlink-free repository path of `path` (which must stay inside the repository),
    /// and the kind of what is there (`None`: nothing).
    pub fn resolve(
        &mut self,
        what: &str,
        path: &str,
    ) -> Result<(String, Option<EntryKind>), ConfigError> {
        self.inputs.push(path.to_owned());
        let real = resolve_symlinks(self.tree, path).map_err(|p| self.problem(what, p))?;
        let kind = self
            .tree
            .kind(&real)
            .map_err(|e| ConfigError::tree(path, e))?;
        Ok((real, kind))
    }

    /// Files under `root` (relative to it, `what` names it in messages), not following
    /// directory symlinks out of the tree; entries named in `skipped` are passed over.
    pub fn list_files(
        &mut self,
        what: &str,
        root: &str,
        skipped: &[&str],
    ) -> Result<Vec<String>, ConfigError> {
        // The root itself may sit behind a symlink (`dist -> build`): list the real
        // directory, which must be inside the repository, and keep names relative to `root`.
        self.inputs.push(root.to_owned());
        let real_root = resolve_symlinks(self.tree, root).map_err(|p| self.problem(what, p))?;
        let mut out = Vec::new();
        let mut queue = VecDeque::from([String::new()]);
        while let Some(rel_dir) = queue.pop_front() {
            let dir_path = join_path(&real_root, &rel_dir);
            self.inputs.push(dir_path.clone());
            let Some(entries) = self
                .tree
                .list(&dir_path)
                .map_err(|e| ConfigError::tree(&dir_path, e))?
            else {
                continue;
            };
            for entry in entries {
                if skipped.contains(&entry.name.as_str()) {
                    continue;
                }
                let rel = join_path(&rel_dir, &entry.name);
                match entry.kind {
                    EntryKind::Dir => queue.push_back(rel),
                    // Symlinks are candidates too: when a rule matches, reading resolves them
                    // and refuses targets outside the repository. Directory symlinks are not
                    // followed.
                    EntryKind::File | EntryKind::Symlink => out.push(rel),
                }
            }
        }
        Ok(out)
    }
}

/// Follows symlinks component by component; the result is a symlink-free repo path.
fn resolve_symlinks(tree: &dyn SourceTree, path: &str) -> Result<String, PathProblem> {
    let mut resolved: Vec<String> = Vec::new();
    let mut pending: VecDeque<String> = path.split('/').map(str::to_owned).collect();
    let mut hops = 0;
    while let Some(part) = pending.pop_front() {
        match part.as_str() {
            "" | "." => continue,
            ".." => {
                if resolved.pop().is_none() {
                    return Err(PathProblem::Escapes(path.to_owned()));
                }
            }
            _ => {
                resolved.push(part);
                let current = resolved.join("/");
                if tree.kind(&current).map_err(PathProblem::Tree)? == Some(EntryKind::Symlink) {
                    hops += 1;
                    if hops > MAX_SYMLINK_HOPS {
                        return Err(PathProblem::Loop);
                    }
                    let target = tree
                        .read_link(&current)
                        .map_err(PathProblem::Tree)?
                        .unwrap_or_default();
                    if is_absolute(&target) {
                        return Err(PathProblem::Absolute(format!("{current} -> {target}")));
                    }
                    resolved.pop();
                    for (i, p) in target.split(['/', '\\']).enumerate() {
                        pending.insert(i, p.to_owned());
                    }
                }
            }
        }
    }
    Ok(resolved.join("/"))
}
