//! Aborting a rollout = a set rollback: every Worker the commit changed goes back to the version
//! it ran before the commit, callers first (reverse dependency order), with the non-versioned
//! settings flaresync applied for the commit restored; the commit is rejected until Git
//! changes, and a revert is proposed in Git ([`crate::pass::revert`]). A Worker that Cloudflare
//! will not roll back (the commit created it, or applied a Durable Object migration: FS002) is
//! reported as such; the others are still put back.

use std::collections::{BTreeMap, BTreeSet};

use flaresync_journal::{Action as JournalAction, Entry, Outcome, Recorded};
use flaresync_plan::Plan;
use tracing::{error, info, warn};

use super::{
    PassInput,
    apply::{
        Previous,
        restore::{redeploy, restore_settings},
    },
    commit_hold,
    memory::Memory,
    report::{WorkerOutcome, WorkerReport},
    rollout::{deployments_of, previous_version},
    short,
};
use crate::{
    error::Error,
    rollout::{Phase, RolloutReport, record},
};

/// The abort to carry out: the Worker whose rollout failed, its commit and why.
pub(super) struct Abort<'a> {
    pub worker: &'a str,
    pub commit: &'a str,
    pub reason: &'a str,
}

/// What the journal says commit `commit` did to one Worker.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Changed {
    /// Versions of the commit (uploaded, deployed, rollout steps).
    pub versions: BTreeSet<String>,
    /// Non-versioned settings written for the commit.
    pub settings: Vec<String>,
    /// The commit reached the Worker through a script upload (a first deploy or a Durable
    /// Object migration).
    pub script_upload: bool,
    pub digest: Option<flaresync_config::Digest>,
}

/// Pure: what `commit` changed on a Worker, from its journal entries. `None` when nothing.
pub(super) fn changed_by(entries: &[Recorded], commit: &str) -> Option<Changed> {
    let mut changed = Changed::default();
    let mut any = false;
    for recorded in entries {
        let entry = &recorded.entry;
        if entry.commit.as_deref() != Some(commit) || entry.outcome != Outcome::Success {
            continue;
        }
        let step = matches!(&entry.action, JournalAction::Other(a) if a == record::STEP);
        match &entry.action {
            JournalAction::Upload | JournalAction::Deploy => {}
            JournalAction::Settings => {
                if let Some(fields) = entry.message.strip_prefix(SETTINGS_PREFIX) {
                    for field in fields.split(", ") {
                        if !changed.settings.iter().any(|f| f == field) {
                            changed.settings.push(field.to_owned());
                        }
                    }
                }
            }
            _ if step => {}
            _ => continue,
        }
        any = true;
        if let Some(version) = &entry.version_id {
            changed.versions.insert(version.clone());
        }
        if entry.action == JournalAction::Deploy && entry.message.starts_with("script upload") {
            changed.script_upload = true;
        }
        if entry.digest.is_some() {
            changed.digest = entry.digest.clone();
        }
    }
    any.then_some(changed)
}

/// How `step.rs` journals written settings (`updated settings: crons, workers_dev`).
const SETTINGS_PREFIX: &str = "updated settings: ";

/// Puts every Worker `abort.commit` changed back, callers first.
///
/// # Errors
///
/// Only journal failures: a Worker that cannot be put back is reported, the others go on.
pub(super) async fn abort_commit(
    input: &PassInput<'_>,
    memory: &mut Memory,
    plan: &Plan,
    abort: &Abort<'_>,
    hold: &mut BTreeSet<String>,
    reports: &mut BTreeMap<String, WorkerReport>,
) -> Result<(), Error> {
    let ctx = input.ctx;
    let intent = |outcome: Outcome, message: String| {
        Entry::new(
            abort.worker,
            JournalAction::Other(record::ABORT.into()),
            outcome,
            input.trigger.clone(),
        )
        .commit(abort.commit)
        .message(message)
    };
    ctx.journal
        .record(&intent(Outcome::Started, abort.reason.to_owned()))?;
    error!(worker = %abort.worker, commit = %short(abort.commit), reason = %abort.reason, "Rollout aborted; putting every Worker of the commit back.");
    let mut order: Vec<&str> = plan.order.deploy.iter().rev().map(String::as_str).collect();
    for worker in &plan.workers {
        if !order.contains(&worker.name.as_str()) {
            order.push(&worker.name);
        }
    }
    let mut summary: Vec<String> = Vec::new();
    let mut put: BTreeSet<String> = BTreeSet::new();
    for worker in order {
        let entries = ctx.journal.history(worker)?;
        let Some(changed) = changed_by(&entries, abort.commit) else {
            continue;
        };
        let report = reports
            .entry(worker.to_owned())
            .or_insert_with(|| WorkerReport::new(worker, "rollback"));
        let result = put_back(input, memory, worker, abort, &changed, report).await?;
        summary.push(format!("{worker}: {result}"));
        hold.insert(worker.to_owned());
        put.insert(worker.to_owned());
    }
    for worker in hold_the_rest(input, memory, abort, &put, hold, reports).await? {
        summary.push(format!("{worker}: not deployed at this commit, held"));
    }
    let done = format!("{}; {}", abort.reason, summary.join("; "));
    ctx.journal.record(&intent(Outcome::Success, done))?;
    super::revert::propose(input, abort).await?;
    Ok(())
}

