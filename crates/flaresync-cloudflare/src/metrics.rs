//! Counters the client keeps about its own traffic, for the reconciler's `/metrics`.
//!
//! The client only counts; exposition (Prometheus text, labels) is the reconciler's job. Labels
//! are low-cardinality by construction: the HTTP method and a status class, never a path.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// Status class label of one finished attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StatusClass {
    Informational,
    Success,
    Redirect,
    ClientError,
    ServerError,
    /// No HTTP response (connect error, timeout, dropped connection).
    Transport,
}

impl StatusClass {
    /// Class of an HTTP status code.
    pub fn of(status: u16) -> Self {
        match status {
            100..=199 => StatusClass::Informational,
            200..=299 => StatusClass::Success,
            300..=399 => StatusClass::Redirect,
            400..=499 => StatusClass::ClientError,
            _ => StatusClass::ServerError,
        }
    }

    /// Prometheus label value: `2xx`, `4xx`, ..., `transport`.
    pub fn label(self) -> &'static str {
        match self {
            StatusClass::Informational => "1xx",
            StatusClass::Success => "2xx",
            StatusClass::Redirect => "3xx",
            StatusClass::ClientError => "4xx",
            StatusClass::ServerError => "5xx",
            StatusClass::Transport => "transport",
        }
    }
}

/// A snapshot of the client's counters (all clones of a client share them).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClientMetrics {
    /// Attempts sent, by `(method, status class label)`. Retries count as separate attempts.
    pub requests_total: BTreeMap<(String, &'static str), u64>,
    /// Whole requests the budget would let through right now.
    pub budget_available: u32,
    /// Capacity of the budget bucket (burst size).
    pub budget_capacity: u32,
    /// Configured ceiling of requests per budget window.
    pub budget_window_limit: u32,
    /// Attempts that asked Cloudflare to change something (not reads, not GraphQL queries,
    /// which are POSTs that only read).
    pub writes_total: u64,
    /// Attempts that were retries of an earlier failed attempt.
    pub retries_total: u64,
    /// 429 answers received.
    pub rate_limited_total: u64,
    /// Retries skipped because a verification found the write had already happened.
    pub recovered_total: u64,
    /// Seconds spent waiting for the budget before sending.
    pub throttled_wait_seconds_total: f64,
}

impl ClientMetrics {
    /// Attempts with this method and status class label.
    pub fn requests(&self, method: &str, status_class: &str) -> u64 {
        self.requests_total
            .iter()
            .filter(|((m, c), _)| m == method && *c == status_class)
            .map(|(_, n)| *n)
            .sum()
    }

    /// All attempts.
    pub fn requests_sum(&self) -> u64 {
        self.requests_total.values().sum()
    }

    /// Write attempts, whatever they answered (a GraphQL query is a read).
    pub fn writes_sum(&self) -> u64 {
        self.writes_total
    }
}

#[derive(Debug, Default)]
struct Counters {
    requests: BTreeMap<(String, &'static str), u64>,
    writes: u64,
    retries: u64,
    rate_limited: u64,
    recovered: u64,
    throttled_wait: Duration,
}

/// The shared, mutable side of [`ClientMetrics`].
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    counters: Mutex<Counters>,
}

impl Recorder {
    fn with<T>(&self, f: impl FnOnce(&mut Counters) -> T) -> T {
        crate::lock::with_lock(&self.counters, f)
    }

    /// One finished attempt; `write` as [`crate::write_guard::is_write`] classifies it.
    pub(crate) fn request(&self, method: &str, class: StatusClass, write: bool) {
        self.with(|c| {
            *c.requests
                .entry((method.to_owned(), class.label()))
                .or_default() += 1;
            c.writes += u64::from(write);
        });
    }

    pub(crate) fn rate_limited(&self) {
        self.with(|c| c.rate_limited += 1);
    }

    pub(crate) fn retry(&self) {
        self.with(|c| c.retries += 1);
    }

    pub(crate) fn recovered(&self) {
        self.with(|c| c.recovered += 1);
    }

    pub(crate) fn throttled(&self, waited: Duration) {
        if !waited.is_zero() {
            self.with(|c| c.throttled_wait += waited);
        }
    }

    pub(crate) fn snapshot(
        &self,
        budget_available: u32,
        budget_capacity: u32,
        budget_window_limit: u32,
    ) -> ClientMetrics {
        self.with(|c| ClientMetrics {
            requests_total: c.requests.clone(),
            writes_total: c.writes,
            budget_available,
            budget_capacity,
            budget_window_limit,
            retries_total: c.retries,
            rate_limited_total: c.rate_limited,
            recovered_total: c.recovered,
            throttled_wait_seconds_total: c.throttled_wait.as_secs_f64(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_classes_label_as_prometheus_expects() {
        assert_eq!(StatusClass::of(200).label(), "2xx");
        assert_eq!(StatusClass::of(204).label(), "2xx");
        assert_eq!(StatusClass::of(429).label(), "4xx");
        assert_eq!(StatusClass::of(503).label(), "5xx");
        assert_eq!(StatusClass::of(999).label(), "5xx");
        assert_eq!(StatusClass::Transport.label(), "transport");
    }

    #[test]
    fn recorder_counts_by_method_and_class() {
        let recorder = Recorder::default();
        recorder.request("GET", StatusClass::Success, false);
        recorder.request("GET", StatusClass::Success, false);
        recorder.request("POST", StatusClass::ServerError, true);
        recorder.request("POST", StatusClass::Success, false);
        recorder.retry();
        recorder.throttled(Duration::from_millis(1500));
        let snapshot = recorder.snapshot(5, 60, 900);
        assert_eq!(snapshot.requests("GET", "2xx"), 2);
        assert_eq!(snapshot.requests("POST", "5xx"), 1);
        assert_eq!(snapshot.requests("POST", "2xx"), 1);
        assert_eq!(snapshot.requests_sum(), 4);
        assert_eq!(
            snapshot.writes_sum(),
            1,
            "a POST that only reads (a GraphQL query) is not a write"
        );
        assert_eq!(snapshot.retries_total, 1);
        assert_eq!(snapshot.throttled_wait_seconds_total, 1.5);
        assert_eq!(snapshot.budget_available, 5);
    }
}
