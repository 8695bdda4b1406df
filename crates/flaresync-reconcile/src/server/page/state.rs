//! The one word a Worker's card leads with, and its colour (pure): the most urgent of its
//! conditions, drift and rollout.

use crate::status::{ConditionType, WorkerStatus};

/// A Worker's headline state, most urgent first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum State {
    Blocked,
    Unhealthy,
    Stalled,
    Drifted,
    RollingOut,
    Reconciling,
    InSync,
    Pending,
}

impl State {
    pub fn of(worker: &WorkerStatus) -> Self {
        let on = |kind| worker.condition(kind).is_some_and(|c| c.status);
        let rolling = worker
            .rollout
            .as_ref()
            .is_some_and(|r| r.phase.weight().is_some());
        if on(ConditionType::RollbackBlocked) || !worker.blocked.is_empty() {
            State::Blocked
        } else if on(ConditionType::HealthCheckFailed) {
            State::Unhealthy
        } else if on(ConditionType::Stalled) {
            State::Stalled
        } else if worker.drift.is_some() || on(ConditionType::Drifted) {
            State::Drifted
        } else if rolling {
            State::RollingOut
        } else if on(ConditionType::Reconciling) {
            State::Reconciling
        } else if on(ConditionType::Ready) {
            State::InSync
        } else {
            State::Pending
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            State::Blocked => "blocked",
            State::Unhealthy => "unhealthy",
            State::Stalled => "stalled",
            State::Drifted => "drifted",
            State::RollingOut => "rolling out",
            State::Reconciling => "reconciling",
            State::InSync => "in sync",
            State::Pending => "pending",
        }
    }

    /// The CSS class (and colour) of the state.
    pub fn class(self) -> &'static str {
        match self {
            State::Blocked | State::Unhealthy | State::Stalled => "bad",
            State::Drifted => "warn",
            State::RollingOut | State::Reconciling => "busy",
            State::InSync => "ok",
            State::Pending => "idle",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::{BlockedRule, DriftStatus};

    #[test]
    fn the_most_urgent_state_wins() {
        let mut worker = WorkerStatus::new("api");
        assert_eq!(State::of(&worker), State::Pending);
        worker.set_condition(ConditionType::Ready, true, "Succeeded", "", "t");
        assert_eq!(State::of(&worker), State::InSync);
        worker.drift = Some(DriftStatus {
            expected_versions: vec!["v1".into()],
            actual_versions: vec!["v0".into()],
            actual_commits: vec![None],
            policy: "report".into(),
            healed: false,
        });
        assert_eq!(State::of(&worker), State::Drifted);
        assert_eq!(State::of(&worker).class(), "warn");
        worker.blocked.push(BlockedRule {
            rule: "FS002".into(),
            message: "m".into(),
            fix: None,
        });
        assert_eq!(State::of(&worker), State::Blocked);
        assert_eq!(State::of(&worker).label(), "blocked");
    }
}
