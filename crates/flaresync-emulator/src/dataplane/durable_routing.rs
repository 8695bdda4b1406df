//! Durable Objects in a split deployment, the way Cloudflare assigns them (SPEC-2 §6.5): each
//! object runs exactly one version of the current deployment, chosen from a hash of the
//! object's id against the cumulative percentages in deployment order, so the assignment holds
//! until the next deployment and objects on a growing version never move back.
//!
//! Every version of the split implements the Worker's classes (same storage key, so an object's
//! data is the same whichever version runs it). A Worker's binding (`env.COUNTER`) becomes, in
//! its fetch handler and its Durable Object classes, a namespace that sends `get(id)` to the
//! version owning that id: one hidden binding per version (`__flaresync_do_<i>_<name>`) and a
//! table the entry module reads. With one version (no split) nothing is added. Pure.
//!
//! Caveat: workerd gives each implementing version its own alarm scheduler over the shared
//! storage; an alarm still pending when a split deployment's runtime starts may run in each.

use serde_json::json;

use super::capnp::quote;
use super::workerd_config::service_name;

const HIDDEN_PREFIX: &str = "__flaresync_do_";

/// What a version of a split Worker adds for its Durable Object bindings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DurableRouting {
    /// The hidden workerd bindings (capnp text), one per binding and version.
    pub bindings: Vec<String>,
    /// Entry-module table: binding name -> [[hidden binding, cumulative percentage], ...].
    pub table: serde_json::Map<String, serde_json::Value>,
    /// Classes the entry module re-exports so their `env` routes too.
    pub classes: Vec<String>,
}

impl DurableRouting {
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }
}

/// The routing of `bindings` (binding name, class) for a Worker whose classes are implemented
/// by `implementers` (version id, percentage of objects, in deployment order).
pub fn route(
    implementers: &[(String, f64)],
    bindings: &[(String, String)],
    classes: &[String],
) -> DurableRouting {
    let mut out = DurableRouting::default();
    if implementers.len() < 2 || bindings.is_empty() {
        return out;
    }
    for (name, class) in bindings {
        let mut cumulative = 0.0;
        let mut targets = Vec::new();
        for (index, (version, percentage)) in implementers.iter().enumerate() {
            cumulative += percentage;
            let hidden = format!("{HIDDEN_PREFIX}{index}_{name}");
            out.bindings.push(format!(
                "(name = {}, durableObjectNamespace = (className = {}, serviceName = {}))",
                quote(&hidden),
                quote(class),
                quote(&service_name(version))
            ));
            targets.push(json!([hidden, cumulative]));
        }
        out.table.insert(name.clone(), json!(targets));
    }
    out.classes = classes
        .iter()
        .filter(|class| is_identifier(class))
        .cloned()
        .collect();
    out
}

/// A class name the entry module may write as JavaScript source.
fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_split_gets_one_hidden_binding_per_version_and_cumulative_bounds() {
        let implementers = [("a".to_owned(), 90.0), ("b".to_owned(), 10.0)];
        let routing = route(
            &implementers,
            &[("COUNTER".into(), "Counter".into())],
            &["Counter".into(), "bad-name".into()],
        );
        assert_eq!(
            routing.bindings,
            vec![
                r#"(name = "__flaresync_do_0_COUNTER", durableObjectNamespace = (className = "Counter", serviceName = "v-a"))"#,
                r#"(name = "__flaresync_do_1_COUNTER", durableObjectNamespace = (className = "Counter", serviceName = "v-b"))"#,
            ]
        );
        assert_eq!(
            serde_json::Value::Object(routing.table),
            json!({"COUNTER": [["__flaresync_do_0_COUNTER", 90.0], ["__flaresync_do_1_COUNTER", 100.0]]})
        );
        assert_eq!(routing.classes, vec!["Counter"]);
    }

    #[test]
    fn one_version_or_no_binding_needs_no_routing() {
        let one = [("a".to_owned(), 100.0)];
        let binding = [("C".to_owned(), "C".to_owned())];
        assert!(route(&one, &binding, &[]).is_empty());
        let two = [("a".to_owned(), 50.0), ("b".to_owned(), 50.0)];
        assert!(route(&two, &[], &["C".into()]).is_empty());
    }
}
