//! Shorthands shared by the wrangler tests.

use super::{ParsedConfig, parse_config};
use crate::error::ConfigError;

pub(crate) fn parse(
    path: &str,
    text: &str,
    env: Option<&str>,
) -> Result<ParsedConfig, ConfigError> {
    parse_config(path, text.as_bytes(), env)
}

/// The bindings as Cloudflare's wire JSON.
pub(crate) fn wire(parsed: &ParsedConfig) -> serde_json::Value {
    serde_json::to_value(&parsed.spec.bindings).expect("bindings serialize")
}

/// The message of the error a top-level config is refused with.
pub(crate) fn refused(path: &str, text: &str) -> String {
    parse(path, text, None)
        .expect_err("the config is refused")
        .to_string()
}

/// A top-level config that parses.
pub(crate) fn accepted(path: &str, text: &str) -> ParsedConfig {
    parse(path, text, None).expect("parses")
}

/// Asserts that a top-level config is refused with an error at `at` (its `file:line:col`
/// prefix) whose message contains `says`.
pub(crate) fn assert_refused(path: &str, text: &str, at: &str, says: &str) {
    let err = refused(path, text);
    assert!(err.starts_with(at), "{err}");
    assert!(err.contains(says), "{err}");
}
