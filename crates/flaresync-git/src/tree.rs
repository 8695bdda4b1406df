//! [`SourceTree`] over the tree of one commit, so the config loader reads Git objects directly
//! (no checkout, no working copy).
//!
//! Symlinks are reported as [`EntryKind::Symlink`] and their target is the blob content, exactly
//! as Git stores it. Submodules (gitlink entries) are not part of a config repository's content
//! and are reported as absent.

use flaresync_config::{EntryKind, SourceTree, TreeEntry, TreeError};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use git2::{ObjectType, Oid, Repository, Tree};

/// Git file mode of a symbolic link entry.
const MODE_SYMLINK: i32 = 0o120000;
/// Git file mode of a submodule (gitlink) entry.
const MODE_GITLINK: i32 = 0o160000;

/// The tree of one commit, readable through [`SourceTree`].
///
/// Every tree object met while resolving paths is parsed once and kept: libgit2 does not cache
/// large trees, and without this a 1,000-entry directory would be re-read for every lookup
/// below it (cost quadratic in the number of Workers).
pub struct CommitTree<'repo> {
    repo: &'repo Repository,
    commit: Oid,
    tree: Tree<'repo>,
    subtrees: RefCell<HashMap<Oid, Rc<Tree<'repo>>>>,
}

impl std::fmt::Debug for CommitTree<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommitTree")
            .field("commit", &self.commit)
            .field("tree", &self.tree.id())
            .finish()
    }
}

/// What one path of a commit tree resolves to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathEntry {
    pub oid: Oid,
    pub kind: EntryKind,
}

impl<'repo> CommitTree<'repo> {
    /// The tree of `commit`.
    pub fn new(repo: &'repo Repository, commit: Oid) -> Result<Self, git2::Error> {
        let tree = repo.find_commit(commit)?.tree()?;
        let subtrees = RefCell::new(HashMap::from([(tree.id(), Rc::new(tree.clone()))]));
        Ok(CommitTree {
            repo,
            commit,
            tree,
            subtrees,
        })
    }

    /// Id of the commit this tree belongs to.
    pub fn commit(&self) -> Oid {
        self.commit
    }

    /// Id of the root tree.
    pub fn tree_id(&self) -> Oid {
        self.tree.id()
    }

    /// The tree object `oid`, parsed once per [`CommitTree`].
    fn subtree(&self, path: &str, oid: Oid) -> Result<Rc<Tree<'repo>>, TreeError> {
        if let Some(tree) = self.subtrees.borrow().get(&oid) {
            return Ok(tree.clone());
        }
        let tree = Rc::new(self.repo.find_tree(oid).map_err(|e| self.error(path, &e))?);
        self.subtrees.borrow_mut().insert(oid, tree.clone());
        Ok(tree)
    }

    /// Object id and kind of the entry at `path` ("" is the root tree), `None` if absent.
    pub fn entry(&self, path: &str) -> Result<Option<PathEntry>, TreeError> {
        let components = split_path(path)?;
        let mut current = PathEntry {
            oid: self.tree.id(),
            kind: EntryKind::Dir,
        };
        for component in &components {
            if current.kind != EntryKind::Dir {
                return Ok(None);
            }
            let tree = self.subtree(path, current.oid)?;
            let Some(entry) = tree.get_name(component) else {
                return if path.contains(char::REPLACEMENT_CHARACTER) {
                    self.entry_by_lossy_names(path, &components)
                } else {
                    Ok(None)
                };
            };
            match entry_kind(entry.filemode(), entry.kind()) {
                Some(kind) => {
                    current = PathEntry {
                        oid: entry.id(),
                        kind,
                    }
                }
                None => return Ok(None),
            }
        }
        Ok(Some(current))
    }

    /// Resolves a path whose components came from [`SourceTree::list`], where names that are
    /// not valid UTF-8 are shown lossily (U+FFFD): each component matches an entry whose name
    /// reads the same once decoded lossily. Two such entries in one directory are ambiguous.
    fn entry_by_lossy_names(
        &self,
        path: &str,
        components: &[&str],
    ) -> Result<Option<PathEntry>, TreeError> {
        let mut current = PathEntry {
            oid: self.tree.id(),
            kind: EntryKind::Dir,
        };
        for component in components {
            if current.kind != EntryKind::Dir {
                return Ok(None);
            }
            let tree = self.subtree(path, current.oid)?;
            let mut found = None;
            for entry in tree.iter() {
                if String::from_utf8_lossy(entry.name_bytes()) != *component {
                    continue;
                }
                if found.is_some() {
                    return Err(TreeError(format!(
                        "path {path:?} in commit {}: several entries have names that are not \
                         valid UTF-8 and read the same; rename them",
                        self.commit
                    )));
                }
                found = entry_kind(entry.filemode(), entry.kind()).map(|kind| PathEntry {
                    oid: entry.id(),
                    kind,
                });
                if found.is_none() {
                    return Ok(None);
                }
            }
            match found {
                Some(entry) => current = entry,
                None => return Ok(None),
            }
        }
        Ok(Some(current))
    }

    fn error(&self, path: &str, error: &git2::Error) -> TreeError {
        TreeError(format!(
            "cannot read {path:?} in commit {}: {}",
            self.commit,
            error.message()
        ))
    }

    fn blob(&self, path: &str, oid: Oid) -> Result<Vec<u8>, TreeError> {
        self.repo
            .find_blob(oid)
            .map(|blob| blob.content().to_vec())
            .map_err(|e| self.error(path, &e))
    }
}

