//! Integration tests of the Cloudflare client over real HTTP.

mod mock;
mod resilience;
