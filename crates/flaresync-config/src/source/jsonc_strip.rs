//! JSONC -> JSON without moving a byte: comments and trailing commas become spaces, so
//! positions in the result are positions in the original text.

use std::ops::Range;

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
}
