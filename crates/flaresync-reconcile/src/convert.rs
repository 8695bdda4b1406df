//! Pure conversions between the other crates' types: Cloudflare client answers -> the
//! planner's live types, the git layer's desired state -> the planner's desired state and
//! policies. No I/O here, so every mapping is unit-tested.

use std::collections::{BTreeMap, BTreeSet};

use flaresync_cloudflare::{Deployment, Script, Version, VersionSummary};
use flaresync_config::{RollbackPolicy as ConfigRollbackPolicy, WorkerPolicy};
use flaresync_git::DesiredState;
use flaresync_plan::{
    DeploymentVersion, Desired, DesiredEntry, DesiredWorker, KnownVersion, LiveDeployment,
    LiveVersion, LiveWorker, Policies, Policy, RollbackPolicy,
};

use crate::drift::DriftPolicy;

/// What the scripts listing says about one script. When it is unchanged between two passes
/// (and Git's desired state is unchanged), the cached per-Worker live state is reused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptFingerprint {
    pub etag: Option<String>,
    pub modified_on: Option<String>,
    pub migration_tag: Option<String>,
}

impl ScriptFingerprint {
    pub fn of(script: &Script) -> Self {
        ScriptFingerprint {
            etag: script.etag.clone(),
            modified_on: script.modified_on.clone(),
            migration_tag: script.migration_tag.clone(),
        }
    }
}

/// A full version (`GET …/versions/{id}`) as the planner sees it.
pub fn live_version(version: &Version) -> LiveVersion {
    LiveVersion {
        etag: version.resources.script.etag.clone(),
        id: version.id.clone(),
        number: version.number.unwrap_or_default(),
        created_on: version.metadata.created_on.clone().unwrap_or_default(),
        tag: version.annotations.tag.clone(),
        message: version.annotations.message.clone(),
        triggered_by: version.annotations.triggered_by.clone(),
        source: version.metadata.source.clone(),
        bindings: version.resources.bindings.clone(),
        compatibility_date: version.resources.script_runtime.compatibility_date.clone(),
        compatibility_flags: version.resources.script_runtime.compatibility_flags.clone(),
        migration_tag: version.resources.script_runtime.migration_tag.clone(),
        exports: version
            .resources
            .script_runtime
            .exports
            .as_ref()
            .filter(|exports| !exports.is_null())
            .map(flaresync_config::canonical_json_text),
    }
}

/// A listed version (no resources) as the planner sees it. Bindings are unknown (empty).
pub fn live_version_summary(summary: &VersionSummary) -> LiveVersion {
    LiveVersion {
        id: summary.id.clone(),
        number: summary.number.unwrap_or_default(),
        created_on: summary.metadata.created_on.clone().unwrap_or_default(),
        tag: summary.annotations.tag.clone(),
        message: summary.annotations.message.clone(),
        triggered_by: summary.annotations.triggered_by.clone(),
        source: summary.metadata.source.clone(),
        ..LiveVersion::default()
    }
}

pub fn live_deployment(deployment: &Deployment) -> LiveDeployment {
    LiveDeployment {
        id: deployment.id.clone(),
        created_on: deployment.created_on.clone().unwrap_or_default(),
        source: deployment.source.clone(),
        author: deployment.author_email.clone(),
        message: deployment.annotations.message.clone(),
        triggered_by: deployment.annotations.triggered_by.clone(),
        versions: deployment
            .versions
            .iter()
            .map(|entry| DeploymentVersion {
                version_id: entry.version_id.clone(),
                percentage: entry.percentage,
            })
            .collect(),
    }
}

/// Versions whose full details (bindings, migration tag, etag) the planner needs: those of
/// the active deployment, and every still-listed version holding the desired content
/// (`wanted` = its `version_digest`), i.e. a rollback target. Versions beyond the window
/// (known from the journal only) cannot be deployed, so their details do not matter.
pub fn detail_ids<'a>(
    active: impl IntoIterator<Item = &'a str>,
    is_listed: impl Fn(&str) -> bool,
    known: &[KnownVersion],
    wanted: Option<&flaresync_config::Digest>,
) -> BTreeSet<String> {
    let mut ids: BTreeSet<String> = active.into_iter().map(str::to_owned).collect();
    if let Some(wanted) = wanted {
        for version in known {
            if &version.version_digest == wanted && is_listed(&version.version_id) {
                ids.insert(version.version_id.clone());
            }
        }
    }
    ids
}

/// The planner's view of an existing Worker from its listings and the full versions read
/// (`details`, by id; listed versions without details keep only their summary).
pub fn live_worker(
    name: &str,
    migration_tag: Option<String>,
    deployments: &[Deployment],
    listed: &[VersionSummary],
    details: &BTreeMap<String, Version>,
    secrets: Vec<String>,
) -> LiveWorker {
    let deployments: Vec<LiveDeployment> = deployments.iter().map(live_deployment).collect();
    let versions = listed
        .iter()
        .map(|summary| match details.get(&summary.id) {
            Some(version) => live_version(version),
            None => live_version_summary(summary),
        })
        .collect();
    LiveWorker {
        name: name.to_owned(),
        exists: true,
        migration_tag,
        active: deployments.first().cloned(),
        deployments,
        versions,
        secrets,
        routes: None,
        crons: None,
        queue_consumers: None,
    }
}

