//! After a failed health check: the previous version serves traffic again, and the commit is
//! recorded as rejected (in Git terms) until Git changes.

use flaresync_journal::{Action as JournalAction, Entry, Outcome};
use tracing::warn;

use super::{
    deploy::{DeployRequest, deploy},
    step::WorkerWrites,
};
use crate::{
    error::Error,
    health::HealthOutcome,
    pass::{
        PassInput,
        memory::{HEALTH_REJECTED, Memory},
        report::WorkerReport,
        short,
    },
};

/// A Worker whose health check failed after this pass deployed it.
pub(super) struct HealthFailure<'a> {
    pub worker: &'a str,
    /// The desired digest that failed.
    pub digest: &'a flaresync_config::Digest,
    /// What this pass wrote for the Worker.
    pub done: &'a WorkerWrites,
    /// The version active before the pass.
    pub previous: Option<super::Previous>,
    pub outcome: &'a HealthOutcome,
}

/// Deploys the previous version again and records the rejection.
///
/// # Errors
///
/// Only journal failures; a failed restore is a note in the report.
pub(super) async fn restore_after_health_failure(
    input: &PassInput<'_>,
    memory: &mut Memory,
    failure: &HealthFailure<'_>,
    report: &mut WorkerReport,
) -> Result<(), Error> {
    let (worker, head) = (failure.worker, input.head());
    let failed_version = failure.done.deployed.as_ref().map(|(v, _)| v.clone());
    let message = failure.outcome.message();
    warn!(worker = %worker, commit = %short(head), error = %message, "Health check failed.");
    let restored = match &failure.previous {
        // Cloudflare refuses a rollback across the migration this deploy applied (FS002): the
        // plan announced it; say so instead of failing with an HTTP 400.
        Some(_) if failure.done.migrated_to.is_some() => {
            report.notes.push(format!(
                "not rolled back automatically: this deploy applied Durable Object migration `{}` and Cloudflare refuses a rollback across it (FS002); roll forward with a fix",
                failure.done.migrated_to.as_deref().unwrap_or_default()
            ));
            None
        }
        Some(previous) if Some(&previous.version) != failed_version.as_ref() => {
            let description = format!(
                "health check failed for commit {}: {message}; restoring version {}",
                short(head),
                previous.version
            );
            let restored = redeploy(input, worker, &previous.version, &description, report).await?;
            if restored.is_some() && !failure.done.settings.is_empty() {
                restore_settings(input, worker, previous, &failure.done.settings, report).await?;
            }
            restored
        }
        _ => {
            report
                .notes
                .push("no earlier version to roll back to after the failed health check".into());
            None
        }
    };
    let mut entry = Entry::new(
        worker,
        JournalAction::Other(HEALTH_REJECTED.into()),
        Outcome::Failure,
        input.trigger.clone(),
    )
    .commit(head)
    .digest(failure.digest)
    .message(match &restored {
        Some(version) => format!(
            "commit {} failed its health check ({message}); version {version} serves traffic again",
            short(head)
        ),
        None => format!("commit {} failed its health check ({message})", short(head)),
    });
    if let Some(version) = &failed_version {
        entry = entry.version(version);
    }
    input.ctx.journal.record(&entry)?;
    let applied = memory.applied.entry(worker.to_owned()).or_default();
    applied.rejected = Some((failure.digest.clone(), head.to_owned()));
    if let Some(version) = restored.as_ref().or(failed_version.as_ref()) {
        applied.version = Some(version.clone());
    }
    report.live_version = restored.or(failed_version);
    report.live_commit = None;
    report.fail(&Error::HealthCheckFailed {
        worker: worker.to_owned(),
        commit: head.to_owned(),
        message,
    });
    Ok(())
}

/// Deploys `previous` again (a rollback journaled and annotated with `description`). Returns it
/// when it serves traffic; a failure other than the journal's is a note in the report.
pub(in crate::pass) async fn redeploy(
    input: &PassInput<'_>,
    worker: &str,
    previous: &str,
    description: &str,
    report: &mut WorkerReport,
) -> Result<Option<String>, Error> {
    let request = DeployRequest {
        worker,
        version_id: previous,
        force: false,
        action: JournalAction::Rollback,
        description,
        split: None,
    };
    let record = |action: JournalAction, outcome: Outcome| {
        Entry::new(worker, action, outcome, input.trigger.clone())
    };
    let mut restore_writes = WorkerWrites::default();
    match deploy(input.ctx, &request, &record, &mut restore_writes).await {
        Ok(()) => Ok(Some(previous.to_owned())),
        Err(Error::Journal(error)) => Err(Error::Journal(error)),
        Err(error) => {
            report
                .notes
                .push(format!("automatic rollback failed: {error}"));
            Ok(None)
        }
    }
}

/// Puts back the non-versioned settings (`fields`) that this pass wrote, as they were at the
/// restored version's commit. A failure other than the journal's is a note in the report.
pub(in crate::pass) async fn restore_settings(
    input: &PassInput<'_>,
    worker: &str,
    previous: &super::Previous,
    fields: &[String],
    report: &mut WorkerReport,
) -> Result<(), Error> {
    let ctx = input.ctx;
    let spec = match &previous.commit {
        Some(commit) => {
            crate::pass::source::spec_at(ctx.git.clone(), commit.clone(), worker.to_owned()).await?
        }
        None => None,
    };
    let (Some(spec), Some(commit)) = (spec, &previous.commit) else {
        report.notes.push(format!(
            "settings {} were not restored: the restored version {} was not built by flaresync from a known commit",
            fields.join(", "),
            previous.version
        ));
        return Ok(());
    };
    let entry = |outcome: Outcome| {
        Entry::new(
            worker,
            JournalAction::Settings,
            outcome,
            input.trigger.clone(),
        )
        .commit(commit)
        .digest(&spec.digest())
    };
    let what = format!(
        "restoring settings {} of commit {} after a failed health check",
        fields.join(", "),
        short(commit)
    );
    ctx.journal
        .record(&entry(Outcome::Started).message(what.clone()))?;
    // What was applied just before (the commit that failed its health check).
    let applied_consumers = input
        .desired
        .worker(worker)
        .map(|w| w.spec.queue_consumers.clone())
        .unwrap_or_default();
    match super::settings::apply_settings(input, worker, &spec, fields, &applied_consumers).await {
        Ok(()) => {
            ctx.journal.record(&entry(Outcome::Success).message(what))?;
            Ok(())
        }
        Err(error) => {
            ctx.journal
                .record(&entry(Outcome::Failure).message(error.to_string()))?;
            report
                .notes
                .push(format!("restoring settings failed: {error}"));
            Ok(())
        }
    }
}
