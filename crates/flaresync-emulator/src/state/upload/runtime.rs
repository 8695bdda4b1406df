//! The runtime settings a new version's metadata sets: annotations, compatibility date and flags,
//! usage model, limits, placement and declarative `exports` (SPEC.md §2.3).

use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::state::setting_values::{check_limits, check_placement};
use crate::state::store::StoredVersion;

/// Runtime settings read from a new version's metadata.
pub(super) struct Runtime {
    pub annotations: Map<String, Value>,
    pub compatibility_date: String,
    pub compatibility_flags: Vec<String>,
    pub usage_model: String,
    pub limits: Map<String, Value>,
    pub placement: Option<Value>,
    pub exports: Option<Value>,
}

/// Reads and checks the runtime settings; `previous` (the latest version) supplies the usage
/// model when the metadata has none.
pub(super) fn read(
    metadata: &Value,
    previous: Option<&StoredVersion>,
) -> Result<Runtime, ApiError> {
    let annotations = annotations_from(metadata)?;
    let compatibility_date = compat_date(metadata)?;
    let compatibility_flags = string_list(metadata, "compatibility_flags")?;
    let usage_model = usage_model(metadata, previous)?;
    let limits = match metadata.get("limits") {
        Some(Value::Object(m)) => m.clone(),
        None | Some(Value::Null) => Map::new(),
        Some(_) => return Err(ApiError::validation("`limits` must be an object")),
    };
    check_limits(&limits)?;
    let placement = metadata.get("placement").filter(|v| !v.is_null()).cloned();
    if let Some(placement) = &placement {
        check_placement(placement)?;
    }
    let exports = metadata.get("exports").filter(|v| !v.is_null()).cloned();
    if exports.as_ref().is_some_and(|e| !e.is_object()) {
        return Err(ApiError::validation("`exports` must be an object"));
    }
    if exports.is_some() && metadata.get("migrations").is_some_and(|m| !m.is_null()) {
        return Err(ApiError::validation(
            "metadata cannot combine `exports` and `migrations`; use one of them",
        ));
    }
    Ok(Runtime {
        annotations,
        compatibility_date,
        compatibility_flags,
        usage_model,
        limits,
        placement,
        exports,
    })
}

fn annotations_from(metadata: &Value) -> Result<Map<String, Value>, ApiError> {
    let mut out = Map::new();
    match metadata.get("annotations") {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            if let Some(tag) = map.get("workers/tag").filter(|v| !v.is_null()) {
                let tag = tag.as_str().ok_or_else(|| {
                    ApiError::validation("annotation workers/tag must be a string")
                })?;
                if tag.len() > 100 {
                    return Err(ApiError::validation(format!(
                        "annotation workers/tag is {} bytes; the maximum is 100 bytes",
                        tag.len()
                    )));
                }
                out.insert("workers/tag".into(), json!(tag));
            }
            if let Some(message) = map.get("workers/message").filter(|v| !v.is_null()) {
                let message = message.as_str().ok_or_else(|| {
                    ApiError::validation("annotation workers/message must be a string")
                })?;
                out.insert("workers/message".into(), json!(truncate(message, 1000)));
            }
            if let Some(alias) = map.get("workers/alias").and_then(Value::as_str) {
                out.insert("workers/alias".into(), json!(alias));
            }
        }
        Some(_) => return Err(ApiError::validation("`annotations` must be an object")),
    }
    Ok(out)
}

/// Truncates to at most `max` bytes on a character boundary (Cloudflare truncates messages).
pub fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// The metadata field `key` as a list of strings (empty when absent).
pub(super) fn string_list(metadata: &Value, key: &str) -> Result<Vec<String>, ApiError> {
    match metadata.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str().map(str::to_owned).ok_or_else(|| {
                    ApiError::validation(format!("`{key}` must be a list of strings"))
                })
            })
            .collect(),
        Some(_) => Err(ApiError::validation(format!(
            "`{key}` must be a list of strings"
        ))),
    }
}

fn compat_date(metadata: &Value) -> Result<String, ApiError> {
    match metadata.get("compatibility_date") {
        None | Some(Value::Null) => Ok("2021-11-02".into()),
        Some(Value::String(d)) if chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_ok() => {
            Ok(d.clone())
        }
        Some(other) => Err(ApiError::validation(format!(
            "invalid compatibility_date {other}: expected YYYY-MM-DD"
        ))),
    }
}

fn usage_model(metadata: &Value, previous: Option<&StoredVersion>) -> Result<String, ApiError> {
    match metadata.get("usage_model") {
        None | Some(Value::Null) => Ok(previous
            .map(|p| p.usage_model.clone())
            .unwrap_or_else(|| "standard".into())),
        Some(Value::String(m)) if matches!(m.as_str(), "standard" | "bundled" | "unbound") => {
            Ok(m.clone())
        }
        Some(other) => Err(ApiError::validation(format!(
            "invalid usage_model {other}: expected standard, bundled or unbound"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("abc", 10), "abc");
    }
}
