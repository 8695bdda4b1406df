//! One observation of live state, used by `sync`, `run` and `plan --live` alike.
//!
//! For each Worker: its deployments, deployable versions and secret names (three list calls),
//! the versions mapped to the commits they were built from (tags + Git + the journal's
//! versions past the window), and the versions the planner needs in full (the active ones and
//! rollback candidates). A Worker missing from the scripts listing is observed as missing,
//! without a call.
//!
//! # Behaviour (the same for every caller)
//!
//! - A failed list or version read fails that Worker only ([`Observation::errors`]); the others
//!   are still observed.
//! - A version that disappears between the listing and its read (404) is left out of the
//!   details: it can no longer be deployed, so it does not matter.
//! - Journal and Git failures fail the whole observation (local state is broken).

mod adopt;
mod history;
mod resources;

use std::collections::BTreeMap;

use flaresync_cloudflare::{Client, Deployment, Script, Version, VersionSummary};
use flaresync_journal::Journal;
use flaresync_plan::{Desired, KnownVersion, LiveWorker};
use tracing::warn;

pub use history::{ListedVersion, beyond_window, known_versions, version_tags};
pub use resources::fetch_resources;

use crate::{convert, error::Error};

/// One Worker as observed.
#[derive(Debug, Clone)]
pub struct ObservedWorker {
    pub live: LiveWorker,
    /// Listed versions mapped to commits (see [`known_versions`]).
    pub known: Vec<KnownVersion>,
    /// version id -> commit, for every mapped version.
    pub commits: BTreeMap<String, String>,
}

impl ObservedWorker {
    /// A Worker the scripts listing does not have.
    pub(crate) fn missing(name: &str) -> Self {
        ObservedWorker {
            live: LiveWorker::missing(name),
            known: Vec::new(),
            commits: BTreeMap::new(),
        }
    }
}

/// What one observation found.
#[derive(Debug, Default)]
pub struct Observation {
    pub workers: BTreeMap<String, ObservedWorker>,
    /// Workers whose live state could not be read, with why.
    pub errors: BTreeMap<String, Error>,
}

/// What the Git side gets to map: each Worker's listed versions as `(id, commit tag)`.
pub type MappingRequest = Vec<(String, Vec<ListedVersion>)>;

/// Observes `names` (each either in `scripts` or reported missing). `map` turns the listed
/// versions into [`KnownVersion`]s through Git (blocking work, so the caller chooses where it
/// runs); `journal`, when there is one, adds the versions flaresync built that fell out of
/// Cloudflare's window.
///
/// # Errors
///
/// The journal or the Git mapping failed. Per-Worker API failures are in
/// [`Observation::errors`].
pub async fn observe_workers<M>(
    client: &Client,
    journal: Option<&Journal>,
    names: impl IntoIterator<Item = &String>,
    scripts: &BTreeMap<String, Script>,
    desired: &Desired,
    map: M,
) -> Result<Observation, Error>
where
    M: AsyncFnOnce(MappingRequest) -> Result<BTreeMap<String, Vec<KnownVersion>>, Error>,
{
    let mut observation = Observation::default();
    let mut lists: BTreeMap<String, Lists> = BTreeMap::new();
    for name in names {
        if !scripts.contains_key(name) {
            observation
                .workers
                .insert(name.clone(), ObservedWorker::missing(name));
            continue;
        }
        match Lists::fetch(client, name).await {
            Ok(fetched) => {
                lists.insert(name.clone(), fetched);
            }
            Err(error) => {
                warn!(worker = %name, error = %error, "Cannot read live state.");
                observation.errors.insert(name.clone(), error);
            }
        }
    }
    let mut requests = Vec::new();
    for (name, fetched) in &lists {
        let mut tags = version_tags(&fetched.versions);
        if let Some(journal) = journal {
            tags.extend(beyond_window(journal, name, &fetched.versions)?);
        }
        requests.push((name.clone(), tags));
    }
    let mut mapped = map(requests).await?;
    for (name, fetched) in lists {
        let known = mapped.remove(&name).unwrap_or_default();
        let migration_tag = scripts.get(&name).and_then(|s| s.migration_tag.clone());
        match fetched
            .observe(client, &name, migration_tag, known, desired)
            .await
        {
            Ok(worker) => {
                observation.workers.insert(name, worker);
            }
            Err(error) => {
                warn!(worker = %name, error = %error, "Cannot read live state.");
                observation.errors.insert(name, error);
            }
        }
    }
    Ok(observation)
}

