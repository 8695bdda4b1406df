//! The rollout state machine: given the strategy, what the journal and Cloudflare show, and
//! (when one ran) this pass's analysis, the one next action. Pure: the clock is a parameter
//! and nothing here reads or writes anything.
//!
//! # Expected flow
//!
//! step 1 (10%) -- interval, analysis Passed --> step 2 (50%) -- ... --> 100% (Baking)
//! -- bake, analysis Passed --> Completed. A Failed analysis (or an operator's abort) at any
//! point is an Abort; an Inconclusive one pauses until an operator promotes or aborts.

use chrono::{DateTime, Utc};
use flaresync_config::Rollout;
use serde::Serialize;

use super::verdict::{Analysed, Verdict};

/// One step the journal records as taken (Cloudflare got the deployment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepTaken {
    /// Index into the strategy's steps.
    pub index: usize,
    pub weight: u8,
    pub at: DateTime<Utc>,
}

/// How a rollout ended, as the journal records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finished {
    Completed,
    Aborted {
        reason: String,
    },
    /// Git moved on before the rollout ended.
    Superseded,
}

/// What the journal and Cloudflare show of one rollout.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    /// Steps taken, oldest first (never empty once a rollout started).
    pub steps: Vec<StepTaken>,
    /// The canary's share of Cloudflare's active deployment, in percent (`None`: not served).
    pub live_weight: Option<f64>,
    /// Paused by an operator (or an inconclusive analysis) and not resumed: the reason.
    pub paused: Option<String>,
    /// An operator asked to skip to the next step since the last one.
    pub promote: bool,
    /// An operator asked to abort.
    pub abort: Option<String>,
    pub finished: Option<Finished>,
    pub now: DateTime<Utc>,
}

/// Where a rollout stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    /// Canary at `weight`% (step `step` of `of`, 1-based).
    Progressing {
        step: usize,
        of: usize,
        weight: u8,
    },
    /// Canary at 100%, watched for the bake time.
    Baking {
        step: usize,
        of: usize,
    },
    Paused {
        step: usize,
        of: usize,
        weight: u8,
        reason: String,
    },
    Aborted {
        reason: String,
    },
    Completed,
}

impl Phase {
    pub fn name(&self) -> &'static str {
        match self {
            Phase::Progressing { .. } => "progressing",
            Phase::Baking { .. } => "baking",
            Phase::Paused { .. } => "paused",
            Phase::Aborted { .. } => "aborted",
            Phase::Completed => "completed",
        }
    }

    /// The canary's share in this phase (`None` once the rollout ended).
    pub fn weight(&self) -> Option<u8> {
        match self {
            Phase::Progressing { weight, .. } | Phase::Paused { weight, .. } => Some(*weight),
            Phase::Baking { .. } => Some(100),
            _ => None,
        }
    }
}

/// What to do next.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// Nothing until `at` (the loop comes back then).
    WaitUntil(DateTime<Utc>),
    /// Run the analysis over the window since `since`, then decide again with its result.
    Analyse { since: DateTime<Utc> },
    /// Deploy the canary at `weight`% (step `index` of the strategy).
    SetWeight { index: usize, weight: u8 },
    /// Record the rollout as completed (the canary already serves 100%).
    Complete,
    /// Put every Worker of the commit back on its previous version.
    Abort { reason: String },
    /// Hold the rollout until an operator acts; record why (once).
    Pause { reason: String },
    /// Nothing to do, ever, without an operator or a new commit.
    Idle,
}

/// The phase the observation shows.
pub fn phase(rollout: &Rollout, observed: &Observed) -> Phase {
    match &observed.finished {
        Some(Finished::Completed) | Some(Finished::Superseded) => return Phase::Completed,
        Some(Finished::Aborted { reason }) => {
            return Phase::Aborted {
                reason: reason.clone(),
            };
        }
        None => {}
    }
    let of = rollout.steps.len();
    let Some(last) = observed.steps.last() else {
        return Phase::Progressing {
            step: 0,
            of,
            weight: 0,
        };
    };
    let step = last.index + 1;
    if let Some(reason) = &observed.paused {
        return Phase::Paused {
            step,
            of,
            weight: last.weight,
            reason: reason.clone(),
        };
    }
    if last.weight >= 100 {
        Phase::Baking { step, of }
    } else {
        Phase::Progressing {
            step,
            of,
            weight: last.weight,
        }
    }
}

