//! Integration tests of flaresync-reconcile (one test binary, one module per area).

mod assets;
mod chromium;
mod cost;
mod crash;
mod drift_health;
mod legality;
mod notify;
mod preempt;
mod recorder;
mod rollout;
mod rollout_hold;
mod rollout_ops;
mod run;
mod runner;
mod server;
mod server_guards;
mod status_page;
mod storm;
mod support;
mod sync;
mod watcher;
