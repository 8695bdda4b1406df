//! Multi-Worker ordering: which Worker must be deployed before which.
//!
//! An edge `a -> b` ("a depends on b") means `b` is deployed forward before `a`, and rolled back
//! after it. Edges come from:
//!
//! - service bindings (`service`, also `service-environment` for legacy envs),
//! - Durable Object bindings and workflows with a `script_name` (the class lives elsewhere),
//! - queues: a producer depends on the consumers of the queues it sends to, so consumers learn a
//!   new message shape before producers send it,
//! - tail consumers,
//! - Durable Object transfers: the Worker whose migration has `transferred_classes` from script
//!   `s` deploys before `s`,
//! - `DesiredWorker::dependencies`, `Policy::depends_on`, the per-Worker `Policy::order` rank
//!   (lower ranks first) and the `Policies::order` list (each entry after the one before it).
//!
//! Only Workers present in the plan take part; edges to other scripts are ignored here. A cycle
//! is reported and the order falls back to plain name order, so the plan stays deterministic.

use std::collections::{BTreeMap, BTreeSet};

use flaresync_config::{BindingKind, WorkerSpec};

use crate::input::Policies;

/// The dependency graph over a set of Workers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Graph {
    /// worker -> workers it depends on (deployed before it).
    pub edges: BTreeMap<String, BTreeSet<String>>,
}

/// Result of ordering.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ordering {
    /// Dependencies first.
    pub deploy: Vec<String>,
    /// Cycles found; non-empty means `deploy` is name order.
    pub cycles: Vec<Vec<String>>,
}

/// Script names a spec refers to through bindings and settings (not filtered to the plan).
pub fn referenced_scripts(spec: &WorkerSpec) -> BTreeSet<String> {
    let mut names = binding_targets(&spec.bindings);
    for tail in &spec.settings.tail_consumers {
        names.insert(tail.service.clone());
        if let Some(environment) = &tail.environment {
            names.insert(format!("{}-{environment}", tail.service));
        }
    }
    names.remove(&spec.name);
    names
}

/// Script names a list of bindings calls into (service bindings, Durable Objects and workflows
/// with a `script_name`): the edges of a live version, which may differ from Git's.
pub fn binding_targets(bindings: &[flaresync_config::Binding]) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for binding in bindings {
        match &binding.kind {
            BindingKind::Service {
                service,
                environment,
                ..
            } => {
                names.insert(service.clone());
                if let Some(environment) = environment {
                    names.insert(format!("{service}-{environment}"));
                }
            }
            BindingKind::DurableObjectNamespace {
                script_name: Some(script),
                ..
            }
            | BindingKind::Workflow {
                script_name: Some(script),
                ..
            } => {
                names.insert(script.clone());
            }
            _ => {}
        }
    }
    names
}

impl Graph {
    /// This graph plus edges `name -> target` for the given extra targets (Workers outside the
    /// graph and self-edges are ignored).
    pub fn with_edges(&self, extra: &BTreeMap<String, BTreeSet<String>>) -> Graph {
        let mut edges = self.edges.clone();
        let known: BTreeSet<String> = edges.keys().cloned().collect();
        for (name, targets) in extra {
            if let Some(set) = edges.get_mut(name) {
                set.extend(
                    targets
                        .iter()
                        .filter(|t| *t != name && known.contains(*t))
                        .cloned(),
                );
            }
        }
        Graph { edges }
    }
}

