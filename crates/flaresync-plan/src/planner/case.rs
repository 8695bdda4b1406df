//! A Worker whose config loaded, as decisions 3 to 6 see it: its inputs, what runs now, what
//! Git wants, and what that implies for migrations and `exports`.

use flaresync_config::WorkerSpec;

use crate::diff::{self, After, WorkerDiff};
use crate::input::DesiredWorker;
use crate::live::LiveVersion;
use crate::migrations::{self, PendingMigrations};
use crate::model::{Finding, Step};
use crate::rules::{self, Subject};

use super::current::Current;
use super::settings;
use super::worker_input::WorkerInput;

/// One Worker with a desired spec, being decided.
pub(super) struct Case<'a> {
    pub input: WorkerInput<'a>,
    pub current: Current<'a>,
    pub worker: &'a DesiredWorker,
    /// Migration steps a script upload would have to send.
    pub pending: PendingMigrations,
    /// Whether the declared `exports` differ from what runs.
    pub exports_changed: bool,
}

impl<'a> Case<'a> {
    pub fn new(input: WorkerInput<'a>, worker: &'a DesiredWorker) -> Self {
        let current = Current::of(&input);
        let spec = &worker.spec;
        Case {
            pending: migrations::pending(&spec.migrations, current.migration_tag),
            exports_changed: exports_changed(&current, spec),
            input,
            current,
            worker,
        }
    }

    pub fn name(&self) -> &'a str {
        self.input.name
    }

    pub fn spec(&self) -> &'a WorkerSpec {
        &self.worker.spec
    }

    /// Every rule's findings for `subject`.
    pub fn findings(&self, subject: Subject<'a>) -> Vec<Finding> {
        rules::check_all(&self.input.context(&self.current, subject))
    }

    /// The diff against what runs; `target_version` is a rollback's target.
    pub fn diff(&self, target_version: Option<&'a LiveVersion>) -> WorkerDiff {
        diff::worker_diff(
            self.input.before(&self.current),
            After {
                spec: self.spec(),
                target_version,
            },
        )
    }

    /// The step applying the non-versioned settings that go with a new version going live (see
    /// [`settings::fields`]), unless there are none.
    pub fn settings_step(&self) -> Option<Step> {
        let fields = settings::fields(self, false);
        (!fields.is_empty()).then(|| Step::SyncSettings {
            worker: self.name().to_owned(),
            fields,
        })
    }

    /// Whether what runs already has the desired `version_digest`.
    pub fn versions_equal(&self) -> bool {
        self.current.version_digest == Some(self.worker.version_digest.as_str())
    }
}

/// Whether the declared `exports` differ from what runs. When that is unknown (the active
/// version is not in the history), a spec that declares `exports` is treated as changed: a script
/// upload is always accepted, a version upload with an `exports` change is not (10211).
fn exports_changed(current: &Current<'_>, spec: &WorkerSpec) -> bool {
    match current.exports {
        Some(running) => running != spec.exports.as_deref(),
        None => spec.exports.is_some(),
    }
}
