//! Errors of the Cloudflare client.
//!
//! [`ApiError`] carries what Cloudflare said (HTTP status, every `{code, message}`), which request
//! it answered (method and path, so the Worker name is in the message) and a hint when the code
//! has a known remedy. [`Error`] adds transport failures, give-ups of the retry loop and decoding
//! problems. Nothing here ever holds the API token: requests are identified by method and path
//! only, and the token lives in a [`crate::Secret`].

use std::fmt;
use std::time::Duration;

use crate::retry::TransportFailure;
use crate::types::ApiMessage;

/// Cloudflare error codes flaresync reacts to.
pub mod codes {
    /// The Worker does not exist on the account.
    pub const WORKER_NOT_FOUND: i64 = 10007;
    /// A version upload carried a Durable Object migration.
    pub const MIGRATION_IN_VERSION_UPLOAD: i64 = 10211;
    /// Secret edit while the latest version is not the deployed one.
    pub const SECRET_EDIT_NOT_DEPLOYED: i64 = 10215;
    /// Rollback target's secrets differ from the active version's; `?force=true` overrides.
    pub const SECRETS_CHANGED: i64 = 10220;
    /// Invalid `inherit` binding under `bindings_inherit=strict`.
    pub const INVALID_INHERIT: i64 = 10057;
    /// Split deployment whose versions declare different DO `exports`.
    pub const SPLIT_EXPORTS_DIFFER: i64 = 100405;
    /// Rate limited (community catalogue; unconfirmed pairing with HTTP 429).
    pub const RATE_LIMITED: i64 = 971;
}

/// A failure answer from the Cloudflare API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status of the answer.
    pub status: u16,
    /// Every `{code, message}` of the envelope's `errors` (may be empty on a non-JSON answer).
    pub errors: Vec<ApiMessage>,
    /// HTTP method of the request.
    pub method: String,
    /// Path of the request below the API base, e.g. `/accounts/…/workers/scripts/demo/versions`.
    pub path: String,
}

impl ApiError {
    /// Whether any error in the answer carries `code`.
    pub fn has_code(&self, code: i64) -> bool {
        self.errors.iter().any(|e| e.code == code)
    }

    /// The first error code, if any.
    pub fn code(&self) -> Option<i64> {
        self.errors.first().map(|e| e.code)
    }

    /// Remedy for a known failure, if there is one.
    pub fn hint(&self) -> Option<&'static str> {
        hint_for(self.status, self.errors.iter().map(|e| e.code))
    }
}

/// The remedy for a known status/code combination. Pure; the first matching code wins.
pub fn hint_for(status: u16, codes: impl IntoIterator<Item = i64>) -> Option<&'static str> {
    for code in codes {
        let hint = match code {
            codes::WORKER_NOT_FOUND => {
                "the worker does not exist yet: create it with a script upload (PUT .../workers/scripts/{name}); version uploads only work for existing workers"
            }
            codes::SECRETS_CHANGED => {
                "secrets changed since the target version was active: if deploying it with its own secret values is intended, create the deployment again with force"
            }
            codes::MIGRATION_IN_VERSION_UPLOAD => {
                "durable object migrations cannot ship in a version upload: apply them with a script upload (PUT .../workers/scripts/{name}), which deploys at once"
            }
            codes::SECRET_EDIT_NOT_DEPLOYED => {
                "the latest version is not the deployed one: deploy it first or edit secrets through a version upload"
            }
            codes::INVALID_INHERIT => {
                "an inherit binding names something the previous version does not have: set the binding explicitly or create the secret first"
            }
            codes::SPLIT_EXPORTS_DIFFER => {
                "versions in a split deployment must declare identical durable object exports: deploy the exports-changing version at 100% first"
            }
            codes::RATE_LIMITED => RATE_LIMIT_HINT,
            _ => continue,
        };
        return Some(hint);
    }
    (status == 429).then_some(RATE_LIMIT_HINT)
}

