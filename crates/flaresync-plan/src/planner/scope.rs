//! Which Workers take part in a plan, their dependency graph and deploy order, and the scripts
//! that exist or will exist.

use std::collections::{BTreeMap, BTreeSet};

use flaresync_config::WorkerSpec;

use crate::order::{self, Graph, Ordering};

use super::Request;

/// The Workers of one plan and how they relate.
pub(super) struct Scope<'a> {
    /// The order Workers are decided in: dependencies first (the deploy order), then the Workers
    /// removed from Git, by name.
    pub sequence: Vec<&'a str>,
    /// Workers gone from Git that the base commit or the history still knows.
    pub removed: BTreeSet<&'a str>,
    /// Dependency graph over the Workers still in Git.
    pub graph: Graph,
    pub ordering: Ordering,
    /// Scripts that exist or are about to: the account's list plus this plan's Workers. `None`
    /// when the account's script list was not fetched.
    pub known_scripts: Option<BTreeSet<String>>,
}

impl<'a> Scope<'a> {
    pub fn of(request: &Request<'a>) -> Self {
        let Request {
            desired,
            live,
            policies,
            ..
        } = *request;
        let specs: BTreeMap<String, Option<&WorkerSpec>> = desired
            .workers
            .iter()
            .map(|(name, entry)| (name.clone(), entry.worker().map(|w| &w.spec)))
            .collect();
        let extra: BTreeMap<String, Vec<String>> = desired
            .workers
            .iter()
            .filter_map(|(name, entry)| {
                entry
                    .worker()
                    .map(|w| (name.clone(), w.dependencies.clone()))
            })
            .collect();
        let graph = order::build_graph(&specs, &extra, policies);
        let ordering = graph.order();
        let known_scripts = live
            .scripts
            .as_ref()
            .filter(|_| live.observed)
            .map(|scripts| {
                let mut all = scripts.clone();
                all.extend(
                    live.workers
                        .values()
                        .filter(|w| w.exists)
                        .map(|w| w.name.clone()),
                );
                all.extend(specs.keys().cloned());
                all
            });
        let removed = removed(request);
        // The deploy order names exactly the Workers in Git; borrow their names from `desired`.
        let mut sequence: Vec<&str> = ordering
            .deploy
            .iter()
            .filter_map(|name| desired.workers.get_key_value(name))
            .map(|(name, _)| name.as_str())
            .collect();
        sequence.extend(removed.iter().copied());
        Scope {
            sequence,
            removed,
            graph,
            ordering,
            known_scripts,
        }
    }

    /// The dependency cycle `name` is part of, if any.
    pub fn cycle_of(&self, name: &str) -> Option<&[String]> {
        self.ordering
            .cycles
            .iter()
            .find(|cycle| cycle.iter().any(|c| c == name))
            .map(Vec::as_slice)
    }

    /// The Workers `name` depends on (deployed before it).
    pub fn dependencies(&self, name: &str) -> Vec<String> {
        self.graph
            .edges
            .get(name)
            .map(|deps| deps.iter().cloned().collect())
            .unwrap_or_default()
    }
}

/// Workers gone from Git that the base commit or the history still knows. History alone only
/// counts while the Worker still exists (or live state is unknown).
fn removed<'a>(request: &Request<'a>) -> BTreeSet<&'a str> {
    let Request {
        desired,
        base,
        live,
        history,
        ..
    } = *request;
    let still_exists =
        |name: &&String| !live.observed || live.workers.get(*name).is_some_and(|w| w.exists);
    base.into_iter()
        .flat_map(|b| b.workers.keys())
        .chain(history.workers.keys().filter(still_exists))
        .filter(|name| !desired.workers.contains_key(*name))
        .map(String::as_str)
        .collect()
}
