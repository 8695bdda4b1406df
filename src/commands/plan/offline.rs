//! `plan` without `--live`: the live state flaresync would have produced by following the base
//! branch commit by commit (version ids ending in `-offline`).

use std::collections::BTreeMap;

use anyhow::anyhow;
use flaresync_config::WorkerSpec;
use flaresync_git::{DesiredState, DesiredStateCache, GitSource, Oid};
use flaresync_plan::{
    DeploymentVersion, History, KnownVersion, LiveAccount, LiveDeployment, LiveResources,
    LiveVersion, LiveWorker, WorkerHistory,
};

/// The live state flaresync would have produced by following the base branch.
pub(super) fn offline(
    source: &GitSource,
    cache: &mut DesiredStateCache,
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
    let mut per_worker = distinct_versions(source, cache, base, window)?;
    for loaded in base_state.by_script().values() {
        let name = loaded.spec.name.clone();
        let specs = per_worker.remove(&name).unwrap_or_default();
        let mut versions = Vec::new();
        let mut known = Vec::new();
        let count = specs.len() as u64;
        for (index, (commit, spec)) in specs.iter().enumerate() {
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
                digest: spec.digest(),
                version_digest: spec.version_digest(),
                migrations: spec.migrations.clone(),
                exports: spec.exports.clone(),
                secrets_fingerprint: None,
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
            },
        );
        history.workers.insert(
            name,
            WorkerHistory {
                versions: known,
                applied_digest: Some(loaded.spec.digest()),
            },
        );
    }
    Ok((live, history))
}

/// The base's first-parent history, newest first: one version per distinct version digest per
/// Worker, at most `window` per Worker.
fn distinct_versions(
    source: &GitSource,
    cache: &mut DesiredStateCache,
    base: Oid,
    window: usize,
) -> anyhow::Result<BTreeMap<String, Vec<(Oid, WorkerSpec)>>> {
    let mut per_worker: BTreeMap<String, Vec<(Oid, WorkerSpec)>> = BTreeMap::new();
    let mut commit = Some(base);
    let mut steps = 0usize;
    while let Some(id) = commit {
        if steps >= window.max(1) * 4 {
            break;
        }
        steps += 1;
        let state = cache
            .desired_state(source.repo(), id)
            .map_err(|e| anyhow!("cannot read the desired state at {id}: {e}"))?;
        for loaded in state.by_script().values() {
            let entry = per_worker.entry(loaded.spec.name.clone()).or_default();
            let digest = loaded.spec.version_digest();
            if entry.len() < window
                && !entry
                    .iter()
                    .any(|(_, spec)| spec.version_digest() == digest)
            {
                entry.push((id, loaded.spec.clone()));
            }
        }
        commit = source.repo().find_commit(id)?.parent_id(0).ok();
    }
    Ok(per_worker)
}
