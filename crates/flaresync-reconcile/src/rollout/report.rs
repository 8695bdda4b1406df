//! What a pass, `/status` and `flaresync rollout status` say about a rollout.

use serde::Serialize;

use super::machine::Phase;
use super::verdict::Analysed;

/// One Worker's rollout as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RolloutReport {
    pub commit: String,
    pub canary_version: String,
    pub stable_version: Option<String>,
    #[serde(flatten)]
    pub phase: Phase,
    /// The canary's share now (`None` once the rollout ended).
    pub weight: Option<u8>,
    /// When the loop analyses (or advances) next.
    pub next_check_at: Option<String>,
    /// The latest analysis, with its numbers.
    pub last_analysis: Option<Analysed>,
}
