//! A version's `_headers` and `_redirects` files, parsed the way Cloudflare's asset worker
//! wants them: workers-shared `parseHeaders` / `parseRedirects` and `constructHeaders` /
//! `constructRedirects` (what miniflare runs before it starts the asset worker), turned into
//! the `headers` / `redirects` members of the asset worker's `CONFIG`. Lines the parsers
//! ignore come back as [`Invalid`] so the data plane can log them. Pure.

pub mod headers;
pub mod redirects;
pub mod url;

use serde::Serialize;
use serde::ser::SerializeMap;

use crate::state::assets::config::AssetConfig;

use headers::{ParsedHeaders, parse_headers};
use redirects::{ParsedRedirects, is_dynamic, parse_redirects};

/// Longest line read, in UTF-16 code units (JavaScript's `length`).
pub const MAX_LINE_LENGTH: usize = 2000;
/// `headers.version` the asset worker reads (workers-shared `HEADERS_VERSION`).
const HEADERS_VERSION: u32 = 2;
/// `redirects.version` the asset worker reads (workers-shared `REDIRECTS_VERSION`).
const REDIRECTS_VERSION: u32 = 1;

/// A line a parser ignored, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub line: Option<String>,
    pub line_number: Option<usize>,
    pub message: String,
}

impl Invalid {
    fn at(line: &str, number: usize, message: impl Into<String>) -> Self {
        Self {
            line: Some(line.to_owned()),
            line_number: Some(number),
            message: message.into(),
        }
    }

    fn message(message: String) -> Self {
        Self {
            line: None,
            line_number: None,
            message,
        }
    }

    fn too_long(number: usize) -> Self {
        Self::message(format!(
            "Ignoring line {number} as it exceeds the maximum allowed length of {MAX_LINE_LENGTH}."
        ))
    }
}

/// JavaScript's `trim()` (Unicode white space and the byte-order mark).
fn js_trim(text: &str) -> &str {
    text.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
}

fn utf16_len(text: &str) -> usize {
    text.encode_utf16().count()
}

/// The lines both parsers read, numbered from 1 and trimmed; blanks and `#` comments skipped, a
/// line over [`MAX_LINE_LENGTH`] replaced by why it is ignored.
fn significant_lines<'a>(
    lines: &'a [&'a str],
) -> impl Iterator<Item = (usize, Result<&'a str, Invalid>)> + 'a {
    lines.iter().enumerate().filter_map(|(index, raw)| {
        let line = js_trim(raw);
        let number = index + 1;
        if line.is_empty() || line.starts_with('#') {
            None
        } else if utf16_len(line) > MAX_LINE_LENGTH {
            Some((number, Err(Invalid::too_long(number))))
        } else {
            Some((number, Ok(line)))
        }
    })
}

/// A JSON object whose members keep their order (the asset worker applies rules in it).
#[derive(Debug, Clone, PartialEq)]
pub struct Ordered<T>(pub Vec<(String, T)>);

impl<T> Ordered<T> {
    /// Sets `key` like a JavaScript object does: a new key goes last, an old one keeps its place.
    fn set(&mut self, key: String, value: T) {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some((_, existing)) => *existing = value,
            None => self.0.push((key, value)),
        }
    }
}

impl<T: Serialize> Serialize for Ordered<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// The asset worker's `headers`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HeadersConfig {
    pub version: u32,
    pub rules: Ordered<HeaderRuleConfig>,
}

/// What one `_headers` rule does.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HeaderRuleConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub set: Option<Ordered<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unset: Option<Vec<String>>,
}

