//! The retry decision, as a pure function (cargo's "retry as a decision" style).
//!
//! [`decide`] turns "attempt N failed like this" into [`Decision::Retry`] with a delay, or
//! [`Decision::Stop`] with a reason. It performs no I/O and reads no clock: randomness comes in as
//! a `jitter` sample in `[0, 1)` and [`parse_retry_after`] takes `now` as a parameter, so every
//! branch is covered by table tests. The HTTP shell in `client.rs` sleeps and re-sends.
//!
//! What it deliberately does not do: it does not know which request is being retried. Whether a
//! request whose outcome is unknown may be repeated is passed in as an [`Idempotency`].

use std::time::{Duration, SystemTime};

/// How retries are paced and bounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts, the first one included. `1` disables retries.
    pub max_attempts: u32,
    /// Backoff base: attempt `n` waits a random time in `[0, min(max_delay, base * 2^(n-1)))`.
    pub base_delay: Duration,
    /// Upper bound of one backoff delay (not of a `Retry-After` wait).
    pub max_delay: Duration,
    /// The longest `Retry-After` flaresync is willing to sleep through. Beyond it the call fails
    /// with a rate-limit error instead of blocking (Cloudflare's lockout lasts 5 minutes).
    pub max_retry_after: Duration,
    /// Minimum wait after a 429 that carries no `Retry-After` (wrangler waits at least 1 s).
    pub rate_limit_floor: Duration,
    /// Capacity of the retry quota shared by all requests of one client
    /// ([`crate::retry_quota::RetryQuota`]): when most requests fail, retries stop after about
    /// half of it, so an outage does not multiply every request by `max_attempts`. `0`: off.
    pub quota: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            // Generous per request (a storm failing a third of the requests still lets each
            // through: 0.3^10 per request), bounded across requests by the quota.
            max_attempts: 10,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(300),
            rate_limit_floor: Duration::from_secs(1),
            quota: 100,
        }
    }
}

/// Whether a request may be sent again when it is unknown whether the first send took effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// Repeating it is harmless (GET, PATCH of settings).
    Idempotent,
    /// Not idempotent, but the caller can find out whether it took effect (an upload carrying a
    /// unique `workers/tag`, a deployment whose target can be compared with the active one).
    /// The shell must run that check before each retry of an unknown outcome.
    Verifiable,
    /// Not idempotent and not verifiable: never repeated once it may have reached the server.
    Unsafe,
}

/// How a transport-level failure happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportFailure {
    /// Could not connect: the request never left this machine.
    Connect,
    /// The per-request timeout fired: the server may or may not have acted.
    Timeout,
    /// The connection broke mid-exchange (reset, closed before the response).
    Dropped,
}

/// One failed attempt, as the decision sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// An HTTP response with a non-success status.
    Status {
        status: u16,
        /// Parsed `Retry-After`, if the response had a valid one.
        retry_after: Option<Duration>,
    },
    /// No usable HTTP response.
    Transport(TransportFailure),
}

impl Failure {
    /// Whether the request may have taken effect on the server although it failed.
    ///
    /// A 5xx can come after the write committed ("fail after commit"); a timeout or a dropped
    /// connection says nothing either way. A connect error, a 429 and other 4xx are rejections
    /// before any work was done.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            Failure::Status { status, .. } => *status >= 500 || *status == 408,
            Failure::Transport(TransportFailure::Connect) => false,
            Failure::Transport(TransportFailure::Timeout | TransportFailure::Dropped) => true,
        }
    }

    /// Whether sending the request again may succeed (5xx, 408, 429, transport failures).
    pub fn retryable(&self) -> bool {
        match self {
            Failure::Status { status, .. } => *status >= 500 || *status == 429 || *status == 408,
            Failure::Transport(_) => true,
        }
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Wait `delay`, then send again. When `verify_first` is set, the request may already have
    /// taken effect: check for that (and return what was found) before sending again.
    Retry { delay: Duration, verify_first: bool },
    /// Give up and report the failure.
    Stop(StopReason),
}

/// Why [`decide`] gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// A client error (4xx other than 408/429): sending it again gives the same answer.
    NotRetryable,
    /// `max_attempts` reached.
    AttemptsExhausted,
    /// Cloudflare asked for a wait longer than `max_retry_after`.
    RetryAfterTooLong { retry_after: Duration },
    /// The outcome is unknown and the request is [`Idempotency::Unsafe`].
    OutcomeUnknown,
    /// Most recent requests failed: the shared retry quota is drained (see
    /// [`crate::retry_quota`]).
    Throttled,
}

