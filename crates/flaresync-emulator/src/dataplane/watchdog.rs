//! When a workerd process is wedged: one request has kept its only JavaScript thread busy for
//! longer than [`CPU_LIMIT`] (an endless loop), so every other Worker the process runs waits:
//! its oldest request is older than that, it was on the CPU all the while, and it finished no
//! request meanwhile (a busy process serving others, next to one slow request, is not wedged).
//! workerd enforces no CPU limit of its own, so the controller stops such a process and starts
//! it again (the looping request fails with Cloudflare's 1102, the other Workers serve again),
//! as Cloudflare ends a request over its CPU limit. Pure.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How long one request may hold the process's CPU before the process is restarted.
/// (Cloudflare's default limit is 30 s of CPU on paid plans; locally, every other Worker waits
/// meanwhile, so the emulator stops it sooner.)
pub const CPU_LIMIT: Duration = Duration::from_secs(5);

/// The process counts as busy when it was on the CPU at least this share of the window: far
/// above a process waiting on I/O (near 0), and low enough for a loop on a machine whose cores
/// are shared with other work (there a looping thread gets only its share of a core).
const BUSY: f64 = 0.1;

/// One reading of a process: its CPU clock and how many requests it has finished so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    pub cpu_ns: u64,
    pub finished: u64,
}

/// Readings of one process over the last [`CPU_LIMIT`] or so.
#[derive(Debug, Default)]
pub struct CpuWindow {
    samples: VecDeque<(Instant, Reading)>,
}

impl CpuWindow {
    /// Adds a reading taken `at`.
    pub fn sample(&mut self, at: Instant, reading: Reading) {
        self.samples.push_back((at, reading));
        // Keep the newest sample at least `CPU_LIMIT` old: the window's start.
        while self
            .samples
            .get(1)
            .is_some_and(|(second, _)| at.duration_since(*second) >= CPU_LIMIT)
        {
            self.samples.pop_front();
        }
    }

    /// Whether the process kept working on the CPU ([`BUSY`]) through the window and finished
    /// no request in it; `None` until the samples span [`CPU_LIMIT`].
    pub fn stuck(&self) -> Option<bool> {
        let ((first_at, first), (last_at, last)) = (self.samples.front()?, self.samples.back()?);
        let wall = last_at.duration_since(*first_at);
        let busy = last.cpu_ns.saturating_sub(first.cpu_ns) as f64 / wall.as_nanos() as f64;
        (wall >= CPU_LIMIT).then_some(busy >= BUSY && last.finished == first.finished)
    }
}

/// Whether the process is wedged: its oldest request in flight started more than
/// [`CPU_LIMIT`] ago and the process has been [stuck](CpuWindow::stuck) all that window.
pub fn wedged(oldest_request_age: Option<Duration>, stuck: Option<bool>) -> bool {
    oldest_request_age.is_some_and(|age| age > CPU_LIMIT) && stuck == Some(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Readings of (milliseconds, CPU milliseconds, finished requests).
    fn window(readings: &[(u64, u64, u64)]) -> CpuWindow {
        let start = Instant::now();
        let mut window = CpuWindow::default();
        for (ms, cpu_ms, finished) in readings {
            let reading = Reading {
                cpu_ns: cpu_ms * 1_000_000,
                finished: *finished,
            };
            window.sample(start + Duration::from_millis(*ms), reading);
        }
        window
    }

    #[test]
    fn a_process_looping_for_the_whole_window_is_wedged() {
        let looping = window(&[
            (0, 0, 7),
            (1_000, 1_000, 7),
            (5_000, 4_990, 7),
            (6_000, 5_990, 7),
        ]);
        assert_eq!(looping.stuck(), Some(true));
        assert!(wedged(Some(Duration::from_secs(6)), looping.stuck()));
    }

    #[test]
    fn a_short_window_says_nothing_yet() {
        let short = window(&[(0, 0, 0), (2_000, 2_000, 0)]);
        assert_eq!(short.stuck(), None);
        assert!(!wedged(Some(Duration::from_secs(60)), short.stuck()));
    }

    #[test]
    fn a_slow_request_on_an_idle_process_is_not_wedged() {
        // A request waiting on I/O for a minute: old, but the process is idle.
        let idle = window(&[(0, 0, 0), (3_000, 10, 0), (6_000, 20, 0)]);
        assert_eq!(idle.stuck(), Some(false));
        // A loop that only gets a sixth of a busy machine's CPU is still stuck.
        let starved = window(&[(0, 0, 0), (6_000, 1_000, 0)]);
        assert_eq!(starved.stuck(), Some(true));
        assert_eq!(idle.stuck(), Some(false));
        assert!(!wedged(Some(Duration::from_secs(60)), idle.stuck()));
    }

    #[test]
    fn a_busy_process_that_finishes_requests_is_not_wedged() {
        // Saturated by other traffic next to one slow request: it still finishes requests.
        let serving = window(&[(0, 0, 100), (6_000, 6_000, 90_000)]);
        assert_eq!(serving.stuck(), Some(false));
        assert!(!wedged(Some(Duration::from_secs(60)), serving.stuck()));
    }

    #[test]
    fn young_requests_are_never_wedged() {
        let looping = window(&[(0, 0, 0), (6_000, 6_000, 0)]);
        assert!(!wedged(Some(Duration::from_millis(20)), looping.stuck()));
        assert!(!wedged(None, looping.stuck()));
    }

    #[test]
    fn old_samples_leave_the_window() {
        let long = window(&[
            (0, 0, 0),
            (1_000, 0, 0),
            (7_000, 0, 1),
            (12_000, 5_000, 1),
            (13_000, 6_000, 1),
        ]);
        // The window now starts at 7 s (the newest sample at least 5 s old): 6 s of CPU in
        // 6 s, and the request finished at 7 s is before it.
        assert_eq!(long.stuck(), Some(true));
        assert_eq!(long.samples.len(), 3);
    }
}
