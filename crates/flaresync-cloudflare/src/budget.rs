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
//! see [`crate::ratelimit_headers`]); when that drops to `server_reserve`, spending stops until
//! the reset, so other users of the token keep their share and nobody trips the lockout. Its
//! policy (`Ratelimit-Policy: "default";q=<quota>;w=<window>`) sizes the bucket: the configured
//! numbers are a share of Cloudflare's documented 1200 per 300 s ([`BudgetConfig::sized_for`])
//! and are scaled to the policy the server announces, so a token with a raised (or, in the
//! emulator, lowered) limit gets the same share of it.
//!
//! # Lanes
//!
//! A rollback must never wait behind a big forward deploy. Requests made inside
//! [`in_lane`]`(Lane::Rollback, …)` may spend the last `rollback_reserve` tokens of the bucket
//! and half of the server reserve; every other request ([`Lane::Normal`]) stops short of them.
//! The reserve costs no throughput (the refill rate is shared): a long deploy holds the bucket at
//! the reserve, and a rollback arriving meanwhile finds its tokens there.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicUsize, Ordering},
};
use std::time::Duration;

use tokio::time::Instant;

pub use crate::ratelimit_headers::{
    ServerPolicy, ServerQuota, parse_ratelimit_header, parse_ratelimit_policy_header,
};

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
    /// reported remaining quota falls to this, flaresync waits for the quota to reset (a
    /// rollback may spend half of it).
    pub server_reserve: u32,
    /// Tokens of the bucket only rollbacks may spend ([`Lane::Rollback`]). Below `burst`.
    pub rollback_reserve: u32,
    /// The server policy these numbers are a share of. When the server announces another
    /// (`Ratelimit-Policy`), the budget is scaled to it ([`BudgetConfig::for_policy`]).
    /// `None`: fixed numbers, whatever the server says.
    pub sized_for: Option<ServerPolicy>,
}

impl Default for BudgetConfig {
    /// 900 per 5 minutes (75% of Cloudflare's 1200), bursts of 60 of which 10 are kept for
    /// rollbacks, and 100 requests of the reported quota kept for humans and CI on the same
    /// token; scaled to the policy the server announces.
    fn default() -> Self {
        BudgetConfig {
            limit: 900,
            window: Duration::from_secs(300),
            burst: 60,
            server_reserve: 100,
            rollback_reserve: 10,
            sized_for: Some(ServerPolicy::CLOUDFLARE),
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
    #[error(
        "request budget rollback reserve must be below the burst (reserve {reserve}, burst {burst}); lower the reserve"
    )]
    RollbackReserve { reserve: u32, burst: u32 },
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
        if self.rollback_reserve >= self.burst {
            return Err(BudgetConfigError::RollbackReserve {
                reserve: self.rollback_reserve,
                burst: self.burst,
            });
        }
        Ok(())
    }

    /// This budget scaled to the server's `policy`: the same share of its quota, over its
    /// window. Reserves shrink with a smaller quota but never grow past what was configured nor
    /// round down to nothing; the server reserve keeps at least a quarter of the quota (up to
    /// what was configured). Always valid when `self` is; unchanged without `sized_for`.
    pub fn for_policy(&self, policy: ServerPolicy) -> BudgetConfig {
        let Some(base) = self.sized_for.filter(|base| base.quota > 0) else {
            return self.clone();
        };
        // n * quota / base, in integers: rounded to nearest, or up for the reserves.
        let (quota, base) = (u64::from(policy.quota), u64::from(base.quota));
        let clamp = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
        let scaled = |n: u32| clamp((u64::from(n) * quota + base / 2) / base);
        let reserve = |n: u32| n.min(clamp((u64::from(n) * quota).div_ceil(base)));
        let limit = scaled(self.limit).max(2);
        let burst = scaled(self.burst).clamp(1, limit - 1);
        BudgetConfig {
            limit,
            window: if policy.window.is_zero() {
                self.window
            } else {
                policy.window
            },
            burst,
            // The server reserve also absorbs requests in flight from several clients, which
            // does not shrink with the quota: at least a quarter of it (or what was configured).
            server_reserve: self
                .server_reserve
                .min(reserve(self.server_reserve).max(policy.quota / 4)),
            rollback_reserve: reserve(self.rollback_reserve).min(burst - 1),
            sized_for: self.sized_for,
        }
    }

    /// Tokens added per second.
    pub fn refill_per_second(&self) -> f64 {
        f64::from(self.limit.saturating_sub(self.burst)) / self.window.as_secs_f64()
    }
}

