//! One planner step: upload a version, deploy a version, upload a script (creates and deploys,
//! with migrations), or write non-versioned settings. Each is journaled before and after.

use flaresync_cloudflare::NewDeployment;
use flaresync_config::{Digest, MigrationsUpload, UploadKind, UploadOptions, WorkerSpec};
use flaresync_journal::{Action as JournalAction, Entry, Outcome};
use flaresync_plan::{DeployTarget, Desired, MigrationsPayload, Step};
use tracing::info;

use super::{
    deploy::{DeployRequest, deploy, verify},
    settings::apply_settings,
    settings_check::differing,
};
use crate::{
    error::Error,
    pass::{PassInput, report::WorkerReport, short},
};

/// The desired spec of a Worker and its digest (must be resolved for a write step).
pub(super) fn spec_of<'a>(
    desired: &'a Desired,
    worker: &str,
) -> Result<(&'a WorkerSpec, &'a Digest), Error> {
    desired
        .worker(worker)
        .map(|resolved| (&resolved.spec, &resolved.digest))
        .ok_or_else(|| {
            Error::Internal(format!(
                "the plan has a write step for {worker} but its desired state is not resolved"
            ))
        })
}

/// What the steps of one Worker did so far in this pass.
#[derive(Debug, Default, Clone)]
pub(in crate::pass) struct WorkerWrites {
    pub uploaded: Option<String>,
    pub deployed: Option<(String, String)>,
    /// The commit the deployed version was built from.
    pub deployed_commit: Option<String>,
    pub traffic_changed: bool,
    /// Non-versioned settings written (the fields of a settings step).
    pub settings: Vec<String>,
    /// The Durable Object migration tag a script upload applied.
    pub migrated_to: Option<String>,
    /// The deploy started a progressive rollout (a split at its first step).
    pub gradual: bool,
}

/// One Worker's step: what every kind of step needs.
struct StepFrame<'a> {
    input: &'a PassInput<'a>,
    worker: &'a str,
    spec: &'a WorkerSpec,
    digest: &'a Digest,
}

impl StepFrame<'_> {
    fn head(&self) -> &str {
        self.input.head()
    }

    /// A journal entry of this step, stamped with the head commit and the desired digest.
    fn record(&self, action: JournalAction, outcome: Outcome) -> Entry {
        Entry::new(self.worker, action, outcome, self.input.trigger.clone())
            .commit(self.head())
            .digest(self.digest)
    }

    fn journal(&self, entry: &Entry) -> Result<(), Error> {
        self.input.ctx.journal.record(entry)?;
        Ok(())
    }

    /// Journals a failure of `action` and hands the error back.
    fn failed(&self, action: JournalAction, error: Error) -> Result<(), Error> {
        self.journal(
            &self
                .record(action, Outcome::Failure)
                .message(error.to_string()),
        )?;
        Err(error)
    }

    fn upload_options(
        &self,
        kind: UploadKind,
        migrations: Option<MigrationsUpload>,
    ) -> UploadOptions {
        UploadOptions {
            kind,
            tag: Some(self.input.source.tag.clone()),
            message: Some(self.input.source.message.clone()),
            migrations,
        }
    }
}

/// Runs one step. Journal failures abort the pass (no write without its intent on disk).
pub(super) async fn apply_step(
    input: &PassInput<'_>,
    step: &Step,
    writes: &mut WorkerWrites,
    report: &mut WorkerReport,
) -> Result<(), Error> {
    let worker = step.worker();
    let (spec, digest) = spec_of(input.desired, worker)?;
    let frame = StepFrame {
        input,
        worker,
        spec,
        digest,
    };
    match step {
        Step::UploadVersion { .. } => upload_version(&frame, writes).await,
        Step::Deploy { version, force, .. } => {
            deploy_version(&frame, version, *force, writes).await
        }
        Step::ScriptUpload { migrations, .. } => {
            upload_script(&frame, migrations.as_ref(), writes).await
        }
        Step::SyncSettings { fields, .. } => {
            let written = sync_settings(&frame, fields, report).await?;
            writes.settings.extend(written);
            Ok(())
        }
    }
}

