//! The Git side of flaresync: read the config repository with git2 and map commits to
//! Cloudflare versions and deployments.
//!
//! - [`source`]: open/clone/fetch the repository, follow one branch, detect rewritten history.
//! - [`tree`]: [`CommitTree`], a [`flaresync_config::SourceTree`] over one commit.
//! - [`desired`]: every Worker's desired state at a commit, re-reading only what changed.
//! - [`versions`]: the distinct versions some Workers had along history, walking only them.
//! - [`stamp`]: what goes into a version's `workers/tag` / `workers/message` (pure; re-exported
//!   from [`flaresync_config::stamp`]).
//! - [`mapping`]: rebuild version ↔ commit ↔ digest from the version list and Git alone.
//! - [`revert`], [`revert_message`]: rollback candidates (reverts, manual reverts, resets).

pub mod credentials;
pub mod desired;
pub mod known_hosts;
pub mod mapping;
pub mod revert;
pub mod revert_branch;
pub mod revert_message;
pub mod source;
pub mod stamp;
mod state_memo;
pub mod tree;
pub mod versions;

pub use credentials::{Credentials, CredentialsError, HttpsCredentials, Secret, SshKey};
pub use desired::{CacheStats, DesiredError, DesiredState, DesiredStateCache, WorkerResult};
pub use git2::{Oid, Repository};
pub use mapping::{KnownVersion, Mapping, UnmappedReason, UnmappedVersion, rebuild_mapping};
pub use revert::{CandidateKind, RevertCandidate, RevertError, find_revert_candidates};
pub use revert_branch::{RevertProposal, commit_revert, revert_branch_name};
pub use revert_message::{format_revert, parse_revert, parse_reverts};
pub use source::{
    CommitInfo, GitSource, HeadUpdate, HeadUpdateKind, SourceError, classify_head_update, short_hex,
};
pub use stamp::{CommitRef, StampError, parse_version_tag, version_message, version_tag};
pub use tree::CommitTree;
pub use versions::{VersionsByWorker, distinct_versions};
