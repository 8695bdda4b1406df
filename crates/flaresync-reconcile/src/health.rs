//! Post-deploy health checks: `GET <url>` must answer the expected status within a timeout.
//!
//! [`evaluate`] is the pure verdict; [`run_check`] does the HTTP and retries a few times,
//! because a fresh deployment can take a moment to reach every edge.

use std::time::Duration;

use serde::Serialize;

/// One Worker's health check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    pub url: String,
    /// Expected HTTP status (default 200).
    pub expected_status: u16,
    /// Timeout of one attempt.
    pub timeout: Duration,
    /// Attempts before the check counts as failed (at least 1).
    pub attempts: u32,
    /// Pause between attempts.
    pub interval: Duration,
}

impl HealthCheck {
    pub fn new(url: impl Into<String>) -> Self {
        HealthCheck {
            url: url.into(),
            expected_status: 200,
            timeout: Duration::from_secs(10),
            attempts: 3,
            interval: Duration::from_secs(2),
        }
    }
}

/// The verdict of a health check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum HealthOutcome {
    Passed { status: u16 },
    Failed { message: String },
}

impl HealthOutcome {
    pub fn passed(&self) -> bool {
        matches!(self, HealthOutcome::Passed { .. })
    }

    pub fn message(&self) -> String {
        match self {
            HealthOutcome::Passed { status } => format!("answered {status}"),
            HealthOutcome::Failed { message } => message.clone(),
        }
    }
}

/// Pure verdict on one attempt: `Ok(status)` or `Err(transport error text)`.
pub fn evaluate(attempt: Result<u16, String>, expected_status: u16) -> HealthOutcome {
    match attempt {
        Ok(status) if status == expected_status => HealthOutcome::Passed { status },
        Ok(status) => HealthOutcome::Failed {
            message: format!("answered {status}, expected {expected_status}"),
        },
        Err(error) => HealthOutcome::Failed {
            message: format!("request failed: {error}"),
        },
    }
}

/// `url` without credentials or query (which may carry tokens), for logs and status.
pub use flaresync_config::url::display_url;

/// Runs the check, retrying up to `attempts` times; returns the last verdict.
pub async fn run_check(http: &reqwest::Client, check: &HealthCheck) -> HealthOutcome {
    let attempts = check.attempts.max(1);
    let mut outcome = HealthOutcome::Failed {
        message: "not run".into(),
    };
    for attempt in 0..attempts {
        if attempt > 0 {
            tokio::time::sleep(check.interval).await;
        }
        let response = http.get(&check.url).timeout(check.timeout).send().await;
        let result = response
            .map(|response| response.status().as_u16())
            // Strip the URL from the error text: it may carry a token in its query.
            .map_err(|error| error.without_url().to_string());
        outcome = evaluate(result, check.expected_status);
        if outcome.passed() {
            break;
        }
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_compares_the_status_and_reports_transport_errors() {
        assert_eq!(
            evaluate(Ok(200), 200),
            HealthOutcome::Passed { status: 200 }
        );
        assert_eq!(
            evaluate(Ok(503), 200),
            HealthOutcome::Failed {
                message: "answered 503, expected 200".into()
            }
        );
        assert_eq!(
            evaluate(Ok(204), 204),
            HealthOutcome::Passed { status: 204 }
        );
        assert!(!evaluate(Err("connection refused".into()), 200).passed());
    }
}
