//! The `assets.config` of an upload (SPEC-2 §1.5): `html_handling`, `not_found_handling`,
//! `run_worker_first` (bool or rules), and the `_redirects` / `_headers` texts, checked as
//! Cloudflare's schema and wrangler's `parseStaticRouting` (cli.js:136954) check them. Pure.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ApiError;

const HTML_HANDLING: &[&str] = &[
    "auto-trailing-slash",
    "force-trailing-slash",
    "drop-trailing-slash",
    "none",
];
const NOT_FOUND_HANDLING: &[&str] = &["none", "404-page", "single-page-application"];
/// At most this many `run_worker_first` rules, each at most this many characters.
const MAX_RULES: usize = 100;
const MAX_RULE_LENGTH: usize = 100;

/// A version's assets configuration as stored (and as the asset worker reads it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AssetConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html_handling: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_found_handling: Option<String>,
    /// `true`/`false` or the list of rules, as uploaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_worker_first: Option<Value>,
    #[serde(
        default,
        rename = "_redirects",
        skip_serializing_if = "Option::is_none"
    )]
    pub redirects: Option<String>,
    #[serde(default, rename = "_headers", skip_serializing_if = "Option::is_none")]
    pub headers: Option<String>,
}

/// `run_worker_first` rules split as the router worker wants them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StaticRouting {
    /// Negative rules (`!/x` stored as `/x`): always served from assets.
    pub asset_worker: Vec<String>,
    /// Positive rules: the Worker runs first.
    pub user_worker: Vec<String>,
}

fn invalid(detail: impl std::fmt::Display) -> ApiError {
    ApiError::validation(format!("invalid `assets.config` in metadata: {detail}"))
}

fn one_of(config: &Value, key: &str, allowed: &[&str]) -> Result<Option<String>, ApiError> {
    match config.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if allowed.contains(&s.as_str()) => Ok(Some(s.clone())),
        Some(other) => Err(invalid(format!(
            "`{key}` is {other}; expected one of: {}",
            allowed.join(", ")
        ))),
    }
}

fn text(config: &Value, key: &str) -> Result<Option<String>, ApiError> {
    match config.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(invalid(format!("`{key}` must be the text of the file"))),
    }
}

/// Checks an upload's `assets.config` (absent means Cloudflare's defaults).
pub fn parse(config: Option<&Value>) -> Result<AssetConfig, ApiError> {
    let Some(config) = config.filter(|c| !c.is_null()) else {
        return Ok(AssetConfig::default());
    };
    if !config.is_object() {
        return Err(invalid("expected an object"));
    }
    let run_worker_first = match config.get("run_worker_first") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(Value::Bool(*b)),
        Some(Value::Array(items)) => {
            let rules: Vec<String> = items
                .iter()
                .map(|r| r.as_str().map(str::to_owned))
                .collect::<Option<_>>()
                .ok_or_else(|| invalid("`run_worker_first` rules must be strings"))?;
            static_routing(&rules)?;
            Some(Value::from(rules))
        }
        Some(_) => {
            return Err(invalid(
                "`run_worker_first` must be a boolean or a list of route rules",
            ));
        }
    };
    Ok(AssetConfig {
        html_handling: one_of(config, "html_handling", HTML_HANDLING)?,
        not_found_handling: one_of(config, "not_found_handling", NOT_FOUND_HANDLING)?,
        run_worker_first,
        redirects: text(config, "_redirects")?,
        headers: text(config, "_headers")?,
    })
}

impl AssetConfig {
    /// The router's rules when `run_worker_first` is a list.
    pub fn static_routing(&self) -> Option<StaticRouting> {
        let rules: Vec<String> = self
            .run_worker_first
            .as_ref()?
            .as_array()?
            .iter()
            .filter_map(|r| r.as_str().map(str::to_owned))
            .collect();
        static_routing(&rules).ok()
    }

    /// `run_worker_first = true`.
    pub fn worker_first(&self) -> bool {
        self.run_worker_first.as_ref().and_then(Value::as_bool) == Some(true)
    }
}

