//! A deployment of one version at 100% (or a rollout's split of a canary and its stable
//! version), journaled, and verified from Cloudflare's answer to the create (re-reading the
//! active deployment only when that answer does not show it).

use std::time::Duration;

use flaresync_cloudflare::{DeploymentVersion, NewDeployment};
use flaresync_journal::{Action as JournalAction, Entry, Outcome};
use tracing::info;

use super::step::WorkerWrites;
use crate::{error::Error, pass::Context};

/// What to deploy, and how the journal names it.
pub(in crate::pass) struct DeployRequest<'a> {
    pub worker: &'a str,
    pub version_id: &'a str,
    /// Deploy even when Cloudflare's secret-change guard refuses (`?force=true`).
    pub force: bool,
    pub action: JournalAction,
    pub description: &'a str,
    /// A rollout step: `version_id` gets `percent`, `stable` the rest.
    pub split: Option<Split<'a>>,
}

/// The canary's share of a split deployment and the version that keeps the rest.
#[derive(Debug, Clone, Copy)]
pub(in crate::pass) struct Split<'a> {
    pub stable: &'a str,
    pub percent: u8,
}

impl DeployRequest<'_> {
    /// The deployment to create (annotated with `description`).
    fn deployment(&self) -> NewDeployment {
        let message = Some(format!(
            "{}{}",
            crate::drift::MESSAGE_PREFIX,
            self.description
        ));
        match self.split {
            Some(split) if split.percent < 100 => NewDeployment::split(
                vec![
                    DeploymentVersion {
                        version_id: self.version_id.to_owned(),
                        percentage: f64::from(split.percent),
                    },
                    DeploymentVersion {
                        version_id: split.stable.to_owned(),
                        percentage: f64::from(100 - split.percent),
                    },
                ],
                message,
            ),
            _ => NewDeployment::single(self.version_id, message),
        }
    }
}

/// Creates the requested deployment, journaled (entries made by `record`) and verified.
pub(in crate::pass) async fn deploy(
    ctx: &Context,
    request: &DeployRequest<'_>,
    record: &(dyn Fn(JournalAction, Outcome) -> Entry + Sync),
    writes: &mut WorkerWrites,
) -> Result<(), Error> {
    let DeployRequest {
        worker,
        version_id,
        force,
        description,
        ..
    } = *request;
    let action = request.action.clone();
    ctx.journal.record(
        &record(action.clone(), Outcome::Started)
            .version(version_id)
            .message(description.to_owned()),
    )?;
    let request = request.deployment();
    let created = match ctx.client.create_deployment(worker, &request, force).await {
        Ok(created) => created,
        Err(source_error) => {
            let error = Error::api(format!("deploying {worker}"), source_error);
            ctx.journal.record(
                &record(action, Outcome::Failure)
                    .version(version_id)
                    .message(error.to_string()),
            )?;
            return Err(error);
        }
    };
    // The answer to the create is the verification when it serves what was asked; only an
    // answer that does not (a retry recovered another deployment) is checked by re-reading.
    let verified = if request.is_served_by(&created) {
        writes.deployment = Some(crate::convert::live_deployment(&created));
        writes.written_at = created.created_on.clone();
        Ok(created.id.clone())
    } else {
        writes.deployment = None;
        verify(ctx, worker, &request).await
    };
    match verified {
        Ok(deployment_id) => {
            ctx.journal.record(
                &record(action.clone(), Outcome::Success)
                    .version(version_id)
                    .deployment(&deployment_id)
                    .message(description.to_owned()),
            )?;
            info!(worker = %worker, version = %version_id, deployment = %created.id, action = action.as_str(), "Deployed.");
            writes.deployed = Some((version_id.to_owned(), Some(deployment_id)));
            writes.traffic_changed = true;
            Ok(())
        }
        Err(error) => {
            ctx.journal.record(
                &record(action, Outcome::Failure)
                    .version(version_id)
                    .deployment(&created.id)
                    .message(error.to_string()),
            )?;
            Err(error)
        }
    }
}

/// Re-reads the deployments until the active one serves `expected` (a few tries, for
/// eventually consistent reads). Returns the active deployment's id.
async fn verify(ctx: &Context, worker: &str, expected: &NewDeployment) -> Result<String, Error> {
    const ATTEMPTS: u32 = 3;
    let mut actual = String::from("no deployment");
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let active = ctx
            .client
            .active_deployment(worker)
            .await
            .map_err(|e| Error::api(format!("verifying the deployment of {worker}"), e))?;
        match active {
            Some(active) if expected.is_served_by(&active) => return Ok(active.id),
            Some(active) if same_commits(ctx, worker, expected, &active).await => {
                return Ok(active.id);
            }
            Some(active) => {
                actual = active
                    .versions
                    .iter()
                    .map(|v| format!("{}@{}%", v.version_id, v.percentage))
                    .collect::<Vec<_>>()
                    .join(", ");
            }
            None => actual = "no deployment".into(),
        }
    }
    Err(Error::VerifyFailed {
        worker: worker.to_owned(),
        expected: expected
            .versions
            .iter()
            .map(|v| format!("{}@{}%", v.version_id, v.percentage))
            .collect::<Vec<_>>()
            .join(", "),
        actual,
    })
}

/// Whether `active` serves the same commits as `expected` at the same shares: a concurrent
/// flaresync (another state directory) deployed its copy of the same commit, which holds the
/// same content. Reads the version list once; any failure answers no.
async fn same_commits(
    ctx: &Context,
    worker: &str,
    expected: &NewDeployment,
    active: &flaresync_cloudflare::Deployment,
) -> bool {
    let Ok(versions) = ctx.client.list_versions(worker).await else {
        return false;
    };
    let tag_of = |id: &str| {
        versions
            .iter()
            .find(|v| v.id == id)
            .and_then(|v| v.tag())
            .map(str::to_owned)
    };
    let shares = |entries: &mut dyn Iterator<Item = (&str, f64)>| -> Option<Vec<(String, i64)>> {
        let mut out: Vec<(String, i64)> = entries
            .map(|(id, percentage)| Some((tag_of(id)?, (percentage * 1000.0).round() as i64)))
            .collect::<Option<_>>()?;
        out.sort();
        Some(out)
    };
    let want = shares(
        &mut expected
            .versions
            .iter()
            .map(|v| (v.version_id.as_str(), v.percentage)),
    );
    let have = shares(
        &mut active
            .versions
            .iter()
            .map(|v| (v.version_id.as_str(), v.percentage)),
    );
    want.is_some() && want == have
}
