//! The static assets of a Worker as values: the directory's manifest (path, hash, size) and the
//! assets configuration wrangler sends with a version.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// A Worker's static assets (`[assets]` with a `directory`), resolved from the repository.
///
/// Part of the desired state: the manifest and the configuration are in both digests, so a
/// commit that only changes an asset is a new version, and a revert of it is a rollback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assets {
    /// Repository path of the assets directory (forward slashes). Where the files live is not
    /// part of the digests; only what they are.
    pub directory: String,
    pub config: AssetsConfig,
    /// The manifest, sorted by path: one entry per uploaded file.
    #[serde(default)]
    pub files: Vec<AssetFile>,
}

/// `assets.config` of the upload metadata, exactly as wrangler 4.86 sends it (absent keys are
/// left out, SPEC-2 §1.5). `_redirects` and `_headers` are the text of those files at the root
/// of the assets directory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetsConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html_handling: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_found_handling: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_worker_first: Option<RunWorkerFirst>,
    #[serde(
        default,
        rename = "_redirects",
        skip_serializing_if = "Option::is_none"
    )]
    pub redirects: Option<String>,
    #[serde(default, rename = "_headers", skip_serializing_if = "Option::is_none")]
    pub headers: Option<String>,
}

/// `assets.run_worker_first`: a switch, or route rules (`/api/*`, `!/api/docs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RunWorkerFirst {
    Always(bool),
    Rules(Vec<String>),
}

/// One file of the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetFile {
    /// Manifest key: `/` + the path relative to the assets directory (case kept, not encoded).
    pub path: String,
    /// wrangler's asset hash (32 lowercase hex characters, see [`super::asset_hash`]).
    pub hash: String,
    pub size: u64,
    /// Raw bytes (not serialized; the digests cover `hash`). Empty in deserialized values.
    #[serde(skip)]
    pub content: Arc<[u8]>,
}

impl Assets {
    /// Total bytes of the manifest.
    pub fn total_size(&self) -> u64 {
        self.files.iter().map(|file| file.size).sum()
    }

    /// The `manifest` body of an upload session: `{path: {hash, size}}`.
    pub fn manifest_json(&self) -> serde_json::Value {
        let entries = self.files.iter().map(|file| {
            (
                file.path.clone(),
                serde_json::json!({"hash": file.hash, "size": file.size}),
            )
        });
        serde_json::Value::Object(entries.collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_serializes_like_wrangler_without_absent_keys() {
        let config = AssetsConfig {
            html_handling: Some("none".into()),
            run_worker_first: Some(RunWorkerFirst::Rules(vec!["/api/*".into()])),
            headers: Some("/*\n  X-Frame-Options: DENY\n".into()),
            ..AssetsConfig::default()
        };
        assert_eq!(
            serde_json::to_value(&config).expect("serializes"),
            serde_json::json!({
                "html_handling": "none",
                "run_worker_first": ["/api/*"],
                "_headers": "/*\n  X-Frame-Options: DENY\n"
            })
        );
        let always = AssetsConfig {
            run_worker_first: Some(RunWorkerFirst::Always(true)),
            ..AssetsConfig::default()
        };
        assert_eq!(
            serde_json::to_value(&always).expect("serializes"),
            serde_json::json!({"run_worker_first": true})
        );
    }

    #[test]
    fn manifest_maps_paths_to_hash_and_size() {
        let assets = Assets {
            directory: "public".into(),
            config: AssetsConfig::default(),
            files: vec![AssetFile {
                path: "/index.html".into(),
                hash: "5cb6ed6170630b0405c5094ac55058c2".into(),
                size: 12,
                content: Arc::from(&b"hello world\n"[..]),
            }],
        };
        assert_eq!(
            assets.manifest_json(),
            serde_json::json!({"/index.html": {"hash": "5cb6ed6170630b0405c5094ac55058c2", "size": 12}})
        );
        assert_eq!(assets.total_size(), 12);
    }
}