/// Splits and checks `run_worker_first` rules like `parseStaticRouting`.
pub fn static_routing(rules: &[String]) -> Result<StaticRouting, ApiError> {
    if rules.is_empty() {
        return Err(invalid(
            "No `run_worker_first` rules were provided; must provide at least 1 rule.",
        ));
    }
    if rules.len() > MAX_RULES {
        return Err(invalid(format!(
            "Too many `run_worker_first` rules were provided; {} rules provided exceeds max of \
             {MAX_RULES}.",
            rules.len()
        )));
    }
    let mut routing = StaticRouting::default();
    let (mut raw_negative, mut problems) = (Vec::new(), Vec::new());
    for rule in rules {
        if let Some(negative) = rule.strip_prefix('!').filter(|r| r.starts_with('/')) {
            routing.asset_worker.push(negative.to_owned());
            raw_negative.push(rule.clone());
        } else if rule.starts_with('/') {
            routing.user_worker.push(rule.clone());
        } else if rule.starts_with('!') {
            problems.push(format!("'{rule}': negative rules must start with '!/'"));
        } else {
            problems.push(format!("'{rule}': rules must start with '/' or '!/'"));
        }
    }
    if !routing.asset_worker.is_empty() && routing.user_worker.is_empty() {
        return Err(invalid(
            "Only negative `run_worker_first` rules were provided; must provide at least 1 \
             non-negative rule",
        ));
    }
    problems.extend(rule_problems(&routing.user_worker));
    problems.extend(rule_problems(&raw_negative));
    if problems.is_empty() {
        Ok(routing)
    } else {
        Err(invalid(format!(
            "Invalid routes in `run_worker_first`:\n{}",
            problems.join("\n")
        )))
    }
}

fn rule_problems(rules: &[String]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for rule in rules {
        if rule.chars().count() > MAX_RULE_LENGTH {
            problems.push(format!(
                "'{rule}': all rules must be less than {MAX_RULE_LENGTH} characters in length"
            ));
        }
        if !seen.insert(rule.as_str()) {
            problems.push(format!(
                "'{rule}': rule is a duplicate; rules must be unique"
            ));
        }
        if let Some(prefix) = rule.strip_suffix('*') {
            for other in rules {
                if other != rule && other.starts_with(prefix) {
                    problems.push(format!("'{other}': rule '{rule}' makes it redundant"));
                }
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wranglers_config_round_trips_and_unknown_keys_are_ignored() {
        let config = json!({
            "html_handling": "drop-trailing-slash",
            "not_found_handling": "single-page-application",
            "run_worker_first": ["/api/*", "!/api/static/*"],
            "_redirects": "/old /new 301\n",
            "serve_directly": true,
        });
        let parsed = parse(Some(&config)).expect("valid");
        assert_eq!(parsed.html_handling.as_deref(), Some("drop-trailing-slash"));
        assert_eq!(
            parsed.static_routing(),
            Some(StaticRouting {
                asset_worker: vec!["/api/static/*".into()],
                user_worker: vec!["/api/*".into()],
            })
        );
        assert!(!parsed.worker_first());
        let stored = serde_json::to_value(&parsed).expect("json");
        assert_eq!(stored["_redirects"], json!("/old /new 301\n"));
        assert!(stored.get("_headers").is_none());
        assert_eq!(parse(None).expect("default"), AssetConfig::default());
    }

    #[test]
    fn bad_values_are_refused_with_the_reason() {
        for (config, needle) in [
            (json!({"html_handling": "auto"}), "html_handling"),
            (json!({"not_found_handling": "spa"}), "not_found_handling"),
            (json!({"run_worker_first": "yes"}), "boolean or a list"),
            (json!({"run_worker_first": []}), "at least 1 rule"),
            (json!({"run_worker_first": ["!/a"]}), "Only negative"),
            (json!({"run_worker_first": ["api"]}), "must start with '/'"),
            (
                json!({"run_worker_first": ["/a/*", "/a/b"]}),
                "makes it redundant",
            ),
            (json!({"run_worker_first": ["/a", "/a"]}), "duplicate"),
            (json!({"_headers": 3}), "_headers"),
        ] {
            let error = parse(Some(&config)).expect_err("refused");
            assert_eq!(error.code, 10021);
            assert!(
                error.message.contains(needle),
                "{config}: {}",
                error.message
            );
        }
        let long = format!("/{}", "a".repeat(MAX_RULE_LENGTH));
        assert!(static_routing(&[long]).is_err());
        let many: Vec<String> = (0..=MAX_RULES).map(|i| format!("/r{i}")).collect();
        assert!(static_routing(&many).is_err());
    }
}
