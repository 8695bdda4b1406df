//! Decisions 3 to 6 for a Worker whose config loaded: which one applies.

use crate::input::DesiredWorker;
use crate::live::LiveWorker;
use crate::migrations::PendingMigrations;

use super::case::Case;
use super::forward::Forward;
use super::outcome::Outcome;
use super::worker_input::WorkerInput;
use super::{candidate, first_deploy, forward, in_sync, rollback};

pub(super) fn decide<'a>(input: WorkerInput<'a>, worker: &'a DesiredWorker) -> Outcome {
    let case = Case::new(input, worker);
    // 3. First deploy.
    if !case.current.exists {
        return first_deploy::decide(&case);
    }
    let split = case.current.live_worker.is_some_and(LiveWorker::is_split);
    let versions_equal = case.versions_equal();
    // 4. Versions already match.
    if versions_equal && !split && case.pending == PendingMigrations::None && !case.exports_changed
    {
        return in_sync::decide(&case);
    }
    // 5. A rollback candidate: known versions with the desired content, newest live one first.
    if let Some(target) = candidate::find(&case, versions_equal && split) {
        return rollback::decide(&case, target);
    }
    // 6. Forward.
    let known_content = input
        .history
        .versions
        .iter()
        .any(|k| k.version_digest == worker.version_digest);
    let hint = (!input.live.observed && known_content)
        .then_some("a known version has this content; with live state this may be a rollback");
    forward::decide(&case, Forward::Changed { hint })
}
