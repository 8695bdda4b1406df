//! The manifest of an assets directory from its files (`buildAssetManifest`, SPEC-2 §1.1):
//! wrangler's refusals (a Pages `_worker.js`, a file above 25 MiB) and Cloudflare's file count,
//! then one [`AssetFile`] per file. Pure: the loader lists and reads the files.

use std::sync::Arc;

use super::hash::asset_hash;
use super::model::AssetFile;

/// Largest asset wrangler uploads (`MAX_ASSET_SIZE`; exactly 25 MiB passes).
pub const MAX_ASSET_BYTES: u64 = 25 * 1024 * 1024;

/// Most files in one Worker version's assets (Cloudflare's Paid plan; Free allows 20,000).
pub const MAX_ASSET_FILES: usize = 100_000;

/// The name of a Pages Worker, which must not be uploaded as a public asset by accident.
pub const PAGES_WORKER_FILE: &str = "_worker.js";

/// Why an assets directory cannot be deployed. Paths are relative to the assets directory.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    #[error(
        "{path:?} is a Pages {PAGES_WORKER_FILE} {what} and would be public: remove it, or add \
         a .assetsignore containing {PAGES_WORKER_FILE} to the assets directory (an empty \
         .assetsignore uploads it on purpose), as wrangler requires"
    )]
    PagesWorker { path: String, what: &'static str },
    #[error(
        "{path:?} is {size} bytes, above Cloudflare's limit of {MAX_ASSET_BYTES} bytes (25 MiB) \
         per asset: shrink or split it, serve it from R2, or list it in .assetsignore"
    )]
    TooLarge { path: String, size: u64 },
    #[error(
        "{count} files, above Cloudflare's limit of {limit} assets per Worker version (from \
         {first_over:?} on): list files in .assetsignore or serve some from R2"
    )]
    TooMany {
        count: usize,
        limit: usize,
        first_over: String,
    },
}

/// The wrangler guard against a Pages `_worker.js` (file, or anything whose path starts with
/// it) when the directory has no `.assetsignore`.
pub fn check_pages_worker(relative: &str, has_ignore_file: bool) -> Result<(), ManifestError> {
    if has_ignore_file || !relative.starts_with(PAGES_WORKER_FILE) {
        return Ok(());
    }
    let what = if relative == PAGES_WORKER_FILE {
        "file"
    } else {
        "directory"
    };
    Err(ManifestError::PagesWorker {
        path: relative.to_owned(),
        what,
    })
}

/// The file count check, on the sorted candidate paths (before any is read).
pub fn check_count(sorted_relative: &[String], limit: usize) -> Result<(), ManifestError> {
    match sorted_relative.get(limit) {
        Some(first_over) => Err(ManifestError::TooMany {
            count: sorted_relative.len(),
            limit,
            first_over: first_over.clone(),
        }),
        None => Ok(()),
    }
}

/// One manifest entry for the file at `relative` with content `bytes`, or why it cannot be
/// uploaded.
pub fn manifest_entry(
    relative: &str,
    bytes: Vec<u8>,
    has_ignore_file: bool,
) -> Result<AssetFile, ManifestError> {
    check_pages_worker(relative, has_ignore_file)?;
    let size = bytes.len() as u64;
    if size > MAX_ASSET_BYTES {
        return Err(ManifestError::TooLarge {
            path: relative.to_owned(),
            size,
        });
    }
    let path = format!("/{}", relative.trim_start_matches('/'));
    Ok(AssetFile {
        hash: asset_hash(&path, &bytes),
        path,
        size,
        content: Arc::from(bytes.into_boxed_slice()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_has_wranglers_key_hash_and_size() {
        let entry = manifest_entry("index.html", b"hello world\n".to_vec(), false).expect("ok");
        assert_eq!(entry.path, "/index.html");
        assert_eq!(entry.hash, "5cb6ed6170630b0405c5094ac55058c2");
        assert_eq!(entry.size, 12);
        let nested = manifest_entry("Docs/Ünï code.TXT", Vec::new(), false).expect("ok");
        assert_eq!(nested.path, "/Docs/Ünï code.TXT");
    }

    #[test]
    fn exactly_25_mib_passes_and_one_byte_more_is_refused_by_name() {
        let limit = usize::try_from(MAX_ASSET_BYTES).expect("fits");
        assert!(manifest_entry("ok.bin", vec![0; limit], false).is_ok());
        let error = manifest_entry("big/video.mp4", vec![0; limit + 1], false).expect_err("big");
        assert_eq!(
            error,
            ManifestError::TooLarge {
                path: "big/video.mp4".into(),
                size: MAX_ASSET_BYTES + 1
            }
        );
        assert!(error.to_string().contains("\"big/video.mp4\""), "{error}");
    }

    #[test]
    fn a_pages_worker_is_refused_unless_an_assetsignore_exists() {
        for (path, what) in [
            ("_worker.js", "file"),
            ("_worker.js/index.js", "directory"),
            ("_worker.json", "directory"),
        ] {
            let error = check_pages_worker(path, false).expect_err(path);
            assert_eq!(
                error,
                ManifestError::PagesWorker {
                    path: path.into(),
                    what
                }
            );
            assert!(check_pages_worker(path, true).is_ok());
        }
        assert!(check_pages_worker("js/_worker.js", false).is_ok());
    }

    #[test]
    fn the_file_count_names_the_first_file_over_the_limit() {
        let files: Vec<String> = (0..5).map(|i| format!("f{i}.txt")).collect();
        assert!(check_count(&files, 5).is_ok());
        let error = check_count(&files, 3).expect_err("too many");
        assert_eq!(
            error,
            ManifestError::TooMany {
                count: 5,
                limit: 3,
                first_over: "f3.txt".into()
            }
        );
    }
}
