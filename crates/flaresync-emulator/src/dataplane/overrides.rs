//! `Cloudflare-Workers-Version-Overrides`: an RFC 8941 Dictionary whose keys are Worker names
//! and whose values are sf-Strings holding a version id (SPEC-2 §6.3).
//!
//! The parser follows RFC 8941 §4.2.2 (dictionary) closely enough to reject what Cloudflare
//! would not parse: a header that fails to parse is ignored as a whole, so [`parse`] returns an
//! error and the caller routes normally. Members whose value is not a String (tokens, numbers,
//! inner lists, ...) parse but pin nothing. Parameters are accepted and ignored.

use std::collections::BTreeMap;

/// Why a header did not parse (only reported in tests and traces; the request is not failed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid structured-field dictionary at byte {at}: {what}")]
pub struct ParseError {
    pub at: usize,
    pub what: &'static str,
}

/// A dictionary member's value, as far as routing cares.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Member {
    Text(String),
    Other,
}

struct Parser<'a> {
    input: &'a [u8],
    at: usize,
}

/// Parses the header into Worker name -> version id (only the String-valued members; the last
/// occurrence of a key wins, as RFC 8941 says).
pub fn parse(header: &str) -> Result<BTreeMap<String, String>, ParseError> {
    let mut parser = Parser {
        input: header.as_bytes(),
        at: 0,
    };
    let mut members = BTreeMap::new();
    parser.skip_spaces();
    while !parser.done() {
        let key = parser.key()?;
        let value = if parser.eat(b'=') {
            parser.member_value()?
        } else {
            parser.parameters()?;
            Member::Other
        };
        members.insert(key, value);
        parser.skip_ows();
        if parser.done() {
            break;
        }
        if !parser.eat(b',') {
            return Err(parser.error("expected ','"));
        }
        parser.skip_ows();
        if parser.done() {
            return Err(parser.error("trailing ','"));
        }
    }
    Ok(members
        .into_iter()
        .filter_map(|(key, value)| match value {
            Member::Text(text) => Some((key, text)),
            Member::Other => None,
        })
        .collect())
}

