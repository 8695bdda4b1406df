//! Binding resolution (`keep_bindings`, `inherit`) and validation against the account's
//! resources (SPEC.md §2.3, §2.4). Each refusal names the binding and the reason.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::Transaction;
use serde_json::{Map, Value};

use super::resources;
use super::store::{self, StoredVersion};
use crate::error::ApiError;

fn str_field<'a>(binding: &'a Value, key: &str) -> Option<&'a str> {
    binding
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

pub fn name_of(binding: &Value) -> Option<&str> {
    str_field(binding, "name")
}

pub fn type_of(binding: &Value) -> Option<&str> {
    str_field(binding, "type")
}

/// Applies `inherit` bindings and `keep_bindings` against earlier versions.
///
/// `inherit` copies one binding (optionally renamed via `old_name`) from `version_id` or the
/// latest version; under `bindings_inherit=strict` an unresolvable inherit is 10057, otherwise it
/// is dropped. `keep_bindings` copies every binding of the listed types from the latest version
/// unless the upload has a binding of that name.
pub fn resolve(
    tx: &Transaction<'_>,
    script: &str,
    uploaded: &[Value],
    keep_types: &[String],
    latest: Option<&StoredVersion>,
    strict: bool,
) -> Result<Vec<Value>, ApiError> {
    let mut out = Vec::with_capacity(uploaded.len());
    for (index, binding) in uploaded.iter().enumerate() {
        if !binding.is_object() {
            return Err(ApiError::validation(format!(
                "Binding at index {index} must be an object."
            )));
        }
        let Some(name) = name_of(binding) else {
            return Err(ApiError::new(
                400,
                10052,
                format!("Binding at index {index} must have a name."),
            ));
        };
        if type_of(binding) != Some("inherit") {
            out.push(binding.clone());
            continue;
        }
        let source_name = str_field(binding, "old_name").unwrap_or(name);
        let source = match str_field(binding, "version_id") {
            None | Some("latest") => latest.cloned(),
            Some(id) => store::get_version(tx, script, id)?,
        };
        let found = source.as_ref().and_then(|v| {
            v.bindings
                .iter()
                .find(|b| name_of(b) == Some(source_name))
                .cloned()
        });
        match found {
            Some(mut copy) => {
                copy["name"] = Value::String(name.to_owned());
                out.push(copy);
            }
            None if strict => {
                let why = match (&source, str_field(binding, "version_id")) {
                    (None, Some(id)) => format!("version {id} does not exist"),
                    (None, None) => "the Worker has no previous version".into(),
                    (Some(v), _) => {
                        format!("version {} has no binding named '{source_name}'", v.id)
                    }
                };
                return Err(ApiError::new(
                    400,
                    10057,
                    format!("inherit binding '{name}' is invalid: {why} (bindings_inherit=strict)"),
                ));
            }
            None => {}
        }
    }
    if let Some(latest) = latest {
        let present: BTreeSet<String> = out
            .iter()
            .filter_map(|b| name_of(b).map(str::to_owned))
            .collect();
        for binding in &latest.bindings {
            let keep = type_of(binding).is_some_and(|t| keep_types.iter().any(|k| k == t));
            if keep && name_of(binding).is_some_and(|n| !present.contains(n)) {
                out.push(binding.clone());
            }
        }
    }
    Ok(out)
}

/// Validates resolved bindings and fills server-side fields (D1 `database_id`, DO
/// `namespace_id`). `do_classes` are this Worker's DO classes after this upload's migrations.
pub fn validate(
    tx: &Transaction<'_>,
    script: &str,
    bindings: &mut [Value],
    do_classes: &BTreeMap<String, String>,
) -> Result<(), ApiError> {
    let mut seen = BTreeSet::new();
    for binding in bindings.iter_mut() {
        let name = name_of(binding).unwrap_or_default().to_owned();
        if !seen.insert(name.clone()) {
            return Err(ApiError::validation(format!(
                "Uncaught Error: binding name '{name}' is used more than once; binding names \
                 must be unique"
            )));
        }
        let Some(kind) = type_of(binding).map(str::to_owned) else {
            return Err(ApiError::validation(format!(
                "binding {name} must have a type"
            )));
        };
        let check = Check {
            tx,
            script,
            do_classes,
            name: &name,
            kind: &kind,
        };
        check.binding(binding)?;
    }
    Ok(())
}

/// The validation of one binding: where it is checked (the transaction, this Worker and its
/// Durable Object classes) and what it is (its unique name and its type).
struct Check<'a, 'c> {
    tx: &'a Transaction<'c>,
    script: &'a str,
    do_classes: &'a BTreeMap<String, String>,
    name: &'a str,
    kind: &'a str,
}

impl Check<'_, '_> {
    fn binding(&self, binding: &mut Value) -> Result<(), ApiError> {
        let (name, kind) = (self.name, self.kind);
        match kind {
            "plain_text" | "secret_text" if !binding.get("text").is_some_and(Value::is_string) => {
                Err(ApiError::validation(format!(
                    "binding {name} of type {kind} must have a `text` string specified"
                )))
            }
            "json" if binding.get("json").is_none() => Err(ApiError::validation(format!(
                "binding {name} of type json must have a `json` value specified"
            ))),
            "kv_namespace" => self.kv_namespace(binding),
            "r2_bucket" => self.r2_bucket(binding),
            "d1" => self.d1(binding),
            "queue" => self.queue(binding),
            "durable_object_namespace" => self.durable_object(binding),
            "service" => self.required(binding, "service", "a `service`").map(drop),
            // An `inherit` still here was dropped (non-strict); other types need no check.
            _ => Ok(()),
        }
    }

