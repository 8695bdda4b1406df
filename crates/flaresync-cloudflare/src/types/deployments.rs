//! Deployments (`…/scripts/{s}/deployments`): which versions serve traffic, and the body that
//! creates one.

use serde::{Deserialize, Serialize};

use super::{Annotations, null_default};

/// One `{version_id, percentage}` of a deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentVersion {
    pub version_id: String,
    #[serde(serialize_with = "whole_numbers_as_integers")]
    pub percentage: f64,
}

/// Sends `100` rather than `100.0`, as wrangler does (JavaScript numbers), so strict servers and
/// request snapshots see the same JSON.
fn whole_numbers_as_integers<S: serde::Serializer>(
    value: &f64,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    if value.fract() == 0.0 && value.abs() <= 1e15 {
        // Exact: whole and far inside i64's range.
        serializer.serialize_i64(*value as i64)
    } else {
        serializer.serialize_f64(*value)
    }
}

/// A deployment: which versions serve traffic, and how much each.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deployment {
    pub id: String,
    pub created_on: Option<String>,
    pub source: Option<String>,
    pub strategy: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub versions: Vec<DeploymentVersion>,
    #[serde(default, deserialize_with = "null_default")]
    pub annotations: Annotations,
    pub author_email: Option<String>,
}

/// `result` of `GET …/deployments`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct DeploymentList {
    #[serde(deserialize_with = "null_default")]
    pub deployments: Vec<Deployment>,
}

/// Annotations a deployment request may set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NewDeploymentAnnotations {
    #[serde(rename = "workers/message", skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Body of `POST …/deployments`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewDeployment {
    /// Always `percentage`.
    pub strategy: String,
    pub versions: Vec<DeploymentVersion>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<NewDeploymentAnnotations>,
}

/// Percentages closer than this are equal (wrangler's tolerance for "sums to 100").
const PERCENTAGE_TOLERANCE: f64 = 0.001;

impl NewDeployment {
    /// A deployment sending 100% of traffic to one version.
    pub fn single(version_id: impl Into<String>, message: Option<String>) -> Self {
        NewDeployment::split(
            vec![DeploymentVersion {
                version_id: version_id.into(),
                percentage: 100.0,
            }],
            message,
        )
    }

    /// A deployment over the given versions and percentages.
    pub fn split(versions: Vec<DeploymentVersion>, message: Option<String>) -> Self {
        NewDeployment {
            strategy: "percentage".to_owned(),
            versions,
            annotations: message.map(|message| NewDeploymentAnnotations {
                message: Some(message),
            }),
        }
    }

    /// Whether `deployment` already sends traffic exactly as this request asks (same versions,
    /// same percentages, order ignored). Used to tell whether a create whose outcome is unknown
    /// already took effect.
    pub fn is_served_by(&self, deployment: &Deployment) -> bool {
        if self.versions.len() != deployment.versions.len() {
            return false;
        }
        self.versions.iter().all(|wanted| {
            deployment.versions.iter().any(|live| {
                live.version_id == wanted.version_id
                    && (live.percentage - wanted.percentage).abs() < PERCENTAGE_TOLERANCE
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::examples::result;

    #[test]
    fn deployments_examples_decode() {
        let list: DeploymentList = result("deployments-list.json");
        assert_eq!(list.deployments.len(), 3);
        assert_eq!(list.deployments[1].versions[0].percentage, 10.0);
        let created: Deployment = result("deployment-create-response.json");
        assert_eq!(
            created.annotations.message.as_deref(),
            Some("rollback: git revert of 9b1e4c2")
        );
        let got: Deployment = result("deployment-get.json");
        assert_eq!(got.versions.len(), 2);
    }

    #[test]
    fn new_deployment_serializes_like_the_example_request() {
        let path = format!(
            "{}/../../fixtures/cloudflare-api/examples/deployment-create-request.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let expected: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("fixture exists"))
                .expect("json");
        let request = NewDeployment::single(
            "a1d94e77-3c20-4f5b-8b6a-0e2f9c17d835",
            Some("rollback: git revert of 9b1e4c2".into()),
        );
        assert_eq!(
            serde_json::to_value(&request).expect("serializes"),
            expected
        );
    }

    #[test]
    fn new_deployment_matches_live_deployment_regardless_of_order() {
        let live: Deployment = result("deployment-get.json");
        let same = NewDeployment::split(
            vec![
                DeploymentVersion {
                    version_id: "a1d94e77-3c20-4f5b-8b6a-0e2f9c17d835".into(),
                    percentage: 90.0,
                },
                DeploymentVersion {
                    version_id: "e7c2b519-46fa-4d0e-a3b8-91d5f2c60a7b".into(),
                    percentage: 10.0,
                },
            ],
            None,
        );
        assert!(same.is_served_by(&live));
        let other_split = NewDeployment::split(
            vec![
                DeploymentVersion {
                    version_id: "a1d94e77-3c20-4f5b-8b6a-0e2f9c17d835".into(),
                    percentage: 50.0,
                },
                DeploymentVersion {
                    version_id: "e7c2b519-46fa-4d0e-a3b8-91d5f2c60a7b".into(),
                    percentage: 50.0,
                },
            ],
            None,
        );
        assert!(!other_split.is_served_by(&live));
        assert!(
            !NewDeployment::single("e7c2b519-46fa-4d0e-a3b8-91d5f2c60a7b", None)
                .is_served_by(&live)
        );
    }
}
