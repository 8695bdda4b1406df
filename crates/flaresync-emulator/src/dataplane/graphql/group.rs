//! One answer row's invocations, accumulated: raw invocations one by one, summarised buckets as
//! their totals. Counts, sums and maxima are exact either way; a quantile is exact (nearest
//! rank) while the row holds only raw invocations and within the sketch's 1% once it holds a
//! summarised bucket. Pure.

use super::super::latency_sketch::Sketch;
use super::super::request_log::Invocation;
use super::super::request_summary::{Summary, Totals};

/// The latency metric a quantile reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Wall,
    Cpu,
}

#[derive(Debug, Clone, Default)]
pub struct Group {
    /// Counts, sums and maxima of everything; sketches of the summarised buckets only.
    totals: Totals,
    errors: u64,
    raw_wall: Vec<u64>,
    raw_cpu: Vec<u64>,
}

impl Group {
    pub fn add_raw(&mut self, i: &Invocation) {
        self.totals
            .add_exact(i.wall_time_us, i.cpu_time_us, i.subrequests);
        self.errors += u64::from(i.outcome.is_error());
        self.raw_wall.push(i.wall_time_us);
        self.raw_cpu.push(i.cpu_time_us);
    }

    pub fn add_summary(&mut self, s: &Summary) {
        self.totals.merge(&s.totals);
        if s.outcome.is_error() {
            self.errors += s.totals.requests;
        }
    }

    pub fn totals(&self) -> &Totals {
        &self.totals
    }

    pub fn errors(&self) -> u64 {
        self.errors
    }

    /// The nearest-rank `q` quantile of `metric`, in microseconds.
    pub fn quantile(&self, metric: Metric, q: f64) -> f64 {
        let (raw, summarised) = match metric {
            Metric::Wall => (&self.raw_wall, &self.totals.wall),
            Metric::Cpu => (&self.raw_cpu, &self.totals.cpu),
        };
        if summarised.count() == 0 {
            return nearest_rank(raw, q);
        }
        let mut all: Sketch = summarised.clone();
        raw.iter().for_each(|v| all.add(*v));
        all.quantile(q)
    }
}

/// The nearest-rank `q` quantile of `values` (0 when there are none).
pub fn nearest_rank(values: &[u64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let index = ((q * sorted.len() as f64).ceil() as usize).saturating_sub(1);
    sorted.get(index).copied().unwrap_or(0) as f64
}