/// Decides what follows the failure of attempt number `attempt` (1-based).
///
/// `jitter` is a uniform sample from `[0, 1)`; values outside are clamped.
///
/// Delays: 5xx and transport failures use exponential backoff with full jitter,
/// `jitter * min(max_delay, base_delay * 2^(attempt-1))`. A 429 with `Retry-After` waits exactly
/// that long plus up to one second of jitter (so clients sharing a token do not return in
/// lockstep); a 429 without it waits at least `rate_limit_floor`.
pub fn decide(
    policy: &RetryPolicy,
    attempt: u32,
    failure: &Failure,
    idempotency: Idempotency,
    jitter: f64,
) -> Decision {
    if !failure.retryable() {
        return Decision::Stop(StopReason::NotRetryable);
    }
    if let Failure::Status {
        status: 429,
        retry_after: Some(retry_after),
    } = failure
        && *retry_after > policy.max_retry_after
    {
        return Decision::Stop(StopReason::RetryAfterTooLong {
            retry_after: *retry_after,
        });
    }
    if attempt >= policy.max_attempts {
        return Decision::Stop(StopReason::AttemptsExhausted);
    }
    let unknown = failure.outcome_unknown();
    if unknown && idempotency == Idempotency::Unsafe {
        return Decision::Stop(StopReason::OutcomeUnknown);
    }
    let jitter = clamp_unit(jitter);
    let delay = match failure {
        Failure::Status {
            status: 429,
            retry_after: Some(retry_after),
        } => *retry_after + Duration::from_secs_f64(jitter),
        Failure::Status { status: 429, .. } => {
            backoff(policy, attempt, jitter).max(policy.rate_limit_floor)
        }
        _ => backoff(policy, attempt, jitter),
    };
    Decision::Retry {
        delay,
        verify_first: unknown && idempotency == Idempotency::Verifiable,
    }
}

/// Full-jitter exponential backoff for attempt `attempt` (1-based): a fraction `jitter` of
/// `min(max_delay, base_delay * 2^(attempt-1))`.
pub fn backoff(policy: &RetryPolicy, attempt: u32, jitter: f64) -> Duration {
    let exponent = attempt.saturating_sub(1).min(31);
    let ceiling = policy
        .base_delay
        .checked_mul(1u32 << exponent)
        .unwrap_or(policy.max_delay)
        .min(policy.max_delay);
    ceiling.mul_f64(clamp_unit(jitter))
}

fn clamp_unit(value: f64) -> f64 {
    if value.is_nan() {
        0.0
    } else {
        value.clamp(0.0, 1.0)
    }
}

