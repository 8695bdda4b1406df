//! Static assets (`[assets]`), done as wrangler 4.86 does them (SPEC-2 §1): which files of the
//! committed directory are uploaded ([`AssetsIgnore`]), each file's hash ([`asset_hash`]) and
//! part content type ([`asset_content_type`]), the manifest and its limits ([`manifest_entry`]),
//! and the `run_worker_first` rules ([`rule_problems`]). Pure; the loader walks the directory
//! through a [`crate::SourceTree`] and the client uploads.

mod assets_only;
mod content_type;
mod hash;
mod ignore_rules;
mod manifest;
mod model;
mod static_routing;

pub use assets_only::{assets_only_refusal, dropped_bindings};
pub use content_type::{UNKNOWN_CONTENT_TYPE, asset_content_type};
pub use hash::asset_hash;
pub use ignore_rules::{
    ASSETS_IGNORE_FILE, AssetsIgnore, HEADERS_FILE, IgnoreError, REDIRECTS_FILE,
};
pub use manifest::{
    MAX_ASSET_BYTES, MAX_ASSET_FILES, ManifestError, PAGES_WORKER_FILE, check_count,
    check_pages_worker, manifest_entry,
};
pub use model::{AssetFile, Assets, AssetsConfig, RunWorkerFirst};
pub use static_routing::{MAX_RULE_LENGTH, MAX_RULES, rule_problems};