/// The next action. `analysis` is this pass's analysis when it ran (after an
/// [`Next::Analyse`]).
pub fn next(rollout: &Rollout, observed: &Observed, analysis: Option<&Analysed>) -> Next {
    if observed.finished.is_some() {
        return Next::Idle;
    }
    if let Some(reason) = &observed.abort {
        return Next::Abort {
            reason: reason.clone(),
        };
    }
    let Some(last) = observed.steps.last() else {
        return first_step(rollout);
    };
    if let Some(hand) = hand_change(last, observed.live_weight) {
        return if observed.paused.is_some() && !observed.promote {
            Next::Idle
        } else if observed.promote {
            // The operator asks for the step again (or the next one): deploy it.
            advance(rollout, last)
        } else {
            Next::Pause { reason: hand }
        };
    }
    if observed.promote {
        return advance(rollout, last);
    }
    if observed.paused.is_some() {
        return Next::Idle;
    }
    let wait = if last.weight >= 100 {
        rollout.bake
    } else {
        rollout.step_interval
    };
    let due = last.at + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX);
    if observed.now < due {
        return Next::WaitUntil(due);
    }
    let Some(analysis) = analysis else {
        return Next::Analyse { since: last.at };
    };
    match analysis.verdict {
        Verdict::Failed => Next::Abort {
            reason: format!(
                "analysis failed at {}%: {}",
                last.weight,
                analysis.summary()
            ),
        },
        Verdict::Inconclusive => Next::Pause {
            reason: format!(
                "analysis inconclusive at {}%: {}; promote or abort",
                last.weight,
                analysis.summary()
            ),
        },
        Verdict::Passed => advance(rollout, last),
    }
}

fn first_step(rollout: &Rollout) -> Next {
    Next::SetWeight {
        index: 0,
        weight: rollout.steps.first().copied().unwrap_or(100),
    }
}

/// The step after `last`, or completion after 100%.
fn advance(rollout: &Rollout, last: &StepTaken) -> Next {
    if last.weight >= 100 {
        return Next::Complete;
    }
    let index = rollout
        .steps
        .iter()
        .position(|weight| *weight > last.weight)
        .unwrap_or(rollout.steps.len().saturating_sub(1));
    Next::SetWeight {
        index,
        weight: rollout.steps.get(index).copied().unwrap_or(100),
    }
}

