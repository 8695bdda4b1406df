//! Cloudflare's rate-limit headers, sent on every answer since 2025-09-03 (SPEC.md §1.3), in the
//! syntax of the IETF draft `draft-ietf-httpapi-ratelimit-headers`:
//!
//! - `Ratelimit: "default";r=50;t=30`: per limit, the quota **r**emaining and the seconds until
//!   the window resets (**t**).
//! - `Ratelimit-Policy: "burst";q=100;w=60`: per policy, the **q**uota and the **w**indow in
//!   seconds it applies to.
//!
//! Each header is a Structured Field list: comma-separated items, each a (quoted) name followed
//! by `;key=value` parameters. Unknown parameters (`qu`, `pk`) are ignored; an item missing a
//! required one is skipped. When several items are listed, a client must respect all of them,
//! so the most restrictive wins: the smallest remaining quota, the smallest quota per second.

use std::time::Duration;

/// The token's quota as Cloudflare last reported it (`Ratelimit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerQuota {
    /// Requests left before the lockout.
    pub remaining: u32,
    /// Time until the quota resets.
    pub reset: Duration,
}

/// A quota policy as Cloudflare announces it (`Ratelimit-Policy`): `quota` requests per
/// `window`. Cloudflare's documented policy is 1200 per 300 s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerPolicy {
    pub quota: u32,
    pub window: Duration,
}

impl ServerPolicy {
    /// Cloudflare's documented per-token policy (1200 requests per 5 minutes).
    pub const CLOUDFLARE: ServerPolicy = ServerPolicy {
        quota: 1200,
        window: Duration::from_secs(300),
    };

    fn per_second(&self) -> f64 {
        f64::from(self.quota) / self.window.as_secs_f64().max(f64::MIN_POSITIVE)
    }
}

/// Parses a `Ratelimit` header; the item with the least quota remaining wins.
pub fn parse_ratelimit_header(value: &str) -> Option<ServerQuota> {
    items(value)
        .filter_map(|params| {
            Some(ServerQuota {
                remaining: number(&params, "r")?,
                reset: Duration::from_secs(number(&params, "t")?),
            })
        })
        .min_by_key(|quota| (quota.remaining, std::cmp::Reverse(quota.reset)))
}

/// Parses a `Ratelimit-Policy` header; the policy allowing the fewest requests per second wins.
/// A zero quota or window is not a policy anyone can follow and is skipped.
pub fn parse_ratelimit_policy_header(value: &str) -> Option<ServerPolicy> {
    items(value)
        .filter_map(|params| {
            let policy = ServerPolicy {
                quota: number(&params, "q")?,
                window: Duration::from_secs(number(&params, "w")?),
            };
            (policy.quota > 0 && !policy.window.is_zero()).then_some(policy)
        })
        .min_by(|a, b| a.per_second().total_cmp(&b.per_second()))
}

/// The parameters (`key=value`) of each list item, the item's name left out.
fn items(value: &str) -> impl Iterator<Item = Vec<(&str, &str)>> {
    split_outside_quotes(value, ',').into_iter().map(|item| {
        split_outside_quotes(item, ';')
            .into_iter()
            .skip(1)
            .filter_map(|param| param.split_once('='))
            .map(|(key, value)| (key.trim(), value.trim()))
            .collect()
    })
}

/// An integer parameter (Structured Field integers are non-negative here).
fn number<T: std::str::FromStr>(params: &[(&str, &str)], key: &str) -> Option<T> {
    params
        .iter()
        .find(|(name, _)| *name == key)
        .and_then(|(_, value)| value.parse().ok())
}

/// `value` split at `separator`, except inside a quoted string (a policy name may hold one).
fn split_outside_quotes(value: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut quoted = false;
    let mut escaped = false;
    let mut start = 0;
    for (index, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == separator && !quoted => {
                parts.push(&value[start..index]);
                start = index + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&value[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quota(remaining: u32, secs: u64) -> Option<ServerQuota> {
        Some(ServerQuota {
            remaining,
            reset: Duration::from_secs(secs),
        })
    }

    fn policy(quota: u32, secs: u64) -> Option<ServerPolicy> {
        Some(ServerPolicy {
            quota,
            window: Duration::from_secs(secs),
        })
    }

    #[test]
    fn ratelimit_header_parses_cloudflare_syntax() {
        assert_eq!(
            parse_ratelimit_header("\"default\";r=50;t=30"),
            quota(50, 30)
        );
        assert_eq!(parse_ratelimit_header("default; r=0; t=300"), quota(0, 300));
        // Every listed limit binds: the one with the least left wins.
        assert_eq!(
            parse_ratelimit_header("\"default\";r=5;t=1, \"burst\";r=1;t=9"),
            quota(1, 9)
        );
        // A name holding the separators, and unknown parameters.
        assert_eq!(
            parse_ratelimit_header("\"a;b,c\";r=7;t=2;pk=:cHsdsRa894=:"),
            quota(7, 2)
        );
        for garbage in [
            "",
            "\"default\"",
            "\"default\";r=5",
            "\"default\";r=-1;t=3",
            "r=1;t=2",
        ] {
            assert_eq!(parse_ratelimit_header(garbage), None, "{garbage:?}");
        }
    }

    #[test]
    fn ratelimit_policy_header_parses_the_draft_syntax() {
        assert_eq!(
            parse_ratelimit_policy_header("\"burst\";q=100;w=60"),
            policy(100, 60)
        );
        assert_eq!(
            parse_ratelimit_policy_header("\"default\";q=1200;w=300;qu=\"requests\""),
            policy(1200, 300)
        );
        // 1000 a day is stricter than 100 a minute.
        assert_eq!(
            parse_ratelimit_policy_header("\"burst\";q=100;w=60, \"daily\";q=1000;w=86400"),
            policy(1000, 86_400)
        );
        for garbage in [
            "",
            "\"default\";q=100",
            "\"default\";w=60",
            "\"default\";q=0;w=60",
            "\"default\";q=10;w=0",
            "\"default\";q=1.5;w=60",
        ] {
            assert_eq!(parse_ratelimit_policy_header(garbage), None, "{garbage:?}");
        }
    }
}
