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

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Mutex;

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

/// The CPU clock of one workerd process and the shares of its requests.
#[derive(Debug)]
pub struct CpuMeter {
    schedstat: File,
    shares: Mutex<CpuShares>,
}

impl CpuMeter {
    /// The meter of process `pid`; `None` where `/proc/<pid>/schedstat` cannot be read.
    pub fn of_process(pid: u32) -> Option<Self> {
        let schedstat = File::open(format!("/proc/{pid}/schedstat")).ok()?;
        let meter = Self {
            schedstat,
            shares: Mutex::default(),
        };
        meter.cpu_ns().map(|_| meter)
    }

    /// On-CPU nanoseconds of the process's main thread so far.
    fn cpu_ns(&self) -> Option<u64> {
        let mut buffer = [0u8; 96];
        let read = self.schedstat.read_at(&mut buffer, 0).ok()?;
        parse_schedstat(buffer.get(..read)?)
    }

    /// A request starts (`None` when the clock cannot be read).
    pub fn start(&self) -> Option<Ticket> {
        let now = self.cpu_ns()?;
        Some(self.lock().start(now))
    }

    /// The request of `ticket` ends: its CPU time in microseconds.
    pub fn finish(&self, ticket: Ticket) -> Option<u64> {
        let now = self.cpu_ns()?;
        Some(self.lock().finish(ticket, now) / 1_000)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CpuShares> {
        self.shares.lock().unwrap_or_else(|p| p.into_inner())
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
    fn the_first_schedstat_field_is_the_cpu_time() {
        assert_eq!(parse_schedstat(b"123456789 2000 7\n"), Some(123_456_789));
        assert_eq!(parse_schedstat(b""), None);
        assert_eq!(parse_schedstat(b"x 1 2"), None);
    }

    #[test]
    fn this_process_has_a_readable_cpu_clock_on_linux() {
        if cfg!(target_os = "linux") {
            let meter = CpuMeter::of_process(std::process::id()).expect("schedstat");
            let ticket = meter.start().expect("start");
            let spin: u64 = (0..200_000u64).map(|i| i ^ (i >> 3)).sum();
            assert!(spin > 0);
            assert!(meter.finish(ticket).is_some());
        }
    }
}
