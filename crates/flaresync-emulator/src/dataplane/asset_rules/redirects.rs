//! `_redirects`: workers-shared `parseRedirects` (`utils/configuration/parseRedirects.ts`).
//! Each line is `from to [status]` (status 200, 301, 302 (default), 303, 307 or 308; an
//! inline `# comment` after whitespace is dropped). Rules before the first splat or
//! placeholder are *static* (at most 2,000), the rest dynamic (at most 100). Duplicates,
//! absolute sources, rules that would loop through the asset worker's `/index` handling and
//! proxies (200) to another host are reported and skipped. Pure.

use super::url::{UrlRules, url_has_host, validate_url};
use super::{Invalid, js_trim, significant_lines};

/// At most this many static rules.
pub const MAX_STATIC_REDIRECT_RULES: usize = 2000;
/// At most this many dynamic (splat or placeholder) rules.
pub const MAX_DYNAMIC_REDIRECT_RULES: usize = 100;
const PERMITTED_STATUS_CODES: &[u16] = &[200, 301, 302, 303, 307, 308];

/// One redirect rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectRule {
    pub from: String,
    pub to: String,
    pub status: u16,
    pub line_number: usize,
}

/// The rules of a `_redirects` file and the lines it ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedRedirects {
    pub rules: Vec<RedirectRule>,
    pub invalid: Vec<Invalid>,
}

/// Whether a source has a splat (`*`) or a placeholder (`:name`).
pub fn is_dynamic(from: &str) -> bool {
    from.contains('*')
        || from
            .match_indices(':')
            .any(|(at, _)| from[at + 1..].starts_with(|c: char| c.is_ascii_alphabetic()))
}

/// Parses a `_redirects` file; `html_handling` is the version's (`None` = the default, on).
pub fn parse_redirects(input: &str, html_handling: Option<&str>) -> ParsedRedirects {
    let lines: Vec<&str> = input.split('\n').collect();
    let mut out = ParsedRedirects::default();
    let mut seen: Vec<String> = Vec::new();
    let (mut statics, mut dynamics) = (0usize, 0usize);
    let mut static_allowed = true;
    for (number, line) in significant_lines(&lines) {
        let line = match line {
            Ok(line) => line,
            Err(too_long) => {
                out.invalid.push(too_long);
                continue;
            }
        };
        let tokens: Vec<&str> = strip_inline_comment(line).split_whitespace().collect();
        if !(2..=3).contains(&tokens.len()) {
            let message = format!(
                "Expected exactly 2 or 3 whitespace-separated tokens. Got {}.",
                tokens.len()
            );
            out.invalid.push(Invalid::at(line, number, message));
            continue;
        }
        let from_rules = UrlRules {
            only_relative: true,
            disallow_ports: true,
            ..UrlRules::default()
        };
        let from = match validate_url(tokens[0], from_rules) {
            Ok(from) => from,
            Err(message) => {
                out.invalid.push(Invalid::at(line, number, message));
                continue;
            }
        };
        if static_allowed && !is_dynamic(&from) {
            statics += 1;
            if statics > MAX_STATIC_REDIRECT_RULES {
                out.invalid.push(Invalid::message(format!(
                    "Maximum number of static rules supported is {MAX_STATIC_REDIRECT_RULES}. Skipping line."
                )));
                continue;
            }
        } else {
            dynamics += 1;
            static_allowed = false;
            if dynamics > MAX_DYNAMIC_REDIRECT_RULES {
                out.invalid.push(Invalid::message(format!(
                    "Maximum number of dynamic rules supported is {MAX_DYNAMIC_REDIRECT_RULES}. Skipping remaining {} lines of file.",
                    lines.len() + 1 - number
                )));
                break;
            }
        }
        match rule(&tokens, from, html_handling, &seen) {
            Ok((from, to, status)) => {
                seen.push(from.clone());
                out.rules.push(RedirectRule {
                    from,
                    to,
                    status,
                    line_number: number,
                });
            }
            Err((message, duplicate_checked)) => {
                if let Some(from) = duplicate_checked {
                    seen.push(from);
                }
                out.invalid.push(Invalid::at(line, number, message));
            }
        }
    }
    out
}

