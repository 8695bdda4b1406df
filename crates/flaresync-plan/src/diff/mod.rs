//! Human-oriented differences between what runs (or ran at the base commit) and what Git wants.
//!
//! Inputs are already canonical ([`WorkerSpec`](flaresync_config::WorkerSpec) sorts bindings, canonicalizes JSON), so reordered
//! keys or comments in a wrangler file never produce a diff here. Secret values are never part of
//! any input; `secret_text` bindings appear by name only.
//!
//! - `model.rs`: the diff values ([`WorkerDiff`] and its parts).
//! - `worker.rs`: [`worker_diff`], section by section, from [`Before`] and [`After`].
//! - `bindings.rs`: binding changes and their one-line summaries ([`binding_summary`]).
//! - `settings.rs`: other settings and route summaries.
//! - `modules.rs`: module changes and their capped unified diffs.
//! - `assets.rs`: static assets changes (files with sizes, totals, configuration).

mod assets;
mod bindings;
mod model;
mod modules;
mod settings;
mod worker;

pub use bindings::binding_summary;
pub use model::{
    AssetChange, AssetsDiff, AssetsTotal, BindingChange, BundleChange, ChangeKind, DiffBase,
    ListChange, MigrationsDiff, ModuleChange, SettingChange, ValueChange, WorkerDiff,
};
pub use modules::{MAX_DIFF_LINES, MAX_TEXT_DIFF_BYTES};
pub use worker::{After, Before, worker_diff};
