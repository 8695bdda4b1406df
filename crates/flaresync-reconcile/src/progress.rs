//! How far the apply stage of the running pass is: Workers done out of those it writes to.
//!
//! The pass publishes; displays subscribe (`flaresync sync` draws a line on a terminal). A
//! `tokio::sync::watch` channel keeps only the newest value, so a slow reader never holds the
//! pass up and always sees where it is now.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use tokio::sync::watch;

/// Where the apply stage is. All zero/`None` when no pass is applying.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Progress {
    /// Workers this pass writes to (deploys, rollbacks, settings).
    pub total: usize,
    /// Of those, how many are finished: applied, failed or skipped.
    pub done: usize,
    /// The Worker whose step is running.
    pub current: Option<String>,
}

impl Progress {
    /// Whether a pass is applying right now.
    pub fn active(&self) -> bool {
        self.total > 0
    }
}

/// The publishing side, owned by the [`crate::Context`].
#[derive(Debug)]
pub struct ProgressTracker {
    sender: watch::Sender<Progress>,
}

impl Default for ProgressTracker {
    fn default() -> Self {
        ProgressTracker {
            sender: watch::Sender::new(Progress::default()),
        }
    }
}

impl ProgressTracker {
    /// A receiver of every change from now on.
    pub fn subscribe(&self) -> watch::Receiver<Progress> {
        self.sender.subscribe()
    }

    /// Publishes `progress` (to nobody when nobody listens).
    pub(crate) fn publish(&self, progress: Progress) {
        self.sender.send_if_modified(|current| {
            let changed = *current != progress;
            *current = progress;
            changed
        });
    }
}

/// Clears the published progress when the apply stage ends, however it ends.
pub(crate) struct Publishing<'a>(pub &'a ProgressTracker);

impl Drop for Publishing<'_> {
    fn drop(&mut self) {
        self.0.publish(Progress::default());
    }
}

/// Progress before step `index` runs: a Worker is done once it failed (or was skipped) or its
/// last step lies before `index`. `workers` maps each Worker written to its last step index.
pub(crate) fn at_step(
    workers: &BTreeMap<&str, usize>,
    failed: &BTreeSet<String>,
    index: usize,
    current: Option<&str>,
) -> Progress {
    let done = workers
        .iter()
        .filter(|(worker, last)| failed.contains(**worker) || **last < index)
        .count();
    Progress {
        total: workers.len(),
        done,
        current: current.map(str::to_owned),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_is_done_after_its_last_step_or_when_it_failed() {
        let workers: BTreeMap<&str, usize> = [("a", 1), ("b", 3), ("c", 4)].into();
        let none = BTreeSet::new();
        assert_eq!(at_step(&workers, &none, 0, Some("a")).done, 0);
        assert_eq!(at_step(&workers, &none, 2, Some("b")).done, 1);
        let failed: BTreeSet<String> = ["c".to_owned()].into();
        let progress = at_step(&workers, &failed, 2, Some("b"));
        assert_eq!((progress.done, progress.total), (2, 3));
        assert_eq!(at_step(&workers, &none, 5, None).done, 3);
    }

    #[tokio::test]
    async fn subscribers_see_the_newest_progress_and_the_end() {
        let tracker = ProgressTracker::default();
        let mut receiver = tracker.subscribe();
        {
            let _publishing = Publishing(&tracker);
            tracker.publish(Progress {
                total: 2,
                done: 1,
                current: Some("b".into()),
            });
            receiver.changed().await.expect("a change");
            assert_eq!(receiver.borrow_and_update().done, 1);
        }
        receiver.changed().await.expect("the end");
        assert!(!receiver.borrow().active());
    }
}
