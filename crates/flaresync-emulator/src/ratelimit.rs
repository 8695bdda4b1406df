//! Cloudflare's per-token rate limit as a pure fixed-window counter: `requests` per `window`,
//! and once exceeded every call is refused until the window ends (SPEC.md §1.3).

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use crate::config::RateLimit;

/// The verdict for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// Requests left in the current window.
    pub remaining: u32,
    /// Whole seconds (rounded up) until the window resets.
    pub reset_secs: u64,
}

#[derive(Debug)]
struct Window {
    start: Instant,
    count: u32,
}

/// Counters per key (a token fingerprint, never the token).
#[derive(Debug)]
pub struct RateLimiter {
    policy: RateLimit,
    windows: HashMap<String, Window>,
}

impl RateLimiter {
    pub fn new(policy: RateLimit) -> Self {
        Self {
            policy,
            windows: HashMap::new(),
        }
    }

    pub fn policy(&self) -> RateLimit {
        self.policy
    }

    /// Counts one request for `key` at `now`.
    pub fn check(&mut self, key: &str, now: Instant) -> Decision {
        let window = self.policy.window;
        let entry = self.windows.entry(key.to_owned()).or_insert(Window {
            start: now,
            count: 0,
        });
        if now.duration_since(entry.start) >= window {
            *entry = Window {
                start: now,
                count: 0,
            };
        }
        let left = window.saturating_sub(now.duration_since(entry.start));
        let reset_secs = ceil_secs(left);
        if entry.count >= self.policy.requests {
            return Decision {
                allowed: false,
                remaining: 0,
                reset_secs,
            };
        }
        entry.count += 1;
        Decision {
            allowed: true,
            remaining: self.policy.requests - entry.count,
            reset_secs,
        }
    }

    pub fn reset(&mut self) {
        self.windows.clear();
    }
}

fn ceil_secs(d: Duration) -> u64 {
    let secs = d.as_secs();
    if d.subsec_nanos() > 0 {
        secs + 1
    } else {
        secs.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_limit_until_window_ends() {
        let mut rl = RateLimiter::new(RateLimit {
            requests: 2,
            window: Duration::from_secs(300),
        });
        let t0 = Instant::now();
        assert_eq!(rl.check("a", t0).remaining, 1);
        assert!(rl.check("a", t0).allowed);
        let blocked = rl.check("a", t0 + Duration::from_millis(1500));
        assert!(!blocked.allowed);
        assert_eq!(blocked.reset_secs, 299);
        assert!(rl.check("b", t0).allowed, "limits are per token");
        assert!(rl.check("a", t0 + Duration::from_secs(300)).allowed);
    }
}
