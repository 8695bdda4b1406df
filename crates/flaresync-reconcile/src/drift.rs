//! Drift: the active deployment differs from what flaresync last applied.
//!
//! Pure. Cloudflare's own deployment record says which deployments flaresync made (their
//! message, or a script upload of a version stamped with a commit); the newest of them is what
//! flaresync last applied, whatever this state directory remembers (the journal is the
//! fallback when the record no longer lists one). If the active deployment serves other
//! versions, someone deployed outside flaresync (`wrangler rollback`, `wrangler versions
//! deploy`, the dashboard). Whether to undo that is the Worker's policy.

use flaresync_plan::LiveDeployment;
use serde::Serialize;

/// How every deployment flaresync creates begins its `workers/message`.
pub const MESSAGE_PREFIX: &str = "flaresync: ";

/// Whether `deployment` was made by flaresync: its message says so, or it is the deployment a
/// script upload created (`triggered_by = upload`) of versions stamped with a commit of the
/// repository (`stamped`), which only flaresync's uploads carry.
pub fn made_by_flaresync(deployment: &LiveDeployment, stamped: impl Fn(&str) -> bool) -> bool {
    let message = deployment.message.as_deref().unwrap_or_default();
    if message.starts_with(MESSAGE_PREFIX) {
        return true;
    }
    deployment.triggered_by.as_deref() == Some("upload")
        && !deployment.versions.is_empty()
        && deployment.versions.iter().all(|v| stamped(&v.version_id))
}

/// The newest deployment flaresync made, from a Worker's deployments (newest first).
pub fn last_applied(
    deployments: &[LiveDeployment],
    stamped: impl Fn(&str) -> bool,
) -> Option<&LiveDeployment> {
    deployments
        .iter()
        .find(|deployment| made_by_flaresync(deployment, &stamped))
}

/// Per-Worker drift policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum DriftPolicy {
    /// Report the drift in status, metrics and logs; change nothing (default).
    #[default]
    Report,
    /// Deploy Git's version again.
    Heal,
}

impl DriftPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            DriftPolicy::Report => "report",
            DriftPolicy::Heal => "heal",
        }
    }
}

/// A detected drift.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drift {
    /// Versions flaresync last applied, sorted.
    pub expected: Vec<String>,
    /// Versions of the active deployment, sorted.
    pub actual: Vec<String>,
}

/// Compares the versions flaresync last applied with the active deployment's versions.
///
/// Returns `None` when flaresync never applied anything to this Worker (nothing to compare:
/// the Worker is adopted, not drifted) or when the sets are equal (order does not matter).
pub fn detect(last_applied: Option<&[String]>, active: &[String]) -> Option<Drift> {
    let expected = last_applied?;
    let mut expected = expected.to_vec();
    let mut actual = active.to_vec();
    expected.sort();
    expected.dedup();
    actual.sort();
    actual.dedup();
    (expected != actual).then_some(Drift { expected, actual })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| v.to_string()).collect()
    }

    fn deployment(message: Option<&str>, triggered_by: &str, versions: &[&str]) -> LiveDeployment {
        LiveDeployment {
            message: message.map(str::to_owned),
            triggered_by: Some(triggered_by.to_owned()),
            versions: versions
                .iter()
                .map(|id| flaresync_plan::DeploymentVersion {
                    version_id: (*id).to_owned(),
                    percentage: 100.0 / versions.len() as f64,
                })
                .collect(),
            ..LiveDeployment::default()
        }
    }

    #[test]
    fn flaresyncs_deployments_are_told_from_hand_made_ones_by_cloudflares_record() {
        let stamped = |id: &str| id.starts_with("tagged");
        let ours = deployment(
            Some("flaresync: deploy commit abc1234"),
            "deployment",
            &["x"],
        );
        let our_upload = deployment(None, "upload", &["tagged-1"]);
        let rollback = deployment(Some("incident 42"), "rollback", &["tagged-1"]);
        let hand_upload = deployment(None, "upload", &["untagged"]);
        let hand_split = deployment(None, "deployment", &["tagged-1", "tagged-2"]);
        assert!(made_by_flaresync(&ours, stamped));
        assert!(made_by_flaresync(&our_upload, stamped));
        assert!(!made_by_flaresync(&rollback, stamped));
        assert!(!made_by_flaresync(&hand_upload, stamped));
        assert!(!made_by_flaresync(&hand_split, stamped));
        let list = [hand_split, rollback, our_upload.clone(), ours];
        assert_eq!(last_applied(&list, stamped), Some(&our_upload));
        assert_eq!(last_applied(&list[..2], stamped), None);
    }

    #[test]
    fn a_manual_rollback_is_drift() {
        let drift = detect(Some(&ids(&["v2"])), &ids(&["v1"]));
        assert_eq!(
            drift,
            Some(Drift {
                expected: ids(&["v2"]),
                actual: ids(&["v1"])
            })
        );
    }

    #[test]
    fn same_versions_in_any_order_are_not_drift() {
        assert_eq!(detect(Some(&ids(&["a", "b"])), &ids(&["b", "a"])), None);
    }

    #[test]
    fn a_worker_flaresync_never_deployed_is_not_drift() {
        assert_eq!(detect(None, &ids(&["v1"])), None);
    }
}