/// One Worker's listings: deployments, deployable versions, secret names.
struct Lists {
    deployments: Vec<Deployment>,
    versions: Vec<VersionSummary>,
    secrets: Vec<String>,
}

impl Lists {
    async fn fetch(client: &Client, worker: &str) -> Result<Self, Error> {
        let deployments = client
            .list_deployments(worker)
            .await
            .map_err(|e| Error::api(format!("listing deployments of {worker}"), e))?;
        let versions = client
            .list_deployable_versions(worker)
            .await
            .map_err(|e| Error::api(format!("listing versions of {worker}"), e))?;
        let secrets = client
            .list_secrets(worker)
            .await
            .map_err(|e| Error::api(format!("listing secrets of {worker}"), e))?
            .into_iter()
            .map(|secret| secret.name)
            .collect();
        Ok(Lists {
            deployments,
            versions,
            secrets,
        })
    }

    /// Reads the versions the planner needs in full and assembles the live Worker.
    async fn observe(
        self,
        client: &Client,
        name: &str,
        migration_tag: Option<String>,
        known: Vec<KnownVersion>,
        desired: &Desired,
    ) -> Result<ObservedWorker, Error> {
        let wanted = desired.worker(name).map(|worker| &worker.version_digest);
        let active = self
            .deployments
            .first()
            .into_iter()
            .flat_map(|active| active.versions.iter().map(|v| v.version_id.as_str()));
        let is_listed = |id: &str| self.versions.iter().any(|v| v.id == id);
        let ids = convert::detail_ids(active, is_listed, &known, wanted);
        let details = read_details(client, name, ids).await?;
        let live = convert::live_worker(
            name,
            migration_tag,
            &self.deployments,
            &self.versions,
            &details,
            self.secrets,
        );
        let mut known = known;
        if let Some(adopted) = adopt_by_content(client, &live, &known, desired).await? {
            known.push(adopted);
        }
        let commits = known
            .iter()
            .map(|version| (version.version_id.clone(), version.commit.clone()))
            .collect();
        Ok(ObservedWorker {
            live,
            known,
            commits,
        })
    }
}

/// The active version of `live` as a version of the desired commit, when flaresync did not
/// make it but its content equals Git's (see [`adopt`]). Costs one read (`content/v2`), only
/// for a Worker whose single active version flaresync does not know.
///
/// # Errors
///
/// The content could not be read.
async fn adopt_by_content(
    client: &Client,
    live: &LiveWorker,
    known: &[KnownVersion],
    desired: &Desired,
) -> Result<Option<KnownVersion>, Error> {
    let Some(worker) = desired.worker(&live.name) else {
        return Ok(None);
    };
    let Some(version) = adopt::candidate(live, known, worker) else {
        return Ok(None);
    };
    let parts = client
        .script_content(&live.name)
        .await
        .map_err(|e| Error::api(format!("reading the content of {}", live.name), e))?;
    let same = adopt::same_content(&worker.spec, version, live.migration_tag.as_deref(), &parts);
    Ok(same.then(|| adopt::adopted(&version.id, &desired.commit, worker)))
}

/// Versions `ids` of `worker` read in full. A version gone since it was listed (404) is left
/// out: it can no longer be deployed.
///
/// # Errors
///
/// Any other failed read.
pub(crate) async fn read_details(
    client: &Client,
    worker: &str,
    ids: impl IntoIterator<Item = String>,
) -> Result<BTreeMap<String, Version>, Error> {
    let mut details = BTreeMap::new();
    for id in ids {
        match client.get_version(worker, &id).await {
            Ok(version) => {
                details.insert(id, version);
            }
            Err(error) if error.is_not_found() => {}
            Err(error) => {
                return Err(Error::api(
                    format!("reading version {id} of {worker}"),
                    error,
                ));
            }
        }
    }
    Ok(details)
}