/// Build the graph for the given Workers (name -> spec, `None` for Workers without a resolved
/// spec, which still take part through explicit edges).
pub fn build_graph(
    specs: &BTreeMap<String, Option<&WorkerSpec>>,
    extra: &BTreeMap<String, Vec<String>>,
    policies: &Policies,
) -> Graph {
    let mut edges: BTreeMap<String, BTreeSet<String>> = specs
        .keys()
        .map(|name| (name.clone(), BTreeSet::new()))
        .collect();
    let mut add = |from: &str, to: &str| {
        if from != to
            && specs.contains_key(to)
            && let Some(set) = edges.get_mut(from)
        {
            set.insert(to.to_owned());
        }
    };
    // queue name -> consumers
    let mut consumers: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (name, spec) in specs {
        if let Some(spec) = spec {
            for consumer in &spec.queue_consumers {
                consumers
                    .entry(consumer.queue.as_str())
                    .or_default()
                    .push(name.as_str());
            }
        }
    }
    for (name, spec) in specs {
        if let Some(spec) = spec {
            for target in referenced_scripts(spec) {
                add(name, &target);
            }
            // A Durable Object transfer: the receiving Worker deploys first, then the source
            // drops the class (DO-MIGRATIONS.md implication 7).
            for step in &spec.migrations {
                for transfer in &step.transferred_classes {
                    add(&transfer.from_script, name);
                }
            }
            for binding in &spec.bindings {
                if let BindingKind::Queue { queue_name, .. } = &binding.kind {
                    for consumer in consumers.get(queue_name.as_str()).into_iter().flatten() {
                        add(name, consumer);
                    }
                }
            }
        }
        for target in extra.get(name).into_iter().flatten() {
            add(name, target);
        }
        for target in &policies.for_worker(name).depends_on {
            add(name, target);
        }
    }
    for pair in policies.order.windows(2) {
        add(&pair[1], &pair[0]);
    }
    // Ranks: every Worker after every Worker of a lower rank. Grouped by rank, so the usual
    // case (one rank for all) costs nothing, not a comparison per pair of Workers.
    let mut by_rank: BTreeMap<_, Vec<&str>> = BTreeMap::new();
    for name in specs.keys() {
        by_rank
            .entry(policies.for_worker(name).order)
            .or_default()
            .push(name.as_str());
    }
    let groups: Vec<&Vec<&str>> = by_rank.values().collect();
    for (index, later_group) in groups.iter().enumerate() {
        for earlier in groups[..index].iter().copied().flatten() {
            for later in later_group.iter() {
                add(later, earlier);
            }
        }
    }
    Graph { edges }
}

impl Graph {
    /// Topological order, dependencies first, ties broken by name.
    pub fn order(&self) -> Ordering {
        // Kahn's algorithm, the ready set ordered by name: at every step the smallest name whose
        // dependencies are all placed goes next, so independent Workers stay in name order
        // relative to each other at every level.
        let mut unmet: BTreeMap<&str, usize> = BTreeMap::new();
        let mut dependents: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (name, deps) in &self.edges {
            // A dependency outside the graph is never placed: its dependent waits forever.
            let deps: BTreeSet<&str> = deps.iter().map(String::as_str).collect();
            unmet.insert(name, deps.len());
            for dep in deps {
                dependents.entry(dep).or_default().push(name);
            }
        }
        let mut ready: BTreeSet<&str> = unmet
            .iter()
            .filter(|(_, count)| **count == 0)
            .map(|(name, _)| *name)
            .collect();
        let mut deploy = Vec::with_capacity(self.edges.len());
        while let Some(next) = ready.pop_first() {
            for dependent in dependents.get(next).into_iter().flatten() {
                if let Some(count) = unmet.get_mut(dependent) {
                    *count -= 1;
                    if *count == 0 {
                        ready.insert(dependent);
                    }
                }
            }
            unmet.remove(next);
            deploy.push(next.to_owned());
        }
        if unmet.is_empty() {
            return Ordering {
                deploy,
                cycles: Vec::new(),
            };
        }
        // What is left, with the dependencies not placed yet.
        let placed: BTreeSet<&str> = deploy.iter().map(String::as_str).collect();
        let remaining: BTreeMap<&str, BTreeSet<&str>> = unmet
            .keys()
            .map(|name| {
                let deps = self
                    .edges
                    .get(*name)
                    .into_iter()
                    .flatten()
                    .map(String::as_str)
                    .filter(|d| !placed.contains(d))
                    .collect();
                (*name, deps)
            })
            .collect();
        Ordering {
            deploy: self.edges.keys().cloned().collect(),
            cycles: find_cycles(&remaining),
        }
    }
}

