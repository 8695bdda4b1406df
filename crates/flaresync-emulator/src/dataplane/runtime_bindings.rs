//! Cloudflare binding objects (as stored with a version) translated into workerd config
//! bindings. Pure.
//!
//! Kinds that run: `plain_text`, `secret_text`, `json`, `version_metadata` (JSON `{id, tag,
//! timestamp}`), `service` (through the data-plane listener, so the target's current deployment
//! and its split apply), `durable_object_namespace` for a class of the same Worker (storage on
//! disk, shared by every version), `kv_namespace` (the emulator's KV store, through the
//! listener), `assets` (the version's asset worker, see `asset_services`). Any other kind is listed in [`Translated::unsupported`]; the
//! entry module turns an access to it into an error naming the kind, at request time.

use serde_json::{Value, json};

use super::asset_services::asset_service;
use super::capnp::quote;
use super::desired::VersionBundle;

/// Name of the workerd external service that forwards a service binding to Worker `script`
/// through the listener.
pub fn service_binding_target(script: &str) -> String {
    format!("to-script-{script}")
}

/// Name of the workerd external service that serves KV namespace `id` through the listener.
pub fn kv_binding_target(id: &str) -> String {
    format!("kv-{id}")
}

/// A version's bindings in workerd terms.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Translated {
    /// capnp text of each `Worker.Binding`.
    pub bindings: Vec<String>,
    /// Durable Object classes this version implements (its own namespaces).
    pub durable_object_classes: Vec<String>,
    /// (binding name, class) of each binding to this Worker's own Durable Objects.
    pub durable_object_bindings: Vec<(String, String)>,
    /// Workers this version has service bindings to.
    pub services: Vec<String>,
    /// KV namespaces this version binds.
    pub kv_namespaces: Vec<String>,
    /// Binding name -> Cloudflare kind, for kinds the data plane does not run.
    pub unsupported: Vec<(String, String)>,
}

/// Translates `version`'s bindings. `do_owner` is the service implementing this Worker's Durable
/// Object classes when it is another version's (`None`: this version implements them).
pub fn translate(version: &VersionBundle, do_owner: Option<&str>) -> Translated {
    let mut out = Translated::default();
    for binding in &version.bindings {
        let name = binding["name"].as_str().unwrap_or_default();
        let kind = binding["type"].as_str().unwrap_or_default();
        let text = |field: &str| binding[field].as_str().unwrap_or_default().to_owned();
        match kind {
            "plain_text" | "secret_text" => out.push(name, "text", &quote(&text("text"))),
            "json" => out.push(name, "json", &quote(&binding["json"].to_string())),
            "version_metadata" => {
                let metadata = json!({
                    "id": version.id,
                    "tag": version.tag,
                    "timestamp": version.created_on,
                });
                out.push(name, "json", &quote(&metadata.to_string()));
            }
            "service" => {
                let target = text("service");
                out.push(name, "service", &quote(&service_binding_target(&target)));
                out.services.push(target);
            }
            "kv_namespace" => {
                let id = text("namespace_id");
                out.push(name, "kvNamespace", &quote(&kv_binding_target(&id)));
                out.kv_namespaces.push(id);
            }
            "assets" if version.assets.is_some() => {
                out.push(name, "service", &quote(&asset_service(&version.id)));
            }
            "durable_object_namespace" if is_own_class(binding, &version.script) => {
                let class = text("class_name");
                let designator = match do_owner {
                    Some(owner) => format!(
                        "(className = {}, serviceName = {})",
                        quote(&class),
                        quote(owner)
                    ),
                    None => format!("(className = {})", quote(&class)),
                };
                out.push(name, "durableObjectNamespace", &designator);
                out.durable_object_bindings
                    .push((name.to_owned(), class.clone()));
                out.durable_object_classes.push(class);
            }
            other => out.unsupported.push((name.to_owned(), other.to_owned())),
        }
    }
    out.durable_object_classes.sort();
    out.durable_object_classes.dedup();
    out
}

fn is_own_class(binding: &Value, script: &str) -> bool {
    match binding["script_name"].as_str() {
        None | Some("") => true,
        Some(other) => other == script,
    }
}

impl Translated {
    fn push(&mut self, name: &str, field: &str, value: &str) {
        self.bindings
            .push(format!("(name = {}, {field} = {value})", quote(name)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(bindings: Value) -> VersionBundle {
        VersionBundle {
            id: "v-1".into(),
            script: "api".into(),
            tag: "t1".into(),
            created_on: "2026-01-01T00:00:00.000000Z".into(),
            main_module: Some("index.js".into()),
            body_part: None,
            modules: Vec::new(),
            bindings: serde_json::from_value(bindings).unwrap_or_default(),
            compatibility_date: "2025-01-01".into(),
            compatibility_flags: Vec::new(),
            assets: None,
        }
    }

    #[test]
    fn each_running_kind_becomes_a_workerd_binding() {
        let t = translate(
            &version(json!([
            {"type": "plain_text", "name": "A", "text": "x\"y"},
            {"type": "secret_text", "name": "S", "text": "s3"},
            {"type": "json", "name": "J", "json": {"k": [1]}},
            {"type": "version_metadata", "name": "M"},
            {"type": "service", "name": "B", "service": "auth"},
            {"type": "durable_object_namespace", "name": "D", "class_name": "Counter"},
            {"type": "durable_object_namespace", "name": "E", "class_name": "X", "script_name": "other"},
            {"type": "r2_bucket", "name": "R", "bucket_name": "b"},
            {"type": "kv_namespace", "name": "K", "namespace_id": "ns1"},
            ])),
            None,
        );
        assert_eq!(
            t.bindings,
            vec![
                r#"(name = "A", text = "x\"y")"#,
                r#"(name = "S", text = "s3")"#,
                r#"(name = "J", json = "{\"k\":[1]}")"#,
                r#"(name = "M", json = "{\"id\":\"v-1\",\"tag\":\"t1\",\"timestamp\":\"2026-01-01T00:00:00.000000Z\"}")"#,
                r#"(name = "B", service = "to-script-auth")"#,
                r#"(name = "D", durableObjectNamespace = (className = "Counter"))"#,
                r#"(name = "K", kvNamespace = "kv-ns1")"#,
            ]
        );
        assert_eq!(t.durable_object_classes, vec!["Counter"]);
        assert_eq!(
            t.durable_object_bindings,
            vec![("D".to_owned(), "Counter".to_owned())]
        );
        assert_eq!(t.services, vec!["auth"]);
        assert_eq!(t.kv_namespaces, vec!["ns1"]);
        assert_eq!(
            t.unsupported,
            vec![
                ("E".to_owned(), "durable_object_namespace".to_owned()),
                ("R".to_owned(), "r2_bucket".to_owned())
            ]
        );
    }

    #[test]
    fn other_versions_bind_to_the_owners_durable_objects() {
        let v =
            version(json!([{"type": "durable_object_namespace", "name": "D", "class_name": "C"}]));
        let t = translate(&v, Some("v-owner"));
        assert_eq!(
            t.bindings,
            vec![
                r#"(name = "D", durableObjectNamespace = (className = "C", serviceName = "v-owner"))"#
            ]
        );
    }
}
