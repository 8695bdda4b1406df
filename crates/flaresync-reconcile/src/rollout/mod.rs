//! Progressive delivery: a Worker's new version goes out as Cloudflare split deployments
//! (canary at each step's share, stable at the rest), is analysed at every step and during the
//! bake after 100%, and is either completed or aborted (every Worker of the commit back on its
//! previous version, the commit rejected, a revert proposed in Git).
//!
//! Pure decisions: [`machine`] (phase and next action), [`verdict`] (Passed / Failed /
//! Inconclusive from numbers), [`record`] (the journal's entries of a rollout, read back),
//! [`report`] (what status shows).
//! I/O: [`analysis`] (GraphQL analytics, probes to the canary, Prometheus). The pass calls
//! them from `pass/rollout.rs`.

pub mod analysis;
pub mod machine;
pub mod record;
pub mod report;
pub mod verdict;

pub use machine::{Next, Observed, Phase};
pub use record::Command;
pub use report::RolloutReport;
pub use verdict::{Analysed, Verdict};
