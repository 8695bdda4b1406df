//! Rebuilding "which Cloudflare version holds which commit" from the version list and Git
//! alone: every version flaresync uploaded carries its commit id in `workers/tag`, and the
//! digest is recomputed from that commit's tree. Losing local state therefore loses nothing.

use git2::{Oid, Repository};

use crate::desired::{DesiredError, DesiredStateCache};
use crate::source::resolve_commit;
use crate::stamp::parse_version_tag;

/// A Cloudflare version whose source commit is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownVersion {
    /// Cloudflare script name.
    pub worker: String,
    pub version_id: String,
    pub commit: Oid,
    /// Digest of the Worker's whole desired state at `commit`.
    pub digest: flaresync_config::Digest,
    /// Digest of the versioned part only (what a rollback restores).
    pub version_digest: flaresync_config::Digest,
}

/// Why a version could not be mapped to a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnmappedReason {
    /// No `workers/tag`: uploaded outside flaresync (dashboard, plain wrangler).
    Untagged,
    /// A tag that is not a commit id (`v1.2.3`): another tool's tag.
    ForeignTag(String),
    /// The tag names a commit this repository does not have (another repository, or history
    /// rewritten and garbage-collected).
    UnknownCommit(String),
    /// The tag is a prefix matching several commits.
    AmbiguousCommit(String),
    /// At that commit the repository has no loadable Worker with this script name.
    WorkerNotAtCommit { commit: Oid, detail: String },
}

/// A version that could not be mapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnmappedVersion {
    pub version_id: String,
    pub reason: UnmappedReason,
}

/// The rebuilt mapping for one Worker.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mapping {
    /// In the order of the input (Cloudflare lists newest first).
    pub known: Vec<KnownVersion>,
    pub unmapped: Vec<UnmappedVersion>,
}

/// Maps the versions of Worker `worker` (`(version_id, workers/tag)`, as listed) to commits
/// and digests recomputed from each commit's tree.
///
/// # Errors
/// None per version (those become [`UnmappedVersion`]s); the `Result` is kept for repository
/// failures that make the whole rebuild meaningless.
pub fn rebuild_mapping(
    repo: &Repository,
    cache: &mut DesiredStateCache,
    worker: &str,
    versions: &[(String, Option<String>)],
) -> Result<Mapping, DesiredError> {
    let mut mapping = Mapping::default();
    for (version_id, tag) in versions {
        let unmapped = |reason| UnmappedVersion {
            version_id: version_id.clone(),
            reason,
        };
        let Some(tag) = tag.as_deref().filter(|t| !t.trim().is_empty()) else {
            mapping.unmapped.push(unmapped(UnmappedReason::Untagged));
            continue;
        };
        let Some(reference) = parse_version_tag(tag) else {
            mapping
                .unmapped
                .push(unmapped(UnmappedReason::ForeignTag(tag.to_owned())));
            continue;
        };
        let commit = match resolve_commit(repo, reference.as_str()) {
            Ok(commit) => commit,
            Err(_) => {
                let ambiguous = !reference.is_full()
                    && matches!(
                        repo.find_object_by_prefix(reference.as_str(), None),
                        Err(e) if e.code() == git2::ErrorCode::Ambiguous
                    );
                let reason = if ambiguous {
                    UnmappedReason::AmbiguousCommit(reference.to_string())
                } else {
                    UnmappedReason::UnknownCommit(reference.to_string())
                };
                mapping.unmapped.push(unmapped(reason));
                continue;
            }
        };
        let state = match cache.desired_state(repo, commit) {
            Ok(state) => state,
            Err(error) => {
                mapping
                    .unmapped
                    .push(unmapped(UnmappedReason::WorkerNotAtCommit {
                        commit,
                        detail: error.to_string(),
                    }));
                continue;
            }
        };
        match state.worker(worker) {
            Some(loaded) => mapping.known.push(KnownVersion {
                worker: worker.to_owned(),
                version_id: version_id.clone(),
                commit,
                digest: loaded.digest.clone(),
                version_digest: loaded.version_digest.clone(),
            }),
            None => {
                let detail = match state.errors().first() {
                    Some((dir, error)) => format!("not loadable ({dir}: {error})"),
                    None => "no worker with this script name".to_owned(),
                };
                mapping
                    .unmapped
                    .push(unmapped(UnmappedReason::WorkerNotAtCommit {
                        commit,
                        detail,
                    }));
            }
        }
    }
    Ok(mapping)
}
