//! Integration tests of flaresync-reconcile (one test binary, one module per area).

mod runner;
mod server;
mod support;
mod sync;
mod watcher;
