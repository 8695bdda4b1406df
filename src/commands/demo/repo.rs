//! The demo's config repository: the embedded example files, commits with a fixed author and
//! clock (the same commit ids on every machine), and `git revert`.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use git2::{Repository, Signature, Time};

/// The example repository, embedded so `flaresync demo` works from any directory.
pub const FILES: &[(&str, &str)] = &[
    (
        "flaresync.toml",
        include_str!("../../../examples/demo-repo/flaresync.toml"),
    ),
    (
        "workers/api/wrangler.toml",
        include_str!("../../../examples/demo-repo/workers/api/wrangler.toml"),
    ),
    (
        "workers/api/dist/index.js",
        include_str!("../../../examples/demo-repo/workers/api/dist/index.js"),
    ),
    (
        "workers/auth/wrangler.jsonc",
        include_str!("../../../examples/demo-repo/workers/auth/wrangler.jsonc"),
    ),
    (
        "workers/auth/dist/index.js",
        include_str!("../../../examples/demo-repo/workers/auth/dist/index.js"),
    ),
    (
        "workers/jobs/wrangler.toml",
        include_str!("../../../examples/demo-repo/workers/jobs/wrangler.toml"),
    ),
    (
        "workers/jobs/dist/index.js",
        include_str!("../../../examples/demo-repo/workers/jobs/dist/index.js"),
    ),
];

/// Fixed author and clock, so the demo's commit ids are the same on every machine.
pub struct Author {
    pub seconds: i64,
}

impl Author {
    pub fn next(&mut self) -> anyhow::Result<Signature<'static>> {
        self.seconds += 60;
        Ok(Signature::new(
            "Dana Developer",
            "dana@example.com",
            &Time::new(self.seconds, 0),
        )?)
    }
}

pub fn write(root: &Path, path: &str, content: &str) -> anyhow::Result<()> {
    let full: PathBuf = root.join(path);
    if let Some(parent) = full.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&full, content).with_context(|| format!("cannot write {}", full.display()))
}

pub fn commit_all(
    repo: &Repository,
    author: &mut Author,
    message: &str,
) -> anyhow::Result<git2::Oid> {
    let mut index = repo.index()?;
    index.add_all(["*"], git2::IndexAddOption::DEFAULT, None)?;
    index.write()?;
    let tree = repo.find_tree(index.write_tree()?)?;
    let signature = author.next()?;
    let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
    let parents: Vec<&git2::Commit> = parent.iter().collect();
    Ok(repo.commit(
        Some("HEAD"),
        &signature,
        &signature,
        message,
        &tree,
        &parents,
    )?)
}

/// `git revert HEAD`, with git's message, applied to the working tree too.
pub fn revert_head(repo: &Repository, author: &mut Author) -> anyhow::Result<git2::Oid> {
    let head = repo.head()?.peel_to_commit()?;
    let mut index = repo.revert_commit(&head, &head.parent(0)?, 0, None)?;
    if index.has_conflicts() {
        bail!("reverting {} conflicts", head.id());
    }
    let tree = repo.find_tree(index.write_tree_to(repo)?)?;
    let signature = author.next()?;
    let subject = head.summary().ok().flatten().unwrap_or_default().to_owned();
    let message = format!(
        "Revert \"{subject}\"\n\nThis reverts commit {}.\n",
        head.id()
    );
    let id = repo.commit(
        Some("HEAD"),
        &signature,
        &signature,
        &message,
        &tree,
        &[&head],
    )?;
    repo.checkout_head(Some(git2::build::CheckoutBuilder::new().force()))?;
    Ok(id)
}
