//! Wrangler configuration model for flaresync: raw `wrangler.toml` / `wrangler.json(c)` in,
//! resolved [`WorkerSpec`] out. Pure: no tokio, no network, no git2.
//!
//! Entry points:
//! - [`load_repo_config`]: `flaresync.toml` (defaults when absent);
//! - [`discover_workers`], [`load_worker`], [`load_all`]: repository -> [`LoadedWorker`]s;
//! - [`parse_config`]: one wrangler config file, no bundle;
//! - [`WorkerSpec::upload_metadata`], [`migrations_to_upload`], [`WorkerSpec::digest`],
//!   [`WorkerSpec::version_digest`]: what goes to Cloudflare;
//! - [`stamp`]: the commit id / message flaresync writes into a version's annotations;
//! - [`url`]: URLs without their credentials (the one redaction helper of the workspace).
//!
//! # Where flaresync is stricter than wrangler (on purpose)
//!
//! - A script name Cloudflare would reject ([`script_name`]: empty, leading `-`, characters
//!   other than lowercase letters, digits, `-` and `_`, longer than 63) is an error at its
//!   `name` key (wrangler leaves it to the API's 400).
//! - An `env` the config does not define is an error (wrangler warns and deploys a new
//!   `<name>-<env>` script from the top level).
//! - Resource ids are required (`kv_namespaces[].id`, `d1_databases[].database_id`,
//!   `r2_buckets[].bucket_name`, ...): flaresync never provisions resources.
//! - `main` must be committed, built JavaScript/Python; no build step runs, TypeScript `main`
//!   is refused. `compatibility_date` is required, as `wrangler deploy` requires it.
//! - Service-worker-only keys (`wasm_modules`, `text_blobs`, `data_blobs`) and service
//!   environments (`legacy_env = false`) are refused.
//! - `[[migrations]]` with duplicate or missing tags are refused at parse time, and a live
//!   migration tag missing from the list is refused at plan time ([`migrations_to_upload`]),
//!   where wrangler would re-apply every step.
//! - TOML is read as TOML 1.0 like wrangler: multi-line inline tables are refused even though
//!   the `toml` crate accepts TOML 1.1. JSON(C) duplicate keys keep the last value, as in
//!   wrangler, with a warning.
//! - Several config files in one directory: wrangler's precedence (json, jsonc, toml) plus a
//!   warning.
//!
//! # Size limits
//!
//! A bundle is refused above [`MAX_BUNDLE_UNCOMPRESSED_BYTES`] (64 MiB, checked first, no
//! compression needed) or above [`MAX_BUNDLE_GZIP_BYTES`] (10 MiB after gzip, Cloudflare's Paid
//! plan limit, SPEC §6.3). The gzip size is only computed when the raw size could exceed it.

pub mod assets;
pub mod digest;
pub mod error;
pub mod loader;
pub mod model;
pub mod modules;
pub mod repo;
pub mod rollout;
pub mod script_name;
pub mod secret;
pub mod stamp;
pub mod tree;
pub mod upload;
pub mod url;
pub mod wrangler;

mod reader;
mod source;

pub use assets::{AssetFile, Assets, AssetsConfig, RunWorkerFirst};
pub use digest::Digest;
pub use error::{ConfigError, Location, MigrationPlanError, Warning};
pub use loader::{
    CONFIG_FILE_NAMES, LoadedWorker, MAX_BUNDLE_GZIP_BYTES, MAX_BUNDLE_UNCOMPRESSED_BYTES,
    RepoLoad, discover_workers, duplicate_scripts, load_all, load_worker,
};
pub use model::*;
pub use modules::{ModuleRule, ModuleType};
pub use repo::{
    DriftPolicy, HealthCheck, REPO_CONFIG_FILE, RepoConfig, RollbackPolicy, WorkerOverrides,
    WorkerPolicy, load_repo_config, parse_repo_config,
};
pub use rollout::{
    Analysis, LatencyQuantile, Probe, PrometheusCheck, Rollout, RolloutSetting, parse_duration,
};
pub use script_name::{MAX_SCRIPT_NAME_LEN, SCRIPT_NAME_RULE, ScriptNameError, check_script_name};
pub use secret::Secret;
pub use source::{ConfigFormat, strip_jsonc};
pub use stamp::{CommitRef, StampError, parse_version_tag, version_message, version_tag};
pub use tree::{DirTree, EntryKind, SourceTree, TreeEntry, TreeError};
pub use upload::{
    AssetsToken, KEEP_BINDINGS, MigrationsUpload, UploadKind, UploadOptions, migrations_to_upload,
};
pub use wrangler::{ModuleSettings, ParsedConfig, parse_config};
