//! Client configuration and Worker modules shared by the test binaries (`it` and
//! `token_hygiene`).

use std::sync::Arc;
use std::time::Duration;

use flaresync_cloudflare::{ClientConfig, RetryPolicy, Secret, Timeouts};
use flaresync_config::Module;

/// A client configuration with fast retries (`max_attempts` in all) and short timeouts, so
/// failure scenarios finish quickly.
pub fn fast_config(
    base_url: String,
    account: &str,
    token: &str,
    max_attempts: u32,
    request_timeout: Duration,
) -> ClientConfig {
    let mut config = ClientConfig::new(base_url, account, Secret::new(token));
    config.retry = RetryPolicy {
        max_attempts,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        max_retry_after: Duration::from_secs(5),
        rate_limit_floor: Duration::from_millis(10),
        // Off, so that each test's attempt counts depend on that test alone.
        quota: 0,
    };
    config.timeouts = Timeouts {
        connect: Duration::from_secs(2),
        request: request_timeout,
    };
    config
}

/// A module as the config crate reads it (no digest), holding `content`.
pub fn module(name: &str, content_type: &str, content: impl Into<Vec<u8>>) -> Module {
    let content: Vec<u8> = content.into();
    Module {
        name: name.into(),
        content_type: content_type.into(),
        sha256: String::new(),
        size: content.len() as u64,
        content: Arc::from(content),
    }
}
