//! Per-request CPU time, measured from the workerd process serving the request.
//!
//! workerd does not measure it: the open-source server reports `cpuTime: 0` (and `wallTime:
//! 0`) in every tail/trace event (`src/workerd/server/server.c++`, `RequestObserverWithTracer`
//! in v1.20260426.1: `t->setOutcome(outcome, 0 * kj::MILLISECONDS /* cpu time */, …)`), and
//! the Worker cannot time itself (its clock stops while it computes). So the data plane reads
//! the on-CPU time of workerd's main thread — the thread that runs every isolate — from
//! `/proc/<pid>/schedstat` when a request starts and when its response head arrives, and shares
//! each interval's CPU out equally among the requests in flight during it ([`CpuShares`]). A
//! request alone in its process gets exactly the CPU its process spent; concurrent requests get
//! a fair-share estimate. Where the clock cannot be read (not Linux) the wall time stands in.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The virtual clock of fair CPU shares: `per_request_ns` grows by each interval's CPU divided
/// by the requests in flight during it, so a request's share is the growth between its start
/// and its end. Pure.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CpuShares {
    last_cpu_ns: Option<u64>,
    per_request_ns: u64,
    in_flight: u64,
}

/// A request's start on the share clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket(u64);

impl CpuShares {
    fn advance(&mut self, cpu_ns: u64) {
        if let (Some(last), true) = (self.last_cpu_ns, self.in_flight > 0) {
            self.per_request_ns += cpu_ns.saturating_sub(last) / self.in_flight;
        }
        self.last_cpu_ns = Some(self.last_cpu_ns.map_or(cpu_ns, |last| last.max(cpu_ns)));
    }

    /// A request starts; the process has used `cpu_ns` so far.
    pub fn start(&mut self, cpu_ns: u64) -> Ticket {
        self.advance(cpu_ns);
        self.in_flight += 1;
        Ticket(self.per_request_ns)
    }

    /// The request of `ticket` ends; returns its share in nanoseconds.
    pub fn finish(&mut self, ticket: Ticket, cpu_ns: u64) -> u64 {
        self.advance(cpu_ns);
        self.in_flight = self.in_flight.saturating_sub(1);
        self.per_request_ns.saturating_sub(ticket.0)
    }
}

/// The CPU clock of one workerd process, the shares of its requests, and when each request
/// still in flight started (what the [`watchdog`](super::watchdog) looks at).
#[derive(Debug)]
pub struct CpuMeter {
    schedstat: File,
    state: Mutex<MeterState>,
}

#[derive(Debug, Default)]
struct MeterState {
    shares: CpuShares,
    /// Request number -> when it started and the version serving it (oldest first).
    in_flight: BTreeMap<u64, (Instant, Arc<str>)>,
    next: u64,
    /// Requests answered so far (not those dropped unfinished).
    finished: u64,
}

/// A request in flight on a [`CpuMeter`]; dropping it unfinished (the client went away)
/// takes the request out of the books without a CPU figure.
#[derive(Debug)]
pub struct Started<'a> {
    meter: &'a CpuMeter,
    ticket: Ticket,
    number: u64,
    done: bool,
}

impl CpuMeter {
    /// The meter of process `pid`; `None` where `/proc/<pid>/schedstat` cannot be read.
    pub fn of_process(pid: u32) -> Option<Self> {
        let schedstat = File::open(format!("/proc/{pid}/schedstat")).ok()?;
        let meter = Self {
            schedstat,
            state: Mutex::default(),
        };
        meter.cpu_ns().map(|_| meter)
    }

    /// On-CPU nanoseconds of the process's main thread so far.
    pub fn cpu_ns(&self) -> Option<u64> {
        let mut buffer = [0u8; 96];
        let read = self.schedstat.read_at(&mut buffer, 0).ok()?;
        parse_schedstat(buffer.get(..read)?)
    }

