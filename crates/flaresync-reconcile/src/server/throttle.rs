//! Admission throttling, so a burst of requests costs neither memory nor a flooded log: a
//! token bucket per listener (429 beyond it), a bound on request bodies (413), at most a few
//! webhook payloads buffered at once, and a throttle for the log lines about refused requests
//! (one line a minute with a count, never text the caller sent).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::{
    extract::{Request, State},
    http::{StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use tokio::sync::Semaphore;
use tracing::warn;

use super::App;

/// Largest body accepted by the status server's own endpoints (they read none).
pub const MAX_BODY_BYTES: u64 = 64 * 1024;
/// GitHub's maximum webhook payload (larger deliveries are not sent by GitHub).
pub const WEBHOOK_MAX_BODY_BYTES: usize = 25 * 1024 * 1024;
/// Webhook payloads being read at the same time; more are answered 429 (GitHub redelivers).
pub const WEBHOOK_IN_FLIGHT: usize = 4;
/// How often a log line about refused requests may be written.
pub const REFUSAL_LOG_INTERVAL: Duration = Duration::from_secs(60);

/// Requests a listener admits: `burst` at once, then `per_second`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub burst: u32,
    pub per_second: f64,
}

impl RateLimit {
    /// The status server: dashboards, Prometheus and scripts (`/healthz` is never limited).
    pub const STATUS: RateLimit = RateLimit {
        burst: 100,
        per_second: 20.0,
    };
    /// The webhook listener: one delivery per push, a few redeliveries.
    pub const WEBHOOK: RateLimit = RateLimit {
        burst: 30,
        per_second: 5.0,
    };
}

/// A token bucket. Pure: the caller passes the time.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    limit: RateLimit,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn new(limit: RateLimit, now: Instant) -> Self {
        TokenBucket {
            limit,
            tokens: f64::from(limit.burst),
            last: now,
        }
    }

    /// Takes one token if there is one.
    pub fn try_take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens =
            (self.tokens + elapsed * self.limit.per_second).min(f64::from(self.limit.burst));
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// At most one log line per interval; counts the events in between.
#[derive(Debug)]
pub struct LogThrottle {
    interval: Duration,
    state: Mutex<(Option<Instant>, u64)>,
}

impl LogThrottle {
    pub fn new(interval: Duration) -> Self {
        LogThrottle {
            interval,
            state: Mutex::new((None, 0)),
        }
    }

    /// Records an event at `now`; `Some(n)` when a line may be written, `n` counting this
    /// event and those held back since the last line.
    pub fn admit_at(&self, now: Instant) -> Option<u64> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let (last, held) = &mut *state;
        *held += 1;
        if last.is_some_and(|last| now.saturating_duration_since(last) < self.interval) {
            return None;
        }
        *last = Some(now);
        Some(std::mem::take(held))
    }

    pub fn admit(&self) -> Option<u64> {
        self.admit_at(Instant::now())
    }
}

/// What one listener's handlers share: its bucket, its log throttles, its webhook slots.
#[derive(Debug)]
pub(super) struct Guards {
    bucket: Mutex<TokenBucket>,
    rate_log: LogThrottle,
    pub auth_log: LogThrottle,
    pub webhook_log: LogThrottle,
    pub webhook_slots: Arc<Semaphore>,
}

impl Guards {
    pub fn new(limit: RateLimit) -> Self {
        Guards {
            bucket: Mutex::new(TokenBucket::new(limit, Instant::now())),
            rate_log: LogThrottle::new(REFUSAL_LOG_INTERVAL),
            auth_log: LogThrottle::new(REFUSAL_LOG_INTERVAL),
            webhook_log: LogThrottle::new(REFUSAL_LOG_INTERVAL),
            webhook_slots: Arc::new(Semaphore::new(WEBHOOK_IN_FLIGHT)),
        }
    }
}

/// Middleware: 429 once the listener's bucket is empty.
pub(super) async fn rate_limit(State(app): State<App>, request: Request, next: Next) -> Response {
    let admitted = app
        .guards
        .bucket
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .try_take(Instant::now());
    if admitted {
        return next.run(request).await;
    }
    if let Some(refused) = app.guards.rate_log.admit() {
        warn!(
            refused,
            "Rate-limited requests to the status server (logged at most once a minute)."
        );
    }
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::RETRY_AFTER, "1")],
        "too many requests; retry later\n",
    )
        .into_response()
}

/// The declared body length, when the request declares one.
pub(super) fn content_length(request: &Request) -> Option<u64> {
    request
        .headers()
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Middleware of the endpoints that read no body: 413 above [`MAX_BODY_BYTES`].
pub(super) async fn bound_body(request: Request, next: Next) -> Response {
    if content_length(&request).is_some_and(|length| length > MAX_BODY_BYTES) {
        return too_large(MAX_BODY_BYTES);
    }
    next.run(request).await
}

pub(super) fn too_large(limit: u64) -> Response {
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("request body over {limit} bytes\n"),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_admits_a_burst_then_the_refill_rate() {
        let start = Instant::now();
        let limit = RateLimit {
            burst: 3,
            per_second: 2.0,
        };
        let mut bucket = TokenBucket::new(limit, start);
        let admitted: Vec<bool> = (0..5).map(|_| bucket.try_take(start)).collect();
        assert_eq!(admitted, [true, true, true, false, false]);
        assert!(bucket.try_take(start + Duration::from_millis(500)));
        assert!(!bucket.try_take(start + Duration::from_millis(600)));
        // A long pause refills to the burst, not beyond.
        let later = start + Duration::from_secs(60);
        let admitted = (0..5).filter(|_| bucket.try_take(later)).count();
        assert_eq!(admitted, 3);
    }

    #[test]
    fn refusals_are_logged_once_per_interval_with_a_count() {
        let start = Instant::now();
        let throttle = LogThrottle::new(Duration::from_secs(60));
        assert_eq!(throttle.admit_at(start), Some(1));
        for second in 1..=59 {
            assert_eq!(throttle.admit_at(start + Duration::from_secs(second)), None);
        }
        assert_eq!(throttle.admit_at(start + Duration::from_secs(60)), Some(60));
        assert_eq!(throttle.admit_at(start + Duration::from_secs(61)), None);
    }
}
