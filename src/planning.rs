//! `flaresync plan`: desired state at two commits (and optionally the live account) -> a plan.
//!
//! Without `--live` nothing is asked of Cloudflare. The base commit is taken as deployed, and
//! every distinct state along the base branch's first-parent history (up to the version window)
//! as an uploaded version: that is what flaresync itself would have produced following the
//! branch. Such versions get ids ending in `-offline` so nobody mistakes them for real ids.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context as _, anyhow};
use flaresync_config::WorkerSpec;
use flaresync_git::{DesiredState, DesiredStateCache, GitSource, Oid};
use flaresync_plan::{
    DeploymentVersion, Desired, History, KnownVersion, LiveAccount, LiveDeployment, LiveResources,
    LiveVersion, LiveWorker, Plan, WorkerHistory,
};
use flaresync_reconcile::convert;

use crate::{cli::PlanArgs, commands};

pub async fn plan_refs(args: &PlanArgs) -> anyhow::Result<Plan> {
    let mut source = commands::open_source(&args.repo)?;
    let remote_head = if commands::is_remote(&args.repo.repo) {
        Some(
            source
                .fetch()
                .context("cannot fetch the remote repository")?
                .new,
        )
    } else {
        None
    };
    // In a remote's bare clone there is no HEAD of interest: the followed branch's head is.
    let head = match remote_head {
        Some(head) if args.head == "HEAD" => head,
        _ => resolve(&source, &args.head)?,
    };
    let base = match &args.base {
        Some(base) => Some(resolve(&source, base)?),
        None => first_parent(&source, head)?,
    };
    let mut cache = DesiredStateCache::new();
    let head_state = cache
        .desired_state(source.repo(), head)
        .with_context(|| format!("cannot read the desired state at {}", args.head))?;
    let base_state = match base {
        Some(base) => Some(
            cache
                .desired_state(source.repo(), base)
                .context("cannot read the desired state at the base revision")?,
        ),
        None => None,
    };
    // A broken config keeps the script name it had when it last loaded (blocked, not
    // "removed" next to an unknown directory), as in `sync`.
    let names = |commit: Oid, cache: &mut DesiredStateCache| {
        cache
            .last_good_names(
                source.repo(),
                commit,
                flaresync_reconcile::LAST_GOOD_NAME_DEPTH,
            )
            .unwrap_or_default()
    };
    let head_names = names(head, &mut cache);
    let mut desired = convert::desired(&head_state, &head_names);
    let base_desired = match (&base_state, base) {
        (Some(state), Some(base)) => {
            let base_names = names(base, &mut cache);
            Some(convert::desired(state, &base_names))
        }
        _ => None,
    };
    let policies = convert::policies(&head_state);
    let window = head_state.repo_config.version_window as usize;

    let (live, history) = if args.live {
        let client = commands::client(&args.api, Some(&head_state.repo_config))?;
        convert::restrict_to_account(&mut desired, &head_state, client.account_id());
        // The journal of a flaresync that deploys this repository from this machine, if any.
        let journal_path = commands::journal_path(&args.repo);
        let journal = journal_path
            .exists()
            .then(|| flaresync_journal::Journal::open(&journal_path))
            .transpose()
            .with_context(|| format!("cannot open the journal {}", journal_path.display()))?;
        observe(
            &client,
            &source,
            &mut cache,
            &desired,
            base_desired.as_ref(),
            journal.as_ref(),
        )
        .await?
    } else {
        offline(&source, &mut cache, base_state.as_ref(), base, window)?
    };
    let mut plan =
        flaresync_plan::plan(&desired, base_desired.as_ref(), &live, &history, &policies);
    if !args.live {
        plan.live_note = Some(
            "assumed: the base branch deployed commit by commit (version ids ending in -offline); \
             use --live to compare with Cloudflare"
                .to_owned(),
        );
    }
    Ok(plan)
}