/// The checks after the counting: `(from, to, status)`, or the message and — when the
/// duplicate check already passed — the source to remember as seen.
fn rule(
    tokens: &[&str],
    from: String,
    html_handling: Option<&str>,
    seen: &[String],
) -> Result<(String, String, u16), (String, Option<String>)> {
    let to_rules = UrlRules {
        include_search: true,
        include_hash: true,
        ..UrlRules::default()
    };
    let to = validate_url(tokens[1], to_rules).map_err(|m| (m, None))?;
    let raw_status = tokens.get(2).copied().unwrap_or("302");
    let status = js_number(raw_status)
        .filter(|n| n.fract() == 0.0)
        .and_then(|n| PERMITTED_STATUS_CODES.iter().copied().find(|c| f64::from(*c) == n))
        .ok_or_else(|| {
            (
                format!(
                    "Valid status codes are 200, 301, 302 (default), 303, 307, or 308. Got {raw_status}."
                ),
                None,
            )
        })?;
    let relative = !url_has_host(&to);
    let wildcard_to_index = from.ends_with("/*") && ends_with_index(&to);
    let root_to_index = from.ends_with('/') && ends_with_index(&to);
    if relative && (wildcard_to_index || (root_to_index && html_handling != Some("none"))) {
        return Err(("Infinite loop detected in this rule and has been ignored. This will cause a redirect to strip `.html` or `/index` and end up triggering this rule again. Please fix or remove this rule to silence this warning.".to_owned(), None));
    }
    if seen.contains(&from) {
        return Err((format!("Ignoring duplicate rule for path {from}."), None));
    }
    if status == 200 && url_has_host(&to) {
        return Err((
            format!("Proxy (200) redirects can only point to relative paths. Got {to}"),
            Some(from),
        ));
    }
    Ok((from, to, status))
}

/// `/\/index(.html)?$/` (the `.` matches any character).
fn ends_with_index(to: &str) -> bool {
    if to.ends_with("/index") {
        return true;
    }
    let chars: Vec<char> = to.chars().collect();
    chars.len() >= 11 && {
        let tail: String = chars[chars.len() - 11..].iter().collect();
        tail.starts_with("/index") && tail.ends_with("html")
    }
}

/// `line.replace(/\s+#.*$/, "")`: drops the first whitespace-then-`#` and what follows.
fn strip_inline_comment(line: &str) -> &str {
    let mut in_space_from = None;
    for (at, c) in line.char_indices() {
        if c.is_whitespace() {
            in_space_from.get_or_insert(at);
        } else if c == '#' && in_space_from.is_some() {
            return &line[..in_space_from.unwrap_or(at)];
        } else {
            in_space_from = None;
        }
    }
    line
}

