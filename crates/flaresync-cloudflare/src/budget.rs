//! The account-wide request budget: a token bucket awaited before every request.
//!
//! Cloudflare allows 1200 requests per 5 minutes per token, counted across the dashboard, CI and
//! every other client, and answers an overrun with a 5-minute lockout of *all* calls. flaresync
//! therefore spends at most a configured share of that (default 900 per 5 minutes) so humans and
//! CI using the same token keep room.
//!
//! A bucket of capacity `burst` refilled at `(limit - burst) / window` never lets more than
//! `limit` requests through in any window of length `window`: at most `burst` saved-up tokens plus
//! what refills during the window. [`TokenBucket`] is the pure arithmetic (time passed in);
//! [`Budget`] is the shared async shell every clone of the client awaits.
//!
//! The bucket only knows flaresync's own traffic. Cloudflare also reports the token's real
//! remaining quota on every answer (`Ratelimit: "default";r=<remaining>;t=<seconds to reset>`,
//! see [`parse_ratelimit_header`]); when that drops to `server_reserve`, spending stops until the
//! reset, so other users of the token keep their share and nobody trips the lockout.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicUsize, Ordering},
};
use std::time::Duration;

use tokio::time::Instant;

/// Sizing of the request budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetConfig {
    /// Most requests flaresync may make in any window of `window`.
    pub limit: u32,
    /// The window Cloudflare counts over (5 minutes).
    pub window: Duration,
    /// Requests that may go out back to back after a quiet period. Must be below `limit`.
    pub burst: u32,
    /// Requests of the token's quota (as Cloudflare reports it) left to other clients: when the
    /// reported remaining quota falls to this, flaresync waits for the quota to reset.
    pub server_reserve: u32,
}

impl Default for BudgetConfig {
    /// 900 per 5 minutes (75% of Cloudflare's 1200), bursts of 60, and 100 requests of the
    /// reported quota kept for humans and CI on the same token.
    fn default() -> Self {
        BudgetConfig {
            limit: 900,
            window: Duration::from_secs(300),
            burst: 60,
            server_reserve: 100,
        }
    }
}

/// Why a [`BudgetConfig`] is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BudgetConfigError {
    #[error(
        "request budget burst must be at least 1 and below the limit (burst {burst}, limit {limit}); lower the burst"
    )]
    Burst { burst: u32, limit: u32 },
    #[error("request budget window must be longer than zero")]
    Window,
}

impl BudgetConfig {
    /// Checks that the bucket can refill and can hold at least one token.
    pub fn validate(&self) -> Result<(), BudgetConfigError> {
        if self.burst == 0 || self.burst >= self.limit {
            return Err(BudgetConfigError::Burst {
                burst: self.burst,
                limit: self.limit,
            });
        }
        if self.window.is_zero() {
            return Err(BudgetConfigError::Window);
        }
        Ok(())
    }

    /// Tokens added per second.
    pub fn refill_per_second(&self) -> f64 {
        f64::from(self.limit.saturating_sub(self.burst)) / self.window.as_secs_f64()
    }
}

/// The token's quota as Cloudflare last reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerQuota {
    /// Requests left before the lockout.
    pub remaining: u32,
    /// Time until the quota resets.
    pub reset: Duration,
}

/// Parses Cloudflare's `Ratelimit` header (`"default";r=50;t=30`, IETF draft syntax). The first
/// list item wins; an item without both `r` and `t` is ignored.
pub fn parse_ratelimit_header(value: &str) -> Option<ServerQuota> {
    let item = value.split(',').next()?;
    let mut remaining = None;
    let mut reset = None;
    for param in item.split(';').skip(1) {
        let Some((key, val)) = param.split_once('=') else {
            continue;
        };
        let val = val.trim();
        match key.trim() {
            "r" => remaining = val.parse::<u32>().ok(),
            "t" => reset = val.parse::<u64>().ok().map(Duration::from_secs),
            _ => {}
        }
    }
    Some(ServerQuota {
        remaining: remaining?,
        reset: reset?,
    })
}

/// Allowance derived from the last reported quota.
#[derive(Debug, Clone, Copy)]
struct Allowance {
    left: u32,
    until: Instant,
}