/// Version ids of a deployment.
pub fn deployment_version_ids(deployment: &LiveDeployment) -> Vec<String> {
    deployment
        .versions
        .iter()
        .map(|entry| entry.version_id.clone())
        .collect()
}

/// The planner's view of the desired state. Broken Workers are keyed by the script name they
/// had before (`known_names`: directory -> script name), else by their directory.
pub fn desired(state: &DesiredState, known_names: &BTreeMap<String, String>) -> Desired {
    let mut workers = BTreeMap::new();
    for (dir, result) in &state.workers {
        match result.as_ref() {
            Ok(loaded) => {
                workers.insert(
                    loaded.spec.name.clone(),
                    DesiredEntry::Ok(Box::new(DesiredWorker {
                        spec: loaded.spec.clone(),
                        digest: loaded.digest.clone(),
                        version_digest: loaded.version_digest.clone(),
                        dependencies: loaded.policy.depends_on.clone(),
                    })),
                );
            }
            Err(error) => {
                let key = known_names.get(dir).cloned().unwrap_or_else(|| dir.clone());
                workers.insert(
                    key,
                    DesiredEntry::Broken {
                        config_path: Some(dir.clone()),
                        error: error.to_string(),
                    },
                );
            }
        }
    }
    Desired {
        commit: state.commit.to_string(),
        workers,
    }
}

/// Marks every Worker whose config names another account (`account_id` in its wrangler config,
/// or flaresync.toml's) as broken: one flaresync talks to one account, and deploying such a
/// Worker to this account would put it in the wrong place without a word.
pub fn restrict_to_account(desired: &mut Desired, state: &DesiredState, account: &str) {
    for (dir, result) in &state.workers {
        let Ok(loaded) = result.as_ref() else {
            continue;
        };
        let Some(wanted) = loaded.account_id.as_deref() else {
            continue;
        };
        if wanted.eq_ignore_ascii_case(account) {
            continue;
        }
        desired.workers.insert(
            loaded.spec.name.clone(),
            DesiredEntry::Broken {
                config_path: Some(dir.clone()),
                error: format!(
                    "worker {} ({}) targets account {wanted}, but flaresync runs against \
                     account {account}; run a separate flaresync for that account \
                     (CLOUDFLARE_ACCOUNT_ID) or remove account_id from its config",
                    loaded.spec.name,
                    if dir.is_empty() { "." } else { dir.as_str() }
                ),
            },
        );
    }
}

fn plan_policy(policy: &WorkerPolicy, version_window: u32) -> Policy {
    Policy {
        rollback_policy: match policy.rollback_policy {
            ConfigRollbackPolicy::Refuse => RollbackPolicy::Refuse,
            ConfigRollbackPolicy::Redeploy => RollbackPolicy::Redeploy,
        },
        allow_secret_change_rollback: policy.allow_secret_change_rollback,
        d1_blocks_rollback: policy.d1_blocks_rollback,
        version_window: version_window as usize,
        depends_on: policy.depends_on.clone(),
        order: policy.order,
        rollout_steps: policy.rollout.as_ref().map(|rollout| rollout.steps.clone()),
    }
}

/// The planner's policies from `flaresync.toml` at the desired commit (the numeric `order`
/// rank travels per Worker).
pub fn policies(state: &DesiredState) -> Policies {
    let window = state.repo_config.version_window;
    let workers = state
        .by_script()
        .values()
        .map(|loaded| {
            (
                loaded.spec.name.clone(),
                plan_policy(&loaded.policy, window),
            )
        })
        .collect();
    Policies {
        default: plan_policy(&WorkerPolicy::default(), window),
        workers,
        order: Vec::new(),
    }
}

/// The drift policy of a Worker.
pub fn drift_policy(policy: &WorkerPolicy) -> DriftPolicy {
    match policy.drift_policy {
        flaresync_config::DriftPolicy::Report => DriftPolicy::Report,
        flaresync_config::DriftPolicy::Heal => DriftPolicy::Heal,
    }
}

