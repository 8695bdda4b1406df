//! What `/status` and the status page show of a Worker's live side (pure): the versions the
//! active deployment serves with their share, commit and `workers/message` (subject and
//! author), and Cloudflare's recent deployments, each marked as flaresync's or made by hand.
//! Built from the live record a pass observed and the version -> commit mapping it rebuilt.

use std::collections::BTreeMap;

use flaresync_plan::{LiveDeployment, LiveWorker};
use serde::Serialize;

/// How many of Cloudflare's deployments (newest first) a Worker's status keeps.
pub const DEPLOYMENTS_KEPT: usize = 10;

/// One version of a deployment with its traffic share.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiveShare {
    pub version: String,
    /// 0.01..=100, as Cloudflare reports it.
    pub percentage: f64,
    /// Cloudflare's version number, when the version is in the deployable list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<u64>,
    /// The commit the version was built from (its tag, mapped to the repository).
    pub commit: Option<String>,
    /// The version's `workers/message`: `subject (author)` for flaresync's uploads.
    pub message: Option<String>,
}

// Percentages are finite numbers as Cloudflare reports them, never NaN.
impl Eq for LiveShare {}

/// One of Cloudflare's deployments of a Worker, as the pass observed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObservedDeployment {
    pub id: String,
    /// RFC 3339, Cloudflare's `created_on`.
    pub created_on: String,
    /// Made by flaresync (its message prefix, or an upload of commit-stamped versions);
    /// `false`: by hand (dashboard, `wrangler rollback`, `wrangler versions deploy`).
    pub by_flaresync: bool,
    /// `author_email`.
    pub author: Option<String>,
    /// `workers/message` of the deployment.
    pub message: Option<String>,
    /// `workers/triggered_by`, else `source`.
    pub trigger: Option<String>,
    pub versions: Vec<LiveShare>,
}

/// A Worker's live side as one pass observed it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveView {
    /// [`live_split`].
    pub split: Vec<LiveShare>,
    /// [`observed_deployments`].
    pub deployments: Vec<ObservedDeployment>,
}

impl LiveView {
    /// The view of `live`, with `commits` mapping version ids to the commits they were built
    /// from.
    pub fn observe(live: &LiveWorker, commits: &BTreeMap<String, String>) -> Self {
        LiveView {
            split: live_split(live, commits),
            deployments: observed_deployments(live, commits),
        }
    }
}

/// The versions the active deployment serves, largest share first.
pub fn live_split(live: &LiveWorker, commits: &BTreeMap<String, String>) -> Vec<LiveShare> {
    let Some(active) = live.active.as_ref().or(live.deployments.first()) else {
        return Vec::new();
    };
    let mut shares = shares(active, live, commits);
    shares.sort_by(|a, b| b.percentage.total_cmp(&a.percentage));
    shares
}

/// Cloudflare's newest [`DEPLOYMENTS_KEPT`] deployments of the Worker.
pub fn observed_deployments(
    live: &LiveWorker,
    commits: &BTreeMap<String, String>,
) -> Vec<ObservedDeployment> {
    live.deployments
        .iter()
        .take(DEPLOYMENTS_KEPT)
        .map(|deployment| ObservedDeployment {
            id: deployment.id.clone(),
            created_on: deployment.created_on.clone(),
            by_flaresync: crate::drift::made_by_flaresync(deployment, |id| {
                commits.contains_key(id)
            }),
            author: deployment.author.clone(),
            message: deployment.message.clone(),
            trigger: deployment
                .triggered_by
                .clone()
                .or_else(|| deployment.source.clone()),
            versions: shares(deployment, live, commits),
        })
        .collect()
}

fn shares(
    deployment: &LiveDeployment,
    live: &LiveWorker,
    commits: &BTreeMap<String, String>,
) -> Vec<LiveShare> {
    deployment
        .versions
        .iter()
        .map(|entry| {
            let version = live.version(&entry.version_id);
            LiveShare {
                version: entry.version_id.clone(),
                percentage: entry.percentage,
                number: version.map(|v| v.number).filter(|n| *n > 0),
                commit: commits.get(&entry.version_id).cloned(),
                message: version.and_then(|v| v.message.clone()),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use flaresync_plan::{DeploymentVersion, LiveVersion};

    use super::*;

    fn deployment(id: &str, message: Option<&str>, versions: &[(&str, f64)]) -> LiveDeployment {
        LiveDeployment {
            id: id.into(),
            created_on: format!("2026-01-0{}T00:00:00Z", id.len()),
            message: message.map(str::to_owned),
            source: Some("wrangler".into()),
            versions: versions
                .iter()
                .map(|(version_id, percentage)| DeploymentVersion {
                    version_id: (*version_id).into(),
                    percentage: *percentage,
                })
                .collect(),
            ..LiveDeployment::default()
        }
    }

    fn worker() -> LiveWorker {
        let split = deployment("d2", None, &[("v1", 10.0), ("v2", 90.0)]);
        LiveWorker {
            name: "api".into(),
            exists: true,
            active: Some(split.clone()),
            deployments: vec![
                split,
                deployment("d1", Some("flaresync: deploy abc1234"), &[("v1", 100.0)]),
            ],
            versions: vec![
                LiveVersion {
                    id: "v2".into(),
                    number: 2,
                    message: Some("api: greet (Ada <ada@example.com>)".into()),
                    ..LiveVersion::default()
                },
                LiveVersion {
                    id: "v1".into(),
                    number: 1,
                    ..LiveVersion::default()
                },
            ],
            ..LiveWorker::default()
        }
    }

    #[test]
    fn the_split_lists_the_largest_share_first_with_commit_and_message() {
        let commits = BTreeMap::from([("v2".to_owned(), "c2".to_owned())]);
        let split = live_split(&worker(), &commits);
        assert_eq!(split.len(), 2);
        assert_eq!(split[0].version, "v2");
        assert_eq!(split[0].percentage, 90.0);
        assert_eq!(split[0].number, Some(2));
        assert_eq!(split[0].commit.as_deref(), Some("c2"));
        assert_eq!(
            split[0].message.as_deref(),
            Some("api: greet (Ada <ada@example.com>)")
        );
        assert_eq!(split[1].commit, None);
        assert!(live_split(&LiveWorker::missing("gone"), &commits).is_empty());
    }

    #[test]
    fn deployments_are_marked_flaresyncs_or_by_hand() {
        let observed = observed_deployments(&worker(), &BTreeMap::new());
        let marks: Vec<(&str, bool)> = observed
            .iter()
            .map(|d| (d.id.as_str(), d.by_flaresync))
            .collect();
        assert_eq!(marks, [("d2", false), ("d1", true)]);
        assert_eq!(observed[0].trigger.as_deref(), Some("wrangler"));
        assert_eq!(observed[0].versions.len(), 2);
    }

    #[test]
    fn only_the_newest_deployments_are_kept() {
        let mut live = worker();
        live.deployments = (0..25)
            .map(|i| deployment(&format!("d{i}"), None, &[("v1", 100.0)]))
            .collect();
        let observed = observed_deployments(&live, &BTreeMap::new());
        assert_eq!(observed.len(), DEPLOYMENTS_KEPT);
        assert_eq!(observed[0].id, "d0");
    }
}
