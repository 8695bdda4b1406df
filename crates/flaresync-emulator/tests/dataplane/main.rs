//! The data plane on real workerd: deployed Workers answer HTTP, bindings run, splits, keys and
//! overrides route like Cloudflare, custom domains and route patterns reach their Worker, a
//! broken bundle, a looping request or a dead workerd never stops the others; and the issue's
//! proofs with the real wrangler CLI.
//!
//! Needs workerd (`crates/flaresync-emulator/scripts/install-workerd.sh`) and wrangler
//! (`install-wrangler.sh`); set `FLARESYNC_SKIP_WORKERD=1` / `FLARESYNC_SKIP_WRANGLER=1` to
//! skip when they are not installed.

mod analytics;
mod assets;
#[path = "../common/mod.rs"]
mod common;
mod durable_split;
mod harness;
mod isolation;
mod routes;
mod serving;
mod with_wrangler;
#[path = "../support/wrangler.rs"]
mod wrangler_cli;
