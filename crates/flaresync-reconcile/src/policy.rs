//! The error taxonomy of the reconcile loop and the pure decisions built on it.
//!
//! Every reconcile error is sorted into one of three classes (Flux's taxonomy, see STYLE.md):
//!
//! - [`Class::Stalled`]: needs a human (an illegal rollback, an invalid config, a rejected
//!   upload). Never retried on a timer: only a new commit (or a manual trigger) retries it.
//! - [`Class::Waiting`]: a known wait (`429` with `Retry-After`, budget exhausted). Retried
//!   after exactly that delay.
//! - [`Class::Transient`]: network trouble, `5xx`, verification that saw a stale read. Retried
//!   with exponential backoff and jitter (kube-runtime's 800 ms doubling to 30 s).
//!
//! [`error_policy`] turns a class into an [`Action`]. It does no I/O and takes the jitter as a
//! parameter, so tests can pin it; the shell draws the jitter and sleeps.

use std::time::Duration;

use serde::Serialize;

/// Stable, low-cardinality reason codes. The `CamelCase` string is the metric label and the
/// status `reason`; never put raw error messages into labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Reason {
    /// Reading the repository (open, fetch, resolve the branch head) failed.
    GitFetchFailed,
    /// A Worker's wrangler config or bundle in Git is invalid.
    ConfigInvalid,
    /// The API answered 429 or the local request budget is exhausted.
    ApiRateLimited,
    /// Network failure, timeout or a 5xx from the API.
    ApiUnavailable,
    /// The API refused the request (4xx other than 429 / auth): bad upload, illegal deployment.
    ApiRejected,
    /// The API token was refused (401/403).
    ApiUnauthorized,
    /// The planner proved the rollback (or deploy) illegal; it needs a new commit.
    RollbackBlocked,
    /// After a write, the active deployment is not what flaresync intended.
    VerifyFailed,
    /// The post-deploy health check failed (and the Worker was rolled back when possible).
    HealthCheckFailed,
    /// The local journal could not be read or written.
    JournalFailed,
    /// A route, custom domain or queue consumer belongs to another Worker, or its zone or queue
    /// does not exist.
    TriggerConflict,
    /// A deployment made outside flaresync was found and the policy is `heal` but healing failed.
    DriftHealFailed,
    /// Work was abandoned because the process is shutting down.
    Cancelled,
    /// A bug or an impossible state; reported, retried with backoff.
    Internal,
}

impl Reason {
    /// The stable label string (`"ApiRateLimited"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::GitFetchFailed => "GitFetchFailed",
            Reason::ConfigInvalid => "ConfigInvalid",
            Reason::ApiRateLimited => "ApiRateLimited",
            Reason::ApiUnavailable => "ApiUnavailable",
            Reason::ApiRejected => "ApiRejected",
            Reason::ApiUnauthorized => "ApiUnauthorized",
            Reason::RollbackBlocked => "RollbackBlocked",
            Reason::VerifyFailed => "VerifyFailed",
            Reason::HealthCheckFailed => "HealthCheckFailed",
            Reason::JournalFailed => "JournalFailed",
            Reason::TriggerConflict => "TriggerConflict",
            Reason::DriftHealFailed => "DriftHealFailed",
            Reason::Cancelled => "Cancelled",
            Reason::Internal => "Internal",
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an error should be handled by the loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Needs a human or a new commit; do not retry on a timer.
    Stalled { reason: Reason },
    /// Retry after exactly `after` (server-provided `Retry-After`, budget refill).
    Waiting { reason: Reason, after: Duration },
    /// Retry with exponential backoff.
    Transient { reason: Reason },
}

impl Class {
    pub fn reason(&self) -> Reason {
        match self {
            Class::Stalled { reason }
            | Class::Waiting { reason, .. }
            | Class::Transient { reason } => *reason,
        }
    }

    /// `"Stalled"`, `"Waiting"` or `"Transient"`.
    pub fn kind_str(&self) -> &'static str {
        match self {
            Class::Stalled { .. } => "Stalled",
            Class::Waiting { .. } => "Waiting",
            Class::Transient { .. } => "Transient",
        }
    }
}

/// What the loop does next for one Worker (kube-runtime's `Action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Action {
    /// `None`: wait for the next trigger (a commit, a poll tick, a manual request).
    pub requeue_after: Option<Duration>,
}

impl Action {
    pub fn requeue(after: Duration) -> Self {
        Action {
            requeue_after: Some(after),
        }
    }

    pub fn await_change() -> Self {
        Action {
            requeue_after: None,
        }
    }
}

/// Exponential backoff parameters. Defaults follow kube-runtime's `DefaultBackoff`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BackoffConfig {
    pub initial: Duration,
    pub max: Duration,
    pub factor: f64,
    /// Relative jitter: the delay is scaled by a factor in `[1 - jitter, 1 + jitter]`.
    pub jitter: f64,
    /// After this long without a failure the attempt counter starts over.
    pub reset_after: Duration,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        BackoffConfig {
            initial: Duration::from_millis(800),
            max: Duration::from_secs(30),
            factor: 2.0,
            jitter: 0.25,
            reset_after: Duration::from_secs(120),
        }
    }
}

