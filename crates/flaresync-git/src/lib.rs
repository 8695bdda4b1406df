//! The Git side of flaresync: read the config repository with git2 and map commits to
//! Cloudflare versions and deployments.
//!
//! - [`source`]: open/clone/fetch the repository, follow one branch, detect rewritten history.
//! - [`tree`]: [`CommitTree`], a [`flaresync_config::SourceTree`] over one commit.
//! - [`stamp`]: what goes into a version's `workers/tag` / `workers/message` (pure).
//! - [`revert_message`]: parsing `This reverts commit <sha>.` (pure).

pub mod credentials;
pub mod revert_message;
pub mod source;
pub mod stamp;
pub mod tree;

pub use credentials::{Credentials, CredentialsError, HttpsCredentials, Secret, SshKey};
pub use git2::Oid;
pub use revert_message::{format_revert, parse_revert, parse_reverts};
pub use source::{
    CommitInfo, GitSource, HeadUpdate, HeadUpdateKind, SourceError, classify_head_update, short_hex,
};
pub use stamp::{CommitRef, StampError, parse_version_tag, version_message, version_tag};
pub use tree::CommitTree;
