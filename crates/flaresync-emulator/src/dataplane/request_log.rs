//! The data plane's invocation log: one record per request a Worker served, kept in memory with
//! bounded retention (a fixed number of compact records and a maximum age, so memory stays
//! bounded under any load), read by the GraphQL analytics endpoint.

use std::collections::{HashMap, VecDeque};
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
    /// Stopped over the CPU limit (Cloudflare's 1102).
    ExceededResources,
    InternalError,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::ScriptThrewException => "scriptThrewException",
            Outcome::ExceededResources => "exceededResources",
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
    /// CPU time in microseconds, measured from workerd's process ([`cpu_meter`](super::cpu_meter));
    /// the wall time where it cannot be measured.
    pub cpu_time_us: u64,
    pub subrequests: u64,
}

/// One stored invocation: 32 bytes (names interned), so the full log stays near
/// [`MAX_RECORDS`] × [`RECORD_BYTES`] (about 13 MB) however long it runs.
#[derive(Debug, Clone, Copy)]
struct Stored {
    at_us: i64,
    script: u32,
    version_id: u32,
    wall_time_us: u32,
    cpu_time_us: u32,
    subrequests: u32,
    status: u16,
    outcome: Outcome,
}

/// Bytes one stored invocation takes in the log.
pub const RECORD_BYTES: usize = std::mem::size_of::<Stored>();

/// Script names and version ids, each stored once.
#[derive(Debug, Default)]
struct Names {
    ids: HashMap<Arc<str>, u32>,
    names: Vec<Arc<str>>,
}

impl Names {
    fn id(&mut self, name: &Arc<str>) -> u32 {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        let id = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.names.push(name.clone());
        self.ids.insert(name.clone(), id);
        id
    }

    fn name(&self, id: u32) -> Arc<str> {
        self.names
            .get(id as usize)
            .cloned()
            .unwrap_or_else(|| Arc::from(""))
    }
}

#[derive(Debug, Default)]
struct Inner {
    entries: VecDeque<Stored>,
    names: Names,
}

impl Inner {
    fn expand(&self, stored: &Stored) -> Invocation {
        Invocation {
            at: DateTime::from_timestamp_micros(stored.at_us).unwrap_or_default(),
            script: self.names.name(stored.script),
            version_id: self.names.name(stored.version_id),
            status: stored.status,
            outcome: stored.outcome,
            wall_time_us: u64::from(stored.wall_time_us),
            cpu_time_us: u64::from(stored.cpu_time_us),
            subrequests: u64::from(stored.subrequests),
        }
    }
}

/// The bounded log (cheap to clone: shared).
#[derive(Debug, Clone, Default)]
pub struct InvocationLog {
    inner: Arc<Mutex<Inner>>,
}

fn clamp(value: u64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

impl InvocationLog {
    pub fn record(&self, invocation: Invocation) {
        let mut inner = self.lock();
        let horizon = (invocation.at - Duration::hours(MAX_AGE_HOURS)).timestamp_micros();
        while inner
            .entries
            .front()
            .is_some_and(|oldest| inner.entries.len() >= MAX_RECORDS || oldest.at_us < horizon)
        {
            inner.entries.pop_front();
        }
        let stored = Stored {
            at_us: invocation.at.timestamp_micros(),
            script: inner.names.id(&invocation.script),
            version_id: inner.names.id(&invocation.version_id),
            wall_time_us: clamp(invocation.wall_time_us),
            cpu_time_us: clamp(invocation.cpu_time_us),
            subrequests: clamp(invocation.subrequests),
            status: invocation.status,
            outcome: invocation.outcome,
        };
        inner.entries.push_back(stored);
    }

    /// The records matching `keep`, oldest first.
    pub fn select(&self, keep: impl Fn(&Invocation) -> bool) -> Vec<Invocation> {
        let inner = self.lock();
        inner
            .entries
            .iter()
            .map(|stored| inner.expand(stored))
            .filter(|i| keep(i))
            .collect()
    }

    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Bytes the stored records' buffer holds (its capacity, not only what is used).
    pub fn buffer_bytes(&self) -> usize {
        self.lock().entries.capacity() * RECORD_BYTES
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn clear(&self) {
        *self.lock() = Inner::default();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at_time(at: DateTime<Utc>) -> Invocation {
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
        log.record(at_time(now - Duration::hours(MAX_AGE_HOURS + 1)));
        log.record(at_time(now));
        assert_eq!(log.len(), 1);
        for _ in 0..MAX_RECORDS + 10 {
            log.record(at_time(now));
        }
        assert_eq!(log.len(), MAX_RECORDS);
        assert_eq!(RECORD_BYTES, 32);
    }

    #[test]
    fn records_come_back_as_they_went_in() {
        let log = InvocationLog::default();
        let at = DateTime::from_timestamp_micros(1_800_000_000_123_456).unwrap_or_default();
        let mut one = at_time(at);
        one.version_id = "v2".into();
        one.wall_time_us = 5_000_000_000; // more than u32 microseconds: saturates
        log.record(at_time(at));
        log.record(one.clone());
        let back = log.select(|i| &*i.version_id == "v2");
        one.wall_time_us = u64::from(u32::MAX);
        assert_eq!(back, vec![one]);
    }
}
