//! Rollbacks never wait: whether a newer commit, or an operator's abort of a rollout (a set
//! rollback), pre-empts the pass in flight.
//!
//! A long pass (a forward deploy of hundreds of Workers paced by the request budget) looks at
//! the branch again at each Worker boundary once a new request came in. When the newer head
//! moves a Worker back to content Cloudflare already holds as a version (a `git revert`, a
//! reset, a commit undoing the very change this pass deploys), the pass stops before its next
//! Worker and the loop starts the next pass at once, where the planner runs rollbacks before
//! forward deploys. Any other new commit waits for the pass to finish, as before: only a
//! rollback is urgent, and a stream of forward commits must not restart a deploy forever.
//!
//! An abort of a rollout (`flaresync rollout abort`, `POST /rollout/abort`) is such a rollback:
//! the pass stops the same way, and the next pass carries the abort out first.

use std::collections::BTreeMap;

use flaresync_config::Digest;

/// Why a pass stopped before its next Worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Preemption {
    /// A newer head moves `worker` back to a version Cloudflare already has.
    Revert { commit: String, worker: String },
    /// An operator aborted the rollouts of these Workers.
    Abort { workers: Vec<String> },
}

impl Preemption {
    /// The note of a Worker the pass left for the next one.
    pub fn note(&self) -> String {
        match self {
            Preemption::Revert { commit, worker } => format!(
                "not applied in this pass: commit {} rolls {worker} back and goes first; the next pass continues with this Worker",
                super::short(commit),
            ),
            Preemption::Abort { workers } => format!(
                "not applied in this pass: the rollout of {} was aborted and its rollback goes first; the next pass continues with this Worker",
                workers.join(", ")
            ),
        }
    }

    /// Reports a Worker this pass leaves for the next one.
    pub fn leave(&self, report: &mut super::report::WorkerReport) {
        report.outcome = super::report::WorkerOutcome::Skipped;
        report.notes.push(self.note());
        report.requeue_after = self.requeue_after();
    }

    /// When a Worker the pass left comes back on its own: after an abort (whose request names
    /// only the aborted Workers) at once; after a revert, the newer head's pass covers it.
    pub fn requeue_after(&self) -> Option<std::time::Duration> {
        match self {
            Preemption::Revert { .. } => None,
            Preemption::Abort { .. } => Some(std::time::Duration::ZERO),
        }
    }
}

/// The first Worker (by name) whose desired digest at the newer head differs from the pass's
/// and equals one of its `known` versions' digests, i.e. the newer head rolls it back (or keeps
/// it on what is live, undoing the change this pass would deploy).
pub(super) fn rollback_waiting<'a>(
    current: &BTreeMap<&str, &Digest>,
    next: &BTreeMap<&'a str, &Digest>,
    known: &BTreeMap<&str, Vec<&Digest>>,
) -> Option<&'a str> {
    next.iter()
        .filter(|(worker, digest)| current.get(*worker) != Some(*digest))
        .find(|(worker, digest)| {
            known
                .get(*worker)
                .is_some_and(|versions| versions.contains(digest))
        })
        .map(|(worker, _)| *worker)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(text: &str) -> Digest {
        Digest::new(text)
    }

    #[test]
    fn a_revert_to_a_known_version_preempts() {
        let (v1, v2, v3) = (digest("v1"), digest("v2"), digest("v3"));
        let (new1, new2) = (digest("new1"), digest("new2"));
        let current = BTreeMap::from([("api", &v2), ("w1", &new1), ("w2", &new2)]);
        let known = BTreeMap::from([("api", vec![&v2, &v1])]);
        // A revert of api's last change: api goes back to v1, which Cloudflare has.
        let reverted = BTreeMap::from([("api", &v1), ("w1", &new1), ("w2", &new2)]);
        assert_eq!(rollback_waiting(&current, &reverted, &known), Some("api"));
        // A forward change of api waits for the pass.
        let forward = BTreeMap::from([("api", &v3), ("w1", &new1), ("w2", &new2)]);
        assert_eq!(rollback_waiting(&current, &forward, &known), None);
        // Nothing changed for api: its known versions do not matter.
        assert_eq!(rollback_waiting(&current, &current, &known), None);
    }

    #[test]
    fn undoing_the_change_in_flight_preempts() {
        // w1 is being deployed from old to new; the newer head puts it back on what is live.
        let (old, new) = (digest("old"), digest("new"));
        let current = BTreeMap::from([("w1", &new)]);
        let next = BTreeMap::from([("w1", &old)]);
        let known = BTreeMap::from([("w1", vec![&old])]);
        assert_eq!(rollback_waiting(&current, &next, &known), Some("w1"));
        // A new Worker (nothing known) or a removed one never pre-empts.
        let added = BTreeMap::from([("w1", &new), ("w2", &old)]);
        assert_eq!(rollback_waiting(&current, &added, &known), None);
        assert_eq!(rollback_waiting(&current, &BTreeMap::new(), &known), None);
    }

    #[test]
    fn the_note_names_the_commit_and_the_worker() {
        let preemption = Preemption::Revert {
            commit: "0123456789abcdef".into(),
            worker: "api".into(),
        };
        let note = preemption.note();
        assert!(note.contains("0123456") && note.contains("api"), "{note}");
        assert!(!note.contains("0123456789"), "short commit: {note}");
        assert_eq!(
            preemption.requeue_after(),
            None,
            "the revert's pass covers it"
        );
        let abort = Preemption::Abort {
            workers: vec!["api".into(), "auth".into()],
        };
        let note = abort.note();
        assert!(note.contains("rollout of api, auth was aborted"), "{note}");
        assert_eq!(abort.requeue_after(), Some(std::time::Duration::ZERO));
    }
}