/// Holds the Workers the commit changed that it had not reached yet (their content never went
/// out): journaled with their rejected content, so that no later pass, nor a restarted
/// flaresync, deploys it ([`super::commit_hold`]). Returns them.
async fn hold_the_rest(
    input: &PassInput<'_>,
    memory: &mut Memory,
    abort: &Abort<'_>,
    put: &BTreeSet<String>,
    hold: &mut BTreeSet<String>,
    reports: &mut BTreeMap<String, WorkerReport>,
) -> Result<Vec<String>, Error> {
    let around =
        super::source::digests_around(input.ctx.git.clone(), abort.commit.to_owned()).await;
    let changed = match &around {
        Some((at_commit, at_parent)) => commit_hold::changed_workers(at_commit, at_parent.as_ref()),
        None => {
            warn!(commit = %short(abort.commit), "Cannot read the aborted commit in Git; only the Workers it reached are held.");
            BTreeMap::new()
        }
    };
    let mut held = Vec::new();
    for (worker, digest) in changed.into_iter().filter(|(w, _)| !put.contains(w)) {
        let message = format!(
            "commit {} rejected: {}; not deployed at this commit: held on its earlier version until Git changes it",
            short(abort.commit),
            abort.reason
        );
        let entry = Entry::new(
            &worker,
            JournalAction::Other(record::HELD.into()),
            Outcome::Skipped,
            input.trigger.clone(),
        )
        .commit(abort.commit)
        .digest(&digest)
        .message(message);
        input.ctx.journal.record(&entry)?;
        memory.applied.entry(worker.clone()).or_default().rejected =
            Some((digest, abort.commit.to_owned()));
        info!(worker = %worker, commit = %short(abort.commit), "Not deployed at the aborted commit: held.");
        if let Some(report) = reports.get_mut(&worker) {
            report.fail(&Error::RolloutAborted {
                worker: worker.clone(),
                commit: abort.commit.to_owned(),
                reason: format!(
                    "{}; this Worker was not deployed at the commit and stays on its earlier version",
                    abort.reason
                ),
            });
            report.outcome = WorkerOutcome::Blocked;
            report.held_by_commit = Some(abort.commit.to_owned());
        }
        hold.insert(worker.clone());
        held.push(worker);
    }
    Ok(held)
}

/// Puts one Worker back; returns what happened, in words.
async fn put_back(
    input: &PassInput<'_>,
    memory: &mut Memory,
    worker: &str,
    abort: &Abort<'_>,
    changed: &Changed,
    report: &mut WorkerReport,
) -> Result<String, Error> {
    let deployments = match deployments_of(input, memory, worker).await {
        Ok(deployments) => deployments,
        Err(error) => {
            report.notes.push(format!("not put back: {error}"));
            return Ok(format!("not put back ({error})"));
        }
    };
    let is_new = |id: &str| changed.versions.contains(id);
    let previous = previous_version(&deployments, &is_new);
    let active_is_new = deployments
        .first()
        .is_some_and(|d| d.versions.iter().any(|v| is_new(&v.version_id)));
    let outcome = match refusal(abort.commit, previous.as_deref(), changed, active_is_new) {
        Some(refused) => refused,
        None => match &previous {
            Some(version) if active_is_new => {
                restore(input, memory, worker, version, abort, changed, report).await?
            }
            Some(version) => format!("already back on version {version}"),
            None => "nothing to put back".to_owned(),
        },
    };
    if outcome.starts_with("no automatic rollback") {
        warn!(worker = %worker, commit = %short(abort.commit), "{outcome}");
    }
    report.notes.push(format!("rollout aborted: {outcome}"));
    let mut entry = Entry::new(
        worker,
        JournalAction::Other(record::ABORTED.into()),
        Outcome::Failure,
        input.trigger.clone(),
    )
    .commit(abort.commit)
    .message(format!(
        "commit {} rejected: {}; {outcome}",
        short(abort.commit),
        abort.reason
    ));
    if let Some(digest) = &changed.digest {
        entry = entry.digest(digest);
        let applied = memory.applied.entry(worker.to_owned()).or_default();
        applied.rejected = Some((digest.clone(), abort.commit.to_owned()));
        applied.version = previous.clone();
    }
    input.ctx.journal.record(&entry)?;
    memory.workers.remove(worker);
    let aborted = Phase::Aborted {
        reason: abort.reason.to_owned(),
    };
    match report.rollout.as_mut() {
        Some(rollout) => {
            rollout.phase = aborted;
            rollout.weight = None;
            rollout.next_check_at = None;
        }
        None => {
            report.rollout = Some(RolloutReport {
                commit: abort.commit.to_owned(),
                canary_version: changed.versions.iter().next().cloned().unwrap_or_default(),
                stable_version: previous.clone(),
                phase: aborted,
                weight: None,
                next_check_at: None,
                last_analysis: None,
            });
        }
    }
    report.requeue_after = None;
    report.live_version = previous;
    report.live_commit = None;
    report.fail(&Error::RolloutAborted {
        worker: worker.to_owned(),
        commit: abort.commit.to_owned(),
        reason: abort.reason.to_owned(),
    });
    Ok(outcome)
}

