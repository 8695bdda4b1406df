//! Static assets on workerd the way Cloudflare (and miniflare) serve them: per version with
//! assets, Cloudflare's own *asset worker* (html_handling, not_found_handling, ETag, 304s,
//! Content-Type) over the version's manifest, and Cloudflare's *router worker* in front, which
//! decides per request between the assets and the Worker (`run_worker_first`, bool or rules).
//! Both are the `workers-shared` builds that ship with miniflare (installed with wrangler); the
//! file contents come from the emulator's store through the listener (an `assets-kv` KV
//! namespace). Pure: service texts and files, nothing written here.

use std::sync::Arc;

use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::asset_rules::{self, HeadersConfig, RedirectsConfig};
use super::capnp::quote;
use super::desired::{AssetsBundle, VersionBundle};
use crate::state::assets::config::AssetConfig;

/// Header the listener reads to serve an asset worker's KV read from the asset store.
pub const ASSETS_KV_HEADER: &str = "x-flaresync-assets";
/// The workerd service serving asset contents (through the listener).
pub const ASSETS_KV_SERVICE: &str = "assets-kv";
const ASSET_WORKER_FILE: &str = "assets-runtime/asset-worker.mjs";
const ROUTER_WORKER_FILE: &str = "assets-runtime/router-worker.mjs";

/// The two workers-shared bundles (`assets.worker.js`, `router.worker.js`), read once.
#[derive(Clone)]
pub struct AssetWorkerSources {
    pub asset_worker: Arc<Vec<u8>>,
    pub router_worker: Arc<Vec<u8>>,
}

impl std::fmt::Debug for AssetWorkerSources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssetWorkerSources")
            .field("asset_worker", &self.asset_worker.len())
            .field("router_worker", &self.router_worker.len())
            .finish()
    }
}

/// The service name of a version's asset worker (also the target of its `assets` binding).
pub fn asset_service(version_id: &str) -> String {
    format!("a-{version_id}")
}

/// The service name of a version's router (what its socket serves when it has assets).
pub fn router_service(version_id: &str) -> String {
    format!("r-{version_id}")
}

/// The asset worker and router services of one version with assets. `user_worker` is the
/// version's own service, `None` for an assets-only Worker.
pub struct AssetServices {
    pub services: Vec<String>,
    pub files: Vec<(String, Vec<u8>)>,
}

/// Renders `version`'s asset services (it must have assets).
pub fn render(
    version: &VersionBundle,
    assets: &AssetsBundle,
    user_worker: Option<&str>,
) -> AssetServices {
    let manifest_file = format!("{}/assets-manifest.bin", asset_service(&version.id));
    let asset_worker = format!(
        "(name = {}, worker = (modules = [(name = \"asset-worker.mjs\", esModule = embed {})], \
         compatibilityDate = \"2024-07-31\", compatibilityFlags = [\"nodejs_compat\", \
         \"enable_ctx_exports\"], bindings = [(name = \"ASSETS_KV_NAMESPACE\", kvNamespace = {}), \
         (name = \"ASSETS_MANIFEST\", data = embed {}), (name = \"CONFIG\", json = {})]))",
        quote(&asset_service(&version.id)),
        quote(ASSET_WORKER_FILE),
        quote(ASSETS_KV_SERVICE),
        quote(&manifest_file),
        quote(&asset_config(version, &assets.config)),
    );
    let mut router_bindings = vec![format!(
        "(name = \"ASSET_WORKER\", service = {})",
        quote(&asset_service(&version.id))
    )];
    if let Some(user) = user_worker {
        router_bindings.push(format!(
            "(name = \"USER_WORKER\", service = {})",
            quote(user)
        ));
    }
    router_bindings.push(format!(
        "(name = \"CONFIG\", json = {})",
        quote(&router_config(&assets.config, user_worker.is_some()).to_string())
    ));
    let router = format!(
        "(name = {}, worker = (modules = [(name = \"router-worker.mjs\", esModule = embed {})], \
         compatibilityDate = \"2024-07-31\", compatibilityFlags = [\"nodejs_compat\", \
         \"no_nodejs_compat_v2\"], bindings = [{}]))",
        quote(&router_service(&version.id)),
        quote(ROUTER_WORKER_FILE),
        router_bindings.join(", ")
    );
    AssetServices {
        services: vec![asset_worker, router],
        files: vec![(manifest_file, encode_manifest(&assets.manifest))],
    }
}