fn entry_kind(mode: i32, object: Option<ObjectType>) -> Option<EntryKind> {
    match (mode, object) {
        (MODE_GITLINK, _) => None,
        (MODE_SYMLINK, _) => Some(EntryKind::Symlink),
        (_, Some(ObjectType::Tree)) => Some(EntryKind::Dir),
        (_, Some(ObjectType::Blob)) => Some(EntryKind::File),
        _ => None,
    }
}

/// Splits a repository-relative path into its components, refusing anything that could escape
/// the tree (`..`, absolute paths, backslashes).
pub(crate) fn split_path(path: &str) -> Result<Vec<&str>, TreeError> {
    if path.starts_with('/') || path.contains('\\') || path.contains('\0') {
        return Err(TreeError(format!(
            "path {path:?} is not a plain repository-relative path"
        )));
    }
    let mut components = Vec::new();
    for component in path.split('/') {
        match component {
            "" | "." => {}
            ".." => {
                return Err(TreeError(format!(
                    "path {path:?} is not a plain repository-relative path"
                )));
            }
            normal => components.push(normal),
        }
    }
    Ok(components)
}

impl SourceTree for CommitTree<'_> {
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, TreeError> {
        match self.entry(path)? {
            Some(PathEntry {
                oid,
                kind: EntryKind::File,
            }) => self.blob(path, oid).map(Some),
            _ => Ok(None),
        }
    }

    fn list(&self, dir: &str) -> Result<Option<Vec<TreeEntry>>, TreeError> {
        let oid = match self.entry(dir)? {
            Some(PathEntry {
                oid,
                kind: EntryKind::Dir,
            }) => oid,
            _ => return Ok(None),
        };
        let tree = self.subtree(dir, oid)?;
        let mut entries = Vec::with_capacity(tree.len());
        for entry in tree.iter() {
            let Some(kind) = entry_kind(entry.filemode(), entry.kind()) else {
                continue;
            };
            let name = String::from_utf8_lossy(entry.name_bytes()).into_owned();
            entries.push(TreeEntry { name, kind });
        }
        Ok(Some(entries))
    }

    fn kind(&self, path: &str) -> Result<Option<EntryKind>, TreeError> {
        Ok(self.entry(path)?.map(|entry| entry.kind))
    }

    fn read_link(&self, path: &str) -> Result<Option<String>, TreeError> {
        match self.entry(path)? {
            Some(PathEntry {
                oid,
                kind: EntryKind::Symlink,
            }) => {
                let target = self.blob(path, oid)?;
                Ok(Some(String::from_utf8_lossy(&target).into_owned()))
            }
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_path_drops_empty_and_dot_components() {
        assert_eq!(split_path("").expect("ok"), Vec::<&str>::new());
        assert_eq!(split_path("a//b/./c").expect("ok"), vec!["a", "b", "c"]);
    }

    #[test]
    fn split_path_refuses_escapes() {
        for bad in ["../x", "a/../../b", "/etc/passwd", "a\\b"] {
            assert!(split_path(bad).is_err(), "{bad} accepted");
        }
    }

    fn repo_with_files() -> (tempfile::TempDir, Repository, Oid) {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = Repository::init(dir.path()).expect("init");
        let blob = repo.blob(b"hello").expect("blob");
        let link = repo.blob(b"../shared/x.js").expect("blob");
        let mut sub = repo.treebuilder(None).expect("tb");
        sub.insert("index.js", blob, 0o100644).expect("insert");
        sub.insert("link.js", link, MODE_SYMLINK).expect("insert");
        let sub_id = sub.write().expect("write");
        let mut root = repo.treebuilder(None).expect("tb");
        root.insert("w", sub_id, 0o040000).expect("insert");
        root.insert("top.txt", blob, 0o100644).expect("insert");
        let root_id = root.write().expect("write");
        drop((sub, root));
        let commit = {
            let tree = repo.find_tree(root_id).expect("tree");
            let sig =
                git2::Signature::new("t", "t@example.com", &git2::Time::new(0, 0)).expect("sig");
            repo.commit(Some("HEAD"), &sig, &sig, "init", &tree, &[])
                .expect("commit")
        };
        (dir, repo, commit)
    }

    #[test]
    fn commit_tree_reads_files_dirs_and_symlinks() {
        let (_dir, repo, commit) = repo_with_files();
        let tree = CommitTree::new(&repo, commit).expect("tree");
        assert_eq!(
            tree.read("w/index.js").expect("read"),
            Some(b"hello".to_vec())
        );
        assert_eq!(tree.read("w").expect("read"), None);
        assert_eq!(tree.read("w/link.js").expect("read"), None);
        assert_eq!(tree.read("missing").expect("read"), None);
        assert_eq!(tree.kind("w").expect("kind"), Some(EntryKind::Dir));
        assert_eq!(tree.kind("").expect("kind"), Some(EntryKind::Dir));
        assert_eq!(
            tree.kind("w/link.js").expect("kind"),
            Some(EntryKind::Symlink)
        );
        assert_eq!(
            tree.read_link("w/link.js").expect("link"),
            Some("../shared/x.js".into())
        );
        assert_eq!(tree.read_link("w/index.js").expect("link"), None);
        let mut names: Vec<_> = tree
            .list("")
            .expect("list")
            .expect("root exists")
            .into_iter()
            .map(|e| (e.name, e.kind))
            .collect();
        names.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            names,
            vec![
                ("top.txt".into(), EntryKind::File),
                ("w".into(), EntryKind::Dir)
            ]
        );
        assert_eq!(tree.list("top.txt").expect("list"), None);
        assert!(tree.read("../x").is_err());
    }

    #[cfg(unix)]
    #[test]
    fn names_that_are_not_utf8_resolve_through_their_listed_form() {
        use std::os::unix::ffi::OsStrExt;
        let name = |bytes: &[u8]| std::ffi::OsStr::from_bytes(bytes).to_owned();
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = Repository::init(dir.path()).expect("init");
        let config = repo.blob(b"name = \"x\"").expect("blob");
        let other = repo.blob(b"other").expect("blob");
        let mut sub = repo.treebuilder(None).expect("tb");
        sub.insert("wrangler.toml", config, 0o100644)
            .expect("insert");
        sub.insert(name(b"\xe9t\xe9.txt"), other, 0o100644)
            .expect("insert");
        let sub_id = sub.write().expect("write");
        let mut root = repo.treebuilder(None).expect("tb");
        root.insert(name(b"\xffdir"), sub_id, 0o040000)
            .expect("insert");
        root.insert(name(b"a\xfe"), other, 0o100644)
            .expect("insert");
        root.insert(name(b"a\xfd"), other, 0o100644)
            .expect("insert");
        let root_id = root.write().expect("write");
        drop((sub, root));
        let tree = repo.find_tree(root_id).expect("tree");
        let sig = git2::Signature::new("t", "t@example.com", &git2::Time::new(0, 0)).expect("sig");
        let commit = repo
            .commit(Some("HEAD"), &sig, &sig, "init", &tree, &[])
            .expect("commit");
        let tree = CommitTree::new(&repo, commit).expect("tree");

        let listed: Vec<String> = tree
            .list("")
            .expect("list")
            .expect("root")
            .into_iter()
            .map(|e| e.name)
            .collect();
        let dir_name = listed
            .iter()
            .find(|n| n.ends_with("dir"))
            .expect("the directory is listed")
            .clone();
        assert_eq!(dir_name, "\u{fffd}dir");
        assert_eq!(tree.kind(&dir_name).expect("kind"), Some(EntryKind::Dir));
        assert_eq!(
            tree.read(&format!("{dir_name}/wrangler.toml"))
                .expect("read"),
            Some(b"name = \"x\"".to_vec())
        );
        assert_eq!(
            tree.read(&format!("{dir_name}/\u{fffd}t\u{fffd}.txt"))
                .expect("read"),
            Some(b"other".to_vec())
        );
        assert_eq!(
            tree.read(&format!("{dir_name}/missing")).expect("read"),
            None
        );
        // Two names that read the same are ambiguous, not silently one of them.
        assert!(tree.read("a\u{fffd}").is_err());
    }
}
