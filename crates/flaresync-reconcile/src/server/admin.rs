//! The admin token that guards the status server's mutating endpoints (`POST /reconcile`, and
//! `POST /rollout/<command>`): the pure verdict on a request's `Authorization` header, and
//! the middleware that answers for it. Read-only endpoints never ask for it; `/webhook`
//! authenticates itself by signature.

use axum::{
    extract::{Request, State},
    http::{StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use tracing::warn;

use super::App;
use super::throttle::LogThrottle;

/// The environment variable the CLI reads the token from.
pub const ADMIN_TOKEN_VAR: &str = "FLARESYNC_ADMIN_TOKEN";

/// The bearer token of mutating endpoints. Its `Debug` output is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminToken(String);

impl AdminToken {
    /// `None` for an empty (or all-blank) token: that would enable the endpoints for anyone.
    pub fn new(token: impl Into<String>) -> Option<Self> {
        let token = token.into();
        (!token.trim().is_empty()).then_some(AdminToken(token))
    }

    /// Compares in time independent of where the first difference is.
    fn matches(&self, presented: &str) -> bool {
        let (ours, theirs) = (self.0.as_bytes(), presented.as_bytes());
        ours.len() == theirs.len()
            && ours
                .iter()
                .zip(theirs)
                .fold(0u8, |diff, (a, b)| diff | (a ^ b))
                == 0
    }
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

/// What a mutating request gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// No token is configured: mutating endpoints are off.
    Disabled,
    /// No `Authorization: Bearer …` header.
    Missing,
    /// A bearer token that is not the configured one.
    Wrong,
}

/// The verdict on an `Authorization` header value under the configured token.
pub fn authorize(configured: Option<&AdminToken>, authorization: Option<&str>) -> Verdict {
    let Some(token) = configured else {
        return Verdict::Disabled;
    };
    let presented = authorization.and_then(|value| {
        let (scheme, credentials) = value.trim().split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| credentials.trim())
    });
    match presented {
        None => Verdict::Missing,
        Some(presented) if token.matches(presented) => Verdict::Allowed,
        Some(_) => Verdict::Wrong,
    }
}

/// Middleware of the mutating routes: passes allowed requests on, answers the others. Refusals
/// are logged at most once a minute, with a count and without anything the caller sent.
pub(super) async fn require_admin(
    State(app): State<App>,
    request: Request,
    next: Next,
) -> Response {
    let verdict = authorize(app.state.admin_token.as_ref(), authorization(&request));
    if verdict == Verdict::Allowed {
        return next.run(request).await;
    }
    log_refusal(&app.guards.auth_log, verdict);
    refusal(verdict)
}

/// The request's `Authorization` header, when it is text.
pub(super) fn authorization(request: &Request) -> Option<&str> {
    request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
}

fn log_refusal(throttle: &LogThrottle, verdict: Verdict) {
    if let Some(refused) = throttle.admit() {
        warn!(
            refused,
            reason = ?verdict,
            "Refused requests to mutating endpoints (logged at most once a minute)."
        );
    }
}

fn refusal(verdict: Verdict) -> Response {
    match verdict {
        Verdict::Disabled => (
            StatusCode::FORBIDDEN,
            format!(
                "mutating endpoints are disabled: start flaresync run with {ADMIN_TOKEN_VAR} set \
                 and send `Authorization: Bearer <token>`\n"
            ),
        )
            .into_response(),
        Verdict::Missing | Verdict::Wrong => (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            format!("send `Authorization: Bearer <token>` with the token in {ADMIN_TOKEN_VAR}\n"),
        )
            .into_response(),
        Verdict::Allowed => StatusCode::NO_CONTENT.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        let token = AdminToken::new("s3cret-admin");
        let cases = [
            (None, Some("Bearer s3cret-admin"), Verdict::Disabled),
            (token.as_ref(), None, Verdict::Missing),
            (token.as_ref(), Some("Basic czNjcmV0"), Verdict::Missing),
            (token.as_ref(), Some("Bearer"), Verdict::Missing),
            (token.as_ref(), Some("Bearer s3cret-admiN"), Verdict::Wrong),
            (token.as_ref(), Some("Bearer s3cret-admin-"), Verdict::Wrong),
            (
                token.as_ref(),
                Some("Bearer s3cret-admin"),
                Verdict::Allowed,
            ),
            (
                token.as_ref(),
                Some("bearer  s3cret-admin "),
                Verdict::Allowed,
            ),
        ];
        for (configured, header, expected) in cases {
            assert_eq!(authorize(configured, header), expected, "{header:?}");
        }
    }

    #[test]
    fn blank_tokens_are_refused_and_never_printed() {
        assert_eq!(AdminToken::new(" \t"), None);
        let token = AdminToken::new("s3cret-admin").expect("a token");
        assert!(!format!("{token:?}").contains("s3cret"));
    }
}
