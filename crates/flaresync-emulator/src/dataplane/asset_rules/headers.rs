//! `_headers`: workers-shared `parseHeaders` (`utils/configuration/parseHeaders.ts`). A path
//! line (`/…` or `scheme://…`) opens a rule; `name: value` lines set headers on it (repeated
//! names are joined with `, `), `! name` lines unset one. At most 100 rules and 2,000
//! characters per line; a rule without headers, a bad path and a path with two wildcards are
//! reported and skipped. Pure.

use super::url::{UrlRules, validate_url};
use super::{Invalid, js_trim, significant_lines};

/// At most this many rules.
pub const MAX_HEADER_RULES: usize = 100;
const UNSET_OPERATOR: &str = "! ";

/// One rule: headers to set (in file order) and headers to remove on `path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadersRule {
    pub path: String,
    pub set: Vec<(String, String)>,
    pub unset: Vec<String>,
}

/// The rules of a `_headers` file and the lines it ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedHeaders {
    pub rules: Vec<HeadersRule>,
    pub invalid: Vec<Invalid>,
}

struct Pending {
    rule: HeadersRule,
    line: String,
}

/// `LINE_IS_PROBABLY_A_PATH`: `/…`, or non-blank characters followed by `://`.
fn is_path_line(line: &str) -> bool {
    line.starts_with('/')
        || line
            .find("://")
            .is_some_and(|at| at > 0 && !line[..at].chars().any(char::is_whitespace))
}

/// Parses a `_headers` file.
pub fn parse_headers(input: &str) -> ParsedHeaders {
    let lines: Vec<&str> = input.split('\n').collect();
    let mut out = ParsedHeaders::default();
    let mut pending: Option<Pending> = None;
    let mut skip_until_next_path = false;
    for (number, line) in significant_lines(&lines) {
        let line = match line {
            Ok(line) => line,
            Err(too_long) => {
                out.invalid.push(too_long);
                continue;
            }
        };
        if is_path_line(line) {
            skip_until_next_path = false;
            if out.rules.len() >= MAX_HEADER_RULES {
                out.invalid.push(Invalid::message(format!(
                    "Maximum number of rules supported is {MAX_HEADER_RULES}. Skipping remaining {} lines of file.",
                    lines.len() + 1 - number
                )));
                break;
            }
            if let Some(previous) = pending.take() {
                commit(&mut out, previous, Some(number));
            }
            match open_rule(line) {
                Ok(path) => {
                    pending = Some(Pending {
                        rule: HeadersRule {
                            path,
                            set: Vec::new(),
                            unset: Vec::new(),
                        },
                        line: line.to_owned(),
                    });
                }
                Err(message) => {
                    out.invalid.push(Invalid::at(line, number, message));
                    skip_until_next_path = true;
                }
            }
            continue;
        }
        if !skip_until_next_path {
            header_line(&mut out, pending.as_mut(), line, number);
        }
    }
    if let Some(last) = pending {
        commit(&mut out, last, None);
    }
    out
}

/// The rule's path, or why the path line is refused.
fn open_rule(line: &str) -> Result<String, String> {
    let rules = UrlRules {
        disallow_ports: true,
        ..UrlRules::default()
    };
    let path = validate_url(line, rules)?;
    let wildcards = path.matches('*').count();
    if wildcards > 1 {
        return Err(format!(
            "Only one wildcard is allowed per rule. Use a named placeholder (e.g. :project) instead. Skipping {path}."
        ));
    }
    if wildcards > 0 && has_splat_placeholder(&path) {
        return Err(format!(
            "Cannot combine a wildcard * with a :splat placeholder because wildcards are converted to :splat at runtime. Skipping {path}."
        ));
    }
    Ok(path)
}

/// `/:splat(?!\w)/`.
fn has_splat_placeholder(path: &str) -> bool {
    path.match_indices(":splat").any(|(at, _)| {
        path[at + ":splat".len()..]
            .chars()
            .next()
            .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'))
    })
}

fn commit(out: &mut ParsedHeaders, pending: Pending, number: Option<usize>) {
    if pending.rule.set.is_empty() && pending.rule.unset.is_empty() {
        out.invalid.push(Invalid {
            line: Some(pending.line),
            line_number: number,
            message: "No headers specified".to_owned(),
        });
    } else {
        out.rules.push(pending.rule);
    }
}