/// Pure: why Cloudflare will not put the Worker back, if it will not (legality: a first deploy
/// has no earlier version; a Durable Object migration cannot be rolled back across, FS002).
fn refusal(
    commit: &str,
    previous: Option<&str>,
    changed: &Changed,
    active_is_new: bool,
) -> Option<String> {
    match previous {
        None => Some(format!(
            "no automatic rollback possible: commit {} created it, there is no earlier version; roll forward with a fix",
            short(commit)
        )),
        Some(_) if changed.script_upload && active_is_new => Some(format!(
            "no automatic rollback possible: commit {} applied a Durable Object migration and Cloudflare refuses a rollback across it (FS002); roll forward with a fix",
            short(commit)
        )),
        Some(_) => None,
    }
}

/// Deploys `version` again and restores the settings the commit wrote; says what happened.
async fn restore(
    input: &PassInput<'_>,
    memory: &Memory,
    worker: &str,
    version: &str,
    abort: &Abort<'_>,
    changed: &Changed,
    report: &mut WorkerReport,
) -> Result<String, Error> {
    let description = format!(
        "rollout of commit {} aborted ({}); restoring version {version}",
        short(abort.commit),
        abort.reason
    );
    if redeploy(input, worker, version, &description, report)
        .await?
        .is_none()
    {
        return Ok("the rollback failed; see the notes".to_owned());
    }
    info!(worker = %worker, version = %version, "Put back after the aborted rollout.");
    // Settings are put back as Git had them just before the commit (they are not versioned:
    // the version's own commit may be older than the last settings change).
    let before = super::source::parent_of(input.ctx.git.clone(), abort.commit.to_owned()).await;
    let previous = Previous {
        version: version.to_owned(),
        commit: before.or_else(|| {
            memory
                .workers
                .get(worker)
                .and_then(|cached| cached.commits.get(version).cloned())
        }),
    };
    if !changed.settings.is_empty() {
        restore_settings(input, worker, &previous, &changed.settings, report).await?;
    }
    Ok(format!("version {version} serves again"))
}

#[cfg(test)]
mod tests {
    use flaresync_journal::{Trigger, TriggerKind};

    use super::*;

    fn recorded(
        seq: i64,
        action: JournalAction,
        commit: &str,
        version: Option<&str>,
        message: &str,
    ) -> Recorded {
        let mut entry = Entry::new(
            "api",
            action,
            Outcome::Success,
            Trigger::new(TriggerKind::Poll, None),
        )
        .commit(commit)
        .message(message);
        if let Some(version) = version {
            entry = entry.version(version);
        }
        Recorded { seq, entry }
    }

    #[test]
    fn what_a_commit_changed_comes_from_its_successful_entries() {
        let entries = vec![
            recorded(
                1,
                JournalAction::Deploy,
                "old",
                Some("v1"),
                "deploy commit old",
            ),
            recorded(
                2,
                JournalAction::Upload,
                "new",
                Some("v2"),
                "version v2 of commit new: uploaded",
            ),
            recorded(
                3,
                JournalAction::Settings,
                "new",
                None,
                "updated settings: crons, workers_dev",
            ),
            recorded(
                4,
                JournalAction::Other(record::STEP.into()),
                "new",
                Some("v2"),
                "rollout step 1/2 at 10%: x",
            ),
        ];
        let changed = changed_by(&entries, "new").expect("changed");
        assert_eq!(changed.versions, BTreeSet::from(["v2".to_owned()]));
        assert_eq!(
            changed.settings,
            vec!["crons".to_owned(), "workers_dev".to_owned()]
        );
        assert!(!changed.script_upload);
        assert_eq!(changed_by(&entries, "other"), None);
        let migrated = Changed {
            script_upload: true,
            ..Changed::default()
        };
        let refused = refusal("c0ffee0", Some("v1"), &migrated, true).expect("refused");
        assert!(refused.contains("FS002"), "{refused}");
        assert!(
            refusal("c0ffee0", None, &Changed::default(), true)
                .is_some_and(|r| r.contains("no earlier version"))
        );
        assert_eq!(
            refusal("c0ffee0", Some("v1"), &Changed::default(), true),
            None
        );
        let uploaded = vec![recorded(
            1,
            JournalAction::Deploy,
            "new",
            Some("v9"),
            "script upload deployed version v9 of commit new",
        )];
        assert!(changed_by(&uploaded, "new").expect("changed").script_upload);
    }
}
