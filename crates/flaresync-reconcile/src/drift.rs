//! Drift: the active deployment differs from what flaresync last applied.
//!
//! Pure. The journal says which versions flaresync last deployed for a Worker; the live
//! deployment says which versions serve traffic. If they differ, someone deployed outside
//! flaresync (`wrangler rollback`, the dashboard). Whether to undo that is the Worker's policy.

use serde::Serialize;

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
