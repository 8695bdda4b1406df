//! Durable Object migrations (`metadata.migrations`, SPEC.md §2.5): parsing, the `old_tag`
//! precondition, and applying steps to a Worker's set of DO classes. Pure.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::ApiError;

/// One migration step.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Step {
    pub new_classes: Vec<String>,
    pub renamed_classes: Vec<(String, String)>,
    pub deleted_classes: Vec<String>,
    /// (from class, from script, to class)
    pub transferred_classes: Vec<(String, String, String)>,
}

/// Parsed `migrations` field (single-step form is normalised to one step).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Migrations {
    pub old_tag: Option<String>,
    pub new_tag: Option<String>,
    pub steps: Vec<Step>,
}

impl Migrations {
    /// True when applying this changes nothing (no steps and no tag change).
    pub fn is_noop(&self, current_tag: Option<&str>) -> bool {
        self.steps.iter().all(|s| *s == Step::default())
            && (self.new_tag.is_none() || self.new_tag.as_deref() == current_tag)
    }
}

fn invalid(detail: impl std::fmt::Display) -> ApiError {
    ApiError::validation(format!("invalid `migrations` in metadata: {detail}"))
}

fn strings(step: &Value, key: &str) -> Result<Vec<String>, ApiError> {
    match step.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| invalid(format!("`{key}` must be a list of class names")))
            })
            .collect(),
        Some(_) => Err(invalid(format!("`{key}` must be a list of class names"))),
    }
}

fn field<'a>(item: &'a Value, key: &str, list: &str) -> Result<&'a str, ApiError> {
    item.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(format!("every `{list}` entry needs a string `{key}`")))
}

/// The list `list` of `step` (empty when absent or null), each entry read by `read`, which gets
/// the entry's string fields by name.
fn entries<T>(
    step: &Value,
    list: &str,
    read: impl Fn(&dyn Fn(&str) -> Result<String, ApiError>) -> Result<T, ApiError>,
) -> Result<Vec<T>, ApiError> {
    match step.get(list) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| read(&|key| field(item, key, list).map(str::to_owned)))
            .collect(),
        Some(_) => Err(invalid(format!("`{list}` must be a list"))),
    }
}

fn parse_step(step: &Value) -> Result<Step, ApiError> {
    let mut new_classes = strings(step, "new_classes")?;
    new_classes.extend(strings(step, "new_sqlite_classes")?);
    let renamed_classes = entries(step, "renamed_classes", |get| {
        Ok((get("from")?, get("to")?))
    })?;
    let transferred_classes = entries(step, "transferred_classes", |get| {
        Ok((get("from")?, get("from_script")?, get("to")?))
    })?;
    Ok(Step {
        new_classes,
        renamed_classes,
        deleted_classes: strings(step, "deleted_classes")?,
        transferred_classes,
    })
}

/// Parses the `migrations` metadata field (`None` when absent or null).
pub fn parse(value: Option<&Value>) -> Result<Option<Migrations>, ApiError> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    if !value.is_object() {
        return Err(invalid("expected an object"));
    }
    let tag = |key: &str| -> Result<Option<String>, ApiError> {
        match value.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(invalid(format!("`{key}` must be a string"))),
        }
    };
    let steps = match value.get("steps") {
        Some(Value::Array(steps)) => steps.iter().map(parse_step).collect::<Result<_, _>>()?,
        Some(Value::Null) | None => vec![parse_step(value)?],
        Some(_) => return Err(invalid("`steps` must be a list")),
    };
    Ok(Some(Migrations {
        old_tag: tag("old_tag")?,
        new_tag: tag("new_tag")?,
        steps,
    }))
}

/// Checks `old_tag` against the Worker's current tag and applies the steps to `classes`
/// (class -> namespace id). Returns the new migration tag. `new_namespace_id` mints ids for
/// new classes.
pub fn apply(
    migrations: &Migrations,
    current_tag: Option<&str>,
    classes: &mut BTreeMap<String, String>,
    mut new_namespace_id: impl FnMut() -> String,
) -> Result<Option<String>, ApiError> {
    if migrations.old_tag.as_deref() != current_tag {
        return Err(ApiError::validation(format!(
            "migration precondition failed (rule: migration-old-tag): `old_tag` is {} but the \
             Worker's current migration tag is {}; send the current tag as `old_tag`",
            describe(migrations.old_tag.as_deref()),
            describe(current_tag),
        )));
    }
    for (index, step) in migrations.steps.iter().enumerate() {
        let fail = |detail: String| {
            ApiError::validation(format!(
                "migration step {index} cannot be applied: {detail}"
            ))
        };
        for class in &step.new_classes {
            if classes.contains_key(class) {
                return Err(fail(format!(
                    "class {class} already has a Durable Object namespace"
                )));
            }
            classes.insert(class.clone(), new_namespace_id());
        }
        for (from, to) in &step.renamed_classes {
            let Some(id) = classes.remove(from) else {
                return Err(fail(format!(
                    "cannot rename {from}: no such Durable Object class"
                )));
            };
            if classes.contains_key(to) {
                return Err(fail(format!(
                    "cannot rename {from} to {to}: {to} already exists"
                )));
            }
            classes.insert(to.clone(), id);
        }
        for class in &step.deleted_classes {
            if classes.remove(class).is_none() {
                return Err(fail(format!(
                    "cannot delete {class}: no such Durable Object class"
                )));
            }
        }
        for (_, _, to) in &step.transferred_classes {
            if classes.contains_key(to) {
                return Err(fail(format!(
                    "cannot transfer into {to}: it already exists"
                )));
            }
            classes.insert(to.clone(), new_namespace_id());
        }
    }
    Ok(migrations
        .new_tag
        .clone()
        .or_else(|| current_tag.map(str::to_owned)))
}

