//! Git brought back in line after an aborted rollout: a revert commit of the rejected commit on
//! `flaresync/revert-<short>`, pushed to the config repository's remote, and (with a GitHub
//! token) a pull request for it. Merging it changes nothing on Cloudflare: the reverted content
//! is what the abort put back (its digest equals the live versions', so the plan is in sync).

use flaresync_journal::{Action as JournalAction, Entry, Outcome};
use tracing::{info, warn};

use super::{PassInput, rollout_abort::Abort, short};
use crate::{
    error::Error,
    github::{PullRequest, open_pull_request},
};

/// Journal action of the revert proposal (and of its pull request).
pub(crate) const REVERT: &str = "rollout_revert";

/// Who signs the revert commits flaresync makes.
const AUTHOR: (&str, &str) = ("flaresync", "flaresync@users.noreply.invalid");

/// Proposes the revert. Best effort: a failure is journaled and logged, never fails the pass
/// (the commit is rejected either way).
///
/// # Errors
///
/// Only journal failures.
pub(super) async fn propose(input: &PassInput<'_>, abort: &Abort<'_>) -> Result<(), Error> {
    let ctx = input.ctx;
    let explanation = format!(
        "flaresync aborted the progressive rollout of this commit on worker {}: {}.\n\
         Cloudflare already runs the previous versions again; merging this revert changes \
         nothing there and lets Git say what is live.",
        abort.worker, abort.reason
    );
    let git = ctx.git.clone();
    let commit = abort.commit.to_owned();
    let made = tokio::task::spawn_blocking(move || {
        let guard = git.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let oid = guard
            .source
            .resolve_commit(&commit)
            .map_err(|e| e.to_string())?;
        guard
            .source
            .propose_revert(oid, &explanation, AUTHOR)
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|made| made);
    let entry = |outcome: Outcome, message: String| {
        Entry::new(
            abort.worker,
            JournalAction::Other(REVERT.into()),
            outcome,
            input.trigger.clone(),
        )
        .commit(abort.commit)
        .message(message)
    };
    let proposal = match made {
        Ok(proposal) => proposal,
        Err(error) => {
            warn!(commit = %short(abort.commit), error = %error, "Could not propose a revert in Git.");
            let message = format!("no revert proposed: {error}; revert the commit by hand");
            ctx.journal.record(&entry(Outcome::Failure, message))?;
            return Ok(());
        }
    };
    let place = match &proposal.pushed_to {
        Some(remote) => format!("pushed to {remote}"),
        None => "in the local repository (it has no remote)".to_owned(),
    };
    info!(branch = %proposal.branch, commit = %proposal.commit, "Revert proposed in Git.");
    ctx.journal.record(&entry(
        Outcome::Success,
        format!(
            "revert {} of commit {} on branch {}, {place}",
            proposal.commit,
            short(abort.commit),
            proposal.branch
        ),
    ))?;
    let (Some(github), Some(_)) = (&ctx.options.github, &proposal.pushed_to) else {
        return Ok(());
    };
    let title = format!(
        "Revert {}: rollout aborted by flaresync",
        short(abort.commit)
    );
    let body = format!(
        "flaresync aborted the rollout of {} on worker `{}`:\n\n> {}\n\nEvery Worker the commit changed runs its previous version again. Merging this revert brings Git back in line; it changes nothing on Cloudflare.",
        abort.commit, abort.worker, abort.reason
    );
    let pull = PullRequest {
        title: &title,
        body: &body,
        head: &proposal.branch,
        base: &ctx.branch,
    };
    match open_pull_request(&ctx.options.github_http, github, &pull).await {
        Ok(url) => {
            info!(url = %url, "Pull request opened for the revert.");
            ctx.journal.record(&entry(
                Outcome::Success,
                format!("pull request for {}: {url}", proposal.branch),
            ))?;
        }
        Err(error) => {
            warn!(error = %error, "Could not open the pull request for the revert.");
            ctx.journal.record(&entry(Outcome::Failure, error))?;
        }
    }
    Ok(())
}