/// The health check of a Worker, in this crate's terms.
pub fn health_check(policy: &WorkerPolicy) -> Option<crate::health::HealthCheck> {
    policy
        .health_check
        .as_ref()
        .map(|check| crate::health::HealthCheck {
            url: check.url.clone(),
            expected_status: check.expected_status,
            timeout: std::time::Duration::from_millis(check.timeout_ms.max(1)),
            ..crate::health::HealthCheck::new(check.url.clone())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_are_read_for_the_active_versions_and_listed_rollback_targets() {
        let deployments: Vec<Deployment> = serde_json::from_value(serde_json::json!([
            {"id": "d-2", "versions": [{"version_id": "active", "percentage": 100}]}
        ]))
        .expect("deployments");
        let listed: Vec<VersionSummary> = serde_json::from_value(serde_json::json!([
            {"id": "active"}, {"id": "same-content"}, {"id": "other"}
        ]))
        .expect("versions");
        let known = |id: &str, digest: &str| KnownVersion {
            version_id: id.into(),
            commit: "c".into(),
            digest: digest.into(),
            version_digest: digest.into(),
            migrations: Vec::new(),
            exports: None,
            secrets_fingerprint: None,
            declared: None,
        };
        let history = [
            known("same-content", "wanted"),
            known("other", "older"),
            known("past-the-window", "wanted"),
        ];
        let active = deployments[0]
            .versions
            .iter()
            .map(|v| v.version_id.as_str());
        let is_listed = |id: &str| listed.iter().any(|v| v.id == id);
        let ids = detail_ids(active.clone(), is_listed, &history, Some(&"wanted".into()));
        assert_eq!(
            ids.into_iter().collect::<Vec<_>>(),
            vec!["active".to_owned(), "same-content".to_owned()]
        );
        let ids = detail_ids(active, is_listed, &history, None);
        assert_eq!(
            ids.into_iter().collect::<Vec<_>>(),
            vec!["active".to_owned()]
        );

        let worker = live_worker(
            "api",
            Some("v1".into()),
            &deployments,
            &listed,
            &BTreeMap::new(),
            vec![],
        );
        assert!(worker.exists);
        assert_eq!(worker.versions.len(), 3);
        assert_eq!(worker.active_version_id(), Some(("active", 100.0)));
    }

    #[test]
    fn versions_and_deployments_map_to_planner_types() {
        let version: Version = serde_json::from_value(serde_json::json!({
            "id": "v-1",
            "number": 3,
            "metadata": {"created_on": "2026-01-01T00:00:00Z", "source": "api"},
            "annotations": {"workers/tag": "abcdef1", "workers/triggered_by": "upload"},
            "resources": {
                "bindings": [{"name": "KV", "type": "kv_namespace", "namespace_id": "n1"}],
                "script_runtime": {"compatibility_date": "2025-01-01", "migration_tag": "v2",
                                   "exports": {"B": 1, "A": 2}}
            }
        }))
        .expect("version parses");
        let live = live_version(&version);
        assert_eq!(live.id, "v-1");
        assert_eq!(live.number, 3);
        assert_eq!(live.tag.as_deref(), Some("abcdef1"));
        assert_eq!(live.migration_tag.as_deref(), Some("v2"));
        assert_eq!(live.bindings.len(), 1);
        assert_eq!(live.exports.as_deref(), Some(r#"{"A":2,"B":1}"#));
        assert_eq!(live.source.as_deref(), Some("api"));

        let deployment: Deployment = serde_json::from_value(serde_json::json!({
            "id": "d-1", "created_on": "2026-01-02T00:00:00Z", "source": "wrangler",
            "strategy": "percentage", "author_email": "a@example.com",
            "versions": [{"version_id": "v-1", "percentage": 100}],
            "annotations": {"workers/message": "Rollback"}
        }))
        .expect("deployment parses");
        let live = live_deployment(&deployment);
        assert_eq!(deployment_version_ids(&live), vec!["v-1".to_owned()]);
        assert_eq!(live.message.as_deref(), Some("Rollback"));
        assert_eq!(live.author.as_deref(), Some("a@example.com"));
    }

    #[test]
    fn fingerprint_tracks_etag_modified_and_migration_tag() {
        let script: Script = serde_json::from_value(serde_json::json!({
            "id": "api", "etag": "e1", "modified_on": "t1", "migration_tag": "v1"
        }))
        .expect("script parses");
        let mut changed = script.clone();
        changed.modified_on = Some("t2".into());
        assert_eq!(
            ScriptFingerprint::of(&script),
            ScriptFingerprint::of(&script.clone())
        );
        assert_ne!(
            ScriptFingerprint::of(&script),
            ScriptFingerprint::of(&changed)
        );
    }

    #[test]
    fn worker_policy_maps_to_planner_policy() {
        let policy = WorkerPolicy {
            rollback_policy: ConfigRollbackPolicy::Redeploy,
            allow_secret_change_rollback: true,
            depends_on: vec!["auth".into()],
            order: 7,
            health_check: Some(flaresync_config::HealthCheck {
                url: "http://127.0.0.1/health".into(),
                expected_status: 204,
                timeout_ms: 1500,
            }),
            drift_policy: flaresync_config::DriftPolicy::Heal,
            ..WorkerPolicy::default()
        };
        let planned = plan_policy(&policy, 50);
        assert_eq!(planned.rollback_policy, RollbackPolicy::Redeploy);
        assert!(planned.allow_secret_change_rollback);
        assert_eq!(planned.version_window, 50);
        assert_eq!(planned.depends_on, vec!["auth".to_owned()]);
        assert_eq!(planned.order, 7);
        assert_eq!(drift_policy(&policy), DriftPolicy::Heal);
        let check = health_check(&policy).expect("configured");
        assert_eq!(check.expected_status, 204);
        assert_eq!(check.timeout, std::time::Duration::from_millis(1500));
    }
}