/// A `name: value` or `! name` line.
fn header_line(out: &mut ParsedHeaders, rule: Option<&mut Pending>, line: &str, number: usize) {
    let Some((raw_name, raw_value)) = line.split_once(':') else {
        let message = match rule {
            None => "Expected a path beginning with at least one forward-slash",
            Some(pending) if line.starts_with(UNSET_OPERATOR) => {
                pending
                    .rule
                    .unset
                    .push(line.replacen(UNSET_OPERATOR, "", 1));
                return;
            }
            Some(_) => "Expected a colon-separated header pair (e.g. name: value)",
        };
        out.invalid.push(Invalid::at(line, number, message));
        return;
    };
    let name = js_trim(raw_name).to_lowercase();
    let value = js_trim(raw_value);
    let problem = if name.contains(' ') {
        Some("Header name cannot include spaces".to_owned())
    } else if name.is_empty() {
        Some("No header name specified".to_owned())
    } else if value.is_empty() {
        Some("No header value specified".to_owned())
    } else if rule.is_none() {
        Some(format!("Path should come before header ({name}: {value})"))
    } else {
        None
    };
    match (problem, rule) {
        (Some(message), _) => out.invalid.push(Invalid::at(line, number, message)),
        (None, Some(pending)) => match pending.rule.set.iter_mut().find(|(n, _)| *n == name) {
            Some((_, existing)) => *existing = format!("{existing}, {value}"),
            None => pending.rule.set.push((name, value.to_owned())),
        },
        (None, None) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::super::MAX_LINE_LENGTH;
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn rules_collect_their_headers_joining_repeated_names() {
        let parsed = parse_headers(
            "# comment\n/secure/*\n  X-Frame-Options: DENY\nLink: </a.css>; rel=preload\nlink: </b.js>\n\
             ! Access-Control-Allow-Origin\n\nhttps://example.com/api/:id\nCache-Control: max-age=0: odd\n",
        );
        assert_eq!(parsed.invalid, vec![]);
        assert_eq!(
            parsed.rules,
            vec![
                HeadersRule {
                    path: "/secure/*".into(),
                    set: pairs(&[
                        ("x-frame-options", "DENY"),
                        ("link", "</a.css>; rel=preload, </b.js>")
                    ]),
                    unset: vec!["Access-Control-Allow-Origin".into()],
                },
                HeadersRule {
                    path: "https://example.com/api/:id".into(),
                    set: pairs(&[("cache-control", "max-age=0: odd")]),
                    unset: vec![],
                },
            ]
        );
    }

    #[test]
    fn bad_lines_are_reported_with_their_line_numbers() {
        let parsed = parse_headers(
            "X-Early: 1\n/empty\n/ok\nno colon\nBad Name: x\n: novalue\nX-None:\n/a/*/b/*\nX-Skipped: 1\n/c/*/:splat\n",
        );
        let found: Vec<(Option<usize>, &str)> = parsed
            .invalid
            .iter()
            .map(|i| (i.line_number, i.message.as_str()))
            .collect();
        assert_eq!(
            found,
            vec![
                (Some(1), "Path should come before header (x-early: 1)"),
                (Some(3), "No headers specified"),
                (
                    Some(4),
                    "Expected a colon-separated header pair (e.g. name: value)"
                ),
                (Some(5), "Header name cannot include spaces"),
                (Some(6), "No header name specified"),
                (Some(7), "No header value specified"),
                (Some(8), "No headers specified"),
                (
                    Some(8),
                    "Only one wildcard is allowed per rule. Use a named placeholder (e.g. :project) instead. Skipping /a/*/b/*."
                ),
                (
                    Some(10),
                    "Cannot combine a wildcard * with a :splat placeholder because wildcards are converted to :splat at runtime. Skipping /c/*/:splat."
                ),
            ]
        );
        assert!(parsed.rules.is_empty());
    }

    #[test]
    fn the_rule_and_line_length_limits_apply() {
        let mut text = String::new();
        for i in 0..105 {
            text.push_str(&format!("/p{i}\nX-I: {i}\n"));
        }
        let parsed = parse_headers(&text);
        // workers-shared checks the limit before committing the open rule, so one more lands.
        assert_eq!(parsed.rules.len(), MAX_HEADER_RULES + 1);
        assert!(
            parsed.invalid[0]
                .message
                .starts_with("Maximum number of rules supported is 100.")
        );
        let long = format!("/a\nX-Long: {}\n", "v".repeat(MAX_LINE_LENGTH));
        let parsed = parse_headers(&long);
        assert_eq!(
            parsed.invalid[0].message,
            "Ignoring line 2 as it exceeds the maximum allowed length of 2000."
        );
    }
}