const RATE_LIMIT_HINT: &str = "cloudflare's account-wide rate limit (1200 requests per 5 minutes, shared with the dashboard and other tools on this token) was hit: wait for the lockout to pass and lower flaresync's request budget";

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cloudflare api {} {} failed with http {}",
            self.method, self.path, self.status
        )?;
        if self.errors.is_empty() {
            f.write_str(" and no error details")?;
        }
        for (i, error) in self.errors.iter().enumerate() {
            let sep = if i == 0 { ": " } else { "; " };
            write!(f, "{sep}{} [code: {}]", error.message, error.code)?;
        }
        if let Some(hint) = self.hint() {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

/// Any failure of a client call.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Cloudflare answered with a failure.
    #[error(transparent)]
    Api(#[from] ApiError),

    /// Not sent: the write guard (the PostgreSQL lease's fencing check) refused it.
    #[error("cloudflare api {method} {path}: not sent, this process may no longer write: {reason}")]
    Fenced {
        method: String,
        path: String,
        #[source]
        reason: Box<dyn std::error::Error + Send + Sync>,
    },

    /// No usable HTTP answer (connect error, timeout, dropped connection).
    #[error("cloudflare api {method} {path}: {} ({source}); check connectivity to {base_url} (CLOUDFLARE_API_BASE_URL)", describe_transport(*kind))]
    Transport {
        method: String,
        path: String,
        /// The API base the request went to (without any user information).
        base_url: String,
        kind: TransportFailure,
        #[source]
        source: reqwest::Error,
    },

    /// Cloudflare asked for a longer wait than flaresync is configured to sleep through.
    #[error(
        "cloudflare api {method} {path}: rate limited, retry-after {}s exceeds the configured maximum of {}s (hint: {RATE_LIMIT_HINT})",
        retry_after.as_secs(),
        max.as_secs()
    )]
    RateLimited {
        method: String,
        path: String,
        retry_after: Duration,
        max: Duration,
    },

    /// The retry loop gave up; `last` is the final attempt's failure.
    #[error("gave up after {attempts} attempts: {last}")]
    RetriesExhausted {
        attempts: u32,
        #[source]
        last: Box<Error>,
    },

    /// Not sent again because most recent requests to Cloudflare failed (an outage or a storm
    /// beyond what retries can absorb): the shared retry quota stops retries until requests
    /// succeed again, so that one outage does not make every call sleep through all attempts.
    #[error(
        "gave up after {attempts} attempt(s): most recent Cloudflare API requests failed, so retries are paused until requests succeed again (check https://www.cloudflarestatus.com and the network; the next pass tries again): {last}"
    )]
    RetriesPaused {
        attempts: u32,
        #[source]
        last: Box<Error>,
    },

    /// A write failed in a way that leaves open whether it took effect, and it could not be
    /// verified or may not be repeated. Look at the live state before trying again.
    #[error(
        "cloudflare api {method} {path}: outcome unknown, the request may or may not have taken effect ({reason}): {last}"
    )]
    OutcomeUnknown {
        method: String,
        path: String,
        reason: &'static str,
        #[source]
        last: Box<Error>,
    },

    /// A write's outcome was unknown and checking the live state failed as well.
    #[error(
        "cloudflare api {method} {path}: outcome unknown after {attempt_error}; checking whether it took effect failed: {source}"
    )]
    VerificationFailed {
        method: String,
        path: String,
        /// The failure that left the outcome open.
        attempt_error: Box<Error>,
        /// Why the verification failed.
        #[source]
        source: Box<Error>,
    },

    /// The answer was not the expected JSON.
    #[error(
        "cloudflare api {method} {path}: unexpected response (http {status}): {detail}; is the api base url pointing at the cloudflare api?"
    )]
    Decode {
        method: String,
        path: String,
        status: u16,
        detail: String,
    },

    /// A static assets upload could not complete (one of wrangler's fatal checks).
    #[error("static assets of {script}: {problem}")]
    Assets {
        script: String,
        problem: crate::assets_plan::AssetsProblem,
    },

    /// The request could not be built from the given input.
    #[error("invalid request to cloudflare api {method} {path}: {detail}")]
    InvalidRequest {
        method: String,
        path: String,
        detail: String,
    },
}

fn describe_transport(kind: TransportFailure) -> &'static str {
    match kind {
        TransportFailure::Connect => "could not connect",
        TransportFailure::Timeout => "timed out",
        TransportFailure::Dropped => "connection dropped before the response",
    }
}

