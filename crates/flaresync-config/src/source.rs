//! Format-independent, span-carrying document tree for TOML and JSON(C) config files.
//!
//! Both formats are parsed into [`Node`]s that remember their byte span in the original text, so
//! every later error or warning can point at `file:line:col` whatever the format was. JSONC is
//! handled by [`strip_jsonc`], which blanks comments and trailing commas without moving any
//! byte, then by `serde_json` (for precise syntax errors) and a small span-recording reader.

use std::ops::Range;

use crate::error::{ConfigError, Location, Warning};

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
        ConfigFormat::Toml => parse_toml(source),
        ConfigFormat::Json | ConfigFormat::Jsonc => parse_jsonc(source, format, warnings),
    }
}

// === TOML ===

fn parse_toml(source: &SourceFile) -> Result<Node, ConfigError> {
    match toml::de::DeTable::parse(&source.text) {
        Ok(table) => {
            let span = table.span();
            let node = Node {
                span,
                value: Val::Table(toml_table(table.get_ref())),
            };
            check_toml_1_0(source, &node)?;
            Ok(node)
        }
        Err(error) => {
            let span = error.span().unwrap_or(0..0);
            let mut message = error.message().trim().replace('\n', " ");
            if message.starts_with("duplicate key") {
                message = duplicate_key_message(source, span.clone());
            } else {
                message.push_str("; fix the syntax of this file");
            }
            Err(ConfigError::Syntax {
                location: source.location(span.start),
                format: "TOML",
                message,
            })
        }
    }
}

/// Names the duplicated key and, when it can be found, the line of its first definition.
fn duplicate_key_message(source: &SourceFile, span: Range<usize>) -> String {
    let key = source
        .text
        .get(span.clone())
        .unwrap_or("")
        .trim()
        .trim_matches(['[', ']'])
        .trim()
        .to_owned();
    if key.is_empty() {
        return "duplicate key".into();
    }
    let (error_line, _) = source.line_col(span.start);
    let first = source
        .text
        .lines()
        .take(error_line.saturating_sub(1))
        .position(|line| {
            let line = line.trim();
            let after = line.strip_prefix(key.as_str()).map(str::trim_start);
            matches!(after, Some(rest) if rest.starts_with('=') || rest.starts_with('.'))
                || line == format!("[{key}]")
                || line == format!("[[{key}]]")
        });
    match first {
        Some(index) => format!(
            "duplicate key `{key}` (first defined at line {}); remove one definition (a \
             commented-out table header makes the following keys land in the table above it)",
            index + 1
        ),
        None => format!("duplicate key `{key}`; remove one definition"),
    }
}

/// Rejects TOML 1.1 syntax that wrangler's TOML 1.0 reader refuses: newlines or a trailing
/// comma directly inside an inline table (`{ ... }`).
fn check_toml_1_0(source: &SourceFile, node: &Node) -> Result<(), ConfigError> {
    match &node.value {
        Val::Array(items) => items.iter().try_for_each(|n| check_toml_1_0(source, n)),
        Val::Table(entries) => {
            let text = source.text.as_bytes();
            let inline = text.get(node.span.start) == Some(&b'{');
            if inline && node.span.end <= text.len() && node.span.len() >= 2 {
                let mut children: Vec<Range<usize>> = entries
                    .iter()
                    .map(|e| e.key_span.start..e.node.span.end.max(e.key_span.end))
                    .collect();
                children.sort_by_key(|r| r.start);
                let inner = node.span.start + 1..node.span.end - 1;
                let within = children
                    .iter()
                    .all(|c| c.start >= inner.start && c.end <= inner.end);
                if within {
                    let mut gaps = Vec::new();
                    let mut cursor = inner.start;
                    for child in &children {
                        gaps.push(cursor..child.start.max(cursor));
                        cursor = child.end.max(cursor);
                    }
                    let last_gap = cursor..inner.end;
                    let newline = gaps.iter().chain(std::iter::once(&last_gap)).find_map(|g| {
                        text[g.clone()]
                            .iter()
                            .position(|b| *b == b'\n')
                            .map(|p| g.start + p)
                    });
                    if newline.is_some() {
                        return Err(ConfigError::Syntax {
                            location: source.location(node.span.start),
                            format: "TOML",
                            message: "inline table spans several lines, which TOML 1.0 (and \
                                      wrangler) does not allow; write it on one line or use a \
                                      [table] section"
                                .into(),
                        });
                    }
                    if !children.is_empty() && text[last_gap.clone()].contains(&b',') {
                        return Err(ConfigError::Syntax {
                            location: source.location(last_gap.start),
                            format: "TOML",
                            message: "trailing comma in an inline table, which TOML 1.0 (and \
                                      wrangler) does not allow; remove it"
                                .into(),
                        });
                    }
                }
            }
            entries
                .iter()
                .try_for_each(|e| check_toml_1_0(source, &e.node))
        }
        _ => Ok(()),
    }
}

