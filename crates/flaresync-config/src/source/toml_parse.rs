//! TOML documents -> [`Node`]s with spans, read as TOML 1.0 like wrangler (multi-line inline
//! tables are refused although the `toml` crate accepts TOML 1.1).

use std::ops::Range;

use super::{Entry, Node, SourceFile, Val};
use crate::error::ConfigError;

pub(super) fn parse_toml(source: &SourceFile) -> Result<Node, ConfigError> {
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

#[cfg(test)]
mod tests {
    use super::super::{ConfigFormat, SourceFile, parse_document};

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
}
