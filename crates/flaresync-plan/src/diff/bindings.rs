//! Binding changes, split into resources and vars, and the one-line summary of a binding
//! (secret values never shown).

use std::collections::{BTreeMap, BTreeSet};

use flaresync_config::{Binding, BindingKind};

use super::model::{BindingChange, ChangeKind};

fn is_var(kind: &BindingKind) -> bool {
    matches!(
        kind,
        BindingKind::PlainText { .. } | BindingKind::Json { .. } | BindingKind::SecretText
    )
}

pub(super) fn binding_changes(
    before: &[Binding],
    after: &[Binding],
    include_secrets: bool,
) -> (Vec<BindingChange>, Vec<BindingChange>) {
    let keep = |b: &&Binding| include_secrets || b.kind != BindingKind::SecretText;
    let before: BTreeMap<&str, &Binding> = before
        .iter()
        .filter(keep)
        .map(|b| (b.name.as_str(), b))
        .collect();
    let after: BTreeMap<&str, &Binding> = after
        .iter()
        .filter(keep)
        .map(|b| (b.name.as_str(), b))
        .collect();
    let names: BTreeSet<&str> = before.keys().chain(after.keys()).copied().collect();
    let mut bindings = Vec::new();
    let mut vars = Vec::new();
    for name in names {
        let old = before.get(name);
        let new = after.get(name);
        let change = match (old, new) {
            (None, Some(_)) => ChangeKind::Added,
            (Some(_), None) => ChangeKind::Removed,
            (Some(o), Some(n)) if o.kind != n.kind => ChangeKind::Changed,
            _ => continue,
        };
        let var = old.or(new).is_some_and(|b| is_var(&b.kind));
        let entry = BindingChange {
            name: name.to_owned(),
            change,
            before: old.map(|b| binding_summary(&b.kind)),
            after: new.map(|b| binding_summary(&b.kind)),
        };
        if var {
            vars.push(entry)
        } else {
            bindings.push(entry)
        }
    }
    (bindings, vars)
}

/// Field names whose values are never shown for non-`plain_text` bindings.
const SENSITIVE_FIELDS: [&str; 8] = [
    "text",
    "key_base64",
    "key_jwk",
    "secret",
    "password",
    "token",
    "value",
    "private_key",
];

/// One-line description of a binding: `type field=value …`; secrets never show a value.
pub fn binding_summary(kind: &BindingKind) -> String {
    match kind {
        BindingKind::SecretText => "secret_text (value hidden)".to_owned(),
        BindingKind::PlainText { text } => {
            format!("plain_text {}", serde_json::Value::String(text.clone()))
        }
        BindingKind::Json { json } => format!("json {json}"),
        other => {
            let type_name = other.type_name();
            // Unmodelled kinds (`secret_key`, future ones) may carry key material inline.
            let secret_kind = type_name.contains("secret");
            let fields = serde_json::to_value(other)
                .ok()
                .and_then(|v| v.as_object().cloned())
                .unwrap_or_default();
            let mut text = type_name;
            for (key, value) in fields {
                if key == "type" || key == "name" {
                    continue;
                }
                let value = if secret_kind || SENSITIVE_FIELDS.contains(&key.as_str()) {
                    "(hidden)".to_owned()
                } else {
                    match value {
                        serde_json::Value::String(s) => s,
                        other => other.to_string(),
                    }
                };
                text.push_str(&format!(" {key}={value}"));
            }
            text
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(name: &str, kind: BindingKind) -> Binding {
        Binding {
            name: name.into(),
            kind,
        }
    }

    #[test]
    fn secret_values_are_never_summarized() {
        assert_eq!(
            binding_summary(&BindingKind::SecretText),
            "secret_text (value hidden)"
        );
        assert_eq!(
            binding_summary(&BindingKind::R2Bucket {
                bucket_name: "b".into(),
                jurisdiction: Some("eu".into())
            }),
            "r2_bucket bucket_name=b jurisdiction=eu"
        );
    }

    #[test]
    fn bindings_split_into_vars_and_resources_and_ignore_git_less_secrets() {
        let before = [
            binding("API_KEY", BindingKind::SecretText),
            binding(
                "KV",
                BindingKind::KvNamespace {
                    namespace_id: "a".into(),
                },
            ),
            binding("MODE", BindingKind::PlainText { text: "dev".into() }),
        ];
        let after = [
            binding(
                "KV",
                BindingKind::KvNamespace {
                    namespace_id: "b".into(),
                },
            ),
            binding(
                "MODE",
                BindingKind::PlainText {
                    text: "prod".into(),
                },
            ),
        ];
        let (bindings, vars) = binding_changes(&before, &after, false);
        assert_eq!(bindings.len(), 1);
        assert_eq!(bindings[0].change, ChangeKind::Changed);
        assert_eq!(vars.len(), 1);
        assert_eq!(vars[0].after.as_deref(), Some("plain_text \"prod\""));
        let (_, vars) = binding_changes(&before, &after, true);
        assert_eq!(vars.len(), 2);
        assert_eq!(vars[0].name, "API_KEY");
        assert_eq!(vars[0].change, ChangeKind::Removed);
    }

    #[test]
    fn unmodelled_secret_kinds_and_sensitive_fields_are_hidden() {
        let wire = serde_json::json!([
            {"name": "SIGN", "type": "secret_key", "algorithm": "HMAC", "format": "raw", "key_base64": "c2VjcmV0"},
            {"name": "X", "type": "future_kind", "token": "abc", "region": "eu"}
        ]);
        let bindings: Vec<Binding> = serde_json::from_value(wire).expect("parses");
        let sign = binding_summary(&bindings[0].kind);
        assert!(!sign.contains("c2VjcmV0"), "{sign}");
        let other = binding_summary(&bindings[1].kind);
        assert_eq!(other, "future_kind region=eu token=(hidden)");
    }
}