    /// The non-empty string field `field`, or the error naming `what` is missing.
    fn required(&self, binding: &Value, field: &str, what: &str) -> Result<String, ApiError> {
        str_field(binding, field).map(str::to_owned).ok_or_else(|| {
            ApiError::validation(format!(
                "binding {} of type {} must have {what} specified",
                self.name, self.kind
            ))
        })
    }

    fn kv_namespace(&self, binding: &Value) -> Result<(), ApiError> {
        let name = self.name;
        let id = self.required(binding, "namespace_id", "a `namespace_id`")?;
        must_exist(resources::kv::exists(self.tx, &id)?, 10042, || {
            format!(
                "KV namespace '{id}' is not valid. (binding '{name}': no KV namespace \
                 with this id exists in the account; create it first) (rule: binding-resource-exists)"
            )
        })
    }

    fn r2_bucket(&self, binding: &Value) -> Result<(), ApiError> {
        let name = self.name;
        let bucket = self.required(binding, "bucket_name", "a `bucket_name`")?;
        let jurisdiction = resources::r2::jurisdiction(str_field(binding, "jurisdiction"))?;
        must_exist(
            resources::r2::exists(self.tx, &bucket, &jurisdiction)?,
            10085,
            || {
                format!(
                    "R2 bucket '{bucket}' cannot be found (binding '{name}', jurisdiction \
                 {jurisdiction}); create the bucket first (rule: binding-resource-exists)"
                )
            },
        )
    }

    /// Takes the database from `id` or `database_id` and fills in both.
    fn d1(&self, binding: &mut Value) -> Result<(), ApiError> {
        let name = self.name;
        let id = str_field(binding, "id")
            .or_else(|| str_field(binding, "database_id"))
            .map(str::to_owned)
            .ok_or_else(|| {
                ApiError::validation(format!(
                    "binding {name} of type d1 must have a valid `id` specified"
                ))
            })?;
        must_exist(resources::d1::exists(self.tx, &id)?, 10181, || {
            format!(
                "D1 binding '{name}' references database '{id}' which was not found. \
                 Check that the database exists in this account. (rule: binding-resource-exists)"
            )
        })?;
        binding["id"] = Value::String(id.clone());
        binding["database_id"] = Value::String(id);
        Ok(())
    }

    fn queue(&self, binding: &Value) -> Result<(), ApiError> {
        let name = self.name;
        let queue = self.required(binding, "queue_name", "a queue")?;
        must_exist(resources::queues::exists(self.tx, &queue)?, 10104, || {
            format!(
                "Queue '{queue}' does not exist (binding '{name}'); create the queue \
                 first (rule: binding-resource-exists)"
            )
        })
    }

    /// Fills `namespace_id`: from this upload's classes, or another Worker's (when it has one).
    fn durable_object(&self, binding: &mut Value) -> Result<(), ApiError> {
        let name = self.name;
        let class = self.required(binding, "class_name", "a `class_name`")?;
        let other = str_field(binding, "script_name").filter(|s| *s != self.script);
        let namespace_id = match other {
            None => match self.do_classes.get(&class) {
                Some(id) => Some(id.clone()),
                None => {
                    return Err(ApiError::new(
                        400,
                        10061,
                        format!(
                            "Cannot create binding for class '{class}' (binding \
                             '{name}') because it is not currently configured to \
                             implement Durable Objects. Did you mean to create a \
                             migration? (rule: do-class-has-migration)"
                        ),
                    ));
                }
            },
            Some(other) => {
                store::get_script(self.tx, other)?.and_then(|s| s.do_classes.get(&class).cloned())
            }
        };
        if let Some(id) = namespace_id {
            binding["namespace_id"] = Value::String(id);
        }
        Ok(())
    }
}

/// `Ok` when the resource a binding references exists, else a 400 with `code` (rule
/// binding-resource-exists).
fn must_exist(exists: bool, code: u32, message: impl FnOnce() -> String) -> Result<(), ApiError> {
    if exists {
        Ok(())
    } else {
        Err(ApiError::new(400, code, message()))
    }
}

/// A binding as responses show it: secret material removed.
pub fn redact(binding: &Value) -> Value {
    let mut copy = binding.clone();
    if let Value::Object(map) = &mut copy {
        match map.get("type").and_then(Value::as_str) {
            Some("secret_text") => {
                map.remove("text");
            }
            Some("secret_key") => {
                map.remove("key_base64");
                map.remove("key_jwk");
            }
            _ => {}
        }
    }
    copy
}

/// Secret bindings of a version: name -> (type, value material).
pub fn secrets(bindings: &[Value]) -> BTreeMap<String, Value> {
    bindings
        .iter()
        .filter(|b| matches!(type_of(b), Some("secret_text") | Some("secret_key")))
        .filter_map(|b| name_of(b).map(|n| (n.to_owned(), b.clone())))
        .collect()
}

/// `{name, type}` for the secrets endpoints.
pub fn secret_summary(binding: &Value) -> Value {
    let mut out = Map::new();
    for key in ["name", "type"] {
        if let Some(v) = binding.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn redact_strips_secret_material_only() {
        assert_eq!(
            redact(&json!({"name": "S", "type": "secret_text", "text": "hunter2"})),
            json!({"name": "S", "type": "secret_text"})
        );
        assert_eq!(
            redact(&json!({"name": "P", "type": "plain_text", "text": "visible"})),
            json!({"name": "P", "type": "plain_text", "text": "visible"})
        );
    }

    #[test]
    fn secrets_map_picks_secret_kinds() {
        let s = secrets(&[
            json!({"name": "A", "type": "secret_text", "text": "1"}),
            json!({"name": "B", "type": "plain_text", "text": "2"}),
            json!({"name": "C", "type": "secret_key", "algorithm": {}}),
        ]);
        assert_eq!(s.keys().collect::<Vec<_>>(), vec!["A", "C"]);
    }
}