/// Why Cloudflare's deployment is not the one the last step made, if it is not.
fn hand_change(last: &StepTaken, live_weight: Option<f64>) -> Option<String> {
    match live_weight {
        None => Some(format!(
            "Cloudflare no longer serves the canary (the rollout had it at {}%): the deployment was changed outside flaresync; promote to deploy the step again or abort",
            last.weight
        )),
        Some(weight) if (weight - f64::from(last.weight)).abs() > 0.5 => Some(format!(
            "Cloudflare serves the canary at {weight}% but the rollout had it at {}%: the deployment was changed outside flaresync; promote or abort",
            last.weight
        )),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use proptest::prelude::*;

    use super::*;
    use crate::rollout::verdict::{Check, CheckResult};

    fn strategy() -> Rollout {
        let (config, _) = flaresync_config::parse_repo_config(
            "flaresync.toml",
            b"[rollout]\nsteps = [10, 50, 100]\nstep_interval = \"2m\"\nbake = \"10m\"\n",
        )
        .expect("valid");
        config.rollout.expect("rollout")
    }

    fn at(minute: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_800_000_000 + minute * 60, 0).unwrap_or_default()
    }

    fn observed(steps: &[(usize, u8, i64)], live: Option<f64>, now: i64) -> Observed {
        Observed {
            steps: steps
                .iter()
                .map(|(index, weight, minute)| StepTaken {
                    index: *index,
                    weight: *weight,
                    at: at(*minute),
                })
                .collect(),
            live_weight: live,
            paused: None,
            promote: false,
            abort: None,
            finished: None,
            now: at(now),
        }
    }

    fn analysed(verdict: Verdict) -> Analysed {
        let result = match verdict {
            Verdict::Passed => CheckResult::Passed,
            Verdict::Failed => CheckResult::Failed,
            Verdict::Inconclusive => CheckResult::Inconclusive,
        };
        Analysed::from_checks(vec![Check::new("error_rate", result, "error rate 21.0%")])
    }

    #[test]
    fn a_step_waits_for_its_interval_then_asks_for_analysis() {
        let rollout = strategy();
        let early = observed(&[(0, 10, 0)], Some(10.0), 1);
        assert_eq!(next(&rollout, &early, None), Next::WaitUntil(at(2)));
        let due = observed(&[(0, 10, 0)], Some(10.0), 2);
        assert_eq!(next(&rollout, &due, None), Next::Analyse { since: at(0) });
        assert_eq!(
            phase(&rollout, &due),
            Phase::Progressing {
                step: 1,
                of: 3,
                weight: 10
            }
        );
    }

    #[test]
    fn passed_advances_failed_aborts_inconclusive_pauses() {
        let rollout = strategy();
        let due = observed(&[(0, 10, 0)], Some(10.0), 3);
        let passed = analysed(Verdict::Passed);
        assert_eq!(
            next(&rollout, &due, Some(&passed)),
            Next::SetWeight {
                index: 1,
                weight: 50
            }
        );
        match next(&rollout, &due, Some(&analysed(Verdict::Failed))) {
            Next::Abort { reason } => {
                assert!(reason.contains("at 10%: error rate 21.0%"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            next(&rollout, &due, Some(&analysed(Verdict::Inconclusive))),
            Next::Pause { .. }
        ));
    }

    #[test]
    fn after_100_percent_the_bake_decides_completion() {
        let rollout = strategy();
        let steps = [(0, 10, 0), (1, 50, 2), (2, 100, 4)];
        let baking = observed(&steps, Some(100.0), 5);
        assert_eq!(phase(&rollout, &baking), Phase::Baking { step: 3, of: 3 });
        assert_eq!(next(&rollout, &baking, None), Next::WaitUntil(at(14)));
        let baked = observed(&steps, Some(100.0), 14);
        assert_eq!(
            next(&rollout, &baked, Some(&analysed(Verdict::Passed))),
            Next::Complete
        );
    }

    #[test]
    fn operators_pause_promote_and_abort() {
        let rollout = strategy();
        let mut paused = observed(&[(0, 10, 0)], Some(10.0), 30);
        paused.paused = Some("paused by alice".into());
        assert_eq!(next(&rollout, &paused, None), Next::Idle);
        assert!(matches!(
            phase(&rollout, &paused),
            Phase::Paused { weight: 10, .. }
        ));
        paused.promote = true;
        assert_eq!(
            next(&rollout, &paused, None),
            Next::SetWeight {
                index: 1,
                weight: 50
            }
        );
        paused.abort = Some("aborted by bob".into());
        assert_eq!(
            next(&rollout, &paused, None),
            Next::Abort {
                reason: "aborted by bob".into()
            }
        );
    }

    #[test]
    fn a_hand_change_of_the_split_pauses_instead_of_fighting_it() {
        let rollout = strategy();
        let changed = observed(&[(0, 10, 0)], Some(30.0), 5);
        match next(&rollout, &changed, None) {
            Next::Pause { reason } => assert!(reason.contains("at 30%"), "{reason}"),
            other => panic!("{other:?}"),
        }
        let gone = observed(&[(0, 10, 0)], None, 5);
        assert!(matches!(next(&rollout, &gone, None), Next::Pause { .. }));
    }

    #[test]
    fn a_finished_rollout_does_nothing() {
        let rollout = strategy();
        let mut done = observed(&[(0, 10, 0)], Some(10.0), 5);
        done.finished = Some(Finished::Aborted { reason: "x".into() });
        assert_eq!(next(&rollout, &done, None), Next::Idle);
        assert_eq!(
            phase(&rollout, &done),
            Phase::Aborted { reason: "x".into() }
        );
    }

    proptest! {
        /// Whatever the steps and the moment, a Passed analysis never lowers the canary's
        /// share, and a Failed one never raises it.
        #[test]
        fn passed_never_goes_back_and_failed_never_goes_forward(
            raw in proptest::collection::btree_set(1u8..100, 0..5),
            taken in 0usize..5,
            minutes in 0i64..100,
        ) {
            let mut rollout = strategy();
            rollout.steps = raw.into_iter().chain([100]).collect();
            rollout.step_interval = Duration::from_secs(60);
            let index = taken.min(rollout.steps.len() - 1);
            let weight = rollout.steps[index];
            let seen = observed(&[(index, weight, 0)], Some(f64::from(weight)), minutes);
            match next(&rollout, &seen, Some(&analysed(Verdict::Passed))) {
                Next::SetWeight { weight: new, index: new_index } => {
                    prop_assert!(new > weight);
                    prop_assert_eq!(new_index, index + 1);
                }
                Next::Complete => prop_assert_eq!(weight, 100),
                Next::WaitUntil(_) => {
                    let wait = if weight == 100 { 10 } else { 1 };
                    prop_assert!(minutes < wait);
                }
                other => prop_assert!(false, "unexpected {:?}", other),
            }
            match next(&rollout, &seen, Some(&analysed(Verdict::Failed))) {
                Next::Abort { .. } | Next::WaitUntil(_) => {}
                other => prop_assert!(false, "unexpected {:?}", other),
            }
        }
    }
}
