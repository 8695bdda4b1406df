//! One planner step: upload a version, deploy a version, upload a script (creates and deploys,
//! with migrations), or write non-versioned settings. Each is journaled before and after. An
//! upload of a Worker with static assets first uploads what Cloudflare lacks of them.

use flaresync_config::{
    AssetsToken, Digest, MigrationsUpload, QueueConsumer, UploadKind, UploadOptions, WorkerSpec,
};
use flaresync_journal::{Action as JournalAction, Entry, Outcome};
use flaresync_plan::{
    DeployTarget, Desired, LiveDeployment, LiveVersion, LiveWorker, MigrationsPayload, Step,
};
use tracing::info;

use super::{
    assets::upload_assets,
    deploy::{DeployRequest, deploy},
    own_writes::script_upload_records,
    settings::apply_settings,
    settings_check::{self, differing},
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
    /// The uploaded version as the upload answered it (what the next pass's cache holds).
    pub uploaded_version: Option<LiveVersion>,
    /// The version deployed, with the deployment's id when Cloudflare named it (a script upload
    /// deploys without answering one).
    pub deployed: Option<(String, Option<String>)>,
    /// The deployment created, as its write answered it (`None` when verified by a re-read).
    pub deployment: Option<LiveDeployment>,
    /// Cloudflare's timestamp of the last write that moved the script's `modified_on`.
    pub written_at: Option<String>,
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
    /// The Worker as this pass observed it (current as of the pass's scripts listing).
    live: Option<&'a LiveWorker>,
    /// The queue consumers flaresync last applied for it, when known.
    previous_consumers: &'a [QueueConsumer],
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
        assets_token: Option<AssetsToken>,
    ) -> UploadOptions {
        UploadOptions {
            kind,
            tag: Some(self.input.source.tag.clone()),
            message: Some(self.input.source.message.clone()),
            migrations,
            assets_token,
        }
    }

    /// The completion token of this Worker's static assets, uploading what Cloudflare lacks.
    async fn assets_token(&self, report: &mut WorkerReport) -> Result<Option<AssetsToken>, Error> {
        upload_assets(self.input.ctx, self.worker, self.spec, report).await
    }
}

/// Runs one step. Journal failures abort the pass (no write without its intent on disk).
pub(super) async fn apply_step(
    input: &PassInput<'_>,
    step: &Step,
    (live, previous_consumers): &(Option<&LiveWorker>, Vec<QueueConsumer>),
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
        live: *live,
        previous_consumers,
    };
    match step {
        Step::UploadVersion { .. } => upload_version(&frame, writes, report).await,
        Step::Deploy { version, force, .. } => {
            deploy_version(&frame, version, *force, writes).await
        }
        Step::ScriptUpload { migrations, .. } => {
            upload_script(&frame, migrations.as_ref(), writes, report).await
        }
        Step::SyncSettings { fields, .. } => {
            let written = sync_settings(&frame, fields, report).await?;
            writes.settings.extend(written);
            Ok(())
        }
    }
}