/// JavaScript's `Number(text)` for the forms a status can take (decimal, `0x`/`0o`/`0b`).
fn js_number(text: &str) -> Option<f64> {
    let text = js_trim(text);
    let radix = |prefix: [&str; 2], base: u32| {
        prefix
            .iter()
            .find_map(|p| text.strip_prefix(p))
            .map(|digits| u64::from_str_radix(digits, base).ok().map(|n| n as f64))
    };
    if let Some(parsed) = radix(["0x", "0X"], 16)
        .or_else(|| radix(["0o", "0O"], 8))
        .or_else(|| radix(["0b", "0B"], 2))
    {
        return parsed;
    }
    let finite = text
        .trim_start_matches(['+', '-'])
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'));
    finite.then(|| text.parse::<f64>().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(from: &str, to: &str, status: u16, line_number: usize) -> RedirectRule {
        RedirectRule {
            from: from.into(),
            to: to.into(),
            status,
            line_number,
        }
    }

    #[test]
    fn rules_take_a_default_status_and_drop_inline_comments() {
        let parsed = parse_redirects(
            "# moved\n/old /new 301\n/home /  # back home\n/blog/* https://blog.example.com/:splat 308\n\
             /frag /b#section\n/p/:id /posts/:id 200\n",
            None,
        );
        assert_eq!(parsed.invalid, vec![]);
        assert_eq!(
            parsed.rules,
            vec![
                rule("/old", "/new", 301, 2),
                rule("/home", "/", 302, 3),
                rule("/blog/*", "https://blog.example.com/:splat", 308, 4),
                rule("/frag", "/b#section", 302, 5),
                rule("/p/:id", "/posts/:id", 200, 6),
            ]
        );
    }

    #[test]
    fn bad_rules_are_reported_and_skipped() {
        let parsed = parse_redirects(
            "/a\n/a /b 404\nhttps://x.com/a /b\n/a /b\n/a /c\n/* /index.html\n/ /index\n\
             /p /q 200 extra\n/x https://y.com/x 200\n/x /y\n",
            None,
        );
        let found: Vec<(Option<usize>, &str)> = parsed
            .invalid
            .iter()
            .map(|i| (i.line_number, i.message.as_str()))
            .collect();
        assert_eq!(
            found[0],
            (
                Some(1),
                "Expected exactly 2 or 3 whitespace-separated tokens. Got 1."
            )
        );
        assert_eq!(
            found[1],
            (
                Some(2),
                "Valid status codes are 200, 301, 302 (default), 303, 307, or 308. Got 404."
            )
        );
        assert_eq!(
            found[2],
            (
                Some(3),
                "Only relative URLs are allowed. Skipping absolute URL https://x.com/a."
            )
        );
        assert_eq!(found[3], (Some(5), "Ignoring duplicate rule for path /a."));
        assert!(found[4].1.starts_with("Infinite loop detected") && found[4].0 == Some(6));
        assert!(found[5].1.starts_with("Infinite loop detected") && found[5].0 == Some(7));
        assert_eq!(
            found[6],
            (
                Some(8),
                "Expected exactly 2 or 3 whitespace-separated tokens. Got 4."
            )
        );
        assert_eq!(
            found[7],
            (
                Some(9),
                "Proxy (200) redirects can only point to relative paths. Got https://y.com/x"
            )
        );
        // The refused proxy still claimed its source.
        assert_eq!(found[8], (Some(10), "Ignoring duplicate rule for path /x."));
        assert_eq!(parsed.rules, vec![rule("/a", "/b", 302, 4)]);
        let without_html = parse_redirects("/ /index\n", Some("none"));
        assert_eq!(without_html.rules, vec![rule("/", "/index", 302, 1)]);
    }

    #[test]
    fn static_and_dynamic_limits_apply() {
        let mut text = String::new();
        for i in 0..MAX_STATIC_REDIRECT_RULES + 1 {
            text.push_str(&format!("/s{i} /t\n"));
        }
        for i in 0..MAX_DYNAMIC_REDIRECT_RULES + 3 {
            text.push_str(&format!("/d{i}/* /t\n"));
        }
        let parsed = parse_redirects(&text, None);
        assert_eq!(
            parsed.rules.len(),
            MAX_STATIC_REDIRECT_RULES + MAX_DYNAMIC_REDIRECT_RULES
        );
        let messages: Vec<&str> = parsed.invalid.iter().map(|i| i.message.as_str()).collect();
        assert_eq!(
            messages,
            vec![
                "Maximum number of static rules supported is 2000. Skipping line.",
                // workers-shared counts the empty line after the last newline too.
                "Maximum number of dynamic rules supported is 100. Skipping remaining 4 lines of file.",
            ]
        );
    }

    #[test]
    fn statuses_are_read_as_javascript_numbers() {
        assert_eq!(js_number("301"), Some(301.0));
        assert_eq!(js_number("0x12d"), Some(301.0));
        assert_eq!(js_number("301.0"), Some(301.0));
        assert_eq!(js_number("abc"), None);
        assert!(is_dynamic("/a/:id") && is_dynamic("/a/*") && !is_dynamic("/a/:1"));
    }
}
