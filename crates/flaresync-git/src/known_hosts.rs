//! Pinning ssh host keys to a `known_hosts` file (`FLARESYNC_SSH_KNOWN_HOSTS`), so a daemon in
//! a container without `~/.ssh` still refuses an impostor server.
//!
//! Supported: plain host patterns (comma-separated, `[host]:port`, `*`/`?` globs, `!` negation)
//! and `@revoked`. Hashed entries (`|1|…`) and `@cert-authority` lines are skipped: write the
//! host name in clear in the pinned file.

use base64::Engine;

/// What the known-hosts file says about a host key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostKeyVerdict {
    /// A line for this host lists exactly this key.
    Match,
    /// The host is listed, but with other keys (or this key is `@revoked`).
    Mismatch,
    /// The host is not listed.
    Unknown,
}

/// Checks `key` (raw ssh wire-format public key, as libssh2 reports it) for `host` against the
/// text of a `known_hosts` file.
pub fn check_host_key(known_hosts: &str, host: &str, key: &[u8]) -> HostKeyVerdict {
    let mut listed = false;
    for line in known_hosts.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split_whitespace();
        let Some(mut first) = fields.next() else {
            continue;
        };
        let mut revoked = false;
        if first.starts_with('@') {
            match first {
                "@revoked" => revoked = true,
                _ => continue,
            }
            let Some(next) = fields.next() else {
                continue;
            };
            first = next;
        }
        let (Some(_key_type), Some(encoded)) = (fields.next(), fields.next()) else {
            continue;
        };
        if !hosts_match(first, host) {
            continue;
        }
        let Ok(listed_key) = base64::engine::general_purpose::STANDARD.decode(encoded) else {
            continue;
        };
        if listed_key == key {
            if revoked {
                return HostKeyVerdict::Mismatch;
            }
            return HostKeyVerdict::Match;
        }
        if !revoked {
            listed = true;
        }
    }
    if listed {
        HostKeyVerdict::Mismatch
    } else {
        HostKeyVerdict::Unknown
    }
}

/// True if the comma-separated `patterns` match `host` (a negated match wins).
fn hosts_match(patterns: &str, host: &str) -> bool {
    if patterns.starts_with('|') {
        return false;
    }
    let mut matched = false;
    for pattern in patterns.split(',') {
        let (negated, pattern) = match pattern.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, pattern),
        };
        // `[host]:port`: libgit2 gives the host without the port, so the port is not checked.
        let pattern = match pattern.strip_prefix('[').and_then(|p| p.split_once("]:")) {
            Some((bracketed, _port)) => bracketed,
            None => pattern,
        };
        if glob(pattern.as_bytes(), host.as_bytes()) {
            if negated {
                return false;
            }
            matched = true;
        }
    }
    matched
}

/// `*` and `?` glob, case-insensitive (host names).
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match (pattern.first(), text.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            glob(&pattern[1..], text) || (!text.is_empty() && glob(pattern, &text[1..]))
        }
        (Some(b'?'), Some(_)) => glob(&pattern[1..], &text[1..]),
        (Some(p), Some(t)) if p.eq_ignore_ascii_case(t) => glob(&pattern[1..], &text[1..]),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(key: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(key)
    }

    #[test]
    fn verdicts() {
        let good = b"ssh-ed25519-good-key";
        let other = b"ssh-ed25519-other-key";
        let text = format!(
            "# pinned\n\
             github.com,gh.example ssh-ed25519 {}\n\
             [git.internal]:2222 ssh-ed25519 {}\n\
             *.corp.example,!bad.corp.example ssh-ed25519 {}\n\
             @revoked old.example ssh-ed25519 {}\n\
             |1|hashed|entry ssh-ed25519 {}\n",
            encode(good),
            encode(good),
            encode(good),
            encode(good),
            encode(good),
        );
        let cases: [(&str, &[u8], HostKeyVerdict); 8] = [
            ("github.com", good, HostKeyVerdict::Match),
            ("GH.example", good, HostKeyVerdict::Match),
            ("github.com", other, HostKeyVerdict::Mismatch),
            ("git.internal", good, HostKeyVerdict::Match),
            ("a.corp.example", good, HostKeyVerdict::Match),
            ("bad.corp.example", good, HostKeyVerdict::Unknown),
            ("old.example", good, HostKeyVerdict::Mismatch),
            ("gitlab.com", good, HostKeyVerdict::Unknown),
        ];
        for (host, key, verdict) in cases {
            assert_eq!(check_host_key(&text, host, key), verdict, "{host}");
        }
    }

    #[test]
    fn malformed_lines_are_ignored() {
        for text in [
            "",
            "host",
            "host ssh-ed25519",
            "host ssh-ed25519 !!notbase64",
            "@revoked",
        ] {
            assert_eq!(
                check_host_key(text, "host", b"k"),
                HostKeyVerdict::Unknown,
                "{text}"
            );
        }
    }
}
