//! Client configuration: where the API is, whose account, which token, and how patient to be.
//!
//! [`ClientConfig::from_lookup`] reads the same variables as wrangler (`CLOUDFLARE_API_TOKEN`,
//! `CLOUDFLARE_ACCOUNT_ID`, `CLOUDFLARE_API_BASE_URL`) through an injected lookup, so it is tested
//! without touching the process environment. Error messages name variables, never their values.

use std::time::Duration;

use crate::Secret;
use crate::budget::{BudgetConfig, BudgetConfigError};
use crate::retry::RetryPolicy;

/// Cloudflare's public API base.
pub const DEFAULT_BASE_URL: &str = "https://api.cloudflare.com/client/v4";
/// Variable holding the API token.
pub const ENV_API_TOKEN: &str = "CLOUDFLARE_API_TOKEN";
/// Variable holding the account id.
pub const ENV_ACCOUNT_ID: &str = "CLOUDFLARE_ACCOUNT_ID";
/// Variable overriding the API base (how the emulator is reached).
pub const ENV_API_BASE_URL: &str = "CLOUDFLARE_API_BASE_URL";

/// The account-id rule, the one place it is written: 32 hex characters, as Cloudflare issues
/// them (which also keeps an id from reaching into another path of a URL).
pub fn validate_account_id(account_id: &str) -> Result<(), ConfigError> {
    if account_id.len() == 32 && account_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(ConfigError::InvalidAccountId {
            account_id: account_id.to_owned(),
        })
    }
}

/// Connect and per-request timeouts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeouts {
    /// Time to establish a TCP/TLS connection.
    pub connect: Duration,
    /// Whole-request time, from sending to the last byte of the answer. Uploads of large bundles
    /// need it generous.
    pub request: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            request: Duration::from_secs(120),
        }
    }
}

/// Everything [`crate::Client::new`] needs.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// API base, e.g. `https://api.cloudflare.com/client/v4` (a trailing `/` is ignored).
    pub base_url: String,
    pub account_id: String,
    pub token: Secret,
    pub timeouts: Timeouts,
    pub budget: BudgetConfig,
    pub retry: RetryPolicy,
}

