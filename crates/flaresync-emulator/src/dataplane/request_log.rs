//! The data plane's invocation log: one record per request a Worker served, read by the GraphQL
//! analytics endpoint. The last [`RAW_WINDOW_MINUTES`] are kept request by request (compact
//! 32-byte records, at most [`MAX_RAW_RECORDS`]); older requests are folded into per-minute
//! [`Buckets`] (exact counts, sums and maxima, latency quantiles within 1%), kept for
//! [`MAX_AGE_HOURS`]. So memory stays flat under a steady load once the raw window is full,
//! whatever the rate.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};

use super::request_summary::{BucketKey, Buckets, Summary, bucket_start};

/// Requests younger than this (relative to the newest) are kept one by one.
pub const RAW_WINDOW_MINUTES: i64 = 10;
/// Raw records kept at most (a burst above 200 req/s folds older ones into buckets early).
pub const MAX_RAW_RECORDS: usize = 120_000;
/// Buckets older than this are dropped (Cloudflare keeps more; a local emulator needs less).
pub const MAX_AGE_HOURS: i64 = 24;

/// How an invocation ended, in the `status` vocabulary of `workersInvocationsAdaptive`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
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

impl Invocation {
    pub fn dims(&self) -> Dims<'_> {
        Dims {
            at: self.at,
            script: &self.script,
            version_id: &self.version_id,
            outcome: self.outcome,
        }
    }
}

/// What a query filters and groups by, for a raw invocation or a summarised bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dims<'a> {
    pub at: DateTime<Utc>,
    pub script: &'a str,
    pub version_id: &'a str,
    pub outcome: Outcome,
}

/// What a query reads: the raw invocations and the summarised buckets it keeps.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selection {
    pub raw: Vec<Invocation>,
    pub summaries: Vec<Summary>,
}

/// One raw invocation: 32 bytes (names interned), so the raw window stays under
/// [`MAX_RAW_RECORDS`] × [`RECORD_BYTES`] (about 3.7 MiB).
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
    buckets: Buckets,
    names: Names,
}

