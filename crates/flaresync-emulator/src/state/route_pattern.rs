//! Route patterns as Cloudflare reads them (https://developers.cloudflare.com/workers/configuration/routing/routes/):
//! `[scheme://]host[/path]`, where the host may start with `*` (`*example.com`: the zone and
//! every subdomain) or `*.` (`*.example.com`: subdomains only), and the path may end with `*`
//! (a prefix). Pure: parsing, whether a pattern belongs to a zone, whether it matches a
//! request, and which of several matching patterns is the most specific.
//!
//! Emulator choices: the scheme of a pattern is accepted but not matched (the local data plane
//! speaks plain HTTP and stands in for both); a pattern without a path matches `/` only.

/// A parsed route pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutePattern {
    /// The host without its wildcard prefix, lowercase.
    pub host: String,
    pub host_wildcard: HostWildcard,
    /// The path without its trailing `*` (starts with `/`).
    pub path: String,
    /// Whether the path ends with `*` (a prefix match).
    pub path_prefix: bool,
}

/// The wildcard in front of a pattern's host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum HostWildcard {
    /// `*example.com`: the host itself and every subdomain.
    AnyPrefix,
    /// `*.example.com`: subdomains only.
    Subdomains,
    /// `example.com`: exactly this host.
    Exact,
}

/// Why a pattern cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidPattern(pub String);

impl RoutePattern {
    /// Parses `pattern`, refusing what Cloudflare refuses: an empty pattern or host, a host-less
    /// pattern (`*/…`), whitespace, a scheme other than http(s), `*` inside the host or path.
    pub fn parse(pattern: &str) -> Result<Self, InvalidPattern> {
        let invalid = |why: &str| InvalidPattern(format!("route pattern {pattern:?} {why}"));
        if pattern.is_empty() || pattern.chars().any(char::is_whitespace) {
            return Err(invalid("is empty or contains whitespace"));
        }
        let rest = match pattern.split_once("://") {
            Some(("http" | "https", rest)) => rest,
            Some(_) => return Err(invalid("has a scheme other than http:// or https://")),
            None => pattern,
        };
        let (host, path) = match rest.find('/') {
            Some(at) => (&rest[..at], &rest[at..]),
            None => (rest, "/"),
        };
        let (host_wildcard, host) = if let Some(rest) = host.strip_prefix("*.") {
            (HostWildcard::Subdomains, rest)
        } else if let Some(rest) = host.strip_prefix('*') {
            (HostWildcard::AnyPrefix, rest)
        } else {
            (HostWildcard::Exact, host)
        };
        let host = host
            .split(':')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let host_ok = !host.is_empty()
            && host.contains('.')
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
        if !host_ok {
            return Err(invalid(
                "needs a host name such as example.com (without `*` inside)",
            ));
        }
        let (path, path_prefix) = match path.strip_suffix('*') {
            Some(prefix) => (prefix, true),
            None => (path, false),
        };
        if path.contains('*') {
            return Err(invalid(
                "may have `*` only at the start of the host and the end of the path",
            ));
        }
        Ok(RoutePattern {
            host,
            host_wildcard,
            path: path.to_owned(),
            path_prefix,
        })
    }

    /// Whether the pattern's host lies in the zone `zone` (the zone apex or a subdomain of it).
    pub fn in_zone(&self, zone: &str) -> bool {
        host_in_zone(&self.host, zone)
    }

    /// Whether a request for `host` and `path` (no query) matches.
    pub fn matches(&self, host: &str, path: &str) -> bool {
        let host = host.to_ascii_lowercase();
        let host_ok = match self.host_wildcard {
            HostWildcard::Exact => host == self.host,
            HostWildcard::Subdomains => host
                .strip_suffix(&self.host)
                .is_some_and(|rest| rest.len() > 1 && rest.ends_with('.')),
            HostWildcard::AnyPrefix => host_in_zone(&host, &self.host),
        };
        let path_ok = if self.path_prefix {
            path.starts_with(&self.path)
        } else {
            path == self.path
        };
        host_ok && path_ok
    }