/// Which share of the budget a request may spend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lane {
    /// Everything but rollbacks: stops short of the rollback reserve.
    #[default]
    Normal,
    /// A rollback (a deployment of an existing version): may spend the rollback reserve.
    Rollback,
}

tokio::task_local! {
    static LANE: Lane;
}

/// Runs `future` with its requests in `lane` (requests of tasks it spawns are not).
pub async fn in_lane<F: std::future::Future>(lane: Lane, future: F) -> F::Output {
    LANE.scope(lane, future).await
}

/// The lane of the current task ([`Lane::Normal`] outside [`in_lane`]).
pub fn current_lane() -> Lane {
    LANE.try_with(|lane| *lane).unwrap_or_default()
}

/// Allowance derived from the last reported quota.
#[derive(Debug, Clone, Copy)]
struct Allowance {
    /// Requests left of the token's quota, as reported minus those sent since.
    remaining: u32,
    until: Instant,
}

/// Pure token bucket. All methods take the current instant; nothing here reads a clock.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    /// The configured budget, before any scaling to a server policy.
    base: BudgetConfig,
    /// The server policy the bucket is sized for now (`None`: the configured numbers).
    policy: Option<ServerPolicy>,
    capacity: f64,
    refill_per_second: f64,
    tokens: f64,
    updated: Instant,
    blocked_until: Option<Instant>,
    server_reserve: u32,
    rollback_reserve: u32,
    /// Longest reset accepted from the server (the window), against absurd values.
    max_reset: Duration,
    allowance: Option<Allowance>,
}

impl TokenBucket {
    /// A full bucket. `config` must have passed [`BudgetConfig::validate`].
    pub fn new(config: &BudgetConfig, now: Instant) -> Self {
        TokenBucket {
            base: config.clone(),
            policy: None,
            capacity: f64::from(config.burst),
            refill_per_second: config.refill_per_second(),
            tokens: f64::from(config.burst),
            updated: now,
            blocked_until: None,
            server_reserve: config.server_reserve,
            rollback_reserve: config.rollback_reserve,
            max_reset: config.window,
            allowance: None,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.refill_per_second).min(self.capacity);
        self.updated = self.updated.max(now);
    }

    /// Tokens (and reported quota) `lane` must leave behind.
    fn reserves(&self, lane: Lane) -> (f64, u32) {
        match lane {
            Lane::Normal => (f64::from(self.rollback_reserve), self.server_reserve),
            Lane::Rollback => (0.0, self.server_reserve / 2),
        }
    }

