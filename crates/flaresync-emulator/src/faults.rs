//! Fault injection for tests: per-route 5xx, 429, latency, dropped connections and
//! "fail after commit" (the write happens, the answer is a 500). Pure matching; the HTTP shell
//! performs the fault.

use regex::Regex;
use serde::{Deserialize, Serialize};

/// What a matching request suffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Answer `status` (default 500) with an error envelope; the handler does not run.
    Status,
    /// Answer 429 with `Retry-After` and the code-971 body; the handler does not run.
    RateLimit,
    /// Wait `latency_ms`, then handle normally.
    Latency,
    /// Close the connection without answering; the handler does not run.
    Drop,
    /// Run the handler (commit the write), then answer `status` (default 500).
    FailAfterCommit,
}

/// A fault rule as posted to `POST /__emulator/faults`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultSpec {
    /// HTTP method to match (any when absent).
    #[serde(default)]
    pub method: Option<String>,
    /// Path prefix, relative to `/client/v4` (a leading `/client/v4` is accepted too).
    #[serde(default)]
    pub path_prefix: Option<String>,
    /// Regex searched in the path relative to `/client/v4`.
    #[serde(default)]
    pub path_regex: Option<String>,
    pub kind: FaultKind,
    /// How many requests to affect (unlimited when absent).
    #[serde(default)]
    pub count: Option<u32>,
    /// Chance (0..=1) that a matching request is affected (always when absent).
    #[serde(default)]
    pub probability: Option<f64>,
    #[serde(default)]
    pub status: Option<u16>,
    /// `Retry-After` seconds for `rate_limit` (and optional for `status`).
    #[serde(default)]
    pub retry_after: Option<u64>,
    #[serde(default)]
    pub latency_ms: Option<u64>,
    /// Error code in the body (default 10002 for 5xx, 971 for 429).
    #[serde(default)]
    pub code: Option<u32>,
    #[serde(default)]
    pub message: Option<String>,
}

impl FaultSpec {
    /// A fault of `kind` on every request, with every other field at its default.
    pub fn new(kind: FaultKind) -> FaultSpec {
        FaultSpec {
            method: None,
            path_prefix: None,
            path_regex: None,
            kind,
            count: None,
            probability: None,
            status: None,
            retry_after: None,
            latency_ms: None,
            code: None,
            message: None,
        }
    }

    /// A fault of `kind` on the next `count` `method` requests whose path matches `path_regex`.
    pub fn matching(method: &str, path_regex: &str, kind: FaultKind, count: u32) -> FaultSpec {
        FaultSpec {
            method: Some(method.to_owned()),
            path_regex: Some(path_regex.to_owned()),
            count: Some(count),
            ..FaultSpec::new(kind)
        }
    }
}

/// Why a fault spec was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FaultError {
    #[error("invalid path_regex: {0}")]
    Regex(String),
    #[error("probability must be between 0 and 1")]
    Probability,
    #[error("status must be an HTTP status between 400 and 599")]
    Status,
    #[error("latency faults need latency_ms")]
    Latency,
}

#[derive(Debug)]
struct Fault {
    id: u64,
    spec: FaultSpec,
    regex: Option<Regex>,
    remaining: Option<u32>,
}

/// A fault chosen for a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub id: u64,
    pub spec: FaultSpec,
}

/// The active fault rules, in insertion order.
#[derive(Debug, Default)]
pub struct FaultTable {
    next_id: u64,
    faults: Vec<Fault>,
}

fn relative(path: &str) -> &str {
    path.strip_prefix("/client/v4").unwrap_or(path)
}

