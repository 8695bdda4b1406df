//! Durable Object classes declared by `[[migrations]]` and `exports`: the two may not be
//! combined, and a binding to a local class that neither creates gets a warning.

use super::env::Layer;
use crate::error::ConfigError;
use crate::model::{Binding, BindingKind, MigrationStep, WorkerSpec};
use crate::reader::Cx;

/// `exports` entries of type `durable-object`: class name and `state` (when a string).
fn durable_object_exports(exports: Option<&str>) -> Vec<(String, Option<String>)> {
    exports
        .and_then(|text| serde_json::from_str::<serde_json::Value>(text).ok())
        .and_then(|v| v.as_object().cloned())
        .map(|map| {
            map.into_iter()
                .filter(|(_, e)| e.get("type").and_then(|t| t.as_str()) == Some("durable-object"))
                .map(|(k, e)| {
                    (
                        k,
                        e.get("state").and_then(|s| s.as_str()).map(str::to_owned),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Wrangler rejects `exports` declaring Durable Objects next to `[[migrations]]`.
pub(super) fn refuse_exports_with_migrations(
    cx: &Cx<'_>,
    layer: &mut Layer<'_>,
    spec: &WorkerSpec,
) -> Result<(), ConfigError> {
    if !durable_object_exports(spec.exports.as_deref()).is_empty() && !spec.migrations.is_empty() {
        let table = layer.inh("exports");
        let offset = table.key_offset("exports").unwrap_or(0);
        return Err(ConfigError::invalid(
            cx.loc(offset),
            "`exports` declares Durable Objects while `[[migrations]]` is also set (inherited \
             or not); the two cannot be combined (wrangler rejects it): declare Durable Objects \
             with one of them only",
        ));
    }
    Ok(())
}

/// Classes that exist after every migration step ran.
fn live_classes(migrations: &[MigrationStep]) -> Vec<&str> {
    let mut live: Vec<&str> = Vec::new();
    for step in migrations {
        live.extend(step.new_classes.iter().map(String::as_str));
        live.extend(step.new_sqlite_classes.iter().map(String::as_str));
        for renamed in &step.renamed_classes {
            live.retain(|c| *c != renamed.from);
            live.push(&renamed.to);
        }
        live.extend(step.transferred_classes.iter().map(|t| t.to.as_str()));
        live.retain(|c| !step.deleted_classes.iter().any(|d| d == c));
    }
    live
}

/// Warns about Durable Object bindings to local classes that no migration (or `exports`
/// entry) creates: Cloudflare rejects such uploads with error 10061.
pub(super) fn check_durable_object_classes(
    cx: &mut Cx<'_>,
    bindings: &[(Binding, usize)],
    spec: &WorkerSpec,
    own_name: Option<&str>,
) {
    let live = live_classes(&spec.migrations);
    let exported: Vec<String> = durable_object_exports(spec.exports.as_deref())
        .into_iter()
        .filter(|(_, state)| {
            matches!(
                state.as_deref(),
                None | Some("created" | "expecting-transfer")
            )
        })
        .map(|(k, _)| k)
        .collect();
    for (binding, offset) in bindings {
        let BindingKind::DurableObjectNamespace {
            class_name,
            script_name,
            ..
        } = &binding.kind
        else {
            continue;
        };
        let local = match script_name {
            None => true,
            Some(script) => Some(script.as_str()) == own_name,
        };
        if local
            && !live.contains(&class_name.as_str())
            && !exported.iter().any(|e| e == class_name)
        {
            cx.warn(
                *offset,
                format!(
                    "Durable Object binding {:?} uses class {class_name:?}, which no \
                     [[migrations]] step (or `exports` entry) creates or keeps; Cloudflare \
                     rejects the upload (error 10061): add a migration step with \
                     new_sqlite_classes = [{class_name:?}]",
                    binding.name
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{parse, refused};

    #[test]
    fn durable_object_exports_and_migrations_are_exclusive() {
        let text = r#"{
  "migrations": [{ "tag": "v1", "new_sqlite_classes": ["A"] }],
  "exports": { "A": { "type": "durable-object", "storage": "sqlite" } }
}"#;
        let err = refused("w.json", text);
        assert!(err.starts_with("w.json:3:3:"), "{err}");
        let worker_only = r#"{
  "migrations": [{ "tag": "v1", "new_sqlite_classes": ["A"] }],
  "exports": { "default": { "type": "worker" } }
}"#;
        parse("w.json", worker_only, None).expect("worker exports may sit beside migrations");
    }
}
