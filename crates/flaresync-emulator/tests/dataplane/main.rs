//! The data plane on real workerd: deployed Workers answer HTTP, bindings run, splits, keys and
//! overrides route like Cloudflare, a broken bundle never stops the others.
//!
//! Needs workerd (`crates/flaresync-emulator/scripts/install-workerd.sh`); set
//! `FLARESYNC_SKIP_WORKERD=1` to skip when it is not installed.

mod harness;
mod serving;