/// The shared files every config with assets embeds.
pub fn shared_files(sources: &AssetWorkerSources) -> Vec<(String, Vec<u8>)> {
    vec![
        (
            ASSET_WORKER_FILE.to_owned(),
            sources.asset_worker.as_ref().clone(),
        ),
        (
            ROUTER_WORKER_FILE.to_owned(),
            sources.router_worker.as_ref().clone(),
        ),
    ]
}

/// The asset worker's `CONFIG` (workers-shared `normalizeConfiguration` fills the defaults),
/// with the version's `_headers` / `_redirects` parsed as miniflare hands them over.
#[derive(Serialize)]
struct AssetWorkerConfig<'a> {
    compatibility_date: &'a str,
    compatibility_flags: &'a [String],
    has_static_routing: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    html_handling: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    not_found_handling: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    headers: Option<HeadersConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    redirects: Option<RedirectsConfig>,
}

/// The asset worker's `CONFIG` as JSON text (rule order kept).
fn asset_config(version: &VersionBundle, config: &AssetConfig) -> String {
    let rules = asset_rules::parse(config);
    let out = AssetWorkerConfig {
        compatibility_date: &version.compatibility_date,
        compatibility_flags: &version.compatibility_flags,
        has_static_routing: config.static_routing().is_some(),
        html_handling: config.html_handling.as_deref(),
        not_found_handling: config.not_found_handling.as_deref(),
        headers: rules.headers,
        redirects: rules.redirects,
    };
    serde_json::to_string(&out).unwrap_or_else(|_| "{}".to_owned())
}

/// The router worker's `CONFIG`.
fn router_config(config: &AssetConfig, has_user_worker: bool) -> Value {
    let mut out = json!({
        "has_user_worker": has_user_worker,
        "invoke_user_worker_ahead_of_assets": has_user_worker && config.worker_first(),
    });
    if let Some(routing) = config.static_routing().filter(|_| has_user_worker) {
        out["static_routing"] = json!(routing);
    }
    out
}

/// The asset worker's binary manifest (workers-shared `encodeManifest`): a 20-byte header, then
/// per file 40 bytes — the first 16 bytes of SHA-256 of the path, the 16-byte content hash, 8
/// bytes of padding — sorted by path hash for its binary search.
pub fn encode_manifest(manifest: &[(String, String)]) -> Vec<u8> {
    let mut entries: Vec<([u8; 16], [u8; 16])> = manifest
        .iter()
        .filter_map(|(path, hash)| {
            let digest = Sha256::digest(path.as_bytes());
            let mut path_hash = [0u8; 16];
            path_hash.copy_from_slice(&digest[..16]);
            let mut content_hash = [0u8; 16];
            hex::decode_to_slice(hash, &mut content_hash).ok()?;
            Some((path_hash, content_hash))
        })
        .collect();
    entries.sort();
    let mut out = vec![0u8; 20];
    for (path_hash, content_hash) in entries {
        out.extend_from_slice(&path_hash);
        out.extend_from_slice(&content_hash);
        out.extend_from_slice(&[0u8; 8]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_is_sorted_by_path_hash_with_content_hashes_in_place() {
        let hash = "5cb6ed6170630b0405c5094ac55058c2";
        let other = "622e1fa69535c6ed5e3a85e2ccaafd15";
        let bytes = encode_manifest(&[
            ("/index.html".into(), hash.into()),
            ("/style.css".into(), other.into()),
            ("/bad".into(), "not hex".into()),
        ]);
        assert_eq!(bytes.len(), 20 + 2 * 40);
        let first = &bytes[20..36];
        let second = &bytes[60..76];
        assert!(first < second);
        let index_hash = &Sha256::digest(b"/index.html")[..16];
        let at = if first == index_hash { 36 } else { 76 };
        assert_eq!(hex::encode(&bytes[at..at + 16]), hash);
    }

    #[test]
    fn the_router_runs_the_worker_first_only_when_there_is_one() {
        let rules = AssetConfig {
            run_worker_first: Some(json!(["/api/*", "!/api/docs/*"])),
            ..AssetConfig::default()
        };
        let with_worker = router_config(&rules, true);
        assert_eq!(
            with_worker["static_routing"],
            json!({"asset_worker": ["/api/docs/*"], "user_worker": ["/api/*"]})
        );
        let always = AssetConfig {
            run_worker_first: Some(json!(true)),
            ..AssetConfig::default()
        };
        assert_eq!(
            router_config(&always, true)["invoke_user_worker_ahead_of_assets"],
            json!(true)
        );
        let assets_only = router_config(&always, false);
        assert_eq!(assets_only["has_user_worker"], json!(false));
        assert_eq!(
            assets_only["invoke_user_worker_ahead_of_assets"],
            json!(false)
        );
    }
}
