//! Read-only access to a config repository's files, independent of where they live.
//!
//! The loader only sees this trait, so the same code reads a working directory
//! ([`DirTree`]) or a commit's tree (implemented in `flaresync-git`), and stays free of git2.

use std::path::{Component, Path, PathBuf};

/// One entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEntry {
    /// File name (no slashes).
    pub name: String,
    pub kind: EntryKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    /// A symbolic link; [`SourceTree::read_link`] gives its target.
    Symlink,
}

/// Errors a tree implementation can report (I/O, corrupt object, ...), as text with context.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TreeError(pub String);

/// Repository-relative, forward-slash paths; "" is the repository root.
pub trait SourceTree {
    /// Contents of a regular file, `Ok(None)` if nothing exists at `path`.
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, TreeError>;
    /// Entries of a directory, `Ok(None)` if it does not exist. Order is unspecified.
    fn list(&self, dir: &str) -> Result<Option<Vec<TreeEntry>>, TreeError>;
    /// Kind of the entry at `path`, `None` if absent. Must not follow symlinks.
    fn kind(&self, path: &str) -> Result<Option<EntryKind>, TreeError>;
    /// Target of the symlink at `path` (as stored), `None` if not a symlink.
    fn read_link(&self, path: &str) -> Result<Option<String>, TreeError>;
}

/// A [`SourceTree`] over a directory on disk (a working copy).
#[derive(Debug, Clone)]
pub struct DirTree {
    root: PathBuf,
}

impl DirTree {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DirTree { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn full(&self, path: &str) -> Result<PathBuf, TreeError> {
        let relative = Path::new(path);
        if relative
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return Err(TreeError(format!(
                "path {path:?} is not a plain repository-relative path"
            )));
        }
        let full = self.root.join(relative);
        if path.contains(char::REPLACEMENT_CHARACTER) && std::fs::symlink_metadata(&full).is_err() {
            return self.resolve_lossy(path, relative);
        }
        Ok(full)
    }

    /// Resolves a path whose components came from [`SourceTree::list`], where names that are
    /// not valid UTF-8 are shown lossily (U+FFFD): each component matches the directory entry
    /// whose name reads the same once decoded lossily. Two such entries are ambiguous.
    fn resolve_lossy(&self, path: &str, relative: &Path) -> Result<PathBuf, TreeError> {
        let mut current = self.root.clone();
        for component in relative.components() {
            let Component::Normal(wanted) = component else {
                continue;
            };
            let exact = current.join(wanted);
            if std::fs::symlink_metadata(&exact).is_ok() {
                current = exact;
                continue;
            }
            let Ok(read) = std::fs::read_dir(&current) else {
                // Absent: the caller reports "not found" for the unresolved path.
                return Ok(current.join(wanted));
            };
            let wanted = wanted.to_string_lossy();
            let mut found: Option<PathBuf> = None;
            for entry in read.flatten() {
                if entry.file_name().to_string_lossy() != wanted {
                    continue;
                }
                if found.is_some() {
                    return Err(TreeError(format!(
                        "path {path:?}: several entries have names that are not valid UTF-8 \
                         and read the same; rename them"
                    )));
                }
                found = Some(entry.path());
            }
            match found {
                Some(next) => current = next,
                None => return Ok(current.join(&*wanted)),
            }
        }
        Ok(current)
    }
}

fn io_error(path: &Path, error: std::io::Error) -> TreeError {
    TreeError(format!("cannot read {}: {error}", path.display()))
}

impl SourceTree for DirTree {
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, TreeError> {
        let full = self.full(path)?;
        match std::fs::symlink_metadata(&full) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error(&full, e)),
            Ok(meta) if !meta.is_file() => return Ok(None),
            Ok(_) => {}
        }
        std::fs::read(&full)
            .map(Some)
            .map_err(|e| io_error(&full, e))
    }

    fn list(&self, dir: &str) -> Result<Option<Vec<TreeEntry>>, TreeError> {
        let full = self.full(dir)?;
        let read = match std::fs::read_dir(&full) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error(&full, e)),
            Ok(read) => read,
        };
        let mut entries = Vec::new();
        for entry in read {
            let entry = entry.map_err(|e| io_error(&full, e))?;
            let file_type = entry.file_type().map_err(|e| io_error(&entry.path(), e))?;
            let kind = if file_type.is_symlink() {
                EntryKind::Symlink
            } else if file_type.is_dir() {
                EntryKind::Dir
            } else {
                EntryKind::File
            };
            entries.push(TreeEntry {
                name: entry.file_name().to_string_lossy().into_owned(),
                kind,
            });
        }
        Ok(Some(entries))
    }

    fn kind(&self, path: &str) -> Result<Option<EntryKind>, TreeError> {
        let full = self.full(path)?;
        match std::fs::symlink_metadata(&full) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(&full, e)),
            Ok(meta) if meta.file_type().is_symlink() => Ok(Some(EntryKind::Symlink)),
            Ok(meta) if meta.is_dir() => Ok(Some(EntryKind::Dir)),
            Ok(_) => Ok(Some(EntryKind::File)),
        }
    }

    fn read_link(&self, path: &str) -> Result<Option<String>, TreeError> {
        let full = self.full(path)?;
        match std::fs::read_link(&full) {
            Ok(target) => Ok(Some(target.to_string_lossy().into_owned())),
            Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(&full, e)),
        }
    }
}