impl BackoffConfig {
    /// Delay before retry number `attempt` (0-based), with `unit_jitter` drawn from `[-1, 1]`.
    /// Always within `[initial * (1 - jitter), max]`; never panics on any input.
    pub fn delay(&self, attempt: u32, unit_jitter: f64) -> Duration {
        let base = self.initial.as_secs_f64() * self.factor.max(1.0).powi(attempt.min(64) as i32);
        let capped = base.min(self.max.as_secs_f64());
        let unit = if unit_jitter.is_finite() {
            unit_jitter.clamp(-1.0, 1.0)
        } else {
            0.0
        };
        let jitter = self.jitter.clamp(0.0, 1.0);
        let jittered = (capped * (1.0 + unit * jitter)).min(self.max.as_secs_f64());
        Duration::try_from_secs_f64(jittered.max(0.0)).unwrap_or(self.max)
    }
}

/// Per-Worker failure memory for the backoff: how many consecutive failures, and when the last
/// one happened (for the quiet-period reset).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FailureState {
    pub consecutive: u32,
    pub last_failure: Option<tokio::time::Instant>,
}

impl FailureState {
    /// Records a failure at `now` and returns the attempt number to use for the delay.
    pub fn record_failure(&mut self, now: tokio::time::Instant, config: &BackoffConfig) -> u32 {
        if let Some(last) = self.last_failure
            && now.saturating_duration_since(last) >= config.reset_after
        {
            self.consecutive = 0;
        }
        let attempt = self.consecutive;
        self.consecutive = self.consecutive.saturating_add(1);
        self.last_failure = Some(now);
        attempt
    }

    pub fn record_success(&mut self) {
        *self = FailureState::default();
    }
}

/// The pure error policy: what to do after a reconcile of one Worker failed with `class`.
///
/// `attempt` is the 0-based number of consecutive failures before this one (from
/// [`FailureState::record_failure`]); `unit_jitter` is a random number in `[-1, 1]`.
pub fn error_policy(
    class: &Class,
    attempt: u32,
    unit_jitter: f64,
    backoff: &BackoffConfig,
) -> Action {
    match class {
        Class::Stalled { .. } => Action::await_change(),
        // Honour the server's wait exactly, but never hammer: at least the initial backoff.
        Class::Waiting { after, .. } => Action::requeue((*after).max(backoff.initial)),
        Class::Transient { .. } => Action::requeue(backoff.delay(attempt, unit_jitter)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stalled_errors_wait_for_a_new_commit() {
        let action = error_policy(
            &Class::Stalled {
                reason: Reason::RollbackBlocked,
            },
            3,
            0.0,
            &BackoffConfig::default(),
        );
        assert_eq!(action, Action::await_change());
    }

    #[test]
    fn waiting_errors_requeue_after_the_server_delay() {
        let class = Class::Waiting {
            reason: Reason::ApiRateLimited,
            after: Duration::from_secs(42),
        };
        let action = error_policy(&class, 0, 1.0, &BackoffConfig::default());
        assert_eq!(action, Action::requeue(Duration::from_secs(42)));
        let tiny = Class::Waiting {
            reason: Reason::ApiRateLimited,
            after: Duration::ZERO,
        };
        assert_eq!(
            error_policy(&tiny, 0, 0.0, &BackoffConfig::default()),
            Action::requeue(Duration::from_millis(800))
        );
    }

    #[test]
    fn transient_backoff_doubles_from_800ms_to_30s_without_jitter() {
        let config = BackoffConfig::default();
        let class = Class::Transient {
            reason: Reason::ApiUnavailable,
        };
        let delays: Vec<u128> = (0..8)
            .map(|attempt| {
                error_policy(&class, attempt, 0.0, &config)
                    .requeue_after
                    .map(|d| d.as_millis())
                    .unwrap_or_default()
            })
            .collect();
        assert_eq!(
            delays,
            vec![800, 1600, 3200, 6400, 12800, 25600, 30000, 30000]
        );
    }

    #[test]
    fn backoff_stays_within_bounds_for_any_jitter_and_attempt() {
        let config = BackoffConfig::default();
        for attempt in [0, 1, 5, 6, 31, 64, u32::MAX] {
            for jitter in [-1.0, -0.5, 0.0, 0.3, 1.0, 7.0, f64::NAN, f64::INFINITY] {
                let delay = config.delay(attempt, jitter);
                assert!(delay <= config.max, "{attempt} {jitter} -> {delay:?}");
                assert!(
                    delay >= Duration::from_millis(600),
                    "{attempt} {jitter} -> {delay:?}"
                );
            }
        }
    }

    #[test]
    fn failure_counter_starts_over_after_a_quiet_period() {
        let config = BackoffConfig::default();
        let start = tokio::time::Instant::now();
        let mut state = FailureState::default();
        assert_eq!(state.record_failure(start, &config), 0);
        assert_eq!(
            state.record_failure(start + Duration::from_secs(1), &config),
            1
        );
        assert_eq!(
            state.record_failure(start + Duration::from_secs(2), &config),
            2
        );
        assert_eq!(
            state.record_failure(start + Duration::from_secs(200), &config),
            0
        );
        state.record_success();
        assert_eq!(
            state.record_failure(start + Duration::from_secs(201), &config),
            0
        );
    }

    #[test]
    fn reason_labels_are_stable_camel_case() {
        assert_eq!(Reason::ApiRateLimited.as_str(), "ApiRateLimited");
        assert_eq!(Reason::RollbackBlocked.to_string(), "RollbackBlocked");
        assert_eq!(
            serde_json::to_string(&Reason::HealthCheckFailed).expect("serializes"),
            "\"HealthCheckFailed\""
        );
    }
}