/// Why a configuration is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {var} is not set or empty; set it (as for wrangler)")]
    MissingEnv { var: &'static str },
    #[error("api base url {url:?} is invalid: {detail}; use e.g. {DEFAULT_BASE_URL}")]
    InvalidBaseUrl { url: String, detail: String },
    #[error(
        "account id {account_id:?} is not a Cloudflare account id (32 hex characters); copy it from the dashboard (Workers & Pages, right column) or `wrangler whoami`"
    )]
    InvalidAccountId { account_id: String },
    #[error("api token is invalid: {reason}; copy the token again from the cloudflare dashboard")]
    InvalidToken { reason: &'static str },
    #[error("invalid request budget: {0}")]
    Budget(#[from] BudgetConfigError),
    #[error("invalid retry policy: max_attempts must be at least 1")]
    Retry,
    #[error("could not build the http client: {0}")]
    Http(#[source] reqwest::Error),
}

impl ClientConfig {
    /// A configuration with default timeouts, budget and retry policy.
    pub fn new(base_url: impl Into<String>, account_id: impl Into<String>, token: Secret) -> Self {
        ClientConfig {
            base_url: base_url.into(),
            account_id: account_id.into(),
            token,
            timeouts: Timeouts::default(),
            budget: BudgetConfig::default(),
            retry: RetryPolicy::default(),
        }
    }

    /// Reads the configuration from the process environment (see [`ClientConfig::from_lookup`]).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads `CLOUDFLARE_API_TOKEN`, `CLOUDFLARE_ACCOUNT_ID` and the optional
    /// `CLOUDFLARE_API_BASE_URL` through `lookup`, with defaults for everything else.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |var: &'static str| {
            lookup(var)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let token = get(ENV_API_TOKEN).ok_or(ConfigError::MissingEnv { var: ENV_API_TOKEN })?;
        let account_id = get(ENV_ACCOUNT_ID).ok_or(ConfigError::MissingEnv {
            var: ENV_ACCOUNT_ID,
        })?;
        let base_url = get(ENV_API_BASE_URL).unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
        let config = ClientConfig::new(base_url, account_id, Secret::new(token));
        config.validate()?;
        Ok(config)
    }

    /// Checks every field; [`crate::Client::new`] calls it too.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.parsed_base_url()?;
        validate_account_id(&self.account_id)?;
        validate_token(&self.token)?;
        self.budget.validate()?;
        if self.retry.max_attempts == 0 {
            return Err(ConfigError::Retry);
        }
        Ok(())
    }

    /// The base URL, parsed, without a trailing slash.
    pub(crate) fn parsed_base_url(&self) -> Result<url::Url, ConfigError> {
        // Credentials in the URL never reach a message, even when the URL does not parse
        // (a password with an unencoded `/` makes it unparseable).
        let invalid = |detail: String| ConfigError::InvalidBaseUrl {
            url: flaresync_config::url::redact_url(&self.base_url),
            detail,
        };
        let url = url::Url::parse(self.base_url.trim_end_matches('/'))
            .map_err(|e| invalid(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid("the scheme must be http or https".into()));
        }
        if url.cannot_be_a_base() || url.query().is_some() || url.fragment().is_some() {
            return Err(invalid(
                "it must be a plain http(s) url without query or fragment".into(),
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid("it must not contain credentials".into()));
        }
        Ok(url)
    }
}

/// Tokens go into a header: visible ASCII only. Wrangler rejects code points above 255; a
/// header value cannot carry controls or non-ASCII safely either.
fn validate_token(token: &Secret) -> Result<(), ConfigError> {
    let value = token.expose();
    if value.is_empty() {
        return Err(ConfigError::InvalidToken {
            reason: "it is empty",
        });
    }
    if !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ConfigError::InvalidToken {
            reason: "it contains spaces, control or non-ascii characters",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const ACCOUNT: &str = "0123456789abcdef0123456789abcdef";

    /// The configuration read from an environment holding just `vars`.
    fn from_vars(vars: &[(&str, &str)]) -> Result<ClientConfig, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ClientConfig::from_lookup(move |name| map.get(name).cloned())
    }

    /// The configuration with a valid token and account and `base` as the API base URL.
    fn with_base_url(base: &str) -> Result<ClientConfig, ConfigError> {
        from_vars(&[
            (ENV_API_TOKEN, "tok"),
            (ENV_ACCOUNT_ID, ACCOUNT),
            (ENV_API_BASE_URL, base),
        ])
    }

    #[test]
    fn reads_wrangler_variables_with_default_base() {
        let config =
            from_vars(&[(ENV_API_TOKEN, "tok-abc"), (ENV_ACCOUNT_ID, ACCOUNT)]).expect("valid");
        assert_eq!(config.base_url, DEFAULT_BASE_URL);
        assert_eq!(config.token.expose(), "tok-abc");
        assert_eq!(config.budget, BudgetConfig::default());
    }

    #[test]
    fn base_url_override_is_honoured() {
        let config = with_base_url("http://127.0.0.1:8787/client/v4/").expect("valid");
        assert_eq!(
            config.parsed_base_url().expect("parses").as_str(),
            "http://127.0.0.1:8787/client/v4"
        );
    }

    #[test]
    fn missing_or_bad_values_are_reported_without_the_token() {
        let missing = from_vars(&[(ENV_ACCOUNT_ID, ACCOUNT)]).expect_err("token missing");
        assert!(matches!(missing, ConfigError::MissingEnv { var } if var == ENV_API_TOKEN));
        let blank =
            from_vars(&[(ENV_API_TOKEN, "  "), (ENV_ACCOUNT_ID, "a")]).expect_err("blank token");
        assert!(matches!(blank, ConfigError::MissingEnv { .. }));

        let bad_token = from_vars(&[
            (ENV_API_TOKEN, "sekrit\u{e9}value"),
            (ENV_ACCOUNT_ID, ACCOUNT),
        ])
        .expect_err("non-ascii token");
        let text = format!("{bad_token} {bad_token:?}");
        assert!(!text.contains("sekrit"), "{text}");

        // A `/` in the password makes the URL unparseable: that error must not show it either.
        for base in [
            "http://user:pa55word@host/v4",
            "http://user:pa/55word@host/v4",
        ] {
            let with_credentials = with_base_url(base).expect_err("credentials in url");
            let text = format!("{with_credentials} {with_credentials:?}");
            assert!(!text.contains("55word"), "{text}");
        }

        for base in [
            "ftp://x",
            "not a url",
            "http://user:pw@host/v4",
            "http://h/v4?x=1",
        ] {
            let error = with_base_url(base).expect_err(base);
            assert!(
                matches!(error, ConfigError::InvalidBaseUrl { .. }),
                "{base}"
            );
        }
        let bad_account = from_vars(&[(ENV_API_TOKEN, "tok"), (ENV_ACCOUNT_ID, "../other")])
            .expect_err("path traversal");
        assert!(matches!(bad_account, ConfigError::InvalidAccountId { .. }));
    }

    #[test]
    fn debug_of_config_redacts_the_token() {
        let config = ClientConfig::new(
            "http://x",
            "0123456789abcdef0123456789abcdef",
            Secret::new("tok-do-not-print"),
        );
        let text = format!("{config:?}");
        assert!(!text.contains("tok-do-not-print"), "{text}");
        assert!(text.contains("[REDACTED]"));
    }
}
