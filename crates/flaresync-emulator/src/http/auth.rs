//! Who may call: the bearer token (constant-time compare), the account in the path, the
//! per-token rate limit, and the admin token of `/__emulator`.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use super::app::{AppState, fingerprint, lock};
use super::envelope::{error_response, rate_limited};
use crate::config::RateLimit;
use crate::error::ApiError;
use crate::ratelimit::Decision;
use crate::state::account::Identity;

pub(super) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
}

/// Constant-time string comparison (tokens).
fn same(a: &str, b: &str) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.bytes()
        .zip(b.bytes())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

fn path_account(path: &str) -> Option<&str> {
    path.strip_prefix("/client/v4/accounts/")
        .map(|rest| rest.split('/').next().unwrap_or_default())
}

/// Whether the request carries the admin token (or, when none is configured, an API token).
pub(super) fn is_admin(app: &AppState, headers: &HeaderMap) -> bool {
    let token = bearer(headers).unwrap_or_default();
    match &app.config.admin_token {
        Some(admin) => same(admin, token),
        None => app.config.tokens.iter().any(|t| same(t, token)),
    }
}

/// The caller's token and its index in the config, or why it may not call: no token, an unknown
/// one, or an account in the path the token has no access to.
fn authenticate(
    app: &AppState,
    path: &str,
    headers: &HeaderMap,
) -> Result<(usize, String), ApiError> {
    let Some(token) = bearer(headers).map(str::to_owned) else {
        return Err(ApiError::new(
            401,
            10000,
            "Authentication error: missing `Authorization: Bearer <api token>` header",
        ));
    };
    let Some(index) = app.config.tokens.iter().position(|t| same(t, &token)) else {
        return Err(if path == "/client/v4/user/tokens/verify" {
            ApiError::new(401, 1000, "Invalid API Token")
        } else {
            ApiError::new(
                403,
                10000,
                "Authentication error: the API token is not valid for this emulator",
            )
        });
    };
    check_account(app, path)?;
    Ok((index, token))
}

/// 9109 when the path names an account other than the emulator's.
fn check_account(app: &AppState, path: &str) -> Result<(), ApiError> {
    match path_account(path) {
        Some(account) if account != app.config.account_id => Err(ApiError::new(
            403,
            9109,
            format!(
                "Unauthorized to access requested resource: this token has no access to \
                 account {account}"
            ),
        )),
        _ => Ok(()),
    }
}

/// `POST …/workers/assets/upload` is authorised by the upload session's JWT, not an API token
/// (wrangler sends only that, SPEC-2 §1.4); its handler checks the JWT.
fn is_assets_upload(path: &str) -> bool {
    path.starts_with("/client/v4/accounts/") && path.ends_with("/workers/assets/upload")
}

/// Authenticates the request, applies the token's rate limit and runs it with its [`Identity`];
/// every answer past authentication carries the `ratelimit` headers.
pub(super) async fn authorize_and_run(app: AppState, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let caller = if is_assets_upload(&path) {
        check_account(&app, &path).map(|()| None)
    } else {
        authenticate(&app, &path, req.headers()).map(Some)
    };
    let caller = match caller {
        Ok(found) => found,
        Err(error) => return error_response(&error),
    };
    let key = match &caller {
        Some((index, _)) => format!("token-{index}"),
        None => "assets-upload".to_owned(),
    };
    let decision = lock(&app.limiter).check(&key, tokio::time::Instant::now());
    let policy = lock(&app.limiter).policy();
    let mut response = if decision.allowed {
        if let Some((_, token)) = caller {
            req.extensions_mut().insert(Identity {
                account_id: app.config.account_id.clone(),
                account_name: app.config.account_name.clone(),
                user_email: app.config.user_email.clone(),
                user_id: app.user_id.clone(),
                token_id: fingerprint("token", &token),
            });
        }
        next.run(req).await
    } else {
        rate_limited(decision.reset_secs, policy.requests, policy.window)
    };
    add_rate_limit_headers(&mut response, &decision, &policy);
    response
}

fn add_rate_limit_headers(response: &mut Response, decision: &Decision, policy: &RateLimit) {
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "\"default\";r={};t={}",
        decision.remaining, decision.reset_secs
    )) {
        headers.insert("ratelimit", v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!(
        "\"default\";q={};w={}",
        policy.requests,
        policy.window.as_secs()
    )) {
        headers.insert("ratelimit-policy", v);
    }
}
