//! Integration tests of flaresync-reconcile (one test binary, one module per area).

mod drift_health;
mod runner;
mod server;
mod support;
mod sync;
mod watcher;
