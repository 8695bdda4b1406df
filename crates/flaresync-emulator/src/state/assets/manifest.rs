//! The asset manifest a session is opened with (`{"/path": {hash, size}}`, SPEC-2 §1.1, §1.3):
//! its validation against Cloudflare's limits (§1.6), its content-addressed id, and the buckets
//! of missing hashes the session answers. Pure.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// Largest asset file (W86 `MAX_ASSET_SIZE`; D limits): 25 MiB.
pub const MAX_FILE_BYTES: u64 = 25 * 1024 * 1024;
/// Files per Worker version (SPEC-2 §1.6: Free 20,000, Paid 100,000). The emulator applies the
/// Paid figure, as it does for the script size, and so does flaresync's own check
/// (`flaresync_config::assets::MAX_ASSET_FILES`): the two agree on what is refused.
pub const MAX_FILES: usize = 100_000;
/// A bucket closes when it holds this many files...
const BUCKET_FILES: usize = 500;
/// ...or this many bytes (before base64), so one upload request stays well below the body limit.
const BUCKET_BYTES: u64 = 40 * 1024 * 1024;

/// One manifest entry: the content hash (an opaque 32-hex key, §1.2) and the size in bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub hash: String,
    pub size: u64,
}

/// A checked manifest: path (starting with `/`) -> entry, in path order.
pub type Manifest = BTreeMap<String, Entry>;

fn invalid(detail: impl std::fmt::Display) -> ApiError {
    ApiError::validation(format!("invalid assets manifest: {detail}"))
}

/// Reads the session body `{"manifest": {...}}` into a checked manifest.
pub fn parse(body: &Value) -> Result<Manifest, ApiError> {
    let Some(entries) = body.get("manifest").and_then(Value::as_object) else {
        return Err(invalid(
            "the body must be {\"manifest\": {\"/path\": {\"hash\": \"<32 hex>\", \"size\": <bytes>}}}",
        ));
    };
    if entries.len() > MAX_FILES {
        return Err(ApiError::validation(format!(
            "the assets manifest lists {} files; a Worker version may have at most {MAX_FILES} \
             asset files: remove files or list them in .assetsignore",
            entries.len()
        )));
    }
    let mut manifest = Manifest::new();
    for (path, entry) in entries {
        if !path.starts_with('/') || path.contains('\0') {
            return Err(invalid(format!(
                "path {path:?} must start with '/' (the file's path relative to the assets directory)"
            )));
        }
        let hash = entry
            .get("hash")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if hash.len() != 32 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid(format!(
                "{path}: `hash` must be a 32-character hexadecimal string"
            )));
        }
        let Some(size) = entry.get("size").and_then(Value::as_u64) else {
            return Err(invalid(format!(
                "{path}: `size` must be a non-negative integer (bytes)"
            )));
        };
        if size > MAX_FILE_BYTES {
            return Err(ApiError::validation(format!(
                "Asset too large: {path} is {size} bytes; Cloudflare Workers serves asset files of \
                 up to {MAX_FILE_BYTES} bytes (25 MiB)"
            )));
        }
        let entry = Entry {
            hash: hash.to_owned(),
            size,
        };
        manifest.insert(path.clone(), entry);
    }
    Ok(manifest)
}

/// The manifest's id: sha256 of its canonical JSON (same files, same id).
pub fn id(manifest: &Manifest) -> String {
    let text = serde_json::to_string(manifest).unwrap_or_default();
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Each distinct hash of the manifest with its size.
pub fn hashes(manifest: &Manifest) -> BTreeMap<&str, u64> {
    manifest
        .values()
        .map(|e| (e.hash.as_str(), e.size))
        .collect()
}

/// The hashes not yet `stored`, grouped into upload buckets (one request each).
pub fn buckets(manifest: &Manifest, stored: &BTreeSet<String>) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    let mut bytes = 0u64;
    for (hash, size) in hashes(manifest) {
        if stored.contains(hash) {
            continue;
        }
        let full = out.last().is_none_or(|b| {
            b.len() >= BUCKET_FILES || (bytes + size > BUCKET_BYTES && !b.is_empty())
        });
        if full {
            out.push(Vec::new());
            bytes = 0;
        }
        bytes += size;
        if let Some(bucket) = out.last_mut() {
            bucket.push(hash.to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const H1: &str = "5cb6ed6170630b0405c5094ac55058c2";
    const H2: &str = "622e1fa69535c6ed5e3a85e2ccaafd15";

    #[test]
    fn parses_wranglers_manifest_and_dedupes_hashes() {
        let body = json!({"manifest": {
            "/index.html": {"hash": H1, "size": 12},
            "/copy.html": {"hash": H1, "size": 12},
            "/style.css": {"hash": H2, "size": 6},
        }});
        let manifest = parse(&body).expect("valid");
        assert_eq!(manifest.len(), 3);
        assert_eq!(hashes(&manifest).len(), 2);
        let all = buckets(&manifest, &BTreeSet::new());
        assert_eq!(all, vec![vec![H1.to_owned(), H2.to_owned()]]);
        let stored = BTreeSet::from([H1.to_owned(), H2.to_owned()]);
        assert!(buckets(&manifest, &stored).is_empty());
        assert_eq!(id(&manifest), id(&parse(&body).expect("again")));
    }

    #[test]
    fn refuses_bad_paths_hashes_sizes_and_too_many_files() {
        let bad = [
            json!({}),
            json!({"manifest": {"index.html": {"hash": H1, "size": 1}}}),
            json!({"manifest": {"/a": {"hash": "xyz", "size": 1}}}),
            json!({"manifest": {"/a": {"hash": H1, "size": -1}}}),
            json!({"manifest": {"/big.bin": {"hash": H1, "size": MAX_FILE_BYTES + 1}}}),
        ];
        for body in bad {
            let error = parse(&body).expect_err("refused");
            assert_eq!((error.status, error.code), (400, 10021), "{body}");
        }
        let too_large =
            parse(&json!({"manifest": {"/big.bin": {"hash": H1, "size": MAX_FILE_BYTES + 1}}}))
                .expect_err("too large");
        assert!(
            too_large.message.contains("/big.bin"),
            "{}",
            too_large.message
        );
        let many: serde_json::Map<String, Value> = (0..=MAX_FILES)
            .map(|i| (format!("/f{i}"), json!({"hash": H1, "size": 1})))
            .collect();
        let error = parse(&json!({"manifest": many})).expect_err("too many");
        assert!(error.message.contains("100000"), "{}", error.message);
        let exactly_max = json!({"manifest": {"/max.bin": {"hash": H1, "size": MAX_FILE_BYTES}}});
        assert!(parse(&exactly_max).is_ok());
    }

    #[test]
    fn buckets_split_by_count_and_bytes() {
        let entries: serde_json::Map<String, Value> = (0..1_200)
            .map(|i| {
                (
                    format!("/f{i}"),
                    json!({"hash": format!("{i:032x}"), "size": 1}),
                )
            })
            .collect();
        let manifest = parse(&json!({"manifest": entries})).expect("valid");
        let sizes: Vec<usize> = buckets(&manifest, &BTreeSet::new())
            .iter()
            .map(Vec::len)
            .collect();
        assert_eq!(sizes, vec![500, 500, 200]);
        let big = json!({"manifest": {
            "/a": {"hash": format!("{:032x}", 1), "size": MAX_FILE_BYTES},
            "/b": {"hash": format!("{:032x}", 2), "size": MAX_FILE_BYTES},
        }});
        let manifest = parse(&big).expect("valid");
        assert_eq!(buckets(&manifest, &BTreeSet::new()).len(), 2);
    }
}
