//! Flux-style conditions of a Worker from its pass report (pure): `Ready`, `Reconciling`,
//! `Stalled` always; `Drifted`, `RollbackBlocked`, `HealthCheckFailed` only while true.

use crate::{
    pass::{WorkerOutcome, WorkerReport, short},
    policy::Class,
    status::ConditionType,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConditionUpdate {
    Set {
        kind: ConditionType,
        status: bool,
        reason: &'static str,
        message: String,
    },
    Clear(ConditionType),
}

fn set(
    kind: ConditionType,
    status: bool,
    reason: &'static str,
    message: impl Into<String>,
) -> ConditionUpdate {
    ConditionUpdate::Set {
        kind,
        status,
        reason,
        message: message.into(),
    }
}

/// The pure summary: which conditions a Worker's report sets (Flux style: `Ready`,
/// `Reconciling`, `Stalled` always; `Drifted`, `RollbackBlocked`, `HealthCheckFailed` only
/// while true).
pub fn conditions(report: &WorkerReport) -> Vec<ConditionUpdate> {
    use ConditionType::{Drifted, HealthCheckFailed, RollbackBlocked};
    let mut updates = Vec::new();
    updates.extend(progress(report));
    updates.push(match &report.drift {
        Some(drift) => set(
            Drifted,
            true,
            "DriftDetected",
            format!(
                "serving {} instead of {}",
                drift.actual_versions.join(", "),
                drift.expected_versions.join(", ")
            ),
        ),
        None => ConditionUpdate::Clear(Drifted),
    });
    let reason = report.class.map(|class| class.reason());
    updates.push(match (&report.error, reason) {
        (Some(error), Some(crate::Reason::RollbackBlocked)) => set(
            RollbackBlocked,
            true,
            "RollbackBlocked",
            error.message.clone(),
        ),
        _ => ConditionUpdate::Clear(RollbackBlocked),
    });
    match (&report.error, reason) {
        (Some(error), Some(crate::Reason::HealthCheckFailed)) => updates.push(set(
            HealthCheckFailed,
            true,
            "HealthCheckFailed",
            error.message.clone(),
        )),
        // A failure for another reason says nothing about health: keep what is known.
        (Some(_), _) => {}
        (None, _) => updates.push(ConditionUpdate::Clear(HealthCheckFailed)),
    }
    updates
}

/// `Ready`, `Reconciling` and `Stalled` of a Worker nothing more will happen to until Git or
/// Cloudflare changes: `Ready` is `ready`; it is neither reconciling nor stalled, for `reason`.
fn settled(
    ready: bool,
    reason: &'static str,
    message: impl Into<String>,
) -> (ConditionUpdate, ConditionUpdate, ConditionUpdate) {
    use ConditionType::{Ready, Reconciling, Stalled};
    (
        set(Ready, ready, reason, message),
        set(Reconciling, false, reason, ""),
        set(Stalled, false, reason, ""),
    )
}

/// `Ready`, `Reconciling` and `Stalled`, always set.
fn progress(report: &WorkerReport) -> [ConditionUpdate; 3] {
    use ConditionType::{Ready, Reconciling, Stalled};
    let (ready, reconciling, stalled) = match (&report.outcome, &report.error, report.class) {
        (_, Some(error), class) => {
            let reason = class.map(|c| c.reason().as_str()).unwrap_or("Internal");
            let is_stalled = matches!(class, Some(Class::Stalled { .. }));
            (
                set(Ready, false, reason, error.message.clone()),
                set(
                    Reconciling,
                    !is_stalled,
                    if is_stalled { "Stalled" } else { "Retrying" },
                    "",
                ),
                set(
                    Stalled,
                    is_stalled,
                    reason,
                    if is_stalled {
                        error.message.as_str()
                    } else {
                        ""
                    },
                ),
            )
        }
        (WorkerOutcome::InSync | WorkerOutcome::Applied { .. }, None, _) => settled(
            true,
            "Succeeded",
            format!(
                "version {} of commit {} is live",
                report.live_version.as_deref().unwrap_or("?"),
                report.live_commit.as_deref().map(short).unwrap_or("?")
            ),
        ),
        (WorkerOutcome::Removed, None, _) => settled(
            false,
            "Removed",
            "gone from Git; flaresync never deletes a Worker, delete it by hand if intended",
        ),
        (WorkerOutcome::HeldForDrift, None, _) => settled(
            false,
            "DriftDetected",
            "the active deployment was changed outside flaresync; drift_policy = report",
        ),
        (_, None, _) => (
            set(Ready, false, "Progressing", report.action.clone()),
            set(Reconciling, true, "Progressing", ""),
            set(Stalled, false, "Progressing", ""),
        ),
    };
    [ready, reconciling, stalled]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{error::Error, status::DriftStatus};

    fn find(updates: &[ConditionUpdate], kind: ConditionType) -> Option<(bool, &'static str)> {
        updates.iter().find_map(|update| match update {
            ConditionUpdate::Set {
                kind: found,
                status,
                reason,
                ..
            } if *found == kind => Some((*status, *reason)),
            _ => None,
        })
    }

    /// Asserts that `updates` set each of `expected`: (condition, status, reason).
    fn assert_sets(updates: &[ConditionUpdate], expected: &[(ConditionType, bool, &str)]) {
        for (kind, status, reason) in expected {
            assert_eq!(find(updates, *kind), Some((*status, *reason)), "{kind:?}");
        }
    }

    fn cleared(updates: &[ConditionUpdate], kind: ConditionType) -> bool {
        updates.contains(&ConditionUpdate::Clear(kind))
    }

    #[test]
    fn a_worker_in_sync_is_ready_and_clears_negative_conditions() {
        let mut report = WorkerReport::new("api", "in sync");
        report.live_version = Some("v1".into());
        let updates = conditions(&report);
        assert_sets(
            &updates,
            &[
                (ConditionType::Ready, true, "Succeeded"),
                (ConditionType::Stalled, false, "Succeeded"),
            ],
        );
        assert!(cleared(&updates, ConditionType::Drifted));
        assert!(cleared(&updates, ConditionType::RollbackBlocked));
        assert!(cleared(&updates, ConditionType::HealthCheckFailed));
    }

    #[test]
    fn a_blocked_rollback_stalls_and_sets_rollback_blocked() {
        let mut report = WorkerReport::new("api", "blocked");
        report.fail(&Error::Blocked {
            worker: "api".into(),
            findings: "FS001: migration crossed".into(),
        });
        report.outcome = WorkerOutcome::Blocked;
        let updates = conditions(&report);
        assert_sets(
            &updates,
            &[
                (ConditionType::Ready, false, "RollbackBlocked"),
                (ConditionType::Stalled, true, "RollbackBlocked"),
                (ConditionType::Reconciling, false, "Stalled"),
                (ConditionType::RollbackBlocked, true, "RollbackBlocked"),
            ],
        );
    }

    #[test]
    fn a_transient_failure_keeps_reconciling_and_keeps_health_knowledge() {
        let mut report = WorkerReport::new("api", "deploy");
        report.fail(&Error::VerifyFailed {
            worker: "api".into(),
            expected: "v2@100%".into(),
            actual: "v1@100%".into(),
        });
        let updates = conditions(&report);
        assert_sets(
            &updates,
            &[
                (ConditionType::Reconciling, true, "Retrying"),
                (ConditionType::Stalled, false, "VerifyFailed"),
            ],
        );
        assert!(!cleared(&updates, ConditionType::HealthCheckFailed));
        assert!(find(&updates, ConditionType::HealthCheckFailed).is_none());
    }

    #[test]
    fn a_removed_worker_is_not_ready_and_neither_reconciling_nor_stalled() {
        let mut report = WorkerReport::new("api", "remove");
        report.outcome = WorkerOutcome::Removed;
        let updates = conditions(&report);
        assert_sets(
            &updates,
            &[
                (ConditionType::Ready, false, "Removed"),
                (ConditionType::Reconciling, false, "Removed"),
                (ConditionType::Stalled, false, "Removed"),
            ],
        );
    }

    #[test]
    fn drift_held_by_policy_is_not_ready_and_sets_drifted() {
        let mut report = WorkerReport::new("api", "rollback");
        report.outcome = WorkerOutcome::HeldForDrift;
        report.drift = Some(DriftStatus {
            expected_versions: vec!["v2".into()],
            actual_versions: vec!["v1".into()],
            actual_commits: vec![None],
            policy: "report".into(),
            healed: false,
        });
        let updates = conditions(&report);
        assert_sets(
            &updates,
            &[
                (ConditionType::Ready, false, "DriftDetected"),
                (ConditionType::Drifted, true, "DriftDetected"),
            ],
        );
    }
}
