//! The URL checks of `_headers` and `_redirects` rules: workers-shared `validateUrl`,
//! `extractPathname` and `urlHasHost` (`utils/configuration/validateURL.ts`). A path is
//! normalised the way `new URL("//" + path, "relative://")` does it: dot segments resolved,
//! characters outside the WHATWG path / query / fragment sets percent-encoded. Pure.

/// What may appear in a rule's URL.
#[derive(Debug, Clone, Copy, Default)]
pub struct UrlRules {
    /// `https://host/...` is refused.
    pub only_relative: bool,
    /// `https://host:port/...` is refused.
    pub disallow_ports: bool,
    /// Keep the `?query`.
    pub include_search: bool,
    /// Keep the `#fragment`.
    pub include_hash: bool,
}

/// Splits `https://` + slashes + host + optional `/` + rest (workers-shared `URL_REGEX`).
fn https_parts(token: &str) -> Option<(&str, &str)> {
    let rest = token.strip_prefix("https:")?;
    let after = rest.trim_start_matches('/');
    if rest.len() - after.len() < 2 {
        return None;
    }
    let end = after.find('/').unwrap_or(after.len());
    let (host, path) = after.split_at(end);
    if host.is_empty() {
        return None;
    }
    Some((host, path.strip_prefix('/').unwrap_or(path)))
}

/// Whether the token is an absolute `https://` URL with a host.
pub fn url_has_host(token: &str) -> bool {
    https_parts(token).is_some()
}

/// The normalised URL of a rule token, or why it is refused.
pub fn validate_url(token: &str, rules: UrlRules) -> Result<String, String> {
    if let Some((host, path)) = https_parts(token) {
        if rules.only_relative {
            return Err(format!(
                "Only relative URLs are allowed. Skipping absolute URL {token}."
            ));
        }
        if rules.disallow_ports && has_port(host) {
            return Err(format!(
                "Specifying ports is not supported. Skipping absolute URL {token}."
            ));
        }
        return Ok(format!("https://{host}{}", extract_pathname(path, rules)));
    }
    let token = if !token.starts_with('/') && rules.only_relative {
        format!("/{token}")
    } else {
        token.to_owned()
    };
    if token.starts_with('/') {
        return Ok(extract_pathname(&token, rules));
    }
    Err(if rules.only_relative {
        "URLs should begin with a forward-slash.".to_owned()
    } else {
        "URLs should either be relative (e.g. begin with a forward-slash), or use HTTPS (e.g. \
         begin with \"https://\")."
            .to_owned()
    })
}

/// `/.*:\d+$/`.
fn has_port(host: &str) -> bool {
    host.rsplit_once(':')
        .is_some_and(|(_, port)| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()))
}

/// The pathname (plus search and hash when asked) of `path` as a URL path.
pub fn extract_pathname(path: &str, rules: UrlRules) -> String {
    let path: String = path
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    let (before_hash, hash) = match path.split_once('#') {
        Some((before, hash)) => (before, Some(hash)),
        None => (path.as_str(), None),
    };
    let (pathname, search) = match before_hash.split_once('?') {
        Some((pathname, search)) => (pathname, Some(search)),
        None => (before_hash, None),
    };
    let mut out = normalise_path(pathname);
    if let Some(search) = search.filter(|s| rules.include_search && !s.is_empty()) {
        out.push('?');
        encode_into(&mut out, search, |c| {
            matches!(c, ' ' | '"' | '#' | '<' | '>')
        });
    }
    if let Some(hash) = hash.filter(|h| rules.include_hash && !h.is_empty()) {
        out.push('#');
        encode_into(&mut out, hash, |c| matches!(c, ' ' | '"' | '<' | '>' | '`'));
    }
    out
}

/// Resolves `.` / `..` segments and percent-encodes the path percent-encode set.
fn normalise_path(pathname: &str) -> String {
    let body = pathname.strip_prefix('/').unwrap_or(pathname);
    let segments: Vec<&str> = body.split('/').collect();
    let mut kept: Vec<String> = Vec::new();
    for (index, segment) in segments.iter().enumerate() {
        let last = index + 1 == segments.len();
        let lower = segment.to_ascii_lowercase().replace("%2e", ".");
        match lower.as_str() {
            ".." => {
                kept.pop();
                if last {
                    kept.push(String::new());
                }
            }
            "." => {
                if last {
                    kept.push(String::new());
                }
            }
            _ => {
                let mut encoded = String::new();
                encode_into(&mut encoded, segment, |c| {
                    matches!(c, ' ' | '"' | '#' | '<' | '>' | '?' | '`' | '{' | '}')
                });
                kept.push(encoded);
            }
        }
    }
    format!("/{}", kept.join("/"))
}

/// Appends `text`, percent-encoding C0 controls, DEL, non-ASCII and what `extra` selects.
fn encode_into(out: &mut String, text: &str, extra: impl Fn(char) -> bool) {
    for c in text.chars() {
        if c.is_ascii() && !c.is_ascii_control() && !extra(c) {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for byte in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{byte:02X}"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FROM: UrlRules = UrlRules {
        only_relative: true,
        disallow_ports: true,
        include_search: false,
        include_hash: false,
    };
    const TO: UrlRules = UrlRules {
        only_relative: false,
        disallow_ports: false,
        include_search: true,
        include_hash: true,
    };

    #[test]
    fn paths_are_normalised_like_the_url_parser() {
        let cases = [
            ("/a/./b/../c", "/a/c"),
            ("/a/..", "/"),
            ("/a/.", "/a/"),
            ("/%2E%2e/x", "/x"),
            ("/a b/é", "/a%20b/%C3%A9"),
            ("/:slug/*", "/:slug/*"),
            ("/x?y=1#z", "/x"),
            ("nolead", "/nolead"),
        ];
        for (input, expected) in cases {
            assert_eq!(
                validate_url(input, FROM).as_deref(),
                Ok(expected),
                "{input}"
            );
        }
    }

    #[test]
    fn targets_keep_their_query_and_fragment_and_may_be_absolute() {
        assert_eq!(
            validate_url("/b?x=1 2#frag", TO).as_deref(),
            Ok("/b?x=1%202#frag")
        );
        assert_eq!(
            validate_url("https://example.com/a/../b", TO).as_deref(),
            Ok("https://example.com/b")
        );
        assert_eq!(
            validate_url("https://example.com", TO).as_deref(),
            Ok("https://example.com/")
        );
        assert_eq!(validate_url("/x?", TO).as_deref(), Ok("/x"));
    }

    #[test]
    fn absolute_sources_ports_and_other_schemes_are_refused() {
        assert_eq!(
            validate_url("https://example.com/a", FROM),
            Err(
                "Only relative URLs are allowed. Skipping absolute URL https://example.com/a."
                    .into()
            )
        );
        let headers = UrlRules {
            disallow_ports: true,
            ..UrlRules::default()
        };
        assert_eq!(
            validate_url("https://example.com:8443/a", headers),
            Err("Specifying ports is not supported. Skipping absolute URL https://example.com:8443/a.".into())
        );
        assert!(
            validate_url("http://example.com/a", TO)
                .is_err_and(|e| e.starts_with("URLs should either be relative"))
        );
        assert!(url_has_host("https://x.dev/"));
        // `https:\/\/+` takes every slash, so a third one still leaves a host.
        assert!(url_has_host("https:///x"));
        assert!(!url_has_host("https://"));
        assert!(!url_has_host("/https://x"));
    }
}
