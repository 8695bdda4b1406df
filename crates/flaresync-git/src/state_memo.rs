//! The whole desired states memoised per commit, bounded by how many Worker entries they hold
//! together (a state of 1,000 Workers weighs 1,000), least recently used evicted first.
//!
//! Each memoised state owns a map of every Worker directory at its commit (the loaded Workers
//! themselves are shared), so a count of states alone does not bound memory: 256 states of
//! 1,000 Workers held ~20 MB, and a long-running `run` adds one per commit. The budget keeps
//! 256 states of a small repository and eight of a 1,000-Worker one, which is what the
//! history walks (revert detection, version mapping) revisit.

use std::collections::HashMap;

use git2::Oid;

use crate::desired::DesiredState;

/// At most this many states are kept, however small.
pub(crate) const STATES_KEPT: usize = 256;
/// At most this many Worker entries are kept over all states (eight states of 1,000 Workers,
/// each ~75 KB; a long-running `run` adds one per commit).
pub(crate) const ENTRIES_KEPT: usize = 8_192;

#[derive(Debug)]
pub(crate) struct StateMemo {
    states: HashMap<Oid, DesiredState>,
    /// Least recently used first.
    order: Vec<Oid>,
    entries: usize,
    max_states: usize,
    max_entries: usize,
}

impl Default for StateMemo {
    fn default() -> Self {
        StateMemo::with_bounds(STATES_KEPT, ENTRIES_KEPT)
    }
}

fn weight(state: &DesiredState) -> usize {
    state.workers.len().max(1)
}

impl StateMemo {
    pub(crate) fn with_bounds(max_states: usize, max_entries: usize) -> Self {
        StateMemo {
            states: HashMap::new(),
            order: Vec::new(),
            entries: 0,
            max_states: max_states.max(1),
            max_entries,
        }
    }

    /// The state memoised for `commit`, now the most recently used.
    pub(crate) fn get(&mut self, commit: Oid) -> Option<DesiredState> {
        let state = self.states.get(&commit)?.clone();
        if let Some(position) = self.order.iter().position(|oid| *oid == commit) {
            self.order.remove(position);
            self.order.push(commit);
        }
        Some(state)
    }

    /// Memoises `state`, evicting the least recently used until both bounds hold again (the
    /// newest state is always kept, even alone over the entry budget).
    pub(crate) fn insert(&mut self, state: DesiredState) {
        let commit = state.commit;
        if let Some(old) = self.states.remove(&commit) {
            self.entries -= weight(&old);
            self.order.retain(|oid| *oid != commit);
        }
        self.entries += weight(&state);
        self.states.insert(commit, state);
        self.order.push(commit);
        while self.order.len() > 1
            && (self.order.len() > self.max_states || self.entries > self.max_entries)
        {
            let oldest = self.order.remove(0);
            if let Some(evicted) = self.states.remove(&oldest) {
                self.entries -= weight(&evicted);
            }
        }
    }

    /// (states kept, Worker entries they hold).
    #[cfg(test)]
    pub(crate) fn size(&self) -> (usize, usize) {
        (self.states.len(), self.entries)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use flaresync_config::{ConfigError, RepoConfig};

    use super::*;

    fn state(id: u8, workers: usize) -> DesiredState {
        let failed: crate::WorkerResult = Arc::new(Err(ConfigError::NoConfig { dir: "x".into() }));
        DesiredState {
            commit: Oid::from_bytes(&[id; 20]).expect("oid"),
            repo_config: Arc::new(RepoConfig::default()),
            warnings: Vec::new(),
            workers: (0..workers)
                .map(|i| (format!("w{i}"), failed.clone()))
                .collect::<BTreeMap<_, _>>(),
            skipped: Vec::new(),
        }
    }

    fn oid(id: u8) -> Oid {
        Oid::from_bytes(&[id; 20]).expect("oid")
    }

    #[test]
    fn the_count_of_states_is_bounded() {
        let mut memo = StateMemo::with_bounds(3, 1_000);
        for id in 1..=5 {
            memo.insert(state(id, 10));
        }
        assert_eq!(memo.size(), (3, 30));
        assert!(memo.get(oid(1)).is_none() && memo.get(oid(2)).is_none());
        assert!(memo.get(oid(5)).is_some());
    }

    #[test]
    fn the_entries_over_all_states_are_bounded() {
        let mut memo = StateMemo::with_bounds(256, 2_500);
        for id in 1..=10 {
            memo.insert(state(id, 1_000));
        }
        assert_eq!(memo.size(), (2, 2_000));
        assert!(memo.get(oid(9)).is_some() && memo.get(oid(10)).is_some());
    }

    #[test]
    fn the_newest_state_is_kept_even_over_the_budget() {
        let mut memo = StateMemo::with_bounds(256, 100);
        memo.insert(state(1, 10));
        memo.insert(state(2, 500));
        assert_eq!(memo.size(), (1, 500));
        assert!(memo.get(oid(2)).is_some());
    }

    #[test]
    fn a_hit_makes_a_state_the_last_to_go() {
        let mut memo = StateMemo::with_bounds(2, 1_000);
        memo.insert(state(1, 1));
        memo.insert(state(2, 1));
        assert!(memo.get(oid(1)).is_some());
        memo.insert(state(3, 1));
        assert!(memo.get(oid(1)).is_some(), "used last, kept");
        assert!(memo.get(oid(2)).is_none(), "least recently used, evicted");
    }

    #[test]
    fn inserting_a_commit_again_replaces_it() {
        let mut memo = StateMemo::with_bounds(4, 1_000);
        memo.insert(state(1, 10));
        memo.insert(state(1, 20));
        assert_eq!(memo.size(), (1, 20));
    }
}