/// Every remaining node has an unmet dependency among the remaining ones, so walking "first
/// dependency" from any node must revisit a node: that loop is a cycle.
fn find_cycles(remaining: &BTreeMap<&str, BTreeSet<&str>>) -> Vec<Vec<String>> {
    let mut cycles = BTreeSet::new();
    for start in remaining.keys() {
        let mut path: Vec<&str> = vec![start];
        let mut current = *start;
        while let Some(next) = remaining
            .get(current)
            .and_then(|deps| deps.iter().find(|d| remaining.contains_key(*d)))
        {
            if let Some(index) = path.iter().position(|p| p == next) {
                let mut cycle: Vec<String> = path[index..].iter().map(|s| s.to_string()).collect();
                let min = cycle
                    .iter()
                    .enumerate()
                    .min_by(|a, b| a.1.cmp(b.1))
                    .map(|(i, _)| i)
                    .unwrap_or(0);
                cycle.rotate_left(min);
                cycles.insert(cycle);
                break;
            }
            path.push(next);
            current = next;
        }
    }
    cycles.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(&str, &[&str])]) -> Graph {
        Graph {
            edges: edges
                .iter()
                .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
                .collect(),
        }
    }

    /// The order as first written (one ready Worker at a time, by scanning every remaining
    /// one): the reference the faster order must equal.
    fn order_by_scanning(graph: &Graph) -> Ordering {
        let mut remaining: BTreeMap<&str, BTreeSet<&str>> = graph
            .edges
            .iter()
            .map(|(k, v)| (k.as_str(), v.iter().map(String::as_str).collect()))
            .collect();
        let mut deploy = Vec::new();
        while let Some(next) = remaining
            .iter()
            .find(|(_, deps)| deps.is_empty())
            .map(|(name, _)| *name)
        {
            remaining.remove(next);
            for deps in remaining.values_mut() {
                deps.remove(next);
            }
            deploy.push(next.to_owned());
        }
        if remaining.is_empty() {
            return Ordering {
                deploy,
                cycles: Vec::new(),
            };
        }
        Ordering {
            deploy: graph.edges.keys().cloned().collect(),
            cycles: find_cycles(&remaining),
        }
    }

    proptest::proptest! {
        #[test]
        fn the_order_equals_the_scanning_order(
            edges in proptest::collection::vec((0u8..12, 0u8..14), 0..40),
            nodes in 1u8..12,
        ) {
            let mut graph = Graph::default();
            for n in 0..nodes {
                graph.edges.insert(format!("w{n:02}"), BTreeSet::new());
            }
            for (from, to) in edges {
                if let Some(set) = graph.edges.get_mut(&format!("w{from:02}")) {
                    // Targets up to 13 include some outside the graph.
                    set.insert(format!("w{to:02}"));
                }
            }
            proptest::prop_assert_eq!(graph.order(), order_by_scanning(&graph));
        }
    }

    #[test]
    fn live_edges_extend_the_graph_for_known_workers_only() {
        let bindings: Vec<flaresync_config::Binding> = serde_json::from_value(serde_json::json!([
            {"name": "SVC", "type": "service", "service": "svc"},
            {"name": "EXT", "type": "service", "service": "elsewhere"},
            {"name": "KV", "type": "kv_namespace", "namespace_id": "abc"},
        ]))
        .expect("bindings deserialize");
        let targets = binding_targets(&bindings);
        assert_eq!(
            targets.iter().map(String::as_str).collect::<Vec<_>>(),
            ["elsewhere", "svc"]
        );
        let g = graph(&[("app", &[]), ("svc", &[])]);
        assert_eq!(g.order().deploy, ["app", "svc"]);
        let with = g.with_edges(&BTreeMap::from([("app".to_string(), targets)]));
        assert_eq!(with.order().deploy, ["svc", "app"]);
        assert!(!with.edges["app"].contains("elsewhere"));
    }

    #[test]
    fn dependencies_come_first_and_ties_are_by_name() {
        let g = graph(&[
            ("api", &["auth", "db"]),
            ("auth", &["db"]),
            ("db", &[]),
            ("zz", &[]),
        ]);
        assert_eq!(g.order().deploy, ["db", "auth", "api", "zz"]);
        assert!(g.order().cycles.is_empty());
    }

    #[test]
    fn derived_edges_cover_bindings_queues_tails_transfers_and_explicit_order() {
        let spec = |name: &str, extra: serde_json::Value| -> WorkerSpec {
            let mut value = serde_json::json!({
                "name": name, "dir": name, "config_path": "", "main_module": "index.js",
                "modules": [], "compatibility_date": null, "compatibility_flags": [],
                "bindings": [], "migrations": [], "exports": null, "usage_model": null,
                "limits": null, "placement": null, "routes": [], "crons": [],
                "workers_dev": null, "queue_consumers": [], "settings": {},
                "secrets_required": []
            });
            for (key, field) in extra.as_object().expect("object") {
                value[key] = field.clone();
            }
            serde_json::from_value(value).expect("valid spec")
        };
        let specs_owned = [
            spec(
                "gateway",
                serde_json::json!({
                    "bindings": [
                        {"name": "AUTH", "type": "service", "service": "auth"},
                        {"name": "OUT", "type": "service", "service": "elsewhere"},
                        {"name": "Q", "type": "queue", "queue_name": "events"}
                    ],
                    "settings": {"tail_consumers": [{"service": "logger"}]}
                }),
            ),
            spec("auth", serde_json::json!({})),
            spec("logger", serde_json::json!({})),
            spec(
                "sink",
                serde_json::json!({"queue_consumers": [{"queue": "events"}]}),
            ),
            spec(
                "jobs",
                serde_json::json!({"migrations": [{"tag": "v1", "transferred_classes": [
                    {"from": "Job", "from_script": "auth", "to": "Job"}
                ]}]}),
            ),
        ];
        let specs: BTreeMap<String, Option<&WorkerSpec>> = specs_owned
            .iter()
            .map(|s| (s.name.clone(), Some(s)))
            .collect();
        let policies = Policies {
            order: vec!["sink".into(), "logger".into()],
            ..Policies::default()
        };
        let graph = build_graph(&specs, &BTreeMap::new(), &policies);
        let deps =
            |name: &str| -> Vec<&str> { graph.edges[name].iter().map(String::as_str).collect() };
        assert_eq!(deps("gateway"), ["auth", "logger", "sink"]);
        assert_eq!(deps("auth"), ["jobs"]);
        assert_eq!(deps("logger"), ["sink"]);
        assert_eq!(
            graph.order().deploy,
            ["jobs", "auth", "sink", "logger", "gateway"]
        );
    }

    #[test]
    fn lower_order_rank_deploys_first() {
        let spec: WorkerSpec = serde_json::from_value(serde_json::json!({
            "name": "x", "dir": "x", "config_path": "", "main_module": "index.js",
            "modules": [], "compatibility_date": null, "compatibility_flags": [],
            "bindings": [], "migrations": [], "exports": null, "usage_model": null,
            "limits": null, "placement": null, "routes": [], "crons": [],
            "workers_dev": null, "queue_consumers": [], "settings": {},
            "secrets_required": []
        }))
        .expect("valid spec");
        let specs: BTreeMap<String, Option<&WorkerSpec>> = ["a", "b", "c"]
            .iter()
            .map(|n| (n.to_string(), Some(&spec)))
            .collect();
        let mut policies = Policies::default();
        for (name, rank) in [("a", 10), ("b", -1), ("c", 10)] {
            policies.workers.insert(
                name.to_string(),
                crate::input::Policy {
                    order: rank,
                    ..crate::input::Policy::default()
                },
            );
        }
        let graph = build_graph(&specs, &BTreeMap::new(), &policies);
        assert_eq!(graph.order().deploy, ["b", "a", "c"]);
        assert!(graph.edges["a"].contains("b") && !graph.edges["a"].contains("c"));
    }

    #[test]
    fn cycle_is_reported_and_order_falls_back_to_names() {
        let g = graph(&[("c", &["a"]), ("a", &["b"]), ("b", &["c"]), ("d", &["a"])]);
        let ordering = g.order();
        assert_eq!(ordering.deploy, ["a", "b", "c", "d"]);
        assert_eq!(ordering.cycles, [vec!["a", "b", "c"]]);
    }
}
