//! Kinds without a dedicated model variant, carried as [`BindingKind::Other`] with their
//! wire fields: `ratelimits` and newer kinds (`artifacts`, `flagship`, `ai_search`,
//! `ai_search_namespaces`).
//!
//! [`BindingKind::Other`]: crate::model::BindingKind::Other

use super::BindingReader;
use super::shapes::{Items, fields, other};
use crate::error::ConfigError;
use crate::source::{Node, Val};

/// Newer kinds of the shape `[{ binding, <field>... }]`: config key, wire type, required
/// string fields.
const NEWER_KINDS: [(&str, &str, &[&str]); 4] = [
    ("artifacts", "artifacts", &["namespace"]),
    ("flagship", "flagship", &["app_id"]),
    ("ai_search", "ai_search", &["instance_name"]),
    (
        "ai_search_namespaces",
        "ai_search_namespace",
        &["namespace"],
    ),
];

impl BindingReader<'_, '_, '_> {
    pub(super) fn read_newer_kinds(&mut self) -> Result<(), ConfigError> {
        for (key, wire_type, required) in NEWER_KINDS {
            self.items(Items::new(key), |cx, item, _| {
                let mut wire = serde_json::Map::new();
                for field in required {
                    let value =
                        item.req_nonempty(cx, field, "see the wrangler docs for this binding")?;
                    wire.insert((*field).to_owned(), value.into());
                }
                Ok(other(wire_type, wire))
            })?;
        }
        Ok(())
    }

    /// `ratelimits`: `namespace_id` (a string or an integer) and `simple = { limit, period }`.
    pub(super) fn read_ratelimits(&mut self) -> Result<(), ConfigError> {
        let items = Items::new("ratelimits").named_by("name").silent(&[]);
        self.items(items, |cx, r, _| {
            let namespace_id = match r.get("namespace_id") {
                Some(Node {
                    value: Val::Str(s), ..
                }) => s.clone(),
                Some(Node {
                    value: Val::Int(i), ..
                }) => i.to_string(),
                Some(node) => {
                    return Err(cx.err(
                        node,
                        format!("`{}` must be a string", r.key_path("namespace_id")),
                    ));
                }
                None => {
                    return Err(r.missing(cx, "namespace_id", "set the rate limit namespace id"));
                }
            };
            let simple = r
                .get("simple")
                .ok_or_else(|| r.missing(cx, "simple", "set simple = { limit, period }"))?;
            let wire = fields([
                ("namespace_id", Some(namespace_id.into())),
                ("simple", Some(simple.to_json())),
            ]);
            Ok(other("ratelimit", wire))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::test_support::{accepted, wire};
    use serde_json::json;

    #[test]
    fn newer_binding_kinds_are_carried_as_other() {
        let parsed = accepted(
            "w.jsonc",
            r#"{
  "artifacts": [{ "binding": "ART", "namespace": "ns" }],
  "flagship": [{ "binding": "FLAGS", "app_id": "app" }],
  "ai_search": [{ "binding": "SEARCH", "instance_name": "docs" }],
  "ai_search_namespaces": [{ "binding": "SEARCH_NS", "namespace": "n" }],
  "vpc_networks": [{ "binding": "NET", "tunnel_id": "t" }],
  "media": { "binding": "MEDIA" },
  "stream": { "binding": "STREAM" }
}"#,
        );
        assert_eq!(
            wire(&parsed),
            json!([
                {"name": "ART", "type": "artifacts", "namespace": "ns"},
                {"name": "FLAGS", "type": "flagship", "app_id": "app"},
                {"name": "MEDIA", "type": "media"},
                {"name": "NET", "type": "vpc_network", "tunnel_id": "t"},
                {"name": "SEARCH", "type": "ai_search", "instance_name": "docs"},
                {"name": "SEARCH_NS", "type": "ai_search_namespace", "namespace": "n"},
                {"name": "STREAM", "type": "stream"}
            ])
        );
    }
}