impl Inner {
    /// Folds into buckets the raw records older than `horizon_us`, and the oldest ones over
    /// [`MAX_RAW_RECORDS`].
    fn fold_older_than(&mut self, horizon_us: i64) {
        while let Some(oldest) = self.entries.front().copied() {
            if oldest.at_us >= horizon_us && self.entries.len() <= MAX_RAW_RECORDS {
                break;
            }
            self.entries.pop_front();
            let key = BucketKey {
                start_us: bucket_start(oldest.at_us),
                script: oldest.script,
                version_id: oldest.version_id,
                outcome: oldest.outcome,
            };
            self.buckets.add(
                key,
                u64::from(oldest.wall_time_us),
                u64::from(oldest.cpu_time_us),
                u64::from(oldest.subrequests),
            );
        }
    }

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
        let now_us = invocation.at.timestamp_micros();
        let stored = Stored {
            at_us: now_us,
            script: inner.names.id(&invocation.script),
            version_id: inner.names.id(&invocation.version_id),
            wall_time_us: clamp(invocation.wall_time_us),
            cpu_time_us: clamp(invocation.cpu_time_us),
            subrequests: clamp(invocation.subrequests),
            status: invocation.status,
            outcome: invocation.outcome,
        };
        inner.entries.push_back(stored);
        inner.fold_older_than(
            now_us
                - Duration::minutes(RAW_WINDOW_MINUTES)
                    .num_microseconds()
                    .unwrap_or(0),
        );
        inner.buckets.expire(
            now_us
                - Duration::hours(MAX_AGE_HOURS)
                    .num_microseconds()
                    .unwrap_or(0),
        );
    }

    /// The raw invocations matching `keep`, oldest first (not the summarised ones).
    pub fn select(&self, keep: impl Fn(&Invocation) -> bool) -> Vec<Invocation> {
        let inner = self.lock();
        inner
            .entries
            .iter()
            .map(|stored| inner.expand(stored))
            .filter(|i| keep(i))
            .collect()
    }

    /// Everything matching `keep`: raw invocations and summarised buckets.
    pub fn query(&self, keep: impl Fn(&Dims) -> bool) -> Selection {
        let inner = self.lock();
        let raw = inner
            .entries
            .iter()
            .map(|stored| inner.expand(stored))
            .filter(|i| keep(&i.dims()))
            .collect();
        let summaries = inner
            .buckets
            .iter()
            .map(|(key, totals)| Summary {
                at: DateTime::from_timestamp_micros(key.start_us).unwrap_or_default(),
                script: inner.names.name(key.script),
                version_id: inner.names.name(key.version_id),
                outcome: key.outcome,
                totals: totals.clone(),
            })
            .filter(|s| keep(&s.dims()))
            .collect();
        Selection { raw, summaries }
    }

    /// Raw records held.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Summarised buckets held.
    pub fn bucket_count(&self) -> usize {
        self.lock().buckets.len()
    }

    /// Bytes the log holds: the raw records' buffer (its capacity, not only what is used) and
    /// the buckets.
    pub fn buffer_bytes(&self) -> usize {
        let inner = self.lock();
        inner.entries.capacity() * RECORD_BYTES + inner.buckets.bytes()
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

    fn minutes(n: i64) -> Duration {
        Duration::minutes(n)
    }

    #[test]
    fn old_records_are_summarised_and_very_old_ones_dropped() {
        let log = InvocationLog::default();
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        log.record(at_time(now - Duration::hours(MAX_AGE_HOURS + 1)));
        log.record(at_time(now - minutes(RAW_WINDOW_MINUTES + 1)));
        log.record(at_time(now));
        assert_eq!((log.len(), log.bucket_count()), (1, 1));
        let all = log.query(|_| true);
        assert_eq!(all.summaries.len(), 1);
        assert_eq!(all.summaries[0].totals.requests, 1);
        for _ in 0..MAX_RAW_RECORDS + 10 {
            log.record(at_time(now));
        }
        assert_eq!(log.len(), MAX_RAW_RECORDS);
        let summarised: u64 = log
            .query(|_| true)
            .summaries
            .iter()
            .map(|s| s.totals.requests)
            .sum();
        assert_eq!(summarised, 12, "1 old + 11 over the raw cap");
        assert_eq!(RECORD_BYTES, 32);
    }

    #[test]
    fn memory_stays_flat_after_the_raw_window_at_100_per_second() {
        let log = InvocationLog::default();
        let start = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let mut bytes_at = Vec::new();
        for second in 0..3_600i64 {
            for n in 0..100i64 {
                let mut one =
                    at_time(start + Duration::seconds(second) + Duration::milliseconds(n * 10));
                one.version_id = if second / 300 % 2 == 0 { "a" } else { "b" }.into();
                one.outcome = if n % 20 == 0 {
                    Outcome::ScriptThrewException
                } else {
                    Outcome::Success
                };
                one.wall_time_us = 200 + (second * 7 + n * 13) as u64 % 900;
                one.cpu_time_us = 50 + (n as u64 % 40);
                log.record(one);
            }
            if second % 60 == 59 {
                bytes_at.push(log.buffer_bytes());
            }
        }
        let (at_15, at_60) = (bytes_at[14], bytes_at[59]);
        // The raw window alone: 10 min x 6,000 records x 32 B = 1.8 MiB; the buckets of 45 more
        // minutes (2 outcomes each) add a few KiB per minute, not the 188 KiB raw records would.
        assert!(log.len() <= 60_001, "{}", log.len());
        assert_eq!(log.bucket_count(), 2 * 50);
        assert!(at_60 < at_15 + 45 * 8 * 1024, "{at_15} -> {at_60} bytes");
        let total: u64 = log
            .query(|_| true)
            .summaries
            .iter()
            .map(|s| s.totals.requests)
            .sum();
        assert_eq!(total as usize + log.len(), 360_000);
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
