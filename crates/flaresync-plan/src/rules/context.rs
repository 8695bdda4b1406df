//! What a rule looks at: the [`Context`] of one Worker and the [`Subject`] being judged.

use std::collections::BTreeSet;

use flaresync_config::{Binding, MigrationStep, WorkerSpec};

use crate::input::{KnownVersion, Policy, WorkerHistory};
use crate::live::{LiveResources, LiveVersion, LiveWorker};

/// Everything a rule may look at for one Worker.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    pub worker: &'a str,
    pub policy: &'a Policy,
    /// Whether live state was fetched; rules needing it are skipped otherwise.
    pub live_observed: bool,
    /// The live Worker (`None` when not observed; `exists: false` when it does not exist).
    pub live: Option<&'a LiveWorker>,
    pub resources: &'a LiveResources,
    pub history: &'a WorkerHistory,
    /// The script's current migration tag (live, or the base commit's last tag without live).
    pub migration_tag: Option<&'a str>,
    /// Content of the steps believed applied (up to `migration_tag`), when known.
    pub applied_steps: Option<&'a [MigrationStep]>,
    /// Scripts that exist or will exist: every script in the account plus the Workers of this
    /// plan's desired state. `None` when the account's script list was not fetched.
    pub known_scripts: Option<&'a BTreeSet<String>>,
    /// Workers this one depends on whose own action is blocked in this plan.
    pub blocked_dependencies: &'a [String],
    /// The dependency cycle this Worker is part of, if any.
    pub cycle: Option<&'a [String]>,
    /// The version serving traffic and what flaresync knows about it.
    pub active: Option<ActiveVersion<'a>>,
    pub subject: Subject<'a>,
}

/// The active version.
#[derive(Debug, Clone, Copy)]
pub struct ActiveVersion<'a> {
    pub version_id: &'a str,
    pub live: Option<&'a LiveVersion>,
    pub known: Option<&'a KnownVersion>,
}

/// What is being judged.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    /// Upload `spec` as a new version (or script).
    Forward { spec: &'a WorkerSpec },
    /// Deploy an existing version whose content equals `spec`.
    Rollback {
        spec: &'a WorkerSpec,
        target: Target<'a>,
    },
    /// The config at the desired commit did not load.
    Broken { error: &'a str },
    /// The Worker is gone from Git.
    Removed,
    /// Nothing to do for versions (in sync or settings only).
    Unchanged { spec: &'a WorkerSpec },
}

/// A rollback target.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub known: &'a KnownVersion,
    /// The live record, when the version is still listed as deployable.
    pub live: Option<&'a LiveVersion>,
    /// Position in the deployable list (0 = newest).
    pub position: Option<usize>,
}

impl<'a> Subject<'a> {
    /// The spec that would run afterwards, for forward deploys and rollbacks.
    pub(super) fn changing_spec(&self) -> Option<&'a WorkerSpec> {
        match self {
            Subject::Forward { spec } | Subject::Rollback { spec, .. } => Some(spec),
            _ => None,
        }
    }

    /// The spec a forward deploy uploads.
    pub(super) fn forward_spec(&self) -> Option<&'a WorkerSpec> {
        match self {
            Subject::Forward { spec } => Some(spec),
            _ => None,
        }
    }

    /// The target of a rollback.
    pub(super) fn rollback_target(&self) -> Option<Target<'a>> {
        match self {
            Subject::Rollback { target, .. } => Some(*target),
            _ => None,
        }
    }

    /// The bindings that would run afterwards: the desired ones for a forward deploy, the
    /// target version's own (as Cloudflare lists them, else the desired ones) for a rollback.
    pub(super) fn running_bindings(&self) -> Option<&'a [Binding]> {
        match self {
            Subject::Forward { spec } => Some(spec.bindings.as_slice()),
            Subject::Rollback { spec, target } => Some(
                target
                    .live
                    .map_or(spec.bindings.as_slice(), |v| v.bindings.as_slice()),
            ),
            _ => None,
        }
    }
}

impl<'a> Context<'a> {
    /// The target of a rollback to an older version: `None` for other subjects and for a roll
    /// forward to an existing newer version (a revert of a revert, healing a manual rollback).
    /// Cloudflare applies its rollback-only rules (10220) to older targets only, and neither old
    /// code nor old secrets come back. Unknown numbers count as a rollback.
    pub(super) fn rollback_to_older(&self) -> Option<Target<'a>> {
        self.subject
            .rollback_target()
            .filter(|target| !self.rolls_forward(target))
    }

    /// Whether the target is known to be newer than the active version.
    fn rolls_forward(&self, target: &Target<'_>) -> bool {
        match (
            target.live.map(|v| v.number),
            self.active.and_then(|a| a.live).map(|v| v.number),
        ) {
            (Some(target), Some(active)) => target > 0 && active > 0 && target > active,
            _ => false,
        }
    }
}