async fn upload_version(frame: &StepFrame<'_>, writes: &mut WorkerWrites) -> Result<(), Error> {
    let (worker, head) = (frame.worker, frame.head());
    frame.journal(
        &frame
            .record(JournalAction::Upload, Outcome::Started)
            .message(format!("uploading a version of commit {}", short(head))),
    )?;
    // Another flaresync (another state directory: a second CI job) may have uploaded this
    // commit already: deploy its version rather than a second copy.
    if let Some(existing) = oldest_with_tag(frame).await? {
        return adopt(
            frame,
            writes,
            existing,
            "found, uploaded by another flaresync",
        );
    }
    let metadata = frame
        .spec
        .upload_metadata(&frame.upload_options(UploadKind::Version, None));
    let client = &frame.input.ctx.client;
    match client
        .upload_version(worker, &metadata, &frame.spec.modules)
        .await
    {
        Ok(version) => {
            // Both uploads may have passed the check at once: every flaresync then deploys the
            // oldest version of the commit, so they settle on one (see the README).
            if let Some(oldest) = oldest_with_tag(frame).await?
                && oldest != version.id
            {
                return adopt(frame, writes, oldest, "older copy of this commit, kept");
            }
            adopt(frame, writes, version.id, "uploaded")
        }
        Err(source_error) => frame.failed(
            JournalAction::Upload,
            Error::api(format!("uploading a version of {worker}"), source_error),
        ),
    }
}

/// The oldest version of `worker` carrying the head commit's tag, if any.
async fn oldest_with_tag(frame: &StepFrame<'_>) -> Result<Option<String>, Error> {
    let worker = frame.worker;
    let tag = frame.input.source.tag.as_str();
    let versions = match frame.input.ctx.client.list_versions(worker).await {
        Ok(versions) => versions,
        Err(error) if error.is_not_found() => return Ok(None),
        Err(error) => {
            return Err(Error::api(
                format!("looking up versions of {worker}"),
                error,
            ));
        }
    };
    Ok(versions
        .into_iter()
        .filter(|v| v.tag() == Some(tag))
        .min_by_key(|v| v.number.unwrap_or(u64::MAX))
        .map(|v| v.id))
}

/// Records `version` as this pass's upload of the head commit.
fn adopt(
    frame: &StepFrame<'_>,
    writes: &mut WorkerWrites,
    version: String,
    how: &str,
) -> Result<(), Error> {
    let (worker, head) = (frame.worker, frame.head());
    frame.journal(
        &frame
            .record(JournalAction::Upload, Outcome::Success)
            .version(&version)
            .message(format!(
                "version {version} of commit {}: {how}",
                short(head)
            )),
    )?;
    info!(worker = %worker, commit = %short(head), version = %version, how, "Version of the commit ready.");
    writes.uploaded = Some(version);
    Ok(())
}

async fn deploy_version(
    frame: &StepFrame<'_>,
    version: &DeployTarget,
    force: bool,
    writes: &mut WorkerWrites,
) -> Result<(), Error> {
    let head = frame.head();
    writes.deployed_commit = Some(match version {
        DeployTarget::Existing(target) => target.commit.clone(),
        DeployTarget::Uploaded => head.to_owned(),
    });
    let (version_id, action, description) = match version {
        DeployTarget::Uploaded => {
            let id = writes.uploaded.clone().ok_or_else(|| {
                Error::Internal(format!(
                    "deploy step for {} without a preceding upload",
                    frame.worker
                ))
            })?;
            (
                id,
                JournalAction::Deploy,
                format!("deploy commit {}", short(head)),
            )
        }
        DeployTarget::Existing(target) if target.commit == head => (
            target.version_id.clone(),
            JournalAction::Deploy,
            format!("deploy existing version of commit {}", short(head)),
        ),
        DeployTarget::Existing(target) => (
            target.version_id.clone(),
            JournalAction::Rollback,
            format!(
                "rollback to the version of commit {} (head {})",
                short(&target.commit),
                short(head)
            ),
        ),
    };
    let request = DeployRequest {
        worker: frame.worker,
        version_id: &version_id,
        force,
        action,
        description: &description,
        split: None,
    };
    deploy(
        frame.input.ctx,
        &request,
        &|a, o| frame.record(a, o),
        writes,
    )
    .await
}

