//! Decisions 1 and 2, for Workers without a spec to deploy: removed from Git (reported, never
//! deleted) or whose config does not load (blocked, FS011).

use crate::diff::{DiffBase, WorkerDiff};
use crate::model::Action;
use crate::rules::{self, Subject};

use super::current::Current;
use super::outcome::Outcome;
use super::worker_input::WorkerInput;

/// 1. Not in Git but known (base commit or history): [`Action::Removed`], never a delete.
pub(super) fn removed(input: &WorkerInput<'_>) -> Outcome {
    decide(
        input,
        Subject::Removed,
        Action::Removed,
        "removed from Git; nothing is deleted on Cloudflare",
    )
}

/// 2. The config does not load: [`Action::Blocked`] (FS011).
pub(super) fn broken<'a>(input: &WorkerInput<'a>, error: &'a str) -> Outcome {
    decide(
        input,
        Subject::Broken { error },
        Action::Blocked { target: None },
        "config does not load at this commit (FS011)",
    )
}

fn decide<'a>(
    input: &WorkerInput<'a>,
    subject: Subject<'a>,
    action: Action,
    reason: &str,
) -> Outcome {
    let current = Current::of(input);
    let findings = rules::check_all(&input.context(&current, subject));
    let diff = WorkerDiff::empty(DiffBase::Nothing);
    Outcome::new(input.name, action, reason.to_owned(), findings, diff)
}
