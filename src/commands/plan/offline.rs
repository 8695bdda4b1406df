//! `plan` without `--live`: the live state flaresync would have produced by following the base
//! branch commit by commit (version ids ending in `-offline`).

use std::collections::{BTreeMap, BTreeSet};

use anyhow::anyhow;
use flaresync_git::{DesiredState, DesiredStateCache, GitSource, Oid};
use flaresync_plan::{
    DeploymentVersion, History, KnownVersion, LiveAccount, LiveDeployment, LiveResources,
    LiveVersion, LiveWorker, WorkerHistory,
};

/// The live state flaresync would have produced by following the base branch.
pub(super) fn offline(
    source: &GitSource,
    cache: &mut DesiredStateCache,
    head_state: &DesiredState,
    base_state: Option<&DesiredState>,
    base: Option<Oid>,
    window: usize,
) -> anyhow::Result<(LiveAccount, History)> {
    let mut live = LiveAccount {
        observed: true,
        workers: BTreeMap::new(),
        resources: LiveResources::default(),
        scripts: None,
    };
    let mut history = History::default();
    let (Some(base_state), Some(base)) = (base_state, base) else {
        return Ok((live, history));
    };
    // Only the Workers the change touches need their history (which version a revert returns
    // to); the others are the base version, as deployed.
    let changed: BTreeSet<String> = head_state.changed_since(base_state).into_iter().collect();
    let mut per_worker = flaresync_git::distinct_versions(
        cache,
        source.repo(),
        base_state,
        &changed,
        window,
        window.max(1) * 4,
    )
    .map_err(|e| anyhow!("cannot read the history of the base revision: {e}"))?;
    for loaded in base_state.by_script().values() {
        let name = loaded.spec.name.clone();
        // The Workers the change does not touch: the base version only, not copied.
        let walked = per_worker.remove(&name);
        let seen: Vec<(Oid, &flaresync_config::LoadedWorker)> = match &walked {
            Some(walked) => walked
                .iter()
                .map(|(commit, seen)| (*commit, seen))
                .collect(),
            None => std::iter::once((base, *loaded)).take(window).collect(),
        };
        let mut versions = Vec::new();
        let mut known = Vec::new();
        let count = seen.len() as u64;
        for (index, (commit, seen)) in seen.iter().enumerate() {
            let spec = &seen.spec;
            let id = format!("{}-offline", &commit.to_string()[..8]);
            versions.push(LiveVersion {
                id: id.clone(),
                number: count - index as u64,
                tag: Some(commit.to_string()),
                bindings: spec.bindings.clone(),
                compatibility_date: spec.compatibility_date.clone(),
                compatibility_flags: spec.compatibility_flags.clone(),
                migration_tag: spec.migrations.last().map(|m| m.tag.clone()),
                ..LiveVersion::default()
            });
            known.push(KnownVersion {
                version_id: id,
                commit: commit.to_string(),
                digest: seen.digest.clone(),
                version_digest: seen.version_digest.clone(),
                migrations: spec.migrations.clone(),
                exports: spec.exports.clone(),
                secrets_fingerprint: None,
                declared: Some(flaresync_plan::DeclaredTriggers::of(spec)),
            });
        }
        let active = versions.first().map(|v| LiveDeployment {
            id: format!("{}-offline", &base.to_string()[..8]),
            versions: vec![DeploymentVersion {
                version_id: v.id.clone(),
                percentage: 100.0,
            }],
            message: Some("base revision (assumed deployed)".into()),
            ..LiveDeployment::default()
        });
        live.workers.insert(
            name.clone(),
            LiveWorker {
                name: name.clone(),
                exists: true,
                migration_tag: loaded.spec.migrations.last().map(|m| m.tag.clone()),
                deployments: active.iter().cloned().collect(),
                active,
                versions,
                secrets: Vec::new(),
                routes: Some(loaded.spec.routes.clone()),
                crons: Some(loaded.spec.crons.clone()),
                queue_consumers: Some(loaded.spec.queue_consumers.clone()),
            },
        );
        history.workers.insert(
            name,
            WorkerHistory {
                versions: known,
                applied_digest: Some(loaded.digest.clone()),
            },
        );
    }
    Ok((live, history))
}
