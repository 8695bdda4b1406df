//! The order rollbacks run in: callers first, by who calls whom *now*.
//!
//! What the live versions bind counts, not only Git: a revert of the commit that added a service
//! binding has no edge in Git's (older) state, but the live caller still calls the callee.

use std::collections::{BTreeMap, BTreeSet};

use crate::live::LiveAccount;
use crate::order;

use super::scope::Scope;

/// Scripts each live Worker's active version calls into (empty when live state is unknown).
pub(super) fn live_edges(live: &LiveAccount) -> BTreeMap<String, BTreeSet<String>> {
    if !live.observed {
        return BTreeMap::new();
    }
    live.workers
        .iter()
        .filter_map(|(name, worker)| {
            let (id, _) = worker.active_version_id()?;
            let version = worker.version(id)?;
            Some((name.clone(), order::binding_targets(&version.bindings)))
        })
        .collect()
}

/// The reversed dependency order with the live edges added; a cycle falls back to the reversed
/// deploy order.
pub(super) fn order(
    scope: &Scope<'_>,
    live_edges: &BTreeMap<String, BTreeSet<String>>,
) -> Vec<String> {
    let ordering = scope.graph.with_edges(live_edges).order();
    if ordering.cycles.is_empty() {
        ordering.deploy.into_iter().rev().collect()
    } else {
        scope.ordering.deploy.iter().rev().cloned().collect()
    }
}