impl Parser<'_> {
    fn done(&self) -> bool {
        self.at >= self.input.len()
    }

    fn peek(&self) -> Option<u8> {
        self.input.get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        if self.peek() == Some(byte) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn error(&self, what: &'static str) -> ParseError {
        ParseError { at: self.at, what }
    }

    fn skip_spaces(&mut self) {
        while self.peek() == Some(b' ') {
            self.at += 1;
        }
    }

    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.at += 1;
        }
    }

    fn take_while(&mut self, keep: impl Fn(u8) -> bool) -> &str {
        let start = self.at;
        while self.peek().is_some_and(&keep) {
            self.at += 1;
        }
        // Only ASCII bytes are ever kept, so the slice is valid UTF-8.
        std::str::from_utf8(&self.input[start..self.at]).unwrap_or_default()
    }

    /// key = ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" )
    fn key(&mut self) -> Result<String, ParseError> {
        if !self
            .peek()
            .is_some_and(|b| b.is_ascii_lowercase() || b == b'*')
        {
            return Err(self.error("a key starts with a lowercase letter or '*'"));
        }
        Ok(self
            .take_while(|b| {
                b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || matches!(b, b'_' | b'-' | b'.' | b'*')
            })
            .to_owned())
    }

    fn member_value(&mut self) -> Result<Member, ParseError> {
        if self.peek() == Some(b'(') {
            self.inner_list()?;
            return Ok(Member::Other);
        }
        let item = self.bare_item()?;
        self.parameters()?;
        Ok(item)
    }

    fn inner_list(&mut self) -> Result<(), ParseError> {
        self.at += 1;
        loop {
            self.skip_spaces();
            if self.eat(b')') {
                return self.parameters();
            }
            self.bare_item()?;
            self.parameters()?;
            if !matches!(self.peek(), Some(b' ' | b')')) {
                return Err(self.error("expected ' ' or ')' in an inner list"));
            }
        }
    }

    fn parameters(&mut self) -> Result<(), ParseError> {
        while self.eat(b';') {
            self.skip_spaces();
            self.key()?;
            if self.eat(b'=') {
                self.bare_item()?;
            }
        }
        Ok(())
    }

    fn bare_item(&mut self) -> Result<Member, ParseError> {
        match self.peek() {
            Some(b'"') => self.string().map(Member::Text),
            Some(b'-' | b'0'..=b'9') => self.number().map(|()| Member::Other),
            Some(b':') => self.byte_sequence().map(|()| Member::Other),
            Some(b'?') => self.boolean().map(|()| Member::Other),
            Some(b) if b.is_ascii_alphabetic() || b == b'*' => {
                self.take_while(|b| b.is_ascii_alphanumeric() || b":/!#$%&'*+-.^_`|~".contains(&b));
                Ok(Member::Other)
            }
            _ => Err(self.error("expected an item")),
        }
    }

    fn string(&mut self) -> Result<String, ParseError> {
        self.at += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return Err(self.error("unterminated string")),
                Some(b'"') => {
                    self.at += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.at += 1;
                    match self.peek() {
                        Some(c @ (b'"' | b'\\')) => out.push(char::from(c)),
                        _ => return Err(self.error("bad escape in string")),
                    }
                }
                Some(c @ 0x20..=0x7e) => out.push(char::from(c)),
                Some(_) => return Err(self.error("non-printable byte in string")),
            }
            self.at += 1;
        }
    }

    fn number(&mut self) -> Result<(), ParseError> {
        self.eat(b'-');
        let int = self.take_while(|b| b.is_ascii_digit()).len();
        if int == 0 || int > 15 {
            return Err(self.error("bad number"));
        }
        if self.eat(b'.') {
            let frac = self.take_while(|b| b.is_ascii_digit()).len();
            if int > 12 || frac == 0 || frac > 3 {
                return Err(self.error("bad decimal"));
            }
        }
        Ok(())
    }

    fn byte_sequence(&mut self) -> Result<(), ParseError> {
        self.at += 1;
        self.take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
        if self.eat(b':') {
            Ok(())
        } else {
            Err(self.error("unterminated byte sequence"))
        }
    }

    fn boolean(&mut self) -> Result<(), ParseError> {
        self.at += 1;
        if self.eat(b'0') || self.eat(b'1') {
            Ok(())
        } else {
            Err(self.error("bad boolean"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pins(header: &str) -> Vec<(String, String)> {
        parse(header).expect("parses").into_iter().collect()
    }

    #[test]
    fn reads_string_members_and_ignores_the_rest() {
        let id = "dc8dcd28-271b-4367-9840-6c244f84cb40";
        assert_eq!(
            pins(&format!("my-worker=\"{id}\"")),
            vec![("my-worker".to_owned(), id.to_owned())]
        );
        assert_eq!(
            pins("a=\"1\";p=2, b=tok, c, d=(\"x\" 2);q, e=?1, f=:YWJj:, g=-1.5"),
            vec![("a".to_owned(), "1".to_owned())]
        );
        assert_eq!(
            pins("a=\"1\", a=\"2\""),
            vec![("a".to_owned(), "2".to_owned())]
        );
        assert_eq!(
            pins("  x=\"q\\\"uote\""),
            vec![("x".to_owned(), "q\"uote".to_owned())]
        );
        assert!(pins("").is_empty());
    }

    #[test]
    fn rejects_what_rfc_8941_rejects() {
        for bad in [
            "Worker=\"v\"",
            "1w=\"v\"",
            "a=\"unterminated",
            "a=\"v\",",
            "a=\"v\" b=\"w\"",
            "a=",
            "a=\"\\n\"",
            "a=1234567890123456",
            "a=(\"x\"",
            "a=?2",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should not parse");
        }
    }
}
