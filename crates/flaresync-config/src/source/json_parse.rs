//! JSON(C) documents -> [`Node`]s with spans. `serde_json` (on the stripped text) gives the
//! syntax errors; a small reader over the validated text records the spans.

use super::{ConfigFormat, Entry, Node, SourceFile, Val, strip_jsonc};
use crate::error::{ConfigError, Warning};

pub(super) fn parse_jsonc(
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
            Some(b'{') => Val::Table(self.object()?),
            Some(b'[') => {
                let mut items = Vec::new();
                self.list(b']', |r| {
                    items.push(r.value()?);
                    Ok(())
                })?;
                Val::Array(items)
            }
            Some(b'"') => Val::Str(self.string()?),
            Some(b't') => self.literal("true", Val::Bool(true))?,
            Some(b'f') => self.literal("false", Val::Bool(false))?,
            Some(b'n') => self.literal("null", Val::Null)?,
            Some(b'-' | b'0'..=b'9') => self.number()?,
            _ => return Err(self.pos),
        };
        Ok(Node {
            span: start..self.pos,
            value,
        })
    }

    /// The items of an array or object at `pos` (its opening bracket), separated by commas
    /// and closed by `close`; `item` reads one.
    fn list(
        &mut self,
        close: u8,
        mut item: impl FnMut(&mut Self) -> Result<(), usize>,
    ) -> Result<(), usize> {
        self.pos += 1;
        self.skip_ws();
        if self.text.get(self.pos) == Some(&close) {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.skip_ws();
            item(self)?;
            self.skip_ws();
            match self.text.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(c) if *c == close => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.pos),
            }
        }
    }

    /// An object's entries; a duplicate key warns and the later value wins (as in wrangler).
    fn object(&mut self) -> Result<Vec<Entry>, usize> {
        let mut entries: Vec<Entry> = Vec::new();
        self.list(b'}', |r| {
            let key_start = r.pos;
            let key = r.string()?;
            let key_span = key_start..r.pos;
            r.skip_ws();
            if r.text.get(r.pos) != Some(&b':') {
                return Err(r.pos);
            }
            r.pos += 1;
            r.skip_ws();
            let node = r.value()?;
            if let Some(previous) = entries.iter().position(|e| e.key == key) {
                let (line, col) = r.source.line_col(entries[previous].key_span.start);
                r.warnings.push(Warning::at(
                    &r.source.location(key_start),
                    format!(
                        "duplicate key {key:?} (first at line {line}, column {col}); the later \
                         value wins, as in wrangler; remove one of them"
                    ),
                ));
                entries.remove(previous);
            }
            entries.push(Entry {
                key,
                key_span,
                node,
            });
            Ok(())
        })?;
        Ok(entries)
    }

    fn number(&mut self) -> Result<Val, usize> {
        let start = self.pos;
        while self
            .text
            .get(self.pos)
            .is_some_and(|b| matches!(b, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'))
        {
            self.pos += 1;
        }
        let text = std::str::from_utf8(&self.text[start..self.pos]).map_err(|_| start)?;
        match text.parse::<i64>() {
            Ok(i) => Ok(Val::Int(i)),
            Err(_) => match serde_json::from_str::<serde_json::Number>(text) {
                Ok(n) => Ok(Val::Num(n)),
                Err(_) => Err(start),
            },
        }
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
    use super::super::{ConfigFormat, SourceFile, parse_document};

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
