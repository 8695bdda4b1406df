//! Text pieces of the planner's reasons: how a version and the blocking rules are named.

use std::collections::BTreeSet;

use crate::model::{Finding, VersionRef};
use crate::rules::short;

/// `version 12 (commit 0123abcd)`, or the version id when Cloudflare's number is unknown.
pub(super) fn describe_ref(version: &VersionRef) -> String {
    match version.number {
        Some(number) => format!("version {number} (commit {})", short(&version.commit)),
        None => format!(
            "version {} (commit {})",
            short(&version.version_id),
            short(&version.commit)
        ),
    }
}

/// The ids of the rules whose findings block, e.g. `FS001, FS006`.
pub(super) fn blocking_ids(findings: &[Finding]) -> String {
    let ids: BTreeSet<&str> = findings
        .iter()
        .filter(|f| f.is_blocking())
        .map(|f| f.rule.as_str())
        .collect();
    ids.into_iter().collect::<Vec<_>>().join(", ")
}
