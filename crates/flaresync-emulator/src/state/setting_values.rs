//! The shapes Cloudflare accepts for a Worker's per-version settings (`limits`, `placement`)
//! and its non-versioned script settings (`logpush`, `observability`, `tail_consumers`,
//! `streaming_tail_consumers`, `tags`), checked wherever they arrive: script and version
//! uploads, `PATCH …/settings` and `PATCH …/script-settings` (SPEC.md §2.3, §5; SPEC-2 §4.2).
//! Pure.

use serde_json::{Map, Value};

use crate::error::ApiError;

/// Most CPU time a Worker may be allowed per invocation: 5 minutes (D workers/platform/limits).
pub const MAX_CPU_MS: u64 = 300_000;

fn invalid(detail: impl std::fmt::Display) -> ApiError {
    ApiError::validation(detail.to_string())
}

/// `limits`: `{cpu_ms?, subrequests?}`, positive integers (cpu_ms up to 5 minutes).
pub fn check_limits(limits: &Map<String, Value>) -> Result<(), ApiError> {
    for (key, value) in limits {
        let number = value.as_u64().filter(|n| *n > 0);
        match (key.as_str(), number) {
            ("cpu_ms", Some(ms)) if ms <= MAX_CPU_MS => {}
            ("cpu_ms", Some(ms)) => {
                return Err(invalid(format!(
                    "limits.cpu_ms is {ms}; the most a Worker may be given is {MAX_CPU_MS} ms"
                )));
            }
            ("subrequests", Some(_)) => {}
            ("cpu_ms" | "subrequests", None) => {
                return Err(invalid(format!(
                    "limits.{key} must be a positive integer, found {value}"
                )));
            }
            _ => {
                return Err(invalid(format!(
                    "unknown field limits.{key}; limits takes cpu_ms and subrequests"
                )));
            }
        }
    }
    Ok(())
}

/// `placement`: `{mode: "smart", hint?}` or `{mode?: "targeted", region | host | hostname}`.
pub fn check_placement(placement: &Value) -> Result<(), ApiError> {
    let Some(object) = placement.as_object() else {
        return Err(invalid("placement must be an object"));
    };
    for (key, value) in object {
        if !value.is_string() {
            return Err(invalid(format!("placement.{key} must be a string")));
        }
    }
    let targets = ["region", "host", "hostname"]
        .iter()
        .filter(|key| object.contains_key(**key))
        .count();
    match object.get("mode").and_then(Value::as_str) {
        Some("smart") if targets == 0 => Ok(()),
        Some("smart") => Err(invalid(
            "placement with mode \"smart\" cannot also name a region, host or hostname",
        )),
        Some("targeted") | None if targets == 1 => Ok(()),
        None if object.is_empty() => Ok(()),
        Some("targeted") | None => Err(invalid(
            "targeted placement names exactly one of region, host or hostname",
        )),
        Some(other) => Err(invalid(format!(
            "placement.mode {other:?} is not supported; use \"smart\" or \"targeted\""
        ))),
    }
}

/// One non-versioned script setting.
pub fn check_script_setting(key: &str, value: &Value) -> Result<(), ApiError> {
    if value.is_null() {
        // Unset: Cloudflare's default stays.
        return Ok(());
    }
    match key {
        "logpush" if !value.is_boolean() => Err(invalid("logpush must be true or false")),
        "observability" => check_observability(value),
        "tail_consumers" | "streaming_tail_consumers" => check_consumers(key, value),
        "tags" => {
            let ok = value
                .as_array()
                .is_some_and(|tags| tags.iter().all(Value::is_string));
            if ok {
                Ok(())
            } else {
                Err(invalid("tags must be a list of strings"))
            }
        }
        _ => Ok(()),
    }
}

