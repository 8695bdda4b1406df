//! The Durable Object lifecycle of a new version: `PUT /scripts/{s}` applies its migrations and
//! `exports`; a version upload may not change the lifecycle at all (10211, SPEC.md §5).

use std::collections::BTreeMap;

use serde_json::Value;

use super::Kind;
use crate::error::ApiError;
use crate::state::hex_id;
use crate::state::migrations::{self, Migrations};
use crate::state::store::StoredScript;

/// The Worker's Durable Object state after the upload: its migration tag and its classes (class
/// name -> namespace id).
pub(super) fn durable_objects(
    kind: Kind,
    metadata: &Value,
    existing: Option<&StoredScript>,
    exports: Option<&Value>,
) -> Result<(Option<String>, BTreeMap<String, String>), ApiError> {
    let current_tag = existing.and_then(|s| s.migration_tag.clone());
    let mut do_classes = existing.map(|s| s.do_classes.clone()).unwrap_or_default();
    let parsed = migrations::parse(metadata.get("migrations"))?;
    let tag = match kind {
        Kind::Version => {
            let current_exports = existing.and_then(|s| s.exports.as_ref());
            refuse_lifecycle_change(
                parsed.as_ref(),
                current_tag.as_deref(),
                current_exports,
                exports,
            )?;
            current_tag
        }
        Kind::Script => {
            let tag = match &parsed {
                Some(m) => migrations::apply(m, current_tag.as_deref(), &mut do_classes, hex_id)?,
                None => current_tag,
            };
            apply_exports(exports, &mut do_classes);
            tag
        }
    };
    Ok((tag, do_classes))
}

/// A version upload with a migration to apply or other Durable Object exports is 10211.
fn refuse_lifecycle_change(
    parsed: Option<&Migrations>,
    current_tag: Option<&str>,
    current_exports: Option<&Value>,
    exports: Option<&Value>,
) -> Result<(), ApiError> {
    let lifecycle_change = parsed.is_some_and(|m| !m.is_noop(current_tag))
        || (exports.is_some()
            && migrations::do_exports(exports) != migrations::do_exports(current_exports));
    if !lifecycle_change {
        return Ok(());
    }
    Err(ApiError::new(
        400,
        10211,
        "Version upload failed. You attempted to upload a version of a Worker that \
         includes a Durable Object migration, but migrations must be fully applied \
         via a non-versioned deployment. Refer to the documentation for more \
         information. (rule: no-migrations-in-version-upload)",
    ))
}

/// Declarative `exports`: new classes get a namespace, `"state": "deleted"` ones lose theirs.
fn apply_exports(exports: Option<&Value>, do_classes: &mut BTreeMap<String, String>) {
    for class in migrations::export_classes(exports) {
        do_classes.entry(class).or_insert_with(hex_id);
    }
    if let Some(Value::Object(map)) = exports {
        for (class, spec) in map {
            if spec.get("state").and_then(Value::as_str) == Some("deleted") {
                do_classes.remove(class);
            }
        }
    }
}
