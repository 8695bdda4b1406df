//! A per-key request scheduler: deduplicates, debounces, and never hands out a key that is
//! still being worked on (kube-runtime's `scheduler` + `Runner`, as one pure state machine).
//!
//! # Guarantees
//!
//! - A key is scheduled at most once; if a request for a key arrives while one is pending, the
//!   **earlier** run time wins (a backoff requeue at +30 s is pulled forward by a commit now).
//! - With a debounce window, each new request for a pending key that would run no later than it
//!   pushes the run time to `request + debounce`, so a burst of requests yields one run after
//!   the burst ends, but never later than [`BURST_CAP_FACTOR`] debounce windows after the
//!   first request of the burst: a steady stream of requests cannot postpone a run forever.
//! - A key handed out by [`Scheduler::pop_ready`] is *running* until [`Scheduler::finish`]; a
//!   request that arrives meanwhile is kept and runs after `finish`, never concurrently.
//!
//! The scheduler holds no clock: every call takes `now`, so tests drive it with plain values.

use std::{collections::HashMap, collections::HashSet, hash::Hash, time::Duration};

use tokio::time::Instant;

/// A burst pushes a pending run back by at most this many debounce windows in total (a 50 ms
/// quiet period is capped at 500 ms).
pub const BURST_CAP_FACTOR: u32 = 10;

#[derive(Debug)]
pub struct Scheduler<K> {
    debounce: Duration,
    /// Key -> time at which it becomes ready.
    scheduled: HashMap<K, Instant>,
    /// Key -> latest time a burst may push its pending run to.
    deadlines: HashMap<K, Instant>,
    running: HashSet<K>,
}

impl<K: Hash + Eq + Clone> Scheduler<K> {
    pub fn new(debounce: Duration) -> Self {
        Scheduler {
            debounce,
            scheduled: HashMap::new(),
            deadlines: HashMap::new(),
            running: HashSet::new(),
        }
    }

    /// Requests a run of `key` at `run_at` (plus the debounce window).
    pub fn request(&mut self, key: K, run_at: Instant) {
        let next = run_at.checked_add(self.debounce).unwrap_or(run_at);
        let cap = self
            .debounce
            .checked_mul(BURST_CAP_FACTOR)
            .and_then(|window| run_at.checked_add(window))
            .unwrap_or(next);
        match self.scheduled.get_mut(&key) {
            // The pending run would happen at or after this request: replace it (debounce),
            // no later than the burst's cap.
            Some(existing) if *existing >= run_at => {
                let deadline = self.deadlines.entry(key).or_insert(cap);
                *deadline = (*deadline).min(cap);
                *existing = next.min(*deadline);
            }
            // The pending run happens before this request would: it covers it.
            Some(_) => {}
            None => {
                self.deadlines.insert(key.clone(), cap);
                self.scheduled.insert(key, next);
            }
        }
    }

    /// Takes every key that is ready at `now` and not running, marks them running, and returns
    /// them (in ready-time order, ties broken arbitrarily).
    pub fn pop_ready(&mut self, now: Instant) -> Vec<K> {
        let mut ready: Vec<(Instant, K)> = self
            .scheduled
            .iter()
            .filter(|(key, at)| **at <= now && !self.running.contains(*key))
            .map(|(key, at)| (*at, key.clone()))
            .collect();
        ready.sort_by_key(|(at, _)| *at);
        for (_, key) in &ready {
            self.scheduled.remove(key);
            self.deadlines.remove(key);
            self.running.insert(key.clone());
        }
        ready.into_iter().map(|(_, key)| key).collect()
    }

    /// Marks `key` as no longer running; a request that arrived meanwhile becomes eligible.
    pub fn finish(&mut self, key: &K) {
        self.running.remove(key);
    }

    /// The earliest time at which a non-running key becomes ready (for `sleep_until`).
    pub fn next_wakeup(&self) -> Option<Instant> {
        self.scheduled
            .iter()
            .filter(|(key, _)| !self.running.contains(*key))
            .map(|(_, at)| *at)
            .min()
    }

    pub fn is_running(&self, key: &K) -> bool {
        self.running.contains(key)
    }

    pub fn is_scheduled(&self, key: &K) -> bool {
        self.scheduled.contains_key(key)
    }

    /// Drops every pending (not running) request; used on shutdown.
    pub fn clear_pending(&mut self) {
        self.scheduled.clear();
        self.deadlines.clear();
    }

