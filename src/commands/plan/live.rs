//! `plan --live`: the account's live state and history, observed as `sync` observes them.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context as _;
use flaresync_git::{DesiredStateCache, GitSource};
use flaresync_plan::{Desired, History, LiveAccount, WorkerHistory};

fn script_names(desired: &Desired, base: Option<&Desired>) -> BTreeSet<String> {
    desired
        .workers
        .keys()
        .chain(base.into_iter().flat_map(|b| b.workers.keys()))
        .cloned()
        .collect()
}

/// Live state and history from the account (real or emulated): the same observation as
/// `sync` and `run` make ([`flaresync_reconcile::observe_workers`]).
pub(super) async fn observe(
    client: &flaresync_cloudflare::Client,
    source: &GitSource,
    cache: &mut DesiredStateCache,
    desired: &Desired,
    base: Option<&Desired>,
    journal: Option<&flaresync_journal::Journal>,
) -> anyhow::Result<(LiveAccount, History)> {
    let scripts: BTreeMap<String, flaresync_cloudflare::Script> = client
        .list_scripts()
        .await
        .context("cannot list the account's Workers")?
        .into_iter()
        .map(|script| (script.id.clone(), script))
        .collect();
    let names = script_names(desired, base);
    let repo = source.repo();
    let mut observation = flaresync_reconcile::observe_workers(
        client,
        journal,
        &names,
        &scripts,
        desired,
        async |requests| {
            let mut known = BTreeMap::new();
            for (name, tags) in requests {
                let versions = flaresync_reconcile::known_versions(repo, cache, &name, &tags)?;
                known.insert(name, versions);
            }
            Ok(known)
        },
    )
    .await
    .context("cannot observe the account")?;
    if let Some((name, error)) = observation.errors.pop_first() {
        return Err(anyhow::Error::new(error))
            .with_context(|| format!("cannot read the live state of {name}"));
    }
    let mut live = LiveAccount {
        observed: true,
        workers: BTreeMap::new(),
        resources: flaresync_reconcile::fetch_resources(client, desired).await,
        scripts: Some(scripts.keys().cloned().collect()),
    };
    let mut history = History::default();
    for (name, observed) in observation.workers {
        live.workers.insert(name.clone(), observed.live);
        history.workers.insert(
            name,
            WorkerHistory {
                versions: observed.known,
                applied_digest: None,
            },
        );
    }
    Ok((live, history))
}
