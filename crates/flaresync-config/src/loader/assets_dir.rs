//! Reads a Worker's static assets from the repository (the commit's tree, never the working
//! copy when the tree is a commit) as wrangler's `buildAssetManifest` reads the directory: every
//! file below it, minus the ignore rules, each hashed; `_redirects` and `_headers` from its root
//! as text. Symlinks to files are uploaded with their target's content; symlinks to directories
//! are not followed (as Node's recursive `readdir` does not).

use super::paths::{join_path, normalize, path_error};
use super::repo_reader::Reader;
use crate::assets::{
    ASSETS_IGNORE_FILE, Assets, AssetsIgnore, HEADERS_FILE, MAX_ASSET_FILES, ManifestError,
    REDIRECTS_FILE, check_count, manifest_entry,
};
use crate::error::{ConfigError, Location};
use crate::tree::EntryKind;

const WHAT: &str = "assets.directory";

/// The assets `declared` by the config (directory as written), read from the repository.
pub(super) fn read_assets(
    reader: &mut Reader<'_>,
    declared: &Assets,
    location: Option<&Location>,
) -> Result<Assets, ConfigError> {
    let dir = reader.dir.clone();
    let at = location.map_or_else(|| format!("`{WHAT}`"), |l| format!("`{WHAT}` at {l}"));
    let directory = normalize(&dir, &declared.directory).map_err(|p| path_error(&dir, WHAT, p))?;
    let (real, kind) = reader.resolve(WHAT, &directory)?;
    match kind {
        Some(EntryKind::Dir) => {}
        None => {
            return Err(ConfigError::bundle(
                &dir,
                format!(
                    "{at}: the assets directory {directory:?} is not in the commit; flaresync \
                     does not build: commit the built assets (check they are not ignored by \
                     .gitignore) or fix the path"
                ),
            ));
        }
        Some(_) => {
            return Err(ConfigError::bundle(
                &dir,
                format!("{at}: {directory:?} is a file, not a directory; point it at a directory"),
            ));
        }
    }
    let text = |bytes: Vec<u8>| String::from_utf8_lossy(&bytes).into_owned();
    let ignore_text = reader
        .read(WHAT, &join_path(&real, ASSETS_IGNORE_FILE))?
        .map(text);
    let rules = AssetsIgnore::new(ignore_text.as_deref()).map_err(|error| {
        ConfigError::bundle(
            &dir,
            format!("{}: {error}", join_path(&directory, ASSETS_IGNORE_FILE)),
        )
    })?;
    let mut candidates: Vec<String> = reader
        .list_files(WHAT, &real, &[".git"])?
        .into_iter()
        .filter(|relative| !rules.is_ignored(relative))
        .collect();
    candidates.sort();
    let refuse = |source: ManifestError| ConfigError::Assets {
        dir: dir.clone(),
        directory: directory.clone(),
        source,
    };
    check_count(&candidates, MAX_ASSET_FILES).map_err(refuse)?;
    let mut files = Vec::with_capacity(candidates.len());
    for relative in candidates {
        let path = join_path(&real, &relative);
        let Some(bytes) = reader.read_listed(WHAT, &path)? else {
            // A symlink to a directory is skipped; one to nothing is what wrangler fails on.
            if reader.resolve(WHAT, &path)?.1 == Some(EntryKind::Dir) {
                continue;
            }
            return Err(ConfigError::bundle(
                &dir,
                format!(
                    "asset {path:?} is a symlink to a file that is not in the commit; commit \
                     the target or remove the link"
                ),
            ));
        };
        files.push(manifest_entry(&relative, bytes, rules.has_ignore_file()).map_err(refuse)?);
    }
    let mut config = declared.config.clone();
    config.redirects = reader
        .read(WHAT, &join_path(&real, REDIRECTS_FILE))?
        .map(text);
    config.headers = reader
        .read(WHAT, &join_path(&real, HEADERS_FILE))?
        .map(text);
    Ok(Assets {
        directory,
        config,
        files,
    })
}