fn describe(tag: Option<&str>) -> String {
    match tag {
        Some(t) => format!("'{t}'"),
        None => "unset".into(),
    }
}

/// DO classes declared live by a declarative `exports` map (`type: durable-object`, state
/// absent or `created`/`expecting-transfer`).
pub fn export_classes(exports: Option<&Value>) -> Vec<String> {
    let Some(Value::Object(map)) = exports else {
        return Vec::new();
    };
    map.iter()
        .filter(|(_, v)| {
            v.get("type").and_then(Value::as_str) == Some("durable-object")
                && matches!(
                    v.get("state").and_then(Value::as_str),
                    None | Some("created") | Some("expecting-transfer")
                )
        })
        .map(|(k, _)| k.clone())
        .collect()
}

/// The DO part of an `exports` map, for equality checks (100405, 10211).
pub fn do_exports(exports: Option<&Value>) -> Option<Value> {
    let Some(Value::Object(map)) = exports else {
        return None;
    };
    let filtered: serde_json::Map<String, Value> = map
        .iter()
        .filter(|(_, v)| v.get("type").and_then(Value::as_str) == Some("durable-object"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if filtered.is_empty() {
        None
    } else {
        Some(Value::Object(filtered))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ids() -> impl FnMut() -> String {
        let mut n = 0;
        move || {
            n += 1;
            format!("ns{n}")
        }
    }

    #[test]
    fn stepped_migrations_apply_in_order() {
        let m = parse(Some(&json!({
            "new_tag": "v2",
            "steps": [{"new_classes": ["A"]}, {"renamed_classes": [{"from": "A", "to": "B"}]},
                      {"new_sqlite_classes": ["C"], "deleted_classes": ["B"]}]
        })))
        .expect("parses")
        .expect("present");
        let mut classes = BTreeMap::new();
        let tag = apply(&m, None, &mut classes, ids()).expect("applies");
        assert_eq!(tag.as_deref(), Some("v2"));
        assert_eq!(classes.keys().collect::<Vec<_>>(), vec!["C"]);
    }

    #[test]
    fn old_tag_must_match_current_tag() {
        let m = parse(Some(
            &json!({"old_tag": "v1", "new_tag": "v3", "new_classes": ["X"]}),
        ))
        .expect("parses")
        .expect("present");
        let err = apply(&m, Some("v2"), &mut BTreeMap::new(), ids()).expect_err("mismatch");
        assert!(
            err.message.contains("'v1'") && err.message.contains("'v2'"),
            "{err}"
        );
        let m2 = parse(Some(&json!({"new_tag": "v3", "new_classes": ["X"]})))
            .expect("parses")
            .expect("present");
        assert!(apply(&m2, Some("v2"), &mut BTreeMap::new(), ids()).is_err());
    }

    #[test]
    fn deleting_unknown_class_fails() {
        let m = parse(Some(&json!({"new_tag": "v1", "deleted_classes": ["Nope"]})))
            .expect("parses")
            .expect("present");
        assert!(apply(&m, None, &mut BTreeMap::new(), ids()).is_err());
    }

    #[test]
    fn malformed_migrations_are_rejected_not_panicking() {
        assert!(parse(Some(&json!("v1"))).is_err());
        assert!(parse(Some(&json!({"steps": 3}))).is_err());
        assert!(parse(Some(&json!({"new_classes": [1]}))).is_err());
        assert!(parse(Some(&json!({"renamed_classes": [{"from": "A"}]}))).is_err());
        assert_eq!(parse(Some(&Value::Null)).expect("null ok"), None);
    }

    #[test]
    fn renamed_and_transferred_classes_are_read_field_by_field() {
        let m = parse(Some(&json!({
            "renamed_classes": [{"from": "A", "to": "B"}],
            "transferred_classes": [{"from": "C", "from_script": "other", "to": "D"}],
        })))
        .expect("parses")
        .expect("present");
        assert_eq!(m.steps[0].renamed_classes, [("A".into(), "B".into())]);
        assert_eq!(
            m.steps[0].transferred_classes,
            [("C".into(), "other".into(), "D".into())]
        );
        let message = |value: Value| parse(Some(&value)).expect_err("refused").message;
        assert!(
            message(json!({"transferred_classes": [{"from": "C", "to": "D"}]}))
                .contains("every `transferred_classes` entry needs a string `from_script`")
        );
        assert!(
            message(json!({"renamed_classes": {"from": "A"}}))
                .contains("`renamed_classes` must be a list")
        );
        assert!(
            message(json!({"transferred_classes": "C"}))
                .contains("`transferred_classes` must be a list")
        );
    }

    #[test]
    fn noop_detection() {
        let m = parse(Some(
            &json!({"old_tag": "v1", "new_tag": "v1", "steps": []}),
        ))
        .expect("parses")
        .expect("present");
        assert!(m.is_noop(Some("v1")));
        assert!(!m.is_noop(Some("v0")));
    }
}
