//! Revert detection: a commit whose desired state for a Worker equals the state of an earlier
//! commit that is already uploaded as a Cloudflare version is a rollback candidate to that
//! version (no new upload needed).
//!
//! This covers `git revert` (and reverts of reverts, and of merges), reverts made by hand (same
//! content, no message), and resets / force-pushes back to an uploaded commit. Whether the
//! rollback is *legal* (migrations, secrets, bindings) is decided by the planner, not here.

use git2::{Oid, Repository, Sort};

use crate::desired::{DesiredError, DesiredState, DesiredStateCache};
use crate::mapping::KnownVersion;
use crate::revert_message::parse_revert;
use crate::source::{CommitInfo, SourceError, commit_info};

/// How many commits of history are searched for the nearest uploaded match.
const HISTORY_LIMIT: usize = 10_000;

/// How the head commit came to hold an already-uploaded state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CandidateKind {
    /// The head commit's message says `This reverts commit <reverted>`.
    GitRevert { reverted: String },
    /// The head commit changed the Worker back to an earlier state without a revert message.
    ManualRevert,
    /// The head commit did not touch the Worker; its state is that of an earlier commit.
    Unchanged,
    /// The head commit itself is the uploaded one (branch reset or force-pushed back to it).
    SameCommit,
}

/// A rollback candidate for one Worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevertCandidate {
    /// Cloudflare script name.
    pub worker: String,
    pub target_version: String,
    pub target_commit: Oid,
    pub head_commit: Oid,
    pub kind: CandidateKind,
    /// True when the non-versioned settings (routes, crons, ...) match too; otherwise the
    /// rollback must be followed by a settings update.
    pub settings_match: bool,
    /// One sentence naming both commits and the version.
    pub explanation: String,
}

/// Errors of revert detection.
#[derive(Debug, thiserror::Error)]
pub enum RevertError {
    #[error(transparent)]
    Desired(#[from] DesiredError),
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("cannot walk history from {head}: {message}")]
    Walk { head: Oid, message: String },
}

/// Rollback candidates at `head` (one per Worker at most), given the versions already uploaded
/// (`known`, as rebuilt by [`crate::rebuild_mapping`], newest first per Worker).
///
/// Among several uploaded versions with the same content, the one built from the commit
/// nearest to `head` in history wins (the head itself first); versions from commits outside
/// `head`'s history (rewritten away) come last, in `known` order.
pub fn find_revert_candidates(
    repo: &Repository,
    cache: &mut DesiredStateCache,
    head: &DesiredState,
    known: &[KnownVersion],
) -> Result<Vec<RevertCandidate>, RevertError> {
    let head_commit = head.commit;
    let head_info = commit_info(repo, head_commit)?;
    let parent_state = match head_info.parents.first() {
        Some(parent) => Some(cache.desired_state(repo, *parent)?),
        None => None,
    };
    let mut history: Option<Vec<Oid>> = None;
    let mut candidates = Vec::new();
    for (script, worker) in head.by_script() {
        let version_digest = worker.version_digest.clone();
        let matching: Vec<&KnownVersion> = known
            .iter()
            .filter(|v| v.worker == script && v.version_digest == version_digest)
            .collect();
        if matching.is_empty() {
            continue;
        }
        let order = match &history {
            Some(order) => order,
            None => history.insert(walk(repo, head_commit)?),
        };
        let Some(target) = choose_target(&matching, order) else {
            continue;
        };
        let parent_digest = parent_state
            .as_ref()
            .and_then(|state| state.worker(script))
            .map(|w| w.version_digest.clone());
        let kind = if target.commit == head_commit {
            CandidateKind::SameCommit
        } else if parent_digest.as_ref() == Some(&version_digest) {
            CandidateKind::Unchanged
        } else if let Some(reverted) = parse_revert(&head_info.message) {
            CandidateKind::GitRevert { reverted }
        } else {
            CandidateKind::ManualRevert
        };
        let target_info = commit_info(repo, target.commit)?;
        candidates.push(RevertCandidate {
            worker: script.to_owned(),
            target_version: target.version_id.clone(),
            target_commit: target.commit,
            head_commit,
            explanation: explain(script, &kind, &head_info, &target_info, &target.version_id),
            settings_match: target.digest == worker.digest,
            kind,
        });
    }
    Ok(candidates)
}

