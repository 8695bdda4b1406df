//! Version stamping: what flaresync writes into a Cloudflare version's annotations.
//!
//! The format is pure string work and lives in [`flaresync_config::stamp`]; it is re-exported
//! here so `flaresync_git::stamp::*` keeps working. Writing a stamp for a commit of a repository
//! is `GitSource::version_tag` / `GitSource::version_message`.

pub use flaresync_config::stamp::*;