/// Pure token bucket. All methods take the current instant; nothing here reads a clock.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    capacity: f64,
    refill_per_second: f64,
    tokens: f64,
    updated: Instant,
    blocked_until: Option<Instant>,
    server_reserve: u32,
    /// Longest reset accepted from the server (the window), against absurd values.
    max_reset: Duration,
    allowance: Option<Allowance>,
}

impl TokenBucket {
    /// A full bucket. `config` must have passed [`BudgetConfig::validate`].
    pub fn new(config: &BudgetConfig, now: Instant) -> Self {
        TokenBucket {
            capacity: f64::from(config.burst),
            refill_per_second: config.refill_per_second(),
            tokens: f64::from(config.burst),
            updated: now,
            blocked_until: None,
            server_reserve: config.server_reserve,
            max_reset: config.window,
            allowance: None,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.refill_per_second).min(self.capacity);
        self.updated = self.updated.max(now);
    }

    /// Takes one token, or says how long to wait before asking again.
    pub fn try_acquire(&mut self, now: Instant) -> Result<(), Duration> {
        if let Some(until) = self.blocked_until {
            if until > now {
                return Err(until - now);
            }
            self.blocked_until = None;
        }
        if let Some(allowance) = self.allowance {
            if now >= allowance.until {
                self.allowance = None;
            } else if allowance.left == 0 {
                return Err(allowance.until - now);
            }
        }
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            if let Some(allowance) = &mut self.allowance {
                allowance.left = allowance.left.saturating_sub(1);
            }
            return Ok(());
        }
        if self.refill_per_second <= 0.0 {
            // Unreachable with a validated config; wait a whole minute rather than spin.
            return Err(Duration::from_secs(60));
        }
        let missing = 1.0 - self.tokens;
        // Round up to the next millisecond so the retry lands after the token exists.
        let wait = Duration::from_secs_f64(missing / self.refill_per_second);
        Err(wait.max(Duration::from_millis(1)))
    }

    /// Stops all spending until `until` and empties the bucket: Cloudflare said 429, so the
    /// account-wide counter is exhausted no matter what this bucket believed.
    pub fn block_until(&mut self, until: Instant, now: Instant) {
        self.refill(now);
        self.tokens = 0.0;
        self.updated = self.updated.max(until);
        self.blocked_until = Some(self.blocked_until.map_or(until, |b| b.max(until)));
    }

    /// Takes in the quota Cloudflare reported on an answer: from now until the reset, at most
    /// `remaining - server_reserve` more requests go out. The latest report replaces earlier ones
    /// (answers to concurrent requests may arrive out of order; the reserve absorbs that).
    pub fn observe_quota(&mut self, quota: ServerQuota, now: Instant) {
        self.allowance = Some(Allowance {
            left: quota.remaining.saturating_sub(self.server_reserve),
            until: now + quota.reset.min(self.max_reset),
        });
    }

    /// Whole tokens available at `now`.
    pub fn available(&mut self, now: Instant) -> u32 {
        if self.blocked_until.is_some_and(|until| until > now) {
            return 0;
        }
        self.refill(now);
        // tokens is within [0, capacity] and capacity came from a u32.
        let tokens = self.tokens.floor().max(0.0) as u32;
        match self.allowance {
            Some(allowance) if now < allowance.until => tokens.min(allowance.left),
            _ => tokens,
        }
    }

    /// Bucket capacity (the burst).
    pub fn capacity(&self) -> u32 {
        self.capacity as u32
    }
}

/// The shared budget: clones share one bucket.
#[derive(Debug, Clone)]
pub struct Budget {
    bucket: Arc<Mutex<TokenBucket>>,
    /// Requests waiting for a token right now (for progress displays).
    waiting: Arc<AtomicUsize>,
}