    pub fn pending_len(&self) -> usize {
        self.scheduled.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn scheduler_dedupe_should_keep_earlier_item() {
        let t0 = Instant::now();
        let mut scheduler = Scheduler::new(Duration::ZERO);
        scheduler.request("a", t0 + secs(30));
        scheduler.request("a", t0 + secs(5));
        scheduler.request("a", t0 + secs(60));
        assert_eq!(scheduler.next_wakeup(), Some(t0 + secs(5)));
        assert!(scheduler.pop_ready(t0 + secs(4)).is_empty());
        assert_eq!(scheduler.pop_ready(t0 + secs(5)), vec!["a"]);
        assert_eq!(scheduler.pending_len(), 0);
    }

    #[test]
    fn scheduler_debounce_should_emit_once_after_a_burst() {
        let t0 = Instant::now();
        let mut scheduler = Scheduler::new(secs(2));
        for offset in [0, 1, 2, 3] {
            scheduler.request("a", t0 + secs(offset));
        }
        // The last request was at 3 s, so the single run happens at 5 s.
        assert!(scheduler.pop_ready(t0 + secs(4)).is_empty());
        assert_eq!(scheduler.next_wakeup(), Some(t0 + secs(5)));
        assert_eq!(scheduler.pop_ready(t0 + secs(5)), vec!["a"]);
        assert!(scheduler.pop_ready(t0 + secs(100)).is_empty());
    }

    #[test]
    fn scheduler_debounce_does_not_delay_an_earlier_pending_run_for_a_later_request() {
        let t0 = Instant::now();
        let mut scheduler = Scheduler::new(secs(1));
        scheduler.request("a", t0);
        scheduler.request("a", t0 + secs(10));
        assert_eq!(scheduler.next_wakeup(), Some(t0 + secs(1)));
    }

    #[test]
    fn scheduler_debounce_is_capped_under_a_steady_burst() {
        let t0 = Instant::now();
        let millis = Duration::from_millis;
        let mut scheduler = Scheduler::new(millis(50));
        // A request every 40 ms for 2 s: never 50 ms quiet, yet one run 500 ms after the first.
        for step in 0..50 {
            scheduler.request("a", t0 + millis(40 * step));
            if t0 + millis(40 * step) < t0 + millis(500) {
                assert!(scheduler.pop_ready(t0 + millis(40 * step)).is_empty());
            }
            if step == 12 {
                assert_eq!(scheduler.next_wakeup(), Some(t0 + millis(500)));
                assert_eq!(scheduler.pop_ready(t0 + millis(500)), vec!["a"]);
                scheduler.finish(&"a");
            }
        }
        // The rest of the burst is a new one, capped from its own first request (520 ms).
        assert_eq!(scheduler.next_wakeup(), Some(t0 + millis(1020)));
    }

    #[test]
    fn scheduler_never_hands_out_a_running_key_twice() {
        let t0 = Instant::now();
        let mut scheduler = Scheduler::new(Duration::ZERO);
        scheduler.request("a", t0);
        scheduler.request("b", t0);
        let mut first = scheduler.pop_ready(t0);
        first.sort();
        assert_eq!(first, vec!["a", "b"]);
        // A new request for "a" while it runs is held, not handed out.
        scheduler.request("a", t0 + secs(1));
        assert!(scheduler.pop_ready(t0 + secs(2)).is_empty());
        assert_eq!(scheduler.next_wakeup(), None);
        assert!(scheduler.is_running(&"a"));
        scheduler.finish(&"a");
        assert_eq!(scheduler.pop_ready(t0 + secs(2)), vec!["a"]);
        // "b" finished without a new request: nothing more.
        scheduler.finish(&"b");
        assert!(scheduler.pop_ready(t0 + secs(3)).is_empty());
    }

    #[test]
    fn scheduler_hands_out_ready_keys_in_time_order() {
        let t0 = Instant::now();
        let mut scheduler = Scheduler::new(Duration::ZERO);
        scheduler.request("late", t0 + secs(3));
        scheduler.request("early", t0 + secs(1));
        scheduler.request("future", t0 + secs(9));
        assert_eq!(scheduler.pop_ready(t0 + secs(5)), vec!["early", "late"]);
        assert!(scheduler.is_scheduled(&"future"));
        scheduler.clear_pending();
        assert_eq!(scheduler.next_wakeup(), None);
    }
}