impl Error {
    /// The Cloudflare answer behind this error, looking through retry wrappers.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Error::Api(api) => Some(api),
            Error::RetriesExhausted { last, .. }
            | Error::RetriesPaused { last, .. }
            | Error::OutcomeUnknown { last, .. } => last.api(),
            Error::VerificationFailed { attempt_error, .. } => attempt_error.api(),
            _ => None,
        }
    }

    /// Whether Cloudflare's answer carries `code`.
    pub fn has_code(&self, code: i64) -> bool {
        self.api().is_some_and(|api| api.has_code(code))
    }

    /// The worker (or resource) does not exist: HTTP 404 or code 10007.
    pub fn is_not_found(&self) -> bool {
        self.api()
            .is_some_and(|api| api.status == 404 || api.has_code(codes::WORKER_NOT_FOUND))
    }

    /// Rate limited by Cloudflare (a 429 that was not waited out).
    pub fn is_rate_limited(&self) -> bool {
        matches!(self, Error::RateLimited { .. })
            || self
                .api()
                .is_some_and(|api| api.status == 429 || api.has_code(codes::RATE_LIMITED))
    }

    /// How long Cloudflare asked to wait, when the call gave up because of a long `Retry-After`.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// Whether trying again later may succeed without any change (transport trouble, 5xx,
    /// rate limits). Client errors, decode errors and unknown outcomes are not transient: the
    /// first two need a fix, the last needs a look at the live state first.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Transport { .. } | Error::RateLimited { .. } => true,
            Error::Api(api) => api.status >= 500 || api.status == 429 || api.status == 408,
            Error::RetriesExhausted { last, .. } | Error::RetriesPaused { last, .. } => {
                last.is_transient()
            }
            // The next session starts over; files already sent are not asked for again.
            Error::Assets { .. } => true,
            Error::OutcomeUnknown { .. }
            | Error::VerificationFailed { .. }
            | Error::Decode { .. }
            | Error::InvalidRequest { .. }
            | Error::Fenced { .. } => false,
        }
    }

    /// Stable, low-cardinality label for metrics and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            _ if self.is_rate_limited() => "ApiRateLimited",
            Error::Api(api) if api.status >= 500 => "ApiServerError",
            Error::Api(_) => "ApiRejected",
            Error::Transport { .. } => "ApiUnreachable",
            Error::RateLimited { .. } => "ApiRateLimited",
            Error::RetriesExhausted { last, .. } | Error::RetriesPaused { last, .. } => {
                last.reason()
            }
            Error::OutcomeUnknown { .. } | Error::VerificationFailed { .. } => "ApiOutcomeUnknown",
            Error::Decode { .. } => "ApiBadResponse",
            Error::InvalidRequest { .. } => "ApiInvalidRequest",
            Error::Assets { .. } => "ApiAssetsIncomplete",
            Error::Fenced { .. } => "LeaseLost",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, errors: &[(i64, &str)]) -> ApiError {
        ApiError {
            status,
            errors: errors
                .iter()
                .map(|(code, message)| ApiMessage {
                    code: *code,
                    message: (*message).to_owned(),
                })
                .collect(),
            method: "POST".into(),
            path: "/accounts/abc/workers/scripts/demo/deployments".into(),
        }
    }

    #[test]
    fn api_error_message_names_request_codes_and_hint() {
        let error = api(
            400,
            &[(10220, "A secret has changed since this version was active.")],
        );
        let text = error.to_string();
        assert!(text.contains("POST /accounts/abc/workers/scripts/demo/deployments"));
        assert!(text.contains("http 400"));
        assert!(text.contains("A secret has changed since this version was active. [code: 10220]"));
        assert!(text.contains("hint: secrets changed"));
        assert!(error.has_code(10220));
        assert!(!error.has_code(10007));
        assert_eq!(error.code(), Some(10220));
    }

    #[test]
    fn hints_cover_the_known_codes() {
        assert!(hint_for(404, [10007]).is_some_and(|h| h.contains("does not exist")));
        assert!(hint_for(400, [10211]).is_some_and(|h| h.contains("migration")));
        assert!(hint_for(400, [10220]).is_some_and(|h| h.contains("force")));
        assert!(hint_for(429, []).is_some_and(|h| h.contains("rate limit")));
        assert!(hint_for(400, [1, 10007]).is_some_and(|h| h.contains("does not exist")));
        assert_eq!(hint_for(400, [10021]), None);
        assert_eq!(hint_for(500, []), None);
    }

    #[test]
    fn helpers_look_through_retry_wrappers() {
        let inner = Error::Api(api(503, &[(10002, "internal error")]));
        let wrapped = Error::RetriesExhausted {
            attempts: 5,
            last: Box::new(inner),
        };
        assert!(wrapped.has_code(10002));
        assert!(wrapped.is_transient());
        assert_eq!(wrapped.reason(), "ApiServerError");
        assert!(
            wrapped
                .to_string()
                .starts_with("gave up after 5 attempts: cloudflare api POST")
        );

        let not_found = Error::Api(api(
            404,
            &[(10007, "This Worker does not exist on your account.")],
        ));
        assert!(not_found.is_not_found());
        assert!(!not_found.is_transient());
        assert_eq!(not_found.reason(), "ApiRejected");

        let limited = Error::RateLimited {
            method: "GET".into(),
            path: "/x".into(),
            retry_after: Duration::from_secs(400),
            max: Duration::from_secs(300),
        };
        assert!(limited.is_rate_limited());
        assert_eq!(limited.retry_after(), Some(Duration::from_secs(400)));
        assert_eq!(limited.reason(), "ApiRateLimited");
        assert!(
            limited
                .to_string()
                .contains("retry-after 400s exceeds the configured maximum of 300s")
        );
    }

    #[test]
    fn error_without_details_says_so() {
        let text = api(502, &[]).to_string();
        assert!(
            text.ends_with("failed with http 502 and no error details"),
            "{text}"
        );
    }
}