/// Counts one request as waiting while it lives (also when its future is dropped mid-wait).
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn new(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        Waiting(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Budget {
    /// A full budget. `config` must have passed [`BudgetConfig::validate`].
    pub fn new(config: &BudgetConfig) -> Self {
        Budget {
            bucket: Arc::new(Mutex::new(TokenBucket::new(config, Instant::now()))),
            waiting: Arc::new(AtomicUsize::new(0)),
        }
    }

    fn with_bucket<T>(&self, f: impl FnOnce(&mut TokenBucket) -> T) -> T {
        // A poisoned lock only means another thread panicked mid-update of plain numbers; the
        // bucket is still usable.
        let mut guard = self
            .bucket
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut guard)
    }

    /// Waits until one request may be sent and takes its token. Returns how long it waited.
    pub async fn acquire(&self) -> Duration {
        let start = Instant::now();
        let mut waiting = None;
        loop {
            match self.with_bucket(|bucket| bucket.try_acquire(Instant::now())) {
                Ok(()) => return Instant::now().saturating_duration_since(start),
                Err(wait) => {
                    waiting.get_or_insert_with(|| Waiting::new(&self.waiting));
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// Requests of all holders waiting for a token right now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Blocks every holder of this budget for `duration` (after a 429).
    pub fn block_for(&self, duration: Duration) {
        let now = Instant::now();
        self.with_bucket(|bucket| bucket.block_until(now + duration, now));
    }

    /// Takes in the quota Cloudflare reported (see [`TokenBucket::observe_quota`]).
    pub fn observe_quota(&self, quota: ServerQuota) {
        let now = Instant::now();
        self.with_bucket(|bucket| bucket.observe_quota(quota, now));
    }

    /// Whole requests that could go out right now.
    pub fn available(&self) -> u32 {
        self.with_bucket(|bucket| bucket.available(Instant::now()))
    }

    /// The bucket's capacity (burst size).
    pub fn capacity(&self) -> u32 {
        self.with_bucket(|bucket| bucket.capacity())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(limit: u32, window_secs: u64, burst: u32) -> BudgetConfig {
        BudgetConfig {
            limit,
            window: Duration::from_secs(window_secs),
            burst,
            server_reserve: 0,
        }
    }

    #[test]
    fn ratelimit_header_parses_cloudflare_syntax() {
        let quota = |remaining, secs| {
            Some(ServerQuota {
                remaining,
                reset: Duration::from_secs(secs),
            })
        };
        assert_eq!(
            parse_ratelimit_header("\"default\";r=50;t=30"),
            quota(50, 30)
        );
        assert_eq!(parse_ratelimit_header("default; r=0; t=300"), quota(0, 300));
        assert_eq!(
            parse_ratelimit_header("\"default\";r=5;t=1, \"burst\";r=1;t=9"),
            quota(5, 1)
        );
        for garbage in [
            "",
            "\"default\"",
            "\"default\";r=5",
            "\"default\";r=-1;t=3",
            "r=1;t=2",
        ] {
            assert_eq!(parse_ratelimit_header(garbage), None, "{garbage:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn reported_quota_stops_spending_at_the_reserve_until_reset() {
        let mut cfg = config(900, 300, 60);
        cfg.server_reserve = 10;
        let start = Instant::now();
        let mut bucket = TokenBucket::new(&cfg, start);
        bucket.observe_quota(
            ServerQuota {
                remaining: 12,
                reset: Duration::from_secs(40),
            },
            start,
        );
        assert_eq!(bucket.available(start), 2);
        assert_eq!(bucket.try_acquire(start), Ok(()));
        assert_eq!(bucket.try_acquire(start), Ok(()));
        assert_eq!(
            bucket.try_acquire(start + Duration::from_secs(10)),
            Err(Duration::from_secs(30)),
            "the reserve is left to others until the reset"
        );
        assert_eq!(bucket.try_acquire(start + Duration::from_secs(40)), Ok(()));
        // Absurd resets are capped at the window.
        bucket.observe_quota(
            ServerQuota {
                remaining: 0,
                reset: Duration::from_secs(86_400),
            },
            start + Duration::from_secs(40),
        );
        assert_eq!(
            bucket.try_acquire(start + Duration::from_secs(40)),
            Err(Duration::from_secs(300))
        );
    }

    #[test]
    fn invalid_configs_are_rejected() {
        assert!(config(900, 300, 60).validate().is_ok());
        assert!(matches!(
            config(10, 300, 10).validate(),
            Err(BudgetConfigError::Burst { .. })
        ));
        assert!(matches!(
            config(10, 300, 0).validate(),
            Err(BudgetConfigError::Burst { .. })
        ));
        assert_eq!(config(10, 0, 2).validate(), Err(BudgetConfigError::Window));
        assert!(BudgetConfig::default().validate().is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn bucket_spends_burst_then_waits_for_refill() {
        // 3 burst, refill (6-3)/30s = 0.1 token/s -> one token every 10 s.
        let cfg = config(6, 30, 3);
        let start = Instant::now();
        let mut bucket = TokenBucket::new(&cfg, start);
        for _ in 0..3 {
            assert_eq!(bucket.try_acquire(start), Ok(()));
        }
        let wait = bucket.try_acquire(start).expect_err("bucket is empty");
        assert!(
            (wait.as_secs_f64() - 10.0).abs() < 0.01,
            "waits for one refill, got {wait:?}"
        );
        assert_eq!(bucket.try_acquire(start + Duration::from_secs(10)), Ok(()));
        assert_eq!(bucket.available(start + Duration::from_secs(10)), 0);
        assert_eq!(bucket.available(start + Duration::from_secs(1000)), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn block_until_stops_spending_and_empties_the_bucket() {
        let cfg = config(6, 30, 3);
        let start = Instant::now();
        let mut bucket = TokenBucket::new(&cfg, start);
        bucket.block_until(start + Duration::from_secs(5), start);
        assert_eq!(
            bucket.try_acquire(start + Duration::from_secs(1)),
            Err(Duration::from_secs(4))
        );
        assert_eq!(bucket.available(start + Duration::from_secs(1)), 0);
        // After the block the bucket starts empty and refills from the end of the block.
        let after = start + Duration::from_secs(5);
        assert!(bucket.try_acquire(after).is_err());
        assert_eq!(bucket.try_acquire(after + Duration::from_secs(10)), Ok(()));
    }

    /// The guarantee the module promises: a greedy client never exceeds `limit` in any window.
    #[tokio::test(start_paused = true)]
    async fn greedy_client_never_exceeds_limit_in_any_window() {
        let cfg = config(20, 10, 5);
        let start = Instant::now();
        let mut bucket = TokenBucket::new(&cfg, start);
        let mut now = start;
        let mut sent: Vec<Instant> = Vec::new();
        while now < start + Duration::from_secs(60) {
            match bucket.try_acquire(now) {
                Ok(()) => sent.push(now),
                Err(wait) => now += wait,
            }
        }
        // 5 saved tokens plus 1.5/s for 60 s: the budget is actually spent, not just capped.
        assert!(sent.len() >= 94, "only {} requests in 60 s", sent.len());
        for (i, first) in sent.iter().enumerate() {
            let in_window = sent[i..]
                .iter()
                .take_while(|t| t.duration_since(*first) < cfg.window)
                .count();
            assert!(in_window <= 20, "{in_window} requests within one window");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn shared_budget_makes_clones_wait() {
        let budget = Budget::new(&config(4, 20, 2)); // refill 0.1/s
        let clone = budget.clone();
        assert_eq!(budget.acquire().await, Duration::ZERO);
        assert_eq!(clone.acquire().await, Duration::ZERO);
        assert_eq!(budget.available(), 0);
        let waited = clone.acquire().await;
        assert!(
            waited >= Duration::from_secs(10) && waited < Duration::from_millis(10_010),
            "waited {waited:?}"
        );
        assert_eq!(budget.capacity(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_counts_as_waiting_only_while_it_waits() {
        let budget = Budget::new(&config(4, 20, 1)); // refill 0.15/s
        assert_eq!(budget.acquire().await, Duration::ZERO);
        assert_eq!(budget.waiting(), 0, "an immediate token is no wait");
        let clone = budget.clone();
        let waiter = tokio::spawn(async move { clone.acquire().await });
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(budget.waiting(), 1);
        waiter.await.expect("waiter runs");
        assert_eq!(budget.waiting(), 0);

        // A waiter given up on (its future dropped) no longer counts.
        let clone = budget.clone();
        let abandoned = tokio::spawn(async move { clone.acquire().await });
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(budget.waiting(), 1);
        abandoned.abort();
        let _ = abandoned.await;
        assert_eq!(budget.waiting(), 0);
    }
}
