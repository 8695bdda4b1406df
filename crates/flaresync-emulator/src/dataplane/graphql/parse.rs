//! A small GraphQL query-document parser: one operation (`query Name($v: T) { ... }` or a bare
//! selection set), fields with aliases, arguments and nested selections, and every input value
//! kind (variables, strings, numbers, booleans, null, enums, lists, objects). Fragments,
//! directives and mutations are refused with a GraphQL error. Pure.

use serde_json::{Map, Number, Value};

/// A selected field.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub alias: Option<String>,
    pub name: String,
    pub arguments: Vec<(String, Value)>,
    pub selections: Vec<Field>,
}

impl Field {
    /// The key of this field in the answer.
    pub fn key(&self) -> &str {
        self.alias.as_deref().unwrap_or(&self.name)
    }

    pub fn argument(&self, name: &str) -> Option<&Value> {
        self.arguments
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }
}

/// A parse error, rendered as a GraphQL error message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SyntaxError(pub String);

struct Parser<'a> {
    text: &'a [u8],
    at: usize,
    variables: &'a Map<String, Value>,
}

/// Parses `query` with `variables` substituted; returns the top-level selections.
pub fn parse(query: &str, variables: &Map<String, Value>) -> Result<Vec<Field>, SyntaxError> {
    let mut p = Parser {
        text: query.as_bytes(),
        at: 0,
        variables,
    };
    p.skip();
    if p.peek() != Some(b'{') {
        let keyword = p.name()?;
        if keyword != "query" {
            return Err(SyntaxError(format!(
                "operation {keyword:?} is not supported: only queries are"
            )));
        }
        p.skip();
        if p.peek().is_some_and(is_name_start) {
            p.name()?;
        }
        p.skip();
        if p.eat(b'(') {
            p.variable_definitions()?;
        }
    }
    let fields = p.selection_set()?;
    p.skip();
    if p.at < p.text.len() {
        return Err(p.error("only one operation per document is supported"));
    }
    Ok(fields)
}

fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        self.skip();
        if self.peek() == Some(b) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, b: u8) -> Result<(), SyntaxError> {
        if self.eat(b) {
            Ok(())
        } else {
            Err(self.error(&format!("expected {:?}", char::from(b))))
        }
    }

    fn error(&self, what: &str) -> SyntaxError {
        SyntaxError(format!("Syntax Error: {what} at offset {}", self.at))
    }

    /// Skips whitespace, commas and comments.
    fn skip(&mut self) {
        while let Some(b) = self.peek() {
            match b {
                b' ' | b'\t' | b'\n' | b'\r' | b',' => self.at += 1,
                b'#' => {
                    while self.peek().is_some_and(|c| c != b'\n') {
                        self.at += 1;
                    }
                }
                _ => break,
            }
        }
    }

    fn name(&mut self) -> Result<String, SyntaxError> {
        self.skip();
        let start = self.at;
        if !self.peek().is_some_and(is_name_start) {
            return Err(self.error("expected a name"));
        }
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            self.at += 1;
        }
        Ok(String::from_utf8_lossy(&self.text[start..self.at]).into_owned())
    }

    /// `($a: Type! = default, ...)`: names and types are skipped (values come from variables).
    fn variable_definitions(&mut self) -> Result<(), SyntaxError> {
        while !self.eat(b')') {
            self.expect(b'$')?;
            self.name()?;
            self.expect(b':')?;
            self.skip_type()?;
            if self.eat(b'=') {
                self.value()?;
            }
        }
        Ok(())
    }

    fn skip_type(&mut self) -> Result<(), SyntaxError> {
        if self.eat(b'[') {
            self.skip_type()?;
            self.expect(b']')?;
        } else {
            self.name()?;
        }
        self.eat(b'!');
        Ok(())
    }

    fn selection_set(&mut self) -> Result<Vec<Field>, SyntaxError> {
        self.expect(b'{')?;
        let mut fields = Vec::new();
        while !self.eat(b'}') {
            if self.peek().is_none() {
                return Err(self.error("unterminated selection set"));
            }
            if self.eat(b'.') || self.eat(b'@') {
                return Err(self.error("fragments and directives are not supported"));
            }
            fields.push(self.field()?);
        }
        Ok(fields)
    }

    fn field(&mut self) -> Result<Field, SyntaxError> {
        let first = self.name()?;
        let (alias, name) = if self.eat(b':') {
            (Some(first), self.name()?)
        } else {
            (None, first)
        };
        let mut arguments = Vec::new();
        if self.eat(b'(') {
            while !self.eat(b')') {
                let arg = self.name()?;
                self.expect(b':')?;
                arguments.push((arg, self.value()?));
            }
        }
        self.skip();
        let selections = if self.peek() == Some(b'{') {
            self.selection_set()?
        } else {
            Vec::new()
        };
        Ok(Field {
            alias,
            name,
            arguments,
            selections,
        })
    }

    fn value(&mut self) -> Result<Value, SyntaxError> {
        self.skip();
        match self.peek() {
            Some(b'$') => {
                self.at += 1;
                let name = self.name()?;
                Ok(self.variables.get(&name).cloned().unwrap_or(Value::Null))
            }
            Some(b'"') => self.string().map(Value::String),
            Some(b'[') => {
                self.at += 1;
                let mut items = Vec::new();
                while !self.eat(b']') {
                    items.push(self.value()?);
                }
                Ok(Value::Array(items))
            }
            Some(b'{') => {
                self.at += 1;
                let mut object = Map::new();
                while !self.eat(b'}') {
                    let key = self.name()?;
                    self.expect(b':')?;
                    object.insert(key, self.value()?);
                }
                Ok(Value::Object(object))
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b) if is_name_start(b) => Ok(match self.name()?.as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                "null" => Value::Null,
                other => Value::String(other.to_owned()),
            }),
            _ => Err(self.error("expected a value")),
        }
    }

    fn string(&mut self) -> Result<String, SyntaxError> {
        self.at += 1;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None | Some(b'\n') => return Err(self.error("unterminated string")),
                Some(b'"') => {
                    self.at += 1;
                    return Ok(String::from_utf8_lossy(&out).into_owned());
                }
                Some(b'\\') => {
                    self.at += 1;
                    let escaped = match self.peek() {
                        Some(b'n') => b'\n',
                        Some(b't') => b'\t',
                        Some(c @ (b'"' | b'\\' | b'/')) => c,
                        _ => return Err(self.error("unsupported escape in string")),
                    };
                    out.push(escaped);
                }
                Some(c) => out.push(c),
            }
            self.at += 1;
        }
    }

    fn number(&mut self) -> Result<Value, SyntaxError> {
        let start = self.at;
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'))
        {
            self.at += 1;
        }
        let text = String::from_utf8_lossy(&self.text[start..self.at]).into_owned();
        if let Ok(int) = text.parse::<i64>() {
            return Ok(Value::from(int));
        }
        text.parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| self.error("bad number"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_the_canary_query_with_variables() {
        let query = r#"query Canary($a: string!, $v: [string!], $t0: Time!) { viewer {
          accounts(filter: {accountTag: $a}) {
            rows: workersInvocationsAdaptive(limit: 100, filter: {scriptVersion_in: $v, datetime_geq: $t0, status: "success"}) {
              sum { requests errors } # comment
              dimensions { scriptVersion }
            } } } }"#;
        let vars = json!({"a": "acc", "v": ["x"], "t0": "2026-01-01T00:00:00Z"});
        let fields = parse(query, vars.as_object().expect("object")).expect("parses");
        let accounts = &fields[0].selections[0];
        assert_eq!(
            accounts.argument("filter"),
            Some(&json!({"accountTag": "acc"}))
        );
        let rows = &accounts.selections[0];
        assert_eq!(rows.key(), "rows");
        assert_eq!(rows.name, "workersInvocationsAdaptive");
        assert_eq!(rows.argument("limit"), Some(&json!(100)));
        assert_eq!(
            rows.argument("filter"),
            Some(
                &json!({"scriptVersion_in": ["x"], "datetime_geq": "2026-01-01T00:00:00Z", "status": "success"})
            )
        );
        assert_eq!(rows.selections[0].selections.len(), 2);
    }

    #[test]
    fn refuses_what_it_does_not_support() {
        let none = Map::new();
        assert!(parse("mutation { x }", &none).is_err());
        assert!(parse("{ viewer { ...F } }", &none).is_err());
        assert!(parse("{ viewer { a(b: ) } }", &none).is_err());
        assert!(parse("{ viewer ", &none).is_err());
        assert!(parse("{ a } { b }", &none).is_err());
    }
}