/// `head` and its ancestors, nearest first (topological, then by time), bounded.
fn walk(repo: &Repository, head: Oid) -> Result<Vec<Oid>, RevertError> {
    let walk_error = |e: git2::Error| RevertError::Walk {
        head,
        message: e.message().to_owned(),
    };
    let mut walk = repo.revwalk().map_err(walk_error)?;
    walk.set_sorting(Sort::TOPOLOGICAL | Sort::TIME)
        .map_err(walk_error)?;
    walk.push(head).map_err(walk_error)?;
    walk.take(HISTORY_LIMIT)
        .collect::<Result<Vec<_>, _>>()
        .map_err(walk_error)
}

/// The version built from the commit nearest in `history` (nearest first); else the first
/// candidate in input order.
pub fn choose_target<'a>(
    matching: &[&'a KnownVersion],
    history: &[Oid],
) -> Option<&'a KnownVersion> {
    history
        .iter()
        .find_map(|commit| matching.iter().find(|v| v.commit == *commit).copied())
        .or_else(|| matching.first().copied())
}

fn quoted(info: &CommitInfo) -> String {
    format!("{} '{}'", info.short(), info.subject)
}

/// The sentence shown to people (and journaled) for a candidate.
pub fn explain(
    worker: &str,
    kind: &CandidateKind,
    head: &CommitInfo,
    target: &CommitInfo,
    version: &str,
) -> String {
    match kind {
        CandidateKind::SameCommit => format!(
            "commit {} is already uploaded as version {version} of {worker}",
            quoted(head)
        ),
        CandidateKind::GitRevert { reverted } => {
            let reverted = &reverted[..reverted.len().min(7)];
            format!(
                "commit {} (reverting {reverted}) restores the state of {} for {worker}, already \
                 uploaded as version {version}",
                quoted(head),
                quoted(target)
            )
        }
        CandidateKind::ManualRevert => format!(
            "commit {} restores the state of {} for {worker} (same content, no revert message), \
             already uploaded as version {version}",
            quoted(head),
            quoted(target)
        ),
        CandidateKind::Unchanged => format!(
            "commit {} does not change {worker}; its state is that of {}, already uploaded as \
             version {version}",
            quoted(head),
            quoted(target)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oid(n: u8) -> Oid {
        Oid::from_bytes(&[n; 20]).expect("20 bytes")
    }

    fn version(id: &str, commit: u8) -> KnownVersion {
        KnownVersion {
            worker: "api".into(),
            version_id: id.into(),
            commit: oid(commit),
            digest: "d".into(),
            version_digest: "v".into(),
        }
    }

    #[test]
    fn nearest_commit_in_history_wins() {
        let old = version("old", 1);
        let newer = version("newer", 3);
        let outside = version("outside", 9);
        let history = [oid(4), oid(3), oid(2), oid(1)];
        assert_eq!(
            choose_target(&[&outside, &old, &newer], &history).map(|v| v.version_id.as_str()),
            Some("newer")
        );
        assert_eq!(
            choose_target(&[&outside], &history).map(|v| v.version_id.as_str()),
            Some("outside")
        );
        assert_eq!(choose_target(&[], &history), None);
    }

    #[test]
    fn explanation_names_both_commits_and_the_version() {
        let info = |n: u8, subject: &str| CommitInfo {
            id: oid(n),
            message: subject.into(),
            subject: subject.into(),
            author_name: "a".into(),
            author_email: "a@x".into(),
            author_time: 0,
            committer: "a <a@x>".into(),
            parents: vec![],
        };
        let head = info(0xab, "Revert \"bump\"");
        let target = info(0xde, "old subject");
        let text = explain(
            "api",
            &CandidateKind::GitRevert {
                reverted: "1234567890".into(),
            },
            &head,
            &target,
            "ver-1",
        );
        assert_eq!(
            text,
            "commit abababa 'Revert \"bump\"' (reverting 1234567) restores the state of dededed \
             'old subject' for api, already uploaded as version ver-1"
        );
    }
}
