//! Format-independent, span-carrying document tree for TOML and JSON(C) config files.
//!
//! Both formats are parsed into [`Node`]s that remember their byte span in the original text, so
//! every later error or warning can point at `file:line:col` whatever the format was. JSONC is
//! handled by [`strip_jsonc`], which blanks comments and trailing commas without moving any
//! byte, then by `serde_json` (for precise syntax errors) and a small span-recording reader.

mod json_parse;
mod jsonc_strip;
mod toml_parse;

use std::ops::Range;

use crate::error::{ConfigError, Location, Warning};

pub use jsonc_strip::strip_jsonc;

/// A parsed config file: its text plus line index, for offset -> line:col.
#[derive(Debug, Clone)]
pub(crate) struct SourceFile {
    pub path: String,
    pub text: String,
    line_starts: Vec<usize>,
}

impl SourceFile {
    pub fn new(path: &str, text: String) -> Self {
        let mut line_starts = vec![0];
        for (i, b) in text.bytes().enumerate() {
            if b == b'\n' {
                line_starts.push(i + 1);
            }
        }
        SourceFile {
            path: path.to_owned(),
            text,
            line_starts,
        }
    }

    /// 1-based line and character column of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.line_starts[line];
        let mut end = offset;
        while end > start && !self.text.is_char_boundary(end) {
            end -= 1;
        }
        let col = self.text[start..end].chars().filter(|c| *c != '\r').count() + 1;
        (line + 1, col)
    }

    pub fn location(&self, offset: usize) -> Location {
        let (line, col) = self.line_col(offset);
        Location {
            file: self.path.clone(),
            line,
            col,
        }
    }

    /// Byte offset of a 1-based (line, byte column) pair, clamped to the text.
    fn offset_of(&self, line: usize, byte_col: usize) -> usize {
        let Some(start) = self.line_starts.get(line.saturating_sub(1)) else {
            return self.text.len();
        };
        (start + byte_col.saturating_sub(1)).min(self.text.len())
    }
}

/// A value with the byte span it came from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub span: Range<usize>,
    pub value: Val,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    Str(String),
    Int(i64),
    /// Numbers that are not i64 (JSON floats, big integers), kept as JSON numbers.
    Num(serde_json::Number),
    Bool(bool),
    Null,
    /// TOML date/time literal, in its TOML text form (`2024-01-01`).
    Datetime(String),
    Array(Vec<Node>),
    Table(Vec<Entry>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub key: String,
    pub key_span: Range<usize>,
    pub node: Node,
}

impl Val {
    pub fn type_name(&self) -> &'static str {
        match self {
            Val::Str(_) => "a string",
            Val::Int(_) | Val::Num(_) => "a number",
            Val::Bool(_) => "a boolean",
            Val::Null => "null",
            Val::Datetime(_) => "a date",
            Val::Array(_) => "an array",
            Val::Table(_) => "a table",
        }
    }
}

impl Node {
    /// The node as plain JSON (TOML dates become strings, as wrangler's TOML reader does).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.value {
            Val::Str(s) | Val::Datetime(s) => Value::String(s.clone()),
            Val::Int(i) => Value::from(*i),
            Val::Num(n) => Value::Number(n.clone()),
            Val::Bool(b) => Value::Bool(*b),
            Val::Null => Value::Null,
            Val::Array(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            Val::Table(entries) => Value::Object(
                entries
                    .iter()
                    .map(|e| (e.key.clone(), e.node.to_json()))
                    .collect(),
            ),
        }
    }

    pub fn entries(&self) -> Option<&[Entry]> {
        match &self.value {
            Val::Table(entries) => Some(entries),
            _ => None,
        }
    }
}

/// Which syntax a config file uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ConfigFormat {
    Toml,
    Json,
    Jsonc,
}

impl ConfigFormat {
    /// Format from the file name (`.toml`, `.json`, `.jsonc`).
    pub fn from_path(path: &str) -> Option<Self> {
        if path.ends_with(".toml") {
            Some(ConfigFormat::Toml)
        } else if path.ends_with(".jsonc") {
            Some(ConfigFormat::Jsonc)
        } else if path.ends_with(".json") {
            Some(ConfigFormat::Json)
        } else {
            None
        }
    }
}

/// Decodes bytes as UTF-8 (a leading BOM is dropped) or reports the first bad offset.
pub(crate) fn decode_utf8(path: &str, bytes: &[u8]) -> Result<String, ConfigError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(text.to_owned()),
        Err(e) => Err(ConfigError::NotUtf8 {
            path: path.to_owned(),
            offset: e.valid_up_to(),
        }),
    }
}

/// Parses a config document into a root table node.
///
/// Wrangler reads `.json` files with the same JSONC reader as `.jsonc`, so both accept comments
/// and trailing commas.
pub(crate) fn parse_document(
    source: &SourceFile,
    format: ConfigFormat,
    warnings: &mut Vec<Warning>,
) -> Result<Node, ConfigError> {
    match format {
        ConfigFormat::Toml => toml_parse::parse_toml(source),
        ConfigFormat::Json | ConfigFormat::Jsonc => {
            json_parse::parse_jsonc(source, format, warnings)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters_and_ignores_cr() {
        let source = SourceFile::new("f", "ab\r\néx = 1\n".into());
        assert_eq!(source.line_col(0), (1, 1));
        assert_eq!(source.line_col(4), (2, 1));
        // 'é' is two bytes; 'x' is the second character of line 2.
        assert_eq!(source.line_col(6), (2, 2));
    }
}
