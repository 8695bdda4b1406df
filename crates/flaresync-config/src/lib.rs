//! Wrangler configuration model for flaresync: raw `wrangler.toml` / `wrangler.json(c)` in,
//! resolved [`WorkerSpec`] out. Pure: no tokio, no network, no git2.

pub mod model;
pub mod tree;

pub use model::*;
pub use tree::{DirTree, EntryKind, SourceTree, TreeEntry, TreeError};