/// Parses a `Retry-After` header value: delay-seconds (`"30"`) or an HTTP-date, relative to
/// `now`. A date in the past means "no wait". Garbage yields `None`.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse::<u64>().ok().map(Duration::from_secs);
    }
    // Not in RFC 9110, but cheap to accept and never harmful: fractional seconds.
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0)
            .then(|| Duration::try_from_secs_f64(seconds).ok())
            .flatten();
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            max_retry_after: Duration::from_secs(60),
            rate_limit_floor: Duration::from_secs(1),
            quota: 0,
        }
    }

    fn status(status: u16) -> Failure {
        Failure::Status {
            status,
            retry_after: None,
        }
    }

    fn rate_limited(seconds: u64) -> Failure {
        Failure::Status {
            status: 429,
            retry_after: Some(Duration::from_secs(seconds)),
        }
    }

    #[test]
    fn decision_table() {
        use Idempotency::*;
        let ms = Duration::from_millis;
        let cases: Vec<(&str, u32, Failure, Idempotency, f64, Decision)> = vec![
            (
                "404 is final",
                1,
                status(404),
                Idempotent,
                0.5,
                Decision::Stop(StopReason::NotRetryable),
            ),
            (
                "400 is final even when verifiable",
                1,
                status(400),
                Verifiable,
                0.5,
                Decision::Stop(StopReason::NotRetryable),
            ),
            (
                "500 on a GET backs off with jitter",
                1,
                status(500),
                Idempotent,
                0.5,
                Decision::Retry {
                    delay: ms(50),
                    verify_first: false,
                },
            ),
            (
                "backoff doubles per attempt",
                3,
                status(503),
                Idempotent,
                0.5,
                Decision::Retry {
                    delay: ms(200),
                    verify_first: false,
                },
            ),
            (
                "500 on an upload must be verified first",
                1,
                status(500),
                Verifiable,
                1.0,
                Decision::Retry {
                    delay: ms(100),
                    verify_first: true,
                },
            ),
            (
                "500 on an unsafe request stops",
                1,
                status(500),
                Unsafe,
                0.5,
                Decision::Stop(StopReason::OutcomeUnknown),
            ),
            (
                "connect failure on an unsafe request is retried: nothing was sent",
                1,
                Failure::Transport(TransportFailure::Connect),
                Unsafe,
                0.0,
                Decision::Retry {
                    delay: ms(0),
                    verify_first: false,
                },
            ),
            (
                "timeout of an upload is verified",
                2,
                Failure::Transport(TransportFailure::Timeout),
                Verifiable,
                0.25,
                Decision::Retry {
                    delay: ms(50),
                    verify_first: true,
                },
            ),
            (
                "dropped connection of an unsafe request stops",
                1,
                Failure::Transport(TransportFailure::Dropped),
                Unsafe,
                0.25,
                Decision::Stop(StopReason::OutcomeUnknown),
            ),
            (
                "429 honours retry-after plus jitter, even for unsafe requests",
                1,
                rate_limited(7),
                Unsafe,
                0.5,
                Decision::Retry {
                    delay: ms(7500),
                    verify_first: false,
                },
            ),
            (
                "429 without retry-after waits at least the floor",
                1,
                status(429),
                Idempotent,
                0.1,
                Decision::Retry {
                    delay: Duration::from_secs(1),
                    verify_first: false,
                },
            ),
            (
                "retry-after beyond the cap gives up at once",
                1,
                rate_limited(61),
                Idempotent,
                0.0,
                Decision::Stop(StopReason::RetryAfterTooLong {
                    retry_after: Duration::from_secs(61),
                }),
            ),
            (
                "retry-after at the cap is honoured",
                1,
                rate_limited(60),
                Idempotent,
                0.0,
                Decision::Retry {
                    delay: Duration::from_secs(60),
                    verify_first: false,
                },
            ),
            (
                "the last attempt is not retried",
                4,
                status(502),
                Idempotent,
                0.5,
                Decision::Stop(StopReason::AttemptsExhausted),
            ),
            (
                "408 counts as unknown outcome",
                1,
                status(408),
                Verifiable,
                0.0,
                Decision::Retry {
                    delay: ms(0),
                    verify_first: true,
                },
            ),
        ];
        for (name, attempt, failure, idempotency, jitter, want) in cases {
            assert_eq!(
                decide(&policy(), attempt, &failure, idempotency, jitter),
                want,
                "{name}"
            );
        }
    }

    #[test]
    fn backoff_is_capped_and_survives_huge_attempt_numbers() {
        let p = policy();
        assert_eq!(backoff(&p, 10, 1.0), Duration::from_secs(2));
        assert_eq!(backoff(&p, u32::MAX, 1.0), Duration::from_secs(2));
        assert_eq!(backoff(&p, 1, f64::NAN), Duration::ZERO);
        assert_eq!(backoff(&p, 1, 7.0), Duration::from_millis(100));
        assert_eq!(backoff(&p, 0, 1.0), Duration::from_millis(100));
    }

    #[test]
    fn backoff_stays_within_bounds_for_all_attempts_and_jitters() {
        let p = policy();
        for attempt in 1..64 {
            for step in 0..=20 {
                let jitter = f64::from(step) / 20.0;
                let delay = backoff(&p, attempt, jitter);
                assert!(delay <= p.max_delay, "attempt {attempt} jitter {jitter}");
            }
        }
    }

    #[test]
    fn retry_after_parses_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480); // 2015-10-21 07:28:00
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 3 ", now), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("1.5", now),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO),
            "a date in the past means no wait"
        );
        for garbage in ["", "soon", "-5", "NaN", "inf", "99999999999999999999999"] {
            assert_eq!(parse_retry_after(garbage, now), None, "{garbage:?}");
        }
    }
}