fn toml_table(table: &toml::de::DeTable<'_>) -> Vec<Entry> {
    let mut entries: Vec<Entry> = table
        .iter()
        .map(|(key, value)| Entry {
            key: key.get_ref().to_string(),
            key_span: key.span(),
            node: toml_node(value),
        })
        .collect();
    // Keep document order, which makes warnings and errors come out top to bottom.
    entries.sort_by_key(|e| e.key_span.start);
    entries
}

fn toml_node(value: &toml::Spanned<toml::de::DeValue<'_>>) -> Node {
    use toml::de::DeValue;
    let span = value.span();
    let value = match value.get_ref() {
        DeValue::String(s) => Val::Str(s.to_string()),
        DeValue::Integer(i) => {
            let digits = i.as_str().replace('_', "");
            match i64::from_str_radix(&digits, i.radix()) {
                Ok(n) => Val::Int(n),
                Err(_) => Val::Str(i.to_string()),
            }
        }
        DeValue::Float(f) => {
            let text = f.as_str().replace('_', "");
            match text
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
            {
                Some(n) => Val::Num(n),
                None => Val::Null,
            }
        }
        DeValue::Boolean(b) => Val::Bool(*b),
        DeValue::Datetime(d) => Val::Datetime(d.to_string()),
        DeValue::Array(items) => Val::Array(items.iter().map(toml_node).collect()),
        DeValue::Table(table) => Val::Table(toml_table(table)),
    };
    Node { span, value }
}

// === JSON / JSONC ===