    /// How specific the pattern is: larger wins. An exact host beats a wildcard, a longer host
    /// beats a shorter one, then a longer path, then an exact path over a prefix.
    pub fn specificity(&self) -> (HostWildcard, usize, usize, bool) {
        (
            self.host_wildcard,
            self.host.len(),
            self.path.len(),
            !self.path_prefix,
        )
    }
}

/// Whether `host` is the zone apex `zone` or one of its subdomains.
pub fn host_in_zone(host: &str, zone: &str) -> bool {
    let (host, zone) = (host.to_ascii_lowercase(), zone.to_ascii_lowercase());
    host == zone
        || host
            .strip_suffix(&zone)
            .is_some_and(|rest| rest.ends_with('.'))
}

/// Of `patterns` (pattern, owner), the owner of the most specific one matching `host`/`path`.
/// `None` when nothing matches; `Some(None)` when the winning route has no Worker (Workers
/// are off there).
pub fn most_specific<'a, T>(
    patterns: &'a [(RoutePattern, Option<T>)],
    host: &str,
    path: &str,
) -> Option<Option<&'a T>> {
    patterns
        .iter()
        .filter(|(pattern, _)| pattern.matches(host, path))
        .max_by_key(|(pattern, _)| pattern.specificity())
        .map(|(_, owner)| owner.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> RoutePattern {
        RoutePattern::parse(text).expect("a valid pattern")
    }

    #[test]
    fn wildcard_hosts_and_paths_match_as_cloudflare_documents() {
        let any = parse("*example.com/*");
        assert!(any.matches("example.com", "/"));
        assert!(any.matches("a.b.example.com", "/x"));
        assert!(!any.matches("example.org", "/"));
        let subs = parse("*.example.com/api/*");
        assert!(subs.matches("api.example.com", "/api/users"));
        assert!(!subs.matches("example.com", "/api/users"));
        assert!(!subs.matches("api.example.com", "/other"));
        let exact = parse("https://shop.example.com/cart");
        assert!(exact.matches("SHOP.example.com", "/cart"));
        assert!(!exact.matches("shop.example.com", "/cart/1"));
        assert!(parse("example.com").matches("example.com", "/"));
    }

    #[test]
    fn bad_patterns_are_refused_with_the_pattern_named() {
        for bad in [
            "",
            "*/*",
            "ftp://example.com/*",
            "exa*mple.com/*",
            "example.com/a*b",
            "a b.com/*",
            "localhost/*",
        ] {
            let error = RoutePattern::parse(bad).expect_err(bad);
            assert!(error.0.contains(&format!("{bad:?}")), "{error:?}");
        }
    }

    #[test]
    fn zone_membership_needs_a_label_boundary() {
        assert!(parse("api.example.com/*").in_zone("example.com"));
        assert!(parse("*example.com/*").in_zone("example.com"));
        assert!(!parse("badexample.com/*").in_zone("example.com"));
        assert!(!parse("example.com/*").in_zone("api.example.com"));
    }

    #[test]
    fn the_most_specific_matching_route_wins() {
        let routes = vec![
            (parse("*example.com/*"), Some("catch-all")),
            (parse("api.example.com/*"), Some("api")),
            (parse("api.example.com/v2/*"), Some("v2")),
            (parse("api.example.com/off/*"), None),
        ];
        let owner = |host: &str, path: &str| most_specific(&routes, host, path);
        assert_eq!(owner("www.example.com", "/"), Some(Some(&"catch-all")));
        assert_eq!(owner("api.example.com", "/v1/x"), Some(Some(&"api")));
        assert_eq!(owner("api.example.com", "/v2/x"), Some(Some(&"v2")));
        assert_eq!(owner("api.example.com", "/off/x"), Some(None));
        assert_eq!(owner("example.org", "/"), None);
    }
}
