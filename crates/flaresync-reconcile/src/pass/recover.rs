//! Intent recovery: journal intents left without an outcome by a crash (between an API write
//! and its outcome entry) are resolved against Cloudflare, by version tag and the active
//! deployment, and their outcome is recorded. Runs once per process.

use std::collections::BTreeMap;

use flaresync_cloudflare::NewDeployment;
use flaresync_journal::{Action as JournalAction, Entry, Outcome};
use tracing::info;

use super::Context;
use crate::error::Error;

/// What Cloudflare says became of an interrupted action.
struct Resolution {
    outcome: Outcome,
    version: Option<String>,
    deployment: Option<String>,
    detail: &'static str,
}

impl Resolution {
    fn new(outcome: Outcome, version: Option<String>, detail: &'static str) -> Self {
        Resolution {
            outcome,
            version,
            deployment: None,
            detail,
        }
    }
}

/// Resolves every in-flight intent. Returns notes per Worker for the pass's report.
///
/// # Errors
///
/// The journal or Cloudflare could not be read.
pub(super) async fn recover_intents(ctx: &Context) -> Result<BTreeMap<String, Vec<String>>, Error> {
    let mut notes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for recorded in ctx.journal.in_flight()? {
        let entry = recorded.entry;
        let resolution = resolve(ctx, &entry).await?;
        let detail = resolution.detail;
        let mut resolved = Entry::new(
            &entry.worker,
            entry.action.clone(),
            resolution.outcome,
            entry.trigger.clone(),
        )
        .message(format!("recovered after an interruption: {detail}"));
        if let Some(commit) = &entry.commit {
            resolved = resolved.commit(commit);
        }
        if let Some(digest) = &entry.digest {
            resolved = resolved.digest(digest);
        }
        if let Some(version) = &resolution.version {
            resolved = resolved.version(version);
        }
        if let Some(deployment) = &resolution.deployment {
            resolved = resolved.deployment(deployment);
        }
        ctx.journal.record(&resolved)?;
        info!(
            worker = %entry.worker,
            action = entry.action.as_str(),
            outcome = resolution.outcome.as_str(),
            "Recovered an interrupted action from the journal."
        );
        notes.entry(entry.worker.clone()).or_default().push(format!(
            "recovered interrupted {}: {detail}",
            entry.action.as_str()
        ));
    }
    Ok(notes)
}

/// Asks Cloudflare what became of one interrupted action.
async fn resolve(ctx: &Context, entry: &Entry) -> Result<Resolution, Error> {
    let worker = entry.worker.as_str();
    match &entry.action {
        JournalAction::Upload => Ok(match version_by_tag(ctx, entry).await? {
            Some(version) => {
                Resolution::new(Outcome::Success, Some(version), "the upload had completed")
            }
            None => Resolution::new(
                Outcome::Failure,
                None,
                "the upload never reached cloudflare",
            ),
        }),
        JournalAction::Deploy | JournalAction::Rollback => {
            let version = match &entry.version_id {
                Some(version) => Some(version.clone()),
                None => version_by_tag(ctx, entry).await?,
            };
            let active = match ctx.client.active_deployment(worker).await {
                Ok(active) => active,
                // The script was never created (a first upload interrupted): nothing deployed.
                Err(error) if error.is_not_found() => None,
                Err(error) => {
                    return Err(Error::api(
                        format!("reading deployments of {worker}"),
                        error,
                    ));
                }
            };
            Ok(match (version, active) {
                (Some(version), Some(active))
                    if NewDeployment::single(&version, None).is_served_by(&active) =>
                {
                    Resolution {
                        deployment: Some(active.id),
                        ..Resolution::new(
                            Outcome::Success,
                            Some(version),
                            "the deployment had been created",
                        )
                    }
                }
                (version, _) => {
                    Resolution::new(Outcome::Failure, version, "the deployment was not created")
                }
            })
        }
        _ => Ok(Resolution::new(
            Outcome::Failure,
            None,
            "interrupted; it is planned again",
        )),
    }
}

/// The version carrying the intent's commit tag, if Cloudflare has one.
async fn version_by_tag(ctx: &Context, entry: &Entry) -> Result<Option<String>, Error> {
    let worker = entry.worker.as_str();
    let Some(tag) = entry.commit.as_deref().and_then(|commit| {
        flaresync_git::version_tag(commit, flaresync_git::stamp::TAG_LIMIT).ok()
    }) else {
        return Ok(None);
    };
    ctx.client
        .oldest_version_with_tag(worker, &tag)
        .await
        .map(|found| found.map(|v| v.id))
        .map_err(|error| Error::api(format!("looking up versions of {worker}"), error))
}
