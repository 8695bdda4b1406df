//! The retry loop: spend the budget, send an attempt, and carry out the retry decision, with a
//! verification of the live state before a write whose outcome is unknown is sent again.

use std::future::Future;

use tracing::{debug, info, warn};

use super::Client;
use super::interpret::AttemptError;
use super::request::Request;
use crate::error::Error;
use crate::retry::{Decision, Failure, Idempotency, StopReason};
use crate::retry_quota::RetryQuota;
use crate::types::RawEnvelope;

/// Result of the retry loop: the answer, or what a verification found.
pub(super) enum Outcome<T> {
    Answered(RawEnvelope),
    Recovered(T),
}

/// A verification that never finds anything (for requests that need none).
async fn nothing_to_verify() -> Result<Option<()>, Error> {
    Ok(None)
}

impl Client {
    /// Runs a request that needs no verification.
    pub(super) async fn fetch(&self, request: &Request<'_>) -> Result<RawEnvelope, Error> {
        match self.run(request, nothing_to_verify).await? {
            Outcome::Answered(envelope) => Ok(envelope),
            Outcome::Recovered(()) => Err(Error::InvalidRequest {
                method: request.method.to_string(),
                path: request.path(),
                detail: "internal: a request without verification reported a recovery".into(),
            }),
        }
    }

    /// Sends `request` until it succeeds or the retry decision gives up. `verify` is consulted
    /// before re-sending a [`Idempotency::Verifiable`] request whose previous outcome is unknown.
    pub(super) async fn run<T, F, Fut>(
        &self,
        request: &Request<'_>,
        verify: F,
    ) -> Result<Outcome<T>, Error>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Option<T>, Error>>,
    {
        let method = request.method.as_str();
        let path = request.path();
        let policy = &self.inner.retry;
        let mut attempt = 1u32;
        loop {
            let waited = self.inner.budget.acquire().await;
            self.inner.metrics.throttled(waited);
            if !waited.is_zero() {
                debug!(
                    method,
                    path = %path,
                    waited_ms = waited.as_millis() as u64,
                    "Waited for the request budget."
                );
            }
            let (failure, error) = match self.attempt(request, &path).await {
                Ok(envelope) => {
                    self.quota(|quota| quota.on_success());
                    return Ok(Outcome::Answered(envelope));
                }
                Err(AttemptError::Final(error)) => return Err(error),
                Err(AttemptError::Failed { failure, error }) => (failure, error),
            };
            if failure.retryable() {
                self.quota(|quota| quota.on_failure());
            } else {
                self.quota(|quota| quota.on_success());
            }
            if let Failure::Status {
                status: 429,
                retry_after,
            } = failure
            {
                self.inner.metrics.rate_limited();
                // The lockout is account-wide: hold every clone back, not just this call.
                let hold = retry_after
                    .unwrap_or(policy.rate_limit_floor)
                    .min(policy.max_retry_after);
                self.inner.budget.block_for(hold);
            }
            let jitter: f64 = rand::random();
            let mut decision =
                crate::retry::decide(policy, attempt, &failure, request.idempotency, jitter);
            if matches!(decision, Decision::Retry { .. })
                && !self.quota(|quota| quota.allows_retry())
            {
                decision = Decision::Stop(StopReason::Throttled);
            }
            match decision {
                Decision::Retry {
                    delay,
                    verify_first,
                } => {
                    warn!(
                        method,
                        path = %path,
                        attempt,
                        delay_ms = delay.as_millis() as u64,
                        error = %error,
                        "Retrying Cloudflare API request."
                    );
                    tokio::time::sleep(delay).await;
                    if verify_first
                        && let (Some(found), _) =
                            self.verify(request, &path, &verify, error).await?
                    {
                        return Ok(Outcome::Recovered(found));
                    }
                    self.inner.metrics.retry();
                    attempt += 1;
                }
                Decision::Stop(reason) => {
                    let mut error = error;
                    if failure.outcome_unknown() && request.idempotency == Idempotency::Verifiable {
                        // Giving up must not hide a write that did happen: the caller would
                        // upload again on its next pass and create a duplicate.
                        match self.verify(request, &path, &verify, error).await? {
                            (Some(found), _) => return Ok(Outcome::Recovered(found)),
                            (None, unchanged) => error = unchanged,
                        }
                    }
                    return Err(self.give_up(request, &path, attempt, reason, error));
                }
            }
        }
    }

    /// Runs a verification after `error` left the outcome of `request` open. `Ok(Some)` means
    /// the write had taken effect; a failing verification leaves the outcome unknown.
    async fn verify<T, F, Fut>(
        &self,
        request: &Request<'_>,
        path: &str,
        verify: &F,
        error: Error,
    ) -> Result<(Option<T>, Error), Error>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Option<T>, Error>>,
    {
        match verify().await {
            Ok(Some(found)) => {
                self.inner.metrics.recovered();
                info!(
                    method = request.method.as_str(),
                    path = %path,
                    "Write had already taken effect; not sending it again."
                );
                Ok((Some(found), error))
            }
            Ok(None) => Ok((None, error)),
            Err(verify_error) => Err(Error::VerificationFailed {
                method: request.method.to_string(),
                path: path.to_owned(),
                attempt_error: Box::new(error),
                source: Box::new(verify_error),
            }),
        }
    }

    /// Runs `f` on the retry quota shared by every clone of this client.
    fn quota<R>(&self, f: impl FnOnce(&mut RetryQuota) -> R) -> R {
        // A panic elsewhere cannot leave the counter inconsistent: keep using it.
        let mut quota = self
            .inner
            .quota
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut quota)
    }

    fn give_up(
        &self,
        request: &Request<'_>,
        path: &str,
        attempt: u32,
        reason: StopReason,
        error: Error,
    ) -> Error {
        match reason {
            StopReason::NotRetryable => error,
            StopReason::AttemptsExhausted if attempt <= 1 => error,
            StopReason::AttemptsExhausted => Error::RetriesExhausted {
                attempts: attempt,
                last: Box::new(error),
            },
            StopReason::Throttled => Error::RetriesPaused {
                attempts: attempt,
                last: Box::new(error),
            },
            StopReason::RetryAfterTooLong { retry_after } => Error::RateLimited {
                method: request.method.to_string(),
                path: path.to_owned(),
                retry_after,
                max: self.inner.retry.max_retry_after,
            },
            StopReason::OutcomeUnknown => Error::OutcomeUnknown {
                method: request.method.to_string(),
                path: path.to_owned(),
                reason: "the request is not safe to repeat",
                last: Box::new(error),
            },
        }
    }
}