    /// Takes one token for a request in `lane`, or says how long to wait before asking again.
    pub fn try_acquire(&mut self, now: Instant, lane: Lane) -> Result<(), Duration> {
        if let Some(until) = self.blocked_until {
            if until > now {
                return Err(until - now);
            }
            self.blocked_until = None;
        }
        let (kept_tokens, kept_quota) = self.reserves(lane);
        if let Some(allowance) = self.allowance {
            if now >= allowance.until {
                self.allowance = None;
            } else if allowance.remaining <= kept_quota {
                return Err(allowance.until - now);
            }
        }
        self.refill(now);
        let needed = 1.0 + kept_tokens;
        if self.tokens >= needed {
            self.tokens -= 1.0;
            if let Some(allowance) = &mut self.allowance {
                allowance.remaining = allowance.remaining.saturating_sub(1);
            }
            return Ok(());
        }
        if self.refill_per_second <= 0.0 {
            // Unreachable with a validated config; wait a whole minute rather than spin.
            return Err(Duration::from_secs(60));
        }
        let missing = needed - self.tokens;
        let wait = Duration::from_secs_f64(missing / self.refill_per_second);
        // At least a millisecond, so the retry lands after the token exists.
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

    /// Takes in the quota Cloudflare reported on an answer: from now until the reset, requests
    /// go out only while more than the reserve remains. The latest report replaces earlier ones
    /// (answers to concurrent requests may arrive out of order; the reserve absorbs that).
    pub fn observe_quota(&mut self, quota: ServerQuota, now: Instant) {
        self.allowance = Some(Allowance {
            remaining: quota.remaining,
            until: now + quota.reset.min(self.max_reset),
        });
    }

    /// Takes in the policy Cloudflare announced: the bucket is resized to the configured share
    /// of it ([`BudgetConfig::for_policy`]), keeping the tokens it holds (up to the new size).
    pub fn observe_policy(&mut self, policy: ServerPolicy, now: Instant) {
        if self.base.sized_for.is_none() || self.policy == Some(policy) {
            return;
        }
        let sized = self.base.for_policy(policy);
        if sized.validate().is_err() {
            return;
        }
        self.refill(now);
        self.policy = Some(policy);
        self.capacity = f64::from(sized.burst);
        self.refill_per_second = sized.refill_per_second();
        self.tokens = self.tokens.min(self.capacity);
        self.server_reserve = sized.server_reserve;
        self.rollback_reserve = sized.rollback_reserve;
        self.max_reset = sized.window;
    }

    /// Whole tokens available at `now`, within the reported quota less the server reserve.
    pub fn available(&mut self, now: Instant) -> u32 {
        if self.blocked_until.is_some_and(|until| until > now) {
            return 0;
        }
        self.refill(now);
        // tokens is within [0, capacity] and capacity came from a u32.
        let tokens = self.tokens.floor().max(0.0) as u32;
        match self.allowance {
            Some(allowance) if now < allowance.until => {
                tokens.min(allowance.remaining.saturating_sub(self.server_reserve))
            }
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
        crate::lock::with_lock(&self.bucket, f)
    }

    /// Waits until one request of the current task's [`Lane`] may be sent and takes its token.
    /// Returns how long it waited.
    pub async fn acquire(&self) -> Duration {
        let lane = current_lane();
        let start = Instant::now();
        let mut waiting = None;
        loop {
            match self.with_bucket(|bucket| bucket.try_acquire(Instant::now(), lane)) {
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

    /// Takes in the policy Cloudflare announced (see [`TokenBucket::observe_policy`]).
    pub fn observe_policy(&self, policy: ServerPolicy) {
        let now = Instant::now();
        self.with_bucket(|bucket| bucket.observe_policy(policy, now));
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
            rollback_reserve: 0,
            sized_for: None,
        }
    }

    const NORMAL: Lane = Lane::Normal;

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
        assert_eq!(bucket.try_acquire(start, NORMAL), Ok(()));
        assert_eq!(bucket.try_acquire(start, NORMAL), Ok(()));
        assert_eq!(
            bucket.try_acquire(start + Duration::from_secs(10), NORMAL),
            Err(Duration::from_secs(30)),
            "the reserve is left to others until the reset"
        );
        assert_eq!(
            bucket.try_acquire(start + Duration::from_secs(40), NORMAL),
            Ok(())
        );
        // Absurd resets are capped at the window.
        bucket.observe_quota(
            ServerQuota {
                remaining: 0,
                reset: Duration::from_secs(86_400),
            },
            start + Duration::from_secs(40),
        );
        assert_eq!(
            bucket.try_acquire(start + Duration::from_secs(40), NORMAL),
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
            assert_eq!(bucket.try_acquire(start, NORMAL), Ok(()));
        }
        let wait = bucket
            .try_acquire(start, NORMAL)
            .expect_err("bucket is empty");
        assert!(
            (wait.as_secs_f64() - 10.0).abs() < 0.01,
            "waits for one refill, got {wait:?}"
        );
        assert_eq!(
            bucket.try_acquire(start + Duration::from_secs(10), NORMAL),
            Ok(())
        );
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
            bucket.try_acquire(start + Duration::from_secs(1), NORMAL),
            Err(Duration::from_secs(4))
        );
        assert_eq!(bucket.available(start + Duration::from_secs(1)), 0);
        // After the block the bucket starts empty and refills from the end of the block.
        let after = start + Duration::from_secs(5);
        assert!(bucket.try_acquire(after, NORMAL).is_err());
        assert_eq!(
            bucket.try_acquire(after + Duration::from_secs(10), NORMAL),
            Ok(())
        );
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
            match bucket.try_acquire(now, NORMAL) {
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

    /// The rollback lane's reserve: a normal request stops short of it, a rollback spends it at
    /// once, and refilled tokens go to the rollback lane first.
    #[tokio::test(start_paused = true)]
    async fn rollbacks_spend_a_reserve_normal_requests_leave_alone() {
        // 10 burst, 3 of them for rollbacks; refill (100-10)/90s = 1 token/s.
        let mut cfg = config(100, 90, 10);
        cfg.rollback_reserve = 3;
        let start = Instant::now();
        let mut bucket = TokenBucket::new(&cfg, start);
        for _ in 0..7 {
            assert_eq!(bucket.try_acquire(start, NORMAL), Ok(()));
        }
        let wait = bucket.try_acquire(start, NORMAL).expect_err("reserve left");
        assert_eq!(wait, Duration::from_secs(1));
        for _ in 0..3 {
            assert_eq!(bucket.try_acquire(start, Lane::Rollback), Ok(()));
        }
        assert!(bucket.try_acquire(start, Lane::Rollback).is_err());
        // One second later one token exists: the rollback lane gets it, a normal request waits
        // until the whole reserve is back.
        let later = start + Duration::from_secs(1);
        assert_eq!(
            bucket.try_acquire(later, NORMAL),
            Err(Duration::from_secs(3))
        );
        assert_eq!(bucket.try_acquire(later, Lane::Rollback), Ok(()));
    }

    #[tokio::test(start_paused = true)]
    async fn rollbacks_may_spend_half_of_the_server_reserve() {
        let mut cfg = config(900, 300, 60);
        cfg.server_reserve = 10;
        let start = Instant::now();
        let mut bucket = TokenBucket::new(&cfg, start);
        let quota = ServerQuota {
            remaining: 10,
            reset: Duration::from_secs(20),
        };
        bucket.observe_quota(quota, start);
        assert_eq!(
            bucket.try_acquire(start, NORMAL),
            Err(Duration::from_secs(20))
        );
        for _ in 0..5 {
            assert_eq!(bucket.try_acquire(start, Lane::Rollback), Ok(()));
        }
        assert!(bucket.try_acquire(start, Lane::Rollback).is_err());
    }

    #[test]
    fn the_budget_is_scaled_to_the_announced_policy() {
        let default = BudgetConfig::default();
        assert_eq!(default.for_policy(ServerPolicy::CLOUDFLARE), default);
        let small = default.for_policy(ServerPolicy {
            quota: 120,
            window: Duration::from_secs(30),
        });
        assert_eq!(
            (small.limit, small.window, small.burst),
            (90, Duration::from_secs(30), 6)
        );
        assert_eq!((small.server_reserve, small.rollback_reserve), (30, 1));
        // A raised limit raises the budget, never the reserves.
        let large = default.for_policy(ServerPolicy {
            quota: 6000,
            window: Duration::from_secs(300),
        });
        assert_eq!((large.limit, large.burst), (4500, 300));
        assert_eq!((large.server_reserve, large.rollback_reserve), (100, 10));
        // Fixed numbers stay fixed.
        let fixed = config(4, 2, 2);
        assert_eq!(fixed.for_policy(ServerPolicy::CLOUDFLARE), fixed);
        for quota in [1, 2, 3, 7, 60, 1199, 100_000] {
            for window in [1, 30, 300, 86_400] {
                let policy = ServerPolicy {
                    quota,
                    window: Duration::from_secs(window),
                };
                let sized = default.for_policy(policy);
                assert_eq!(sized.validate(), Ok(()), "{policy:?} -> {sized:?}");
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_announced_policy_resizes_the_bucket() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(&BudgetConfig::default(), start);
        assert_eq!(bucket.capacity(), 60);
        let policy = ServerPolicy {
            quota: 120,
            window: Duration::from_secs(30),
        };
        bucket.observe_policy(policy, start);
        assert_eq!(bucket.capacity(), 6);
        assert_eq!(bucket.available(start), 6);
        // 5 normal requests (one token kept for rollbacks), then (90-6)/30 s = 2.8 tokens/s.
        for _ in 0..5 {
            assert_eq!(bucket.try_acquire(start, NORMAL), Ok(()));
        }
        let wait = bucket.try_acquire(start, NORMAL).expect_err("empty");
        assert!((wait.as_secs_f64() - 1.0 / 2.8).abs() < 0.01, "{wait:?}");
        // The same policy again changes nothing.
        bucket.observe_policy(policy, start);
        assert_eq!(bucket.available(start), 1);
    }

    #[tokio::test]
    async fn the_lane_is_the_tasks() {
        assert_eq!(current_lane(), Lane::Normal);
        let inside = in_lane(Lane::Rollback, async { current_lane() }).await;
        assert_eq!(inside, Lane::Rollback);
        assert_eq!(current_lane(), Lane::Normal);
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
