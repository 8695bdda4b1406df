//! Invocations older than the raw window, summarised: one bucket per minute, script, version and
//! outcome holding exact counts, sums and maxima and a latency [`Sketch`] per metric. A bucket's
//! size does not depend on how many requests it counts, so the log's memory stays flat under a
//! steady load once the raw window is full. Pure.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::latency_sketch::Sketch;
use super::request_log::{Dims, Outcome};

/// The width of one bucket: summarised requests are known to the minute.
pub const BUCKET_MICROS: i64 = 60_000_000;
/// Buckets kept at most (oldest dropped first): one day of one minute for ~70 script/version/
/// outcome combinations, a few MiB.
pub const MAX_BUCKETS: usize = 100_000;

/// The start of the bucket `at_us` falls in.
pub fn bucket_start(at_us: i64) -> i64 {
    at_us.div_euclid(BUCKET_MICROS) * BUCKET_MICROS
}

/// Exact counts, sums and maxima of some invocations, and their latency sketches.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Totals {
    pub requests: u64,
    pub subrequests: u64,
    pub wall_time_us: u64,
    pub cpu_time_us: u64,
    pub max_wall_time_us: u64,
    pub max_cpu_time_us: u64,
    pub wall: Sketch,
    pub cpu: Sketch,
}

impl Totals {
    /// Counts one invocation.
    pub fn add(&mut self, wall_time_us: u64, cpu_time_us: u64, subrequests: u64) {
        self.add_exact(wall_time_us, cpu_time_us, subrequests);
        self.wall.add(wall_time_us);
        self.cpu.add(cpu_time_us);
    }

    /// Counts one invocation in the counts, sums and maxima only (not in the sketches).
    pub fn add_exact(&mut self, wall_time_us: u64, cpu_time_us: u64, subrequests: u64) {
        self.requests += 1;
        self.subrequests += subrequests;
        self.wall_time_us += wall_time_us;
        self.cpu_time_us += cpu_time_us;
        self.max_wall_time_us = self.max_wall_time_us.max(wall_time_us);
        self.max_cpu_time_us = self.max_cpu_time_us.max(cpu_time_us);
    }

    /// Counts everything `other` counted.
    pub fn merge(&mut self, other: &Totals) {
        self.requests += other.requests;
        self.subrequests += other.subrequests;
        self.wall_time_us += other.wall_time_us;
        self.cpu_time_us += other.cpu_time_us;
        self.max_wall_time_us = self.max_wall_time_us.max(other.max_wall_time_us);
        self.max_cpu_time_us = self.max_cpu_time_us.max(other.max_cpu_time_us);
        self.wall.merge(&other.wall);
        self.cpu.merge(&other.cpu);
    }

    fn heap_bytes(&self) -> usize {
        self.wall.heap_bytes() + self.cpu.heap_bytes()
    }
}

/// One bucket, names expanded, as queries read it.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// The bucket's start (a whole minute).
    pub at: DateTime<Utc>,
    pub script: Arc<str>,
    pub version_id: Arc<str>,
    pub outcome: Outcome,
    pub totals: Totals,
}

impl Summary {
    pub fn dims(&self) -> Dims<'_> {
        Dims {
            at: self.at,
            script: &self.script,
            version_id: &self.version_id,
            outcome: self.outcome,
        }
    }
}

/// A bucket's key: minute first, so the oldest bucket is the first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct BucketKey {
    pub start_us: i64,
    pub script: u32,
    pub version_id: u32,
    pub outcome: Outcome,
}

/// The buckets, oldest first.
#[derive(Debug, Default)]
pub struct Buckets {
    buckets: BTreeMap<BucketKey, Totals>,
}

impl Buckets {
    /// Counts one invocation in its bucket (`key.start_us` already a bucket start).
    pub fn add(&mut self, key: BucketKey, wall_time_us: u64, cpu_time_us: u64, subrequests: u64) {
        self.buckets
            .entry(key)
            .or_default()
            .add(wall_time_us, cpu_time_us, subrequests);
        while self.buckets.len() > MAX_BUCKETS {
            self.buckets.pop_first();
        }
    }

    /// Drops the buckets that end before `horizon_us`.
    pub fn expire(&mut self, horizon_us: i64) {
        while self
            .buckets
            .first_key_value()
            .is_some_and(|(key, _)| key.start_us + BUCKET_MICROS <= horizon_us)
        {
            self.buckets.pop_first();
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&BucketKey, &Totals)> {
        self.buckets.iter()
    }

    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// Approximate bytes the buckets take (entries and their sketches).
    pub fn bytes(&self) -> usize {
        let entry = std::mem::size_of::<(BucketKey, Totals)>();
        self.buckets.values().map(|t| entry + t.heap_bytes()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(start_us: i64) -> BucketKey {
        BucketKey {
            start_us,
            script: 0,
            version_id: 0,
            outcome: Outcome::Success,
        }
    }

    #[test]
    fn bucket_starts_are_whole_minutes_also_before_1970() {
        assert_eq!(bucket_start(BUCKET_MICROS + 5), BUCKET_MICROS);
        assert_eq!(bucket_start(-5), -BUCKET_MICROS);
        assert_eq!(bucket_start(0), 0);
    }

    #[test]
    fn a_bucket_counts_exactly_and_stays_small() {
        let mut buckets = Buckets::default();
        for n in 0..60_000u64 {
            buckets.add(key(0), 300 + n % 200, 100 + n % 50, n % 3);
        }
        let (_, totals) = buckets.iter().next().expect("one bucket");
        assert_eq!(totals.requests, 60_000);
        assert_eq!(totals.subrequests, 60_000);
        assert_eq!(totals.max_wall_time_us, 499);
        assert_eq!(
            totals.cpu_time_us,
            (0..60_000u64).map(|n| 100 + n % 50).sum::<u64>()
        );
        assert!(buckets.bytes() < 2_000, "{} bytes", buckets.bytes());
    }

    #[test]
    fn expiry_and_the_cap_drop_the_oldest() {
        let mut buckets = Buckets::default();
        for minute in 0..3 {
            buckets.add(key(minute * BUCKET_MICROS), 1, 1, 0);
        }
        buckets.expire(2 * BUCKET_MICROS);
        let starts: Vec<i64> = buckets.iter().map(|(k, _)| k.start_us).collect();
        assert_eq!(starts, vec![2 * BUCKET_MICROS]);
        for minute in 0..(MAX_BUCKETS as i64 + 5) {
            buckets.add(key((minute + 10) * BUCKET_MICROS), 1, 1, 0);
        }
        assert_eq!(buckets.len(), MAX_BUCKETS);
        let first = buckets.iter().next().map(|(k, _)| k.start_us);
        assert_eq!(first, Some(15 * BUCKET_MICROS));
    }
}