fn resolve(source: &GitSource, revision: &str) -> anyhow::Result<Oid> {
    // A remote is kept as a bare clone with its branches under origin/: accept `main` too.
    let object = source
        .repo()
        .revparse_single(revision)
        .or_else(|_| source.repo().revparse_single(&format!("origin/{revision}")))
        .map_err(|_| anyhow!("unknown revision {revision:?} in the config repository"))?;
    let commit = object
        .peel_to_commit()
        .with_context(|| format!("{revision:?} does not name a commit"))?;
    Ok(commit.id())
}

fn first_parent(source: &GitSource, commit: Oid) -> anyhow::Result<Option<Oid>> {
    let commit = source.repo().find_commit(commit)?;
    Ok(commit.parent_id(0).ok())
}

fn script_names(desired: &Desired, base: Option<&Desired>) -> BTreeSet<String> {
    desired
        .workers
        .keys()
        .chain(base.into_iter().flat_map(|b| b.workers.keys()))
        .cloned()
        .collect()
}

/// Live state and history from the account (real or emulated).
async fn observe(
    client: &flaresync_cloudflare::Client,
    source: &GitSource,
    cache: &mut DesiredStateCache,
    desired: &Desired,
    base: Option<&Desired>,
    journal: Option<&flaresync_journal::Journal>,
) -> anyhow::Result<(LiveAccount, History)> {
    let scripts = client
        .list_scripts()
        .await
        .context("cannot list the account's Workers")?;
    let mut live = LiveAccount {
        observed: true,
        workers: BTreeMap::new(),
        resources: flaresync_reconcile::fetch_resources(client, desired).await,
        scripts: Some(scripts.iter().map(|s| s.id.clone()).collect()),
    };
    let mut history = History::default();
    for name in script_names(desired, base) {
        let Some(script) = scripts.iter().find(|s| s.id == name) else {
            live.workers
                .insert(name.clone(), LiveWorker::missing(&name));
            continue;
        };
        let deployments = client
            .list_deployments(&name)
            .await
            .with_context(|| format!("cannot list the deployments of {name}"))?;
        let summaries = client
            .list_deployable_versions(&name)
            .await
            .with_context(|| format!("cannot list the versions of {name}"))?;
        let secrets = client
            .list_secrets(&name)
            .await
            .with_context(|| format!("cannot list the secrets of {name}"))?
            .into_iter()
            .map(|s| s.name)
            .collect();
        // Secret-change copies inherit their source's commit; versions flaresync built that fell
        // out of Cloudflare's window come back from the journal (so a revert to them is FS001).
        let mut tags = flaresync_reconcile::version_tags(&summaries);
        if let Some(journal) = journal {
            tags.extend(
                flaresync_reconcile::beyond_window(journal, &name, &summaries)
                    .with_context(|| format!("cannot read the journal for {name}"))?,
            );
        }
        let known = flaresync_reconcile::known_versions(source.repo(), cache, &name, &tags)
            .with_context(|| format!("cannot map the versions of {name} to commits"))?;
        let wanted = desired
            .workers
            .get(&name)
            .and_then(|e| e.worker())
            .map(|w| w.version_digest.clone());
        let detail_ids = convert::detail_ids(&deployments, &summaries, &known, wanted.as_deref());
        let mut details = BTreeMap::new();
        for summary in summaries.iter().filter(|v| detail_ids.contains(&v.id)) {
            let full = client
                .get_version(&name, &summary.id)
                .await
                .with_context(|| format!("cannot read version {} of {name}", summary.id))?;
            details.insert(summary.id.clone(), full);
        }
        live.workers.insert(
            name.clone(),
            convert::live_worker(
                &name,
                script.migration_tag.clone(),
                &deployments,
                &summaries,
                &details,
                secrets,
            ),
        );
        history.workers.insert(
            name,
            WorkerHistory {
                versions: known,
                applied_digest: None,
            },
        );
    }
    Ok((live, history))
}

/// The live state flaresync would have produced by following the base branch.
fn offline(
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
    // Walk the base's first-parent history, newest first, collecting one version per
    // distinct version digest per Worker.
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
