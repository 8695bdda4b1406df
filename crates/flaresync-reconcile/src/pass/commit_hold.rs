//! A rejected commit is held as a whole: after an aborted rollout (or a failed health check), no
//! Worker gets that commit's content until Git moves past it, including the Workers the pass
//! had not reached yet when the abort happened.
//!
//! Per Worker, with `R` the rejected commit:
//! - `R` **changed** the Worker when its desired content at `R` differs from its content at
//!   `R`'s first parent (or the Worker is new at `R`); only those are held, with the content they
//!   have at `R` (the rejected content).
//! - A changed Worker is **held** while Git's content for it at the head is the rejected
//!   content: it stays on the version it had before `R` (put back by the abort, or never left
//!   it), whatever else the head changes. A later commit touching only other Workers deploys
//!   those as usual.
//! - Git **moves past** `R` for a Worker when the head's content for it differs from the
//!   rejected content: a later commit that changes it again (deployed fresh), or the revert
//!   (the content already live).
//!
//! The rejection is journaled per Worker with its digest, so a restarted flaresync holds the
//! same Workers.

use std::collections::BTreeMap;

use flaresync_config::Digest;

/// Pure: the Workers `R` changed, with their content at `R`. `at_parent` is `None` when `R` has
/// no parent (every Worker is new at it) or the parent could not be read (then every Worker of
/// `R` counts as changed: holding too much is undone by the next commit, deploying rejected
/// content is not).
pub(super) fn changed_workers(
    at_commit: &BTreeMap<String, Digest>,
    at_parent: Option<&BTreeMap<String, Digest>>,
) -> BTreeMap<String, Digest> {
    at_commit
        .iter()
        .filter(|(name, digest)| at_parent.and_then(|parent| parent.get(*name)) != Some(*digest))
        .map(|(name, digest)| (name.clone(), digest.clone()))
        .collect()
}

/// Pure: the rejected commit holding a Worker back, if one does. `rejected` is the Worker's
/// rejection (content, commit), `desired` its content at the head, `wants_change` whether the
/// plan would change it.
pub(super) fn held_by<'a>(
    rejected: Option<&'a (Digest, String)>,
    desired: Option<&Digest>,
    wants_change: bool,
) -> Option<&'a str> {
    let (digest, commit) = rejected?;
    (wants_change && desired == Some(digest)).then_some(commit.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(text: &str) -> Digest {
        Digest::new(text)
    }

    fn state(workers: &[(&str, &str)]) -> BTreeMap<String, Digest> {
        workers
            .iter()
            .map(|(name, content)| ((*name).to_owned(), digest(content)))
            .collect()
    }

    #[test]
    fn a_commit_changed_the_workers_whose_content_differs_from_its_parent() {
        let parent = state(&[("api", "api v1"), ("auth", "auth v1"), ("ops", "ops v1")]);
        let commit = state(&[
            ("api", "api v2"),
            ("auth", "auth v2"),
            ("ops", "ops v1"),
            ("billing", "billing v1"),
        ]);
        let changed = changed_workers(&commit, Some(&parent));
        assert_eq!(
            changed.keys().map(String::as_str).collect::<Vec<_>>(),
            ["api", "auth", "billing"],
            "ops is untouched; billing is new"
        );
        assert_eq!(changed["auth"], digest("auth v2"), "the rejected content");
        // Without a parent, every Worker of the commit is new at it.
        assert_eq!(changed_workers(&commit, None).len(), 4);
    }

    #[test]
    fn a_worker_is_held_while_the_head_carries_the_rejected_content() {
        let rejected = (digest("auth v2"), "bad".to_owned());
        // The rejected commit, or a later one touching only other Workers: held.
        assert_eq!(
            held_by(Some(&rejected), Some(&digest("auth v2")), true),
            Some("bad")
        );
        // A later commit changing it again, or the revert: Git moved past it.
        assert_eq!(
            held_by(Some(&rejected), Some(&digest("auth v3")), true),
            None
        );
        assert_eq!(
            held_by(Some(&rejected), Some(&digest("auth v1")), false),
            None
        );
        // Nothing to hold back when the plan changes nothing, or without a rejection.
        assert_eq!(
            held_by(Some(&rejected), Some(&digest("auth v2")), false),
            None
        );
        assert_eq!(held_by(None, Some(&digest("auth v2")), true), None);
        // A Worker removed from Git is not deployed anyway.
        assert_eq!(held_by(Some(&rejected), None, true), None);
    }
}
