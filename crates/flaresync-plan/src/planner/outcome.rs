//! A decision's value: the Worker's [`WorkerPlan`] and the steps that carry it out.

use crate::diff::WorkerDiff;
use crate::model::{Action, Finding, Step, WorkerPlan};

/// One Worker's decision.
pub(super) struct Outcome {
    pub plan: WorkerPlan,
    pub steps: Vec<Step>,
}

impl Outcome {
    /// A decision without steps (`depends_on` is filled in later).
    pub fn new(
        name: &str,
        action: Action,
        reason: String,
        findings: Vec<Finding>,
        diff: WorkerDiff,
    ) -> Self {
        Outcome {
            plan: WorkerPlan {
                name: name.to_owned(),
                action,
                reason,
                findings,
                diff,
                depends_on: Vec::new(),
                rollout: None,
            },
            steps: Vec::new(),
        }
    }

    pub fn with_steps(mut self, steps: Vec<Step>) -> Self {
        self.steps = steps;
        self
    }
}
