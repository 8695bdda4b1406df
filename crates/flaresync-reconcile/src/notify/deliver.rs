//! Sending one notification request, retried with exponential backoff: the pure schedule and
//! the retry decision, and the thin loop that sleeps between attempts. Errors never carry the
//! URL (a Slack webhook URL is a secret) nor the body.

use std::time::Duration;

use serde_json::Value;

/// How a sink retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per request, the first included.
    pub attempts: u32,
    /// Pause before the second attempt; doubled before each later one.
    pub base: Duration,
    /// The longest pause.
    pub max: Duration,
    /// Time limit of one attempt.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 6,
            base: Duration::from_secs(1),
            max: Duration::from_secs(60),
            timeout: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// The pause after failed attempt `attempt` (1-based): `base * 2^(attempt-1)`, at most
    /// `max`.
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.base.saturating_mul(factor).min(self.max)
    }
}

/// Whether an answer (or a transport failure, `None`) is worth another attempt: server errors,
/// rate limits, timeouts and dropped connections are; other refusals will not change.
pub fn retryable(status: Option<u16>) -> bool {
    match status {
        None => true,
        Some(status) => status == 408 || status == 429 || status >= 500,
    }
}

/// One POST to a sink.
#[derive(Debug, Clone)]
pub struct Request {
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

/// What a delivered request answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

/// Why a request was given up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} ({attempts} attempts)")]
pub struct Failure {
    pub what: String,
    pub attempts: u32,
}

/// Sends `request` until it gets a 2xx answer, a refusal not worth repeating, or runs out of
/// attempts; `on_retry` is told before each pause.
///
/// # Errors
///
/// The last answer or transport failure, without the URL.
pub async fn send(
    http: &reqwest::Client,
    request: &Request,
    policy: &RetryPolicy,
    mut on_retry: impl FnMut(&str),
) -> Result<Answer, Failure> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let (status, what) = match once(http, request, policy.timeout).await {
            Ok(answer) if (200..300).contains(&answer.status) => return Ok(answer),
            Ok(answer) => (Some(answer.status), refusal(&answer)),
            Err(error) => (None, error),
        };
        if attempt >= policy.attempts.max(1) || !retryable(status) {
            return Err(Failure {
                what,
                attempts: attempt,
            });
        }
        on_retry(&what);
        tokio::time::sleep(policy.delay(attempt)).await;
    }
}

async fn once(
    http: &reqwest::Client,
    request: &Request,
    timeout: Duration,
) -> Result<Answer, String> {
    let mut builder = http
        .post(&request.url)
        .timeout(timeout)
        .body(request.body.clone());
    for (name, value) in &request.headers {
        builder = builder.header(*name, value);
    }
    let response = builder
        .send()
        .await
        .map_err(|error| format!("not reached: {}", error.without_url()))?;
    let status = response.status().as_u16();
    let bytes = response.bytes().await.unwrap_or_default();
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
        Value::String(String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned())
    });
    Ok(Answer { status, body })
}

/// An answer that is not a success, in words (GitHub's `message` when it gives one).
fn refusal(answer: &Answer) -> String {
    let message = match &answer.body {
        Value::Object(object) => object
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        Value::String(text) => text.chars().take(120).collect(),
        _ => String::new(),
    };
    if message.trim().is_empty() {
        format!("answered {}", answer.status)
    } else {
        format!("answered {}: {}", answer.status, message.trim())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pause_doubles_up_to_the_maximum() {
        let policy = RetryPolicy {
            attempts: 10,
            base: Duration::from_millis(100),
            max: Duration::from_millis(700),
            timeout: Duration::from_secs(1),
        };
        let pauses: Vec<u128> = (1..=5).map(|a| policy.delay(a).as_millis()).collect();
        assert_eq!(pauses, vec![100, 200, 400, 700, 700]);
        assert_eq!(policy.delay(u32::MAX), Duration::from_millis(700));
    }

    #[test]
    fn server_errors_and_dropped_connections_are_retried_refusals_are_not() {
        for status in [None, Some(500), Some(502), Some(429), Some(408)] {
            assert!(retryable(status), "{status:?}");
        }
        for status in [Some(400), Some(401), Some(404), Some(422)] {
            assert!(!retryable(status), "{status:?}");
        }
    }

    #[test]
    fn a_refusal_says_what_came_back_without_the_url() {
        let github = Answer {
            status: 403,
            body: serde_json::json!({"message": "Resource not accessible by integration"}),
        };
        assert_eq!(
            refusal(&github),
            "answered 403: Resource not accessible by integration"
        );
        let slack = Answer {
            status: 404,
            body: Value::String("no_service".into()),
        };
        assert_eq!(refusal(&slack), "answered 404: no_service");
        let empty = Answer {
            status: 500,
            body: Value::Null,
        };
        assert_eq!(refusal(&empty), "answered 500");
    }
}