    /// A request for `version` starts (`None` when the clock cannot be read).
    pub fn start(&self, version: &Arc<str>) -> Option<Started<'_>> {
        let now = self.cpu_ns()?;
        let mut state = self.lock();
        let ticket = state.shares.start(now);
        let number = state.next;
        state.next += 1;
        state
            .in_flight
            .insert(number, (Instant::now(), version.clone()));
        Some(Started {
            meter: self,
            ticket,
            number,
            done: false,
        })
    }

    /// When the oldest request still in flight started, and its version.
    pub fn oldest_in_flight(&self) -> Option<(Instant, Arc<str>)> {
        self.lock().in_flight.values().next().cloned()
    }

    /// How many requests have finished so far.
    pub fn finished(&self) -> u64 {
        self.lock().finished
    }

    fn end(&self, number: u64, ticket: Ticket, cpu_ns: Option<u64>, answered: bool) -> Option<u64> {
        let mut state = self.lock();
        state.in_flight.remove(&number);
        state.finished += u64::from(answered);
        let cpu_ns = cpu_ns.or(state.shares.last_cpu_ns)?;
        Some(state.shares.finish(ticket, cpu_ns) / 1_000)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MeterState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Started<'_> {
    /// The request ends: its CPU time in microseconds.
    pub fn finish(mut self) -> Option<u64> {
        self.done = true;
        self.meter
            .end(self.number, self.ticket, self.meter.cpu_ns(), true)
    }
}

impl Drop for Started<'_> {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.meter.end(self.number, self.ticket, None, false);
        }
    }
}

/// The first field of `/proc/<pid>/schedstat`: time spent on the CPU, in nanoseconds.
fn parse_schedstat(text: &[u8]) -> Option<u64> {
    std::str::from_utf8(text)
        .ok()?
        .split_ascii_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_alone_gets_all_the_cpu_of_its_interval() {
        let mut shares = CpuShares::default();
        let ticket = shares.start(1_000);
        assert_eq!(shares.finish(ticket, 4_000), 3_000);
        // CPU used while nothing was in flight is nobody's.
        let ticket = shares.start(10_000);
        assert_eq!(shares.finish(ticket, 10_500), 500);
    }

    #[test]
    fn overlapping_requests_share_the_cpu_of_the_intervals_they_overlap() {
        let mut shares = CpuShares::default();
        let a = shares.start(0);
        let b = shares.start(1_000); // a alone: 1,000
        let a_cpu = shares.finish(a, 3_000); // a and b: 2,000 -> 1,000 each
        let b_cpu = shares.finish(b, 4_000); // b alone: 1,000
        assert_eq!((a_cpu, b_cpu), (2_000, 2_000));
        assert_eq!(a_cpu + b_cpu, 4_000, "the shares add up to the CPU used");
    }

    #[test]
    fn a_clock_that_goes_backwards_never_underflows() {
        let mut shares = CpuShares::default();
        let ticket = shares.start(5_000);
        assert_eq!(shares.finish(ticket, 4_000), 0);
    }

    #[test]
    fn a_request_dropped_unfinished_leaves_the_books() {
        if cfg!(target_os = "linux") {
            let meter = CpuMeter::of_process(std::process::id()).expect("schedstat");
            let (a, b): (Arc<str>, Arc<str>) = (Arc::from("a"), Arc::from("b"));
            let first = meter.start(&a).expect("start");
            let second = meter.start(&b).expect("start");
            drop(first);
            assert_eq!(meter.oldest_in_flight().map(|(_, v)| v), Some(b));
            drop(second);
            assert_eq!(meter.oldest_in_flight(), None);
            assert_eq!(meter.finished(), 0, "dropped requests were not answered");
            assert_eq!(meter.lock().shares.in_flight, 0);
        }
    }

    #[test]
    fn the_first_schedstat_field_is_the_cpu_time() {
        assert_eq!(parse_schedstat(b"123456789 2000 7\n"), Some(123_456_789));
        assert_eq!(parse_schedstat(b""), None);
        assert_eq!(parse_schedstat(b"x 1 2"), None);
    }

    #[test]
    fn this_process_has_a_readable_cpu_clock_on_linux() {
        if cfg!(target_os = "linux") {
            let meter = CpuMeter::of_process(std::process::id()).expect("schedstat");
            let version: Arc<str> = Arc::from("v1");
            let started = meter.start(&version).expect("start");
            let spin: u64 = (0..200_000u64).map(|i| i ^ (i >> 3)).sum();
            assert!(spin > 0);
            assert_eq!(meter.oldest_in_flight().map(|(_, v)| v), Some(version));
            assert!(started.finish().is_some());
            assert_eq!(meter.oldest_in_flight(), None);
        }
    }
}