fn check_rate(path: &str, object: &Map<String, Value>) -> Result<(), ApiError> {
    match object.get("head_sampling_rate") {
        None | Some(Value::Null) => Ok(()),
        Some(rate) if rate.as_f64().is_some_and(|r| (0.0..=1.0).contains(&r)) => Ok(()),
        Some(rate) => Err(invalid(format!(
            "{path}.head_sampling_rate must be a number from 0 to 1, found {rate}"
        ))),
    }
}

fn check_enabled(path: &str, object: &Map<String, Value>) -> Result<(), ApiError> {
    match object.get("enabled") {
        None | Some(Value::Bool(_)) => Ok(()),
        Some(other) => Err(invalid(format!(
            "{path}.enabled must be true or false, found {other}"
        ))),
    }
}

/// `observability`: `{enabled, head_sampling_rate?, logs?: {...}, traces?: {...}}`.
fn check_observability(value: &Value) -> Result<(), ApiError> {
    let Some(object) = value.as_object() else {
        return Err(invalid("observability must be an object"));
    };
    check_enabled("observability", object)?;
    check_rate("observability", object)?;
    for part in ["logs", "traces"] {
        match object.get(part) {
            None | Some(Value::Null) => {}
            Some(Value::Object(inner)) => {
                let path = format!("observability.{part}");
                check_enabled(&path, inner)?;
                check_rate(&path, inner)?;
            }
            Some(_) => return Err(invalid(format!("observability.{part} must be an object"))),
        }
    }
    Ok(())
}

/// `[{service, environment?, namespace?}]`.
fn check_consumers(key: &str, value: &Value) -> Result<(), ApiError> {
    let Some(items) = value.as_array() else {
        return Err(invalid(format!("{key} must be a list")));
    };
    for item in items {
        let service = item.get("service").and_then(Value::as_str);
        if service.is_none_or(str::is_empty) {
            return Err(invalid(format!(
                "every entry of {key} needs a `service` (the Worker that receives the events)"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn limits_are_positive_integers_with_a_cpu_ceiling() {
        assert!(check_limits(&map(json!({"cpu_ms": 50, "subrequests": 1000}))).is_ok());
        assert!(check_limits(&map(json!({}))).is_ok());
        for bad in [
            json!({"cpu_ms": 300_001}),
            json!({"cpu_ms": 0}),
            json!({"cpu_ms": "50"}),
            json!({"memory": 1}),
        ] {
            let error = check_limits(&map(bad.clone())).expect_err("refused");
            assert_eq!((error.status, error.code), (400, 10021), "{bad}");
        }
    }

    #[test]
    fn placement_takes_wranglers_shapes() {
        for good in [
            json!({"mode": "smart"}),
            json!({"mode": "smart", "hint": "enam"}),
            json!({"region": "aws:us-east-1"}),
            json!({"mode": "targeted", "hostname": "db.example.com"}),
        ] {
            assert!(check_placement(&good).is_ok(), "{good}");
        }
        for bad in [
            json!("smart"),
            json!({"mode": "fast"}),
            json!({"mode": "targeted"}),
            json!({"region": "a", "host": "b"}),
            json!({"mode": "smart", "region": "a"}),
            json!({"region": 1}),
        ] {
            assert!(check_placement(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn script_settings_are_checked_by_kind() {
        assert!(check_script_setting("logpush", &json!(true)).is_ok());
        assert!(check_script_setting("logpush", &json!("yes")).is_err());
        let observability = json!({"enabled": true, "head_sampling_rate": 0.5, "logs": {"enabled": true, "invocation_logs": true}});
        assert!(check_script_setting("observability", &observability).is_ok());
        assert!(check_script_setting("observability", &json!({"head_sampling_rate": 2})).is_err());
        assert!(
            check_script_setting("observability", &json!({"logs": {"enabled": "on"}})).is_err()
        );
        assert!(check_script_setting("tail_consumers", &json!([{"service": "t"}])).is_ok());
        assert!(check_script_setting("tail_consumers", &json!([{"environment": "x"}])).is_err());
        assert!(check_script_setting("tags", &json!(["a", 1])).is_err());
    }
}
