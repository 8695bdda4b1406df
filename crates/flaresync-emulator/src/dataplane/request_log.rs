//! The data plane's invocation log: one record per request a Worker served, kept in memory with
//! bounded retention (a fixed number of records and a maximum age), read by the GraphQL
//! analytics endpoint.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};

/// Records kept at most (one hour at 100 requests per second, with room to spare).
pub const MAX_RECORDS: usize = 400_000;
/// Records older than this are dropped (Cloudflare keeps more; a local emulator needs less).
pub const MAX_AGE_HOURS: i64 = 24;

/// How an invocation ended, in the `status` vocabulary of `workersInvocationsAdaptive`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    ScriptThrewException,
    InternalError,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::ScriptThrewException => "scriptThrewException",
            Outcome::InternalError => "internalError",
        }
    }

    /// Counted in `sum { errors }`.
    pub fn is_error(self) -> bool {
        !matches!(self, Outcome::Success)
    }
}

/// One invocation.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    pub at: DateTime<Utc>,
    pub script: Arc<str>,
    pub version_id: Arc<str>,
    pub status: u16,
    pub outcome: Outcome,
    /// Wall time until the response head, in microseconds.
    pub wall_time_us: u64,
    /// CPU time in microseconds; workerd does not report it per request here, so it is the wall
    /// time (an upper bound).
    pub cpu_time_us: u64,
    pub subrequests: u64,
}

/// The bounded log (cheap to clone: shared).
#[derive(Debug, Clone, Default)]
pub struct InvocationLog {
    inner: Arc<Mutex<VecDeque<Invocation>>>,
}

impl InvocationLog {
    pub fn record(&self, invocation: Invocation) {
        let mut entries = self.lock();
        let horizon = invocation.at - Duration::hours(MAX_AGE_HOURS);
        while entries
            .front()
            .is_some_and(|oldest| entries.len() >= MAX_RECORDS || oldest.at < horizon)
        {
            entries.pop_front();
        }
        entries.push_back(invocation);
    }

    /// The records matching `keep`, oldest first.
    pub fn select(&self, keep: impl Fn(&Invocation) -> bool) -> Vec<Invocation> {
        self.lock().iter().filter(|i| keep(i)).cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Invocation>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(at: DateTime<Utc>) -> Invocation {
        Invocation {
            at,
            script: "w".into(),
            version_id: "v".into(),
            status: 200,
            outcome: Outcome::Success,
            wall_time_us: 1,
            cpu_time_us: 1,
            subrequests: 0,
        }
    }

    #[test]
    fn old_records_and_overflow_are_dropped() {
        let log = InvocationLog::default();
        let now = Utc::now();
        log.record(at(now - Duration::hours(MAX_AGE_HOURS + 1)));
        log.record(at(now));
        assert_eq!(log.len(), 1);
        for _ in 0..MAX_RECORDS + 10 {
            log.record(at(now));
        }
        assert_eq!(log.len(), MAX_RECORDS);
    }
}