/// Blanks `//` and `/* */` comments and trailing commas (before `]` or `}`) with spaces.
///
/// Every byte keeps its offset and newlines are kept, so line/column positions computed on the
/// result are positions in the original text. String literals (including escaped quotes and
/// `//` inside strings) are left untouched. An unterminated block comment is blanked to the end.
pub fn strip_jsonc(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = bytes.to_vec();
    let blank = |out: &mut Vec<u8>, range: Range<usize>| {
        for b in &mut out[range] {
            if *b != b'\n' && *b != b'\r' {
                *b = b' ';
            }
        }
    };
    let mut i = 0;
    // Offset of the last comma seen outside strings and comments with only whitespace or
    // comments after it so far.
    let mut pending_comma: Option<usize> = None;
    // Last significant byte outside strings/comments: a comma right after `[`, `{` or `,` is
    // not a trailing comma but an error, left for the JSON parser to report.
    let mut last = b' ';
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                pending_comma = None;
                last = b'"';
                i += 1;
                while i < bytes.len() {
                    match bytes[i] {
                        b'\\' => i += 2,
                        b'"' => {
                            i += 1;
                            break;
                        }
                        b'\n' => break,
                        _ => i += 1,
                    }
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                let start = i;
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                blank(&mut out, start..i);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let start = i;
                i += 2;
                loop {
                    if i + 1 >= bytes.len() {
                        i = bytes.len();
                        break;
                    }
                    if bytes[i] == b'*' && bytes[i + 1] == b'/' {
                        i += 2;
                        break;
                    }
                    i += 1;
                }
                blank(&mut out, start..i);
            }
            b',' => {
                pending_comma = if matches!(last, b'[' | b'{' | b',') {
                    None
                } else {
                    Some(i)
                };
                last = b',';
                i += 1;
            }
            b']' | b'}' => {
                if let Some(comma) = pending_comma.take() {
                    out[comma] = b' ';
                }
                last = bytes[i];
                i += 1;
            }
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            other => {
                pending_comma = None;
                last = other;
                i += 1;
            }
        }
    }
    // Only ASCII bytes were replaced by ASCII spaces inside comments; a multi-byte character in
    // a comment is replaced byte by byte, which keeps the result valid UTF-8.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn parse_jsonc(
    source: &SourceFile,
    format: ConfigFormat,
    warnings: &mut Vec<Warning>,
) -> Result<Node, ConfigError> {
    let stripped = strip_jsonc(&source.text);
    let format_name = match format {
        ConfigFormat::Json => "JSON",
        _ => "JSONC",
    };
    // serde_json gives precise syntax errors; its line/column are positions in `stripped`,
    // which has the same byte layout as the original.
    if let Err(error) = serde_json::from_str::<serde_json::Value>(&stripped) {
        let offset = source.offset_of(error.line(), error.column());
        let mut message = error.to_string();
        if let Some(i) = message.find(" at line ") {
            message.truncate(i);
        }
        message.push_str("; fix the syntax of this file");
        return Err(ConfigError::Syntax {
            location: source.location(offset),
            format: format_name,
            message,
        });
    }
    let mut reader = JsonReader {
        text: stripped.as_bytes(),
        pos: 0,
        source,
        warnings,
    };
    reader.skip_ws();
    let root = reader.value().map_err(|offset| ConfigError::Syntax {
        location: source.location(offset),
        format: format_name,
        message: "unexpected input".into(),
    })?;
    if !matches!(root.value, Val::Table(_)) {
        return Err(ConfigError::invalid(
            source.location(root.span.start),
            format!(
                "the config must be a JSON object, found {}",
                root.value.type_name()
            ),
        ));
    }
    Ok(root)
}

/// Span-recording reader over JSON that serde_json already validated. Errors carry an offset.
struct JsonReader<'a> {
    text: &'a [u8],
    pos: usize,
    source: &'a SourceFile,
    warnings: &'a mut Vec<Warning>,
}

