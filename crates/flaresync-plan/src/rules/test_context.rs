//! For the rules' unit tests: a [`Context`] for Worker `api` with live state observed and
//! nothing else known, to adjust per test with struct update syntax.

use std::sync::LazyLock;

use flaresync_config::{Binding, BindingKind, MigrationStep, WorkerSpec};

use crate::input::{KnownVersion, Policy, WorkerHistory};
use crate::live::{LiveResources, LiveVersion};

use super::{Context, Subject, Target};

pub(super) fn context(subject: Subject<'_>) -> Context<'_> {
    static POLICY: LazyLock<Policy> = LazyLock::new(Policy::default);
    static HISTORY: WorkerHistory = WorkerHistory {
        versions: Vec::new(),
        applied_digest: None,
    };
    static RESOURCES: LiveResources = LiveResources {
        kv: None,
        r2: None,
        d1: None,
        queues: None,
    };
    Context {
        worker: "api",
        policy: &POLICY,
        live_observed: true,
        live: None,
        resources: &RESOURCES,
        history: &HISTORY,
        migration_tag: None,
        applied_steps: None,
        known_scripts: None,
        blocked_dependencies: &[],
        cycle: None,
        active: None,
        subject,
    }
}

/// A rollback of `spec` to `known`, listed live as `live` at position 0.
pub(super) fn rollback<'a>(
    spec: &'a WorkerSpec,
    known: &'a KnownVersion,
    live: Option<&'a LiveVersion>,
) -> Subject<'a> {
    Subject::Rollback {
        spec,
        target: Target {
            known,
            live,
            position: live.map(|_| 0),
        },
    }
}

/// A migration step creating `new` and deleting `deleted` classes.
pub(super) fn step(tag: &str, new: &[&str], deleted: &[&str]) -> MigrationStep {
    MigrationStep {
        tag: tag.into(),
        new_classes: new.iter().map(|c| c.to_string()).collect(),
        deleted_classes: deleted.iter().map(|c| c.to_string()).collect(),
        ..MigrationStep::default()
    }
}

/// A binding named `name`.
pub(super) fn binding(name: &str, kind: BindingKind) -> Binding {
    Binding {
        name: name.into(),
        kind,
    }
}
