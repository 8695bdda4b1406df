//! Who may read the status page (`GET /`): the pure verdict and the middleware answering it.
//!
//! The page shows what `/status` shows, read-only. `auto` (the default) makes it public when
//! the status server listens on loopback, as `/status` is, and asks for the admin token
//! otherwise: a browser sends it as the password of HTTP Basic authentication (any user name),
//! a script as `Authorization: Bearer <token>`. `public`, `token` and `off` force one rule.

use axum::{
    extract::{Request, State},
    http::{StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use base64::Engine as _;

use super::{
    App,
    admin::{ADMIN_TOKEN_VAR, AdminToken, Verdict, authorization, authorize},
};

/// The environment variable (and `--status-page` value) naming the rule.
pub const STATUS_PAGE_VAR: &str = "FLARESYNC_STATUS_PAGE";

/// Who may read the status page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PageAccess {
    /// `public` on a loopback listener, `token` on any other.
    #[default]
    Auto,
    /// Anyone who reaches the listener.
    Public,
    /// The admin token, as a Basic password or a bearer token.
    Token,
    /// Not served (404).
    Off,
}

impl PageAccess {
    pub const NAMES: [&'static str; 4] = ["auto", "public", "token", "off"];

    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "auto" => Some(PageAccess::Auto),
            "public" => Some(PageAccess::Public),
            "token" => Some(PageAccess::Token),
            "off" => Some(PageAccess::Off),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PageAccess::Auto => "auto",
            PageAccess::Public => "public",
            PageAccess::Token => "token",
            PageAccess::Off => "off",
        }
    }

    /// The rule on a listener bound to `address` (`None`: unknown, as non-loopback).
    pub fn resolve(self, address: Option<std::net::SocketAddr>) -> Self {
        match self {
            PageAccess::Auto if address.is_some_and(|a| a.ip().is_loopback()) => PageAccess::Public,
            PageAccess::Auto => PageAccess::Token,
            rule => rule,
        }
    }
}

/// What a request for the page gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageVerdict {
    Allowed,
    /// `off`: answered 404.
    Off,
    /// `token` without a configured admin token: nobody can read it (403, says what to set).
    NoToken,
    /// No or a wrong credential: 401 with a Basic challenge.
    Challenge,
}

/// The verdict on a request's `Authorization` header under `access` (resolved, see
/// [`PageAccess::resolve`]; an unresolved `auto` counts as `token`).
pub fn page_verdict(
    access: PageAccess,
    token: Option<&AdminToken>,
    authorization: Option<&str>,
) -> PageVerdict {
    match access {
        PageAccess::Public => return PageVerdict::Allowed,
        PageAccess::Off => return PageVerdict::Off,
        PageAccess::Auto | PageAccess::Token => {}
    }
    let basic = authorization
        .and_then(basic_password)
        .map(|p| format!("Bearer {p}"));
    match authorize(token, basic.as_deref().or(authorization)) {
        Verdict::Allowed => PageVerdict::Allowed,
        Verdict::Disabled => PageVerdict::NoToken,
        Verdict::Missing | Verdict::Wrong => PageVerdict::Challenge,
    }
}

/// The password of an `Authorization: Basic …` header (user names are ignored).
fn basic_password(value: &str) -> Option<String> {
    let (scheme, credentials) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(credentials.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    text.split_once(':')
        .map(|(_, password)| password.to_owned())
}

/// Middleware of `GET /`.
pub(super) async fn require_page_access(
    State(app): State<App>,
    request: Request,
    next: Next,
) -> Response {
    match page_verdict(
        app.state.page_access,
        app.state.admin_token.as_ref(),
        authorization(&request),
    ) {
        PageVerdict::Allowed => next.run(request).await,
        PageVerdict::Off => (
            StatusCode::NOT_FOUND,
            format!("the status page is off ({STATUS_PAGE_VAR}=off); the JSON is on /status\n"),
        )
            .into_response(),
        PageVerdict::NoToken => (
            StatusCode::FORBIDDEN,
            format!(
                "the status page needs the admin token on this address: set {ADMIN_TOKEN_VAR}, \
                 or {STATUS_PAGE_VAR}=public to serve it to anyone who reaches it\n"
            ),
        )
            .into_response(),
        PageVerdict::Challenge => (
            StatusCode::UNAUTHORIZED,
            [(
                header::WWW_AUTHENTICATE,
                "Basic realm=\"flaresync status\", charset=\"UTF-8\"",
            )],
            format!("sign in with the token in {ADMIN_TOKEN_VAR} as the password\n"),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(user_password: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(user_password)
        )
    }

    #[test]
    fn auto_is_public_on_loopback_only() {
        let loopback = "127.0.0.1:9090".parse().ok();
        let v6_loopback = "[::1]:9090".parse().ok();
        let anywhere = "0.0.0.0:9090".parse().ok();
        assert_eq!(PageAccess::Auto.resolve(loopback), PageAccess::Public);
        assert_eq!(PageAccess::Auto.resolve(v6_loopback), PageAccess::Public);
        assert_eq!(PageAccess::Auto.resolve(anywhere), PageAccess::Token);
        assert_eq!(PageAccess::Auto.resolve(None), PageAccess::Token);
        assert_eq!(PageAccess::Token.resolve(loopback), PageAccess::Token);
        assert_eq!(PageAccess::Off.resolve(loopback), PageAccess::Off);
    }

    #[test]
    fn verdicts() {
        let token = AdminToken::new("s3cret-admin");
        let good = basic("oncall:s3cret-admin");
        let colon = basic(":s3cret-admin");
        let bad = basic("oncall:guess");
        let cases = [
            (PageAccess::Public, None, None, PageVerdict::Allowed),
            (
                PageAccess::Off,
                token.as_ref(),
                Some(good.as_str()),
                PageVerdict::Off,
            ),
            (
                PageAccess::Token,
                None,
                Some(good.as_str()),
                PageVerdict::NoToken,
            ),
            (
                PageAccess::Token,
                token.as_ref(),
                None,
                PageVerdict::Challenge,
            ),
            (
                PageAccess::Token,
                token.as_ref(),
                Some(bad.as_str()),
                PageVerdict::Challenge,
            ),
            (
                PageAccess::Token,
                token.as_ref(),
                Some("Basic !!"),
                PageVerdict::Challenge,
            ),
            (
                PageAccess::Token,
                token.as_ref(),
                Some(good.as_str()),
                PageVerdict::Allowed,
            ),
            (
                PageAccess::Token,
                token.as_ref(),
                Some(colon.as_str()),
                PageVerdict::Allowed,
            ),
            (
                PageAccess::Token,
                token.as_ref(),
                Some("Bearer s3cret-admin"),
                PageVerdict::Allowed,
            ),
            (
                PageAccess::Auto,
                token.as_ref(),
                None,
                PageVerdict::Challenge,
            ),
        ];
        for (access, configured, header, expected) in cases {
            assert_eq!(
                page_verdict(access, configured, header),
                expected,
                "{access:?} {header:?}"
            );
        }
    }

    #[test]
    fn names_round_trip() {
        for name in PageAccess::NAMES {
            assert_eq!(PageAccess::parse(name).map(PageAccess::as_str), Some(name));
        }
        assert_eq!(PageAccess::parse(" Public "), Some(PageAccess::Public));
        assert_eq!(PageAccess::parse("open"), None);
    }
}