/// The asset worker's `redirects`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RedirectsConfig {
    pub version: u32,
    #[serde(rename = "staticRules")]
    pub static_rules: Ordered<StaticRedirect>,
    pub rules: Ordered<DynamicRedirect>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StaticRedirect {
    pub status: u16,
    pub to: String,
    #[serde(rename = "lineNumber")]
    pub line_number: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DynamicRedirect {
    pub status: u16,
    pub to: String,
}

/// Both files of a version, ready for the asset worker, with what they ignored.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AssetRules {
    pub headers: Option<HeadersConfig>,
    pub redirects: Option<RedirectsConfig>,
    /// (`_headers` or `_redirects`, the ignored line).
    pub invalid: Vec<(&'static str, Invalid)>,
}

/// Parses the version's `_headers` and `_redirects` (absent files give no rules).
pub fn parse(config: &AssetConfig) -> AssetRules {
    let mut out = AssetRules::default();
    if let Some(text) = &config.headers {
        let parsed = parse_headers(text);
        out.invalid
            .extend(parsed.invalid.iter().cloned().map(|i| ("_headers", i)));
        out.headers = construct_headers(parsed);
    }
    if let Some(text) = &config.redirects {
        let parsed = parse_redirects(text, config.html_handling.as_deref());
        out.invalid
            .extend(parsed.invalid.iter().cloned().map(|i| ("_redirects", i)));
        out.redirects = construct_redirects(parsed);
    }
    out
}

/// workers-shared `constructHeaders`: no rules, no `headers` at all.
fn construct_headers(parsed: ParsedHeaders) -> Option<HeadersConfig> {
    if parsed.rules.is_empty() {
        return None;
    }
    let mut rules = Ordered(Vec::new());
    for rule in parsed.rules {
        let config = HeaderRuleConfig {
            set: (!rule.set.is_empty()).then_some(Ordered(rule.set)),
            unset: (!rule.unset.is_empty()).then_some(rule.unset),
        };
        rules.set(rule.path, config);
    }
    Some(HeadersConfig {
        version: HEADERS_VERSION,
        rules,
    })
}

/// workers-shared `constructRedirects`: static rules up to the first dynamic one, the rest in
/// order; no rules, no `redirects` at all.
fn construct_redirects(parsed: ParsedRedirects) -> Option<RedirectsConfig> {
    if parsed.rules.is_empty() {
        return None;
    }
    let mut config = RedirectsConfig {
        version: REDIRECTS_VERSION,
        static_rules: Ordered(Vec::new()),
        rules: Ordered(Vec::new()),
    };
    let mut static_allowed = true;
    for rule in parsed.rules {
        if static_allowed && !is_dynamic(&rule.from) {
            let target = StaticRedirect {
                status: rule.status,
                to: rule.to,
                line_number: rule.line_number,
            };
            config.static_rules.set(rule.from, target);
            continue;
        }
        let target = DynamicRedirect {
            status: rule.status,
            to: rule.to,
        };
        config.rules.set(rule.from, target);
        static_allowed = false;
    }
    Some(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_files_become_the_asset_workers_config_in_file_order() {
        let config = AssetConfig {
            headers: Some("/b/*\nX-B: 1\n/a\n! Server\nX-A: 2\n/bad\n".into()),
            redirects: Some("/old /new 301\n/blog/* /posts/:splat\n/late /x\n".into()),
            ..AssetConfig::default()
        };
        let rules = parse(&config);
        let headers = serde_json::to_string(&rules.headers).unwrap_or_default();
        assert_eq!(
            headers,
            r#"{"version":2,"rules":{"/b/*":{"set":{"x-b":"1"}},"/a":{"set":{"x-a":"2"},"unset":["Server"]}}}"#
        );
        assert_eq!(
            serde_json::to_value(&rules.redirects).unwrap_or_default(),
            json!({"version": 1,
                   "staticRules": {"/old": {"status": 301, "to": "/new", "lineNumber": 1}},
                   "rules": {"/blog/*": {"status": 302, "to": "/posts/:splat"},
                             "/late": {"status": 302, "to": "/x"}}})
        );
        let ignored: Vec<(&str, &str)> = rules
            .invalid
            .iter()
            .map(|(file, i)| (*file, i.message.as_str()))
            .collect();
        assert_eq!(ignored, vec![("_headers", "No headers specified")]);
    }

    #[test]
    fn files_without_valid_rules_configure_nothing() {
        let config = AssetConfig {
            headers: Some("# nothing\n".into()),
            redirects: Some("/only-one-token\n".into()),
            ..AssetConfig::default()
        };
        let rules = parse(&config);
        assert_eq!((rules.headers, rules.redirects), (None, None));
        assert_eq!(rules.invalid.len(), 1);
        assert_eq!(parse(&AssetConfig::default()), AssetRules::default());
    }
}
