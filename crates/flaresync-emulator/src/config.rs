//! Emulator configuration: account, tokens, limits. Plain values with Cloudflare's defaults.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Requests allowed per token within a window (Cloudflare: 1200 per 5 minutes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub requests: u32,
    pub window: Duration,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            requests: 1200,
            window: Duration::from_secs(300),
        }
    }
}

/// Everything the emulator needs to start.
///
/// `Debug` redacts the tokens.
#[derive(Clone)]
pub struct EmulatorConfig {
    /// Directory holding `emulator.sqlite3`; `None` keeps all state in memory.
    pub state_dir: Option<PathBuf>,
    /// Accepted API tokens (`Authorization: Bearer <token>`).
    pub tokens: Vec<String>,
    /// Token for `/__emulator/*`; `None` accepts any API token there too.
    pub admin_token: Option<String>,
    /// The single account this emulator serves (32 hex characters).
    pub account_id: String,
    /// Name of the account (`GET /accounts`).
    pub account_name: String,
    /// Email of the token's user (`GET /user`, version and deployment `author_email`).
    pub user_email: String,
    /// How many of the newest versions are deployable (100 today; 10 before 2025-09-11).
    pub version_window: usize,
    /// Rate limit per token.
    pub rate_limit: RateLimit,
    /// The account's workers.dev subdomain (`GET /workers/subdomain`).
    pub subdomain: String,
    /// Largest accepted sum of module sizes in one upload (error 10027 above it).
    pub max_script_bytes: usize,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Zones the account has from the start (routes and custom domains attach to zones);
    /// more can be added with `POST /zones`.
    pub zones: Vec<String>,
}

/// The zone a new emulator has (`flaresync emulator --zone` names others).
pub const DEFAULT_ZONE: &str = "example.com";

/// How many of the newest versions a deployment may reference (Cloudflare: 100; older docs: 10).
pub const DEFAULT_VERSION_WINDOW: usize = 100;

impl EmulatorConfig {
    /// A config with the given account and tokens and Cloudflare's defaults for the rest.
    pub fn new(account_id: impl Into<String>, tokens: Vec<String>) -> Self {
        Self {
            state_dir: None,
            tokens,
            admin_token: None,
            account_id: account_id.into(),
            account_name: "Flaresync Emulated Account".into(),
            user_email: "dev@flaresync.test".into(),
            version_window: DEFAULT_VERSION_WINDOW,
            rate_limit: RateLimit::default(),
            subdomain: "flaresync-emulator".into(),
            // Cloudflare's limit is 10 MB after gzip on the paid plan; the emulator does not
            // compress, so it applies the (draft) 64 MiB uncompressed limit.
            max_script_bytes: 64 * 1024 * 1024,
            max_body_bytes: 128 * 1024 * 1024,
            zones: vec![DEFAULT_ZONE.to_owned()],
        }
    }

    pub(crate) fn validate(&self) -> Result<(), crate::EmulatorError> {
        let is_hex32 =
            self.account_id.len() == 32 && self.account_id.bytes().all(|b| b.is_ascii_hexdigit());
        if !is_hex32 {
            return Err(crate::EmulatorError::Config(
                "account_id must be 32 hex characters".into(),
            ));
        }
        if self.tokens.is_empty() || self.tokens.iter().any(|t| t.is_empty()) {
            return Err(crate::EmulatorError::Config(
                "at least one non-empty API token is required".into(),
            ));
        }
        if self.version_window == 0 {
            return Err(crate::EmulatorError::Config(
                "version_window must be at least 1".into(),
            ));
        }
        if self.rate_limit.requests == 0 || self.rate_limit.window.is_zero() {
            return Err(crate::EmulatorError::Config(
                "rate_limit needs at least one request per non-empty window".into(),
            ));
        }
        Ok(())
    }
}

impl fmt::Debug for EmulatorConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmulatorConfig")
            .field("state_dir", &self.state_dir)
            .field("tokens", &format_args!("[{} redacted]", self.tokens.len()))
            .field(
                "admin_token",
                &self.admin_token.as_ref().map(|_| "[redacted]"),
            )
            .field("account_id", &self.account_id)
            .field("account_name", &self.account_name)
            .field("user_email", &self.user_email)
            .field("version_window", &self.version_window)
            .field("rate_limit", &self.rate_limit)
            .field("subdomain", &self.subdomain)
            .field("max_script_bytes", &self.max_script_bytes)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("zones", &self.zones)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_tokens() {
        let mut config = EmulatorConfig::new("0".repeat(32), vec!["s3cret-token".into()]);
        config.admin_token = Some("adm1n-token".into());
        let text = format!("{config:?}");
        assert!(!text.contains("s3cret-token"), "{text}");
        assert!(!text.contains("adm1n-token"), "{text}");
    }

    #[test]
    fn validate_rejects_bad_account_and_empty_tokens() {
        assert!(
            EmulatorConfig::new("abc", vec!["t".into()])
                .validate()
                .is_err()
        );
        assert!(
            EmulatorConfig::new("a".repeat(32), vec![])
                .validate()
                .is_err()
        );
        assert!(
            EmulatorConfig::new("a".repeat(32), vec!["t".into()])
                .validate()
                .is_ok()
        );
    }
}