impl FaultTable {
    /// Adds a rule; returns its id.
    pub fn add(&mut self, spec: FaultSpec) -> Result<u64, FaultError> {
        let regex = spec
            .path_regex
            .as_deref()
            .map(|r| Regex::new(r).map_err(|e| FaultError::Regex(e.to_string())))
            .transpose()?;
        if spec.probability.is_some_and(|p| !(0.0..=1.0).contains(&p)) {
            return Err(FaultError::Probability);
        }
        if spec.status.is_some_and(|s| !(400..=599).contains(&s)) {
            return Err(FaultError::Status);
        }
        if spec.kind == FaultKind::Latency && spec.latency_ms.is_none() {
            return Err(FaultError::Latency);
        }
        self.next_id += 1;
        let id = self.next_id;
        self.faults.push(Fault {
            id,
            remaining: spec.count,
            spec,
            regex,
        });
        Ok(id)
    }

    pub fn clear(&mut self) {
        self.faults.clear();
    }

    pub fn list(&self) -> Vec<(u64, FaultSpec, Option<u32>)> {
        self.faults
            .iter()
            .map(|f| (f.id, f.spec.clone(), f.remaining))
            .collect()
    }

    /// Picks the first rule matching `method` and `path` whose dice roll (`roll` in 0..1)
    /// fires, consuming one of its `count`. Exhausted rules are removed.
    pub fn take(&mut self, method: &str, path: &str, roll: f64) -> Option<Hit> {
        let rel = relative(path);
        let index = self.faults.iter().position(|f| {
            let method_ok = f
                .spec
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method));
            let prefix_ok = f
                .spec
                .path_prefix
                .as_deref()
                .is_none_or(|p| rel.starts_with(relative(p)));
            let regex_ok = f.regex.as_ref().is_none_or(|r| r.is_match(rel));
            let fires = f.spec.probability.is_none_or(|p| roll < p);
            method_ok && prefix_ok && regex_ok && fires && f.remaining != Some(0)
        })?;
        let fault = &mut self.faults[index];
        let hit = Hit {
            id: fault.id,
            spec: fault.spec.clone(),
        };
        if let Some(n) = fault.remaining.as_mut() {
            *n -= 1;
            if *n == 0 {
                self.faults.remove(index);
            }
        }
        Some(hit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: FaultKind) -> FaultSpec {
        FaultSpec::new(kind)
    }

    #[test]
    fn count_limits_and_removes() {
        let mut t = FaultTable::default();
        let mut s = spec(FaultKind::Status);
        s.method = Some("POST".into());
        s.path_regex = Some("/versions$".into());
        s.count = Some(2);
        t.add(s).expect("valid");
        assert!(
            t.take(
                "GET",
                "/client/v4/accounts/a/workers/scripts/w/versions",
                0.0
            )
            .is_none()
        );
        assert!(
            t.take(
                "post",
                "/client/v4/accounts/a/workers/scripts/w/versions",
                0.0
            )
            .is_some()
        );
        assert!(
            t.take("POST", "/accounts/a/workers/scripts/w/versions", 0.0)
                .is_some()
        );
        assert!(
            t.take("POST", "/accounts/a/workers/scripts/w/versions", 0.0)
                .is_none()
        );
        assert!(t.list().is_empty());
    }

    #[test]
    fn prefix_accepts_both_forms_and_probability_uses_roll() {
        let mut t = FaultTable::default();
        let mut s = spec(FaultKind::Drop);
        s.path_prefix = Some("/client/v4/accounts".into());
        s.probability = Some(0.5);
        t.add(s).expect("valid");
        assert!(t.take("GET", "/client/v4/accounts/x", 0.7).is_none());
        assert!(t.take("GET", "/client/v4/accounts/x", 0.2).is_some());
        assert!(t.take("GET", "/client/v4/user", 0.2).is_none());
    }

    #[test]
    fn invalid_specs_are_refused() {
        let mut t = FaultTable::default();
        let mut s = spec(FaultKind::Status);
        s.path_regex = Some("(".into());
        assert!(matches!(t.add(s), Err(FaultError::Regex(_))));
        let mut s = spec(FaultKind::Status);
        s.status = Some(200);
        assert_eq!(t.add(s), Err(FaultError::Status));
        assert_eq!(t.add(spec(FaultKind::Latency)), Err(FaultError::Latency));
    }
}
