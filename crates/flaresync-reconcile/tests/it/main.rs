//! Integration tests of flaresync-reconcile (one test binary, one module per area).

mod server;
mod watcher;