async fn upload_version(
    frame: &StepFrame<'_>,
    writes: &mut WorkerWrites,
    report: &mut WorkerReport,
) -> Result<(), Error> {
    let (worker, head) = (frame.worker, frame.head());
    frame.journal(
        &frame
            .record(JournalAction::Upload, Outcome::Started)
            .message(format!("uploading a version of commit {}", short(head))),
    )?;
    // Another flaresync (another state directory: a second CI job) may have uploaded this
    // commit already: deploy its version rather than a second copy. The pass's own view of
    // the Worker answers without a request when it has one.
    let tag = frame.input.source.tag.as_str();
    let existing = match frame.live {
        Some(live) => oldest_listed(live, tag),
        None => oldest_with_tag(frame).await?,
    };
    if let Some(existing) = existing {
        return adopt(
            frame,
            writes,
            existing,
            "found, uploaded by another flaresync",
        );
    }
    let assets_token = match frame.assets_token(report).await {
        Ok(token) => token,
        Err(error) => return frame.failed(JournalAction::Upload, error),
    };
    let metadata =
        frame
            .spec
            .upload_metadata(&frame.upload_options(UploadKind::Version, None, assets_token));
    let client = &frame.input.ctx.client;
    match client
        .upload_version(worker, &metadata, &frame.spec.modules)
        .await
    {
        Ok(version) => {
            // Both uploads may have passed the check at once: every flaresync then deploys the
            // oldest version of the commit, so they settle on one (see the README). A version
            // numbered right after the newest one the pass saw has no older copy to look for.
            let next = frame
                .live
                .and_then(newest_number)
                .zip(version.number)
                .is_some_and(|(newest, number)| number == newest + 1);
            if !next
                && let Some(oldest) = oldest_with_tag(frame).await?
                && oldest != version.id
            {
                return adopt(frame, writes, oldest, "older copy of this commit, kept");
            }
            writes.written_at = version.metadata.created_on.clone();
            writes.uploaded_version = Some(crate::convert::live_version(&version));
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
    frame
        .input
        .ctx
        .client
        .oldest_version_with_tag(worker, &frame.input.source.tag)
        .await
        .map(|found| found.map(|v| v.id))
        .map_err(|error| Error::api(format!("looking up versions of {worker}"), error))
}

/// The oldest version carrying `tag` among those the pass observed.
fn oldest_listed(live: &LiveWorker, tag: &str) -> Option<String> {
    live.versions
        .iter()
        .filter(|v| v.tag.as_deref() == Some(tag))
        .min_by_key(|v| v.number)
        .map(|v| v.id.clone())
}

/// The highest version number the pass observed (`None` without a numbered version).
fn newest_number(live: &LiveWorker) -> Option<u64> {
    live.versions
        .iter()
        .map(|v| v.number)
        .max()
        .filter(|n| *n > 0)
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
    report: &mut WorkerReport,
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
    let assets_token = match frame.assets_token(report).await {
        Ok(token) => token,
        Err(error) => return frame.failed(JournalAction::Deploy, error),
    };
    let metadata = frame.spec.upload_metadata(&frame.upload_options(
        UploadKind::Script,
        migrations,
        assets_token,
    ));
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
    // The upload deploys what it creates at 100%: its answer is the verification.
    frame.journal(
        &frame
            .record(JournalAction::Deploy, Outcome::Success)
            .version(&version_id)
            .message(format!(
                "script upload deployed version {version_id} of commit {}",
                short(head)
            )),
    )?;
    info!(worker = %worker, commit = %short(head), version = %version_id, "Script uploaded and deployed.");
    let number = frame.live.and_then(newest_number).unwrap_or(0) + 1;
    let (version, deployment) =
        script_upload_records(&uploaded, &version_id, number, frame.input.source);
    writes.uploaded_version = Some(version);
    writes.deployment = Some(deployment);
    writes.written_at = uploaded.modified_on.clone();
    writes.uploaded = Some(version_id.clone());
    writes.deployed = Some((version_id, None));
    writes.deployed_commit = Some(head.to_owned());
    writes.traffic_changed = true;
    writes.migrated_to = migrations_tag;
    Ok(())
}

/// Writes the settings that differ; returns the fields written.
async fn sync_settings(
    frame: &StepFrame<'_>,
    fields: &[String],
    report: &mut WorkerReport,
) -> Result<Vec<String>, Error> {
    let unsupported: Vec<&str> = fields
        .iter()
        .map(String::as_str)
        .filter(|field| !settings_check::ALL.contains(field) && *field != "script_settings")
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
        checked = differing(
            frame.input,
            frame.worker,
            frame.spec,
            fields,
            frame.previous_consumers,
        )
        .await?;
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
    let applied = apply_settings(
        frame.input,
        frame.worker,
        frame.spec,
        fields,
        frame.previous_consumers,
    );
    match applied.await {
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