impl JsonReader<'_> {
    fn skip_ws(&mut self) {
        while self
            .text
            .get(self.pos)
            .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        {
            self.pos += 1;
        }
    }

    fn value(&mut self) -> Result<Node, usize> {
        let start = self.pos;
        let value = match self.text.get(self.pos) {
            Some(b'{') => {
                self.pos += 1;
                let mut entries: Vec<Entry> = Vec::new();
                self.skip_ws();
                if self.text.get(self.pos) == Some(&b'}') {
                    self.pos += 1;
                } else {
                    loop {
                        self.skip_ws();
                        let key_start = self.pos;
                        let key = self.string()?;
                        let key_span = key_start..self.pos;
                        self.skip_ws();
                        if self.text.get(self.pos) != Some(&b':') {
                            return Err(self.pos);
                        }
                        self.pos += 1;
                        self.skip_ws();
                        let node = self.value()?;
                        if let Some(previous) = entries.iter().position(|e| e.key == key) {
                            let (line, col) =
                                self.source.line_col(entries[previous].key_span.start);
                            self.warnings.push(Warning::at(
                                &self.source.location(key_start),
                                format!(
                                    "duplicate key {key:?} (first at line {line}, column {col}); \
                                     the later value wins, as in wrangler; remove one of them"
                                ),
                            ));
                            entries.remove(previous);
                        }
                        entries.push(Entry {
                            key,
                            key_span,
                            node,
                        });
                        self.skip_ws();
                        match self.text.get(self.pos) {
                            Some(b',') => self.pos += 1,
                            Some(b'}') => {
                                self.pos += 1;
                                break;
                            }
                            _ => return Err(self.pos),
                        }
                    }
                }
                Val::Table(entries)
            }
            Some(b'[') => {
                self.pos += 1;
                let mut items = Vec::new();
                self.skip_ws();
                if self.text.get(self.pos) == Some(&b']') {
                    self.pos += 1;
                } else {
                    loop {
                        self.skip_ws();
                        items.push(self.value()?);
                        self.skip_ws();
                        match self.text.get(self.pos) {
                            Some(b',') => self.pos += 1,
                            Some(b']') => {
                                self.pos += 1;
                                break;
                            }
                            _ => return Err(self.pos),
                        }
                    }
                }
                Val::Array(items)
            }
            Some(b'"') => Val::Str(self.string()?),
            Some(b't') => self.literal("true", Val::Bool(true))?,
            Some(b'f') => self.literal("false", Val::Bool(false))?,
            Some(b'n') => self.literal("null", Val::Null)?,
            Some(b'-' | b'0'..=b'9') => {
                while self
                    .text
                    .get(self.pos)
                    .is_some_and(|b| matches!(b, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'))
                {
                    self.pos += 1;
                }
                let text = std::str::from_utf8(&self.text[start..self.pos]).map_err(|_| start)?;
                match text.parse::<i64>() {
                    Ok(i) => Val::Int(i),
                    Err(_) => match serde_json::from_str::<serde_json::Number>(text) {
                        Ok(n) => Val::Num(n),
                        Err(_) => return Err(start),
                    },
                }
            }
            _ => return Err(self.pos),
        };
        Ok(Node {
            span: start..self.pos,
            value,
        })
    }

    fn literal(&mut self, word: &str, value: Val) -> Result<Val, usize> {
        if self.text[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.pos)
        }
    }

    /// A JSON string literal at `pos`, decoded by serde_json.
    fn string(&mut self) -> Result<String, usize> {
        let start = self.pos;
        if self.text.get(self.pos) != Some(&b'"') {
            return Err(self.pos);
        }
        self.pos += 1;
        loop {
            match self.text.get(self.pos) {
                Some(b'\\') => self.pos += 2,
                Some(b'"') => {
                    self.pos += 1;
                    break;
                }
                Some(_) => self.pos += 1,
                None => return Err(start),
            }
        }
        let raw = self.text.get(start..self.pos).ok_or(start)?;
        serde_json::from_slice::<String>(raw).map_err(|_| start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_jsonc_blanks_comments_and_trailing_commas_in_place() {
        let text = "{\n  // c\n  \"a\": \"x // y\", /* b */\n  \"b\": [1, 2,],\n}";
        let out = strip_jsonc(text);
        assert_eq!(out.len(), text.len());
        assert_eq!(
            out,
            "{\n      \n  \"a\": \"x // y\",        \n  \"b\": [1, 2 ] \n}"
        );
        let v: serde_json::Value = serde_json::from_str(&out).expect("valid json");
        assert_eq!(v["a"], "x // y");
    }

    #[test]
    fn strip_jsonc_respects_escaped_quotes_and_slashes_in_strings() {
        let text = r#"{"a": "quote \" // not a comment", "b": "back\\", "c": "/* no */"}"#;
        let out = strip_jsonc(text);
        assert_eq!(out, text);
    }

    #[test]
    fn strip_jsonc_comma_followed_by_comment_then_bracket_is_trailing() {
        let text = "[1, // last\n]";
        let out = strip_jsonc(text);
        let v: serde_json::Value = serde_json::from_str(&out).expect("valid json");
        assert_eq!(v, serde_json::json!([1]));
    }

    #[test]
    fn strip_jsonc_leaves_empty_elements_for_the_parser_to_reject() {
        for text in ["[,]", "[1,,]", "{,}"] {
            let out = strip_jsonc(text);
            assert!(
                serde_json::from_str::<serde_json::Value>(&out).is_err(),
                "{text} -> {out}"
            );
        }
    }

    #[test]
    fn strip_jsonc_keeps_multibyte_comment_valid_utf8() {
        let text = "{ /* é ü */ \"a\": 1 }";
        let out = strip_jsonc(text);
        assert_eq!(out.len(), text.len());
        let v: serde_json::Value = serde_json::from_str(&out).expect("valid json");
        assert_eq!(v["a"], 1);
    }

    #[test]
    fn line_col_counts_characters_and_ignores_cr() {
        let source = SourceFile::new("f", "ab\r\néx = 1\n".into());
        assert_eq!(source.line_col(0), (1, 1));
        assert_eq!(source.line_col(4), (2, 1));
        // 'é' is two bytes; 'x' is the second character of line 2.
        assert_eq!(source.line_col(6), (2, 2));
    }

    #[test]
    fn json_syntax_error_points_at_line_and_column() {
        let source = SourceFile::new("w.jsonc", "{\n  \"a\": 1\n  \"b\": 2\n}".into());
        let err = parse_document(&source, ConfigFormat::Jsonc, &mut Vec::new())
            .expect_err("missing comma");
        let text = err.to_string();
        assert!(text.starts_with("w.jsonc:3:3: invalid JSONC"), "{text}");
    }

    #[test]
    fn json_error_column_counts_characters_after_multibyte_text() {
        // 'x' is the 10th character of line 1 but the 11th byte.
        let source = SourceFile::new("w.json", "{\"é\": 1  x}".into());
        let err = parse_document(&source, ConfigFormat::Json, &mut Vec::new()).expect_err("bad");
        assert!(err.to_string().starts_with("w.json:1:10:"), "{err}");
    }

    #[test]
    fn toml_duplicate_key_is_a_syntax_error_with_position() {
        let source = SourceFile::new("w.toml", "a = 1\nb = 2\na = 3\n".into());
        let err =
            parse_document(&source, ConfigFormat::Toml, &mut Vec::new()).expect_err("duplicate");
        let text = err.to_string();
        assert!(text.starts_with("w.toml:3:1: invalid TOML"), "{text}");
        assert!(
            text.contains("duplicate key `a` (first defined at line 1)"),
            "{text}"
        );
    }

    #[test]
    fn toml_multiline_inline_table_is_rejected_like_toml_1_0() {
        let source = SourceFile::new("w.toml", "vars = {\n  A = \"1\",\n}\n".into());
        let err = parse_document(&source, ConfigFormat::Toml, &mut Vec::new())
            .expect_err("multi-line inline table");
        assert!(err.to_string().starts_with("w.toml:1:8:"), "{err}");
        let ok = SourceFile::new("w.toml", "x = { a = [\n 1,\n 2 ], b = 1 }\n".into());
        parse_document(&ok, ConfigFormat::Toml, &mut Vec::new()).expect("arrays may span lines");
    }

    #[test]
    fn json_duplicate_key_warns_and_last_wins() {
        let source = SourceFile::new("w.json", "{\"a\": 1,\n \"a\": 2}".into());
        let mut warnings = Vec::new();
        let node = parse_document(&source, ConfigFormat::Json, &mut warnings).expect("parses");
        assert_eq!(node.to_json(), serde_json::json!({"a": 2}));
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].line, Some(2));
    }

    #[test]
    fn spans_point_into_original_text() {
        let text = "{\n  // comment\n  \"name\": \"w\",\n}";
        let source = SourceFile::new("w.jsonc", text.into());
        let node = parse_document(&source, ConfigFormat::Jsonc, &mut Vec::new()).expect("parses");
        let entries = node.entries().expect("table");
        assert_eq!(source.line_col(entries[0].key_span.start), (3, 3));
        assert_eq!(&text[entries[0].node.span.clone()], "\"w\"");
    }
}