async fn upload_script(
    frame: &StepFrame<'_>,
    migrations: Option<&MigrationsPayload>,
    writes: &mut WorkerWrites,
) -> Result<(), Error> {
    let (worker, head) = (frame.worker, frame.head());
    frame.journal(
        &frame
            .record(JournalAction::Deploy, Outcome::Started)
            .message(format!(
                "script upload of commit {} (creates and deploys)",
                short(head)
            )),
    )?;
    let migrations_tag = migrations.map(|payload| payload.new_tag.clone());
    let migrations = migrations.map(|payload| MigrationsUpload {
        old_tag: payload.old_tag.clone(),
        new_tag: payload.new_tag.clone(),
        steps: payload.steps.clone(),
    });
    let metadata = frame
        .spec
        .upload_metadata(&frame.upload_options(UploadKind::Script, migrations));
    let ctx = frame.input.ctx;
    let uploaded = match ctx
        .client
        .upload_script(worker, &metadata, &frame.spec.modules)
        .await
    {
        Ok(uploaded) => uploaded,
        Err(source_error) => {
            let error = Error::api(format!("uploading script {worker}"), source_error);
            return frame.failed(JournalAction::Deploy, error);
        }
    };
    let Some(version_id) = uploaded.version_id() else {
        let error = Error::Internal(format!(
            "script upload of {worker} answered without a version id"
        ));
        return frame.failed(JournalAction::Deploy, error);
    };
    let expected = NewDeployment::single(&version_id, None);
    match verify(ctx, worker, &expected).await {
        Ok(deployment_id) => {
            frame.journal(
                &frame
                    .record(JournalAction::Deploy, Outcome::Success)
                    .version(&version_id)
                    .deployment(&deployment_id)
                    .message(format!(
                        "script upload deployed version {version_id} of commit {}",
                        short(head)
                    )),
            )?;
            info!(worker = %worker, commit = %short(head), version = %version_id, "Script uploaded and deployed.");
            writes.uploaded = Some(version_id.clone());
            writes.deployed = Some((version_id, deployment_id));
            writes.deployed_commit = Some(head.to_owned());
            writes.traffic_changed = true;
            writes.migrated_to = migrations_tag;
            Ok(())
        }
        Err(error) => {
            frame.journal(
                &frame
                    .record(JournalAction::Deploy, Outcome::Failure)
                    .version(&version_id)
                    .message(error.to_string()),
            )?;
            Err(error)
        }
    }
}

/// Writes the settings that differ; returns the fields written.
async fn sync_settings(
    frame: &StepFrame<'_>,
    fields: &[String],
    report: &mut WorkerReport,
) -> Result<Vec<String>, Error> {
    const PATCHED: [&str; 3] = ["logpush", "observability", "tail_consumers"];
    let unsupported: Vec<&str> = fields
        .iter()
        .map(String::as_str)
        .filter(|field| {
            !PATCHED.contains(field)
                && !matches!(*field, "crons" | "workers_dev" | "script_settings")
        })
        .collect();
    if !unsupported.is_empty() {
        report.notes.push(format!(
            "not applied by the reconcile loop: {}",
            unsupported.join(", ")
        ));
    }
    // Only a digest says something outside the version changed: read what Cloudflare holds
    // and write only what differs (another flaresync may have applied it already).
    let checked;
    let fields = if fields.iter().any(|field| field == "script_settings") {
        checked = differing(frame.input.ctx, frame.worker, frame.spec, fields).await?;
        if checked.is_empty() {
            frame.journal(
                &frame
                    .record(JournalAction::Settings, Outcome::Success)
                    .message("settings already match Git on Cloudflare; nothing written"),
            )?;
            return Ok(Vec::new());
        }
        checked.as_slice()
    } else {
        fields
    };
    frame.journal(
        &frame
            .record(JournalAction::Settings, Outcome::Started)
            .message(format!("updating settings: {}", fields.join(", "))),
    )?;
    match apply_settings(frame.input.ctx, frame.worker, frame.spec, fields).await {
        Ok(()) => {
            frame.journal(
                &frame
                    .record(JournalAction::Settings, Outcome::Success)
                    .message(format!("updated settings: {}", fields.join(", "))),
            )?;
            Ok(fields.to_vec())
        }
        Err(error) => frame
            .failed(JournalAction::Settings, error)
            .map(|()| Vec::new()),
    }
}
