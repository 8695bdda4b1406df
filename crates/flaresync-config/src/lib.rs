//! Wrangler configuration model for flaresync: raw `wrangler.toml` / `wrangler.json(c)` in,
//! resolved [`WorkerSpec`] out. Pure: no tokio, no network, no git2.
//!
//! Entry points:
//! - [`load_repo_config`]: `flaresync.toml` (defaults when absent);
//! - [`discover_workers`], [`load_worker`], [`load_all`]: repository -> [`LoadedWorker`]s;
//! - [`parse_config`]: one wrangler config file, no bundle;
//! - [`WorkerSpec::upload_metadata`], [`migrations_to_upload`], [`WorkerSpec::digest`],
//!   [`WorkerSpec::version_digest`]: what goes to Cloudflare.

pub mod error;
pub mod loader;
pub mod model;
pub mod modules;
pub mod repo;
pub mod tree;
pub mod upload;
pub mod wrangler;

mod reader;
mod source;

pub use error::{ConfigError, Location, MigrationPlanError, Warning};
pub use loader::{
    CONFIG_FILE_NAMES, LoadedWorker, MAX_BUNDLE_GZIP_BYTES, MAX_BUNDLE_UNCOMPRESSED_BYTES,
    RepoLoad, discover_workers, load_all, load_worker,
};
pub use model::*;
pub use modules::{ModuleRule, ModuleType};
pub use repo::{
    DriftPolicy, HealthCheck, REPO_CONFIG_FILE, RepoConfig, RollbackPolicy, WorkerOverrides,
    WorkerPolicy, load_repo_config, parse_repo_config,
};
pub use source::{ConfigFormat, strip_jsonc};
pub use tree::{DirTree, EntryKind, SourceTree, TreeEntry, TreeError};
pub use upload::{
    KEEP_BINDINGS, MigrationsUpload, UploadKind, UploadOptions, migrations_to_upload,
};
pub use wrangler::{ModuleSettings, ParsedConfig, parse_config};
