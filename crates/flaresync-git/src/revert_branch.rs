//! Creating a revert commit on a branch of its own and pushing it: how flaresync brings Git
//! back in line after it aborted a rollout (Git still says "deploy the bad commit"; the revert
//! says what Cloudflare already runs).

use git2::{Oid, PushOptions, Repository, Signature};

use crate::revert_message::format_revert;
use crate::source::{GitSource, Origin, SourceError, short_hex};

/// The branch a revert of `commit` goes on: `flaresync/revert-<short>`.
pub fn revert_branch_name(commit: Oid) -> String {
    format!("flaresync/revert-{}", short_hex(commit))
}

/// A revert proposed in Git.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevertProposal {
    pub branch: String,
    /// The revert commit.
    pub commit: Oid,
    /// The remote the branch was pushed to (credentials removed), `None` when the repository
    /// has no remote (a local repository without `origin`: the branch exists there only).
    pub pushed_to: Option<String>,
}

/// Commits a revert of `commit` onto `onto` as `refs/heads/<branch>` (no working tree needed).
/// An existing branch is kept as it is (the revert was proposed before).
///
/// # Errors
///
/// The commits cannot be read, or reverting conflicts with what `onto` holds.
pub fn commit_revert(
    repo: &Repository,
    commit: Oid,
    onto: Oid,
    explanation: &str,
    signature: &Signature<'_>,
) -> Result<(String, Oid), SourceError> {
    let branch = revert_branch_name(commit);
    let reference = format!("refs/heads/{branch}");
    let failed = |doing: &str| {
        let doing = doing.to_owned();
        move |e: git2::Error| SourceError::Git {
            doing: doing.clone(),
            message: e.message().to_owned(),
        }
    };
    if let Ok(existing) = repo.find_reference(&reference)
        && let Ok(tip) = existing.peel_to_commit()
    {
        return Ok((branch, tip.id()));
    }
    let reverted = repo
        .find_commit(commit)
        .map_err(failed("reading the commit to revert"))?;
    let base = repo
        .find_commit(onto)
        .map_err(failed("reading the branch head"))?;
    let mut index = repo
        .revert_commit(&reverted, &base, 0, None)
        .map_err(failed("reverting the commit"))?;
    if index.has_conflicts() {
        return Err(SourceError::Git {
            doing: format!("reverting commit {}", short_hex(commit)),
            message: format!(
                "the revert conflicts with the branch head {}; revert it by hand",
                short_hex(onto)
            ),
        });
    }
    let tree = index
        .write_tree_to(repo)
        .and_then(|id| repo.find_tree(id))
        .map_err(failed("writing the revert's tree"))?;
    let subject = reverted.summary().ok().flatten().unwrap_or("the commit");
    let message = format!(
        "{}\n{explanation}\n",
        format_revert(subject, &commit.to_string())
    );
    let id = repo
        .commit(
            Some(&reference),
            signature,
            signature,
            &message,
            &tree,
            &[&base],
        )
        .map_err(failed("committing the revert"))?;
    Ok((branch, id))
}

impl GitSource {
    /// Reverts `commit` onto the followed branch's head (signed by `name <email>`) on `flaresync/revert-<short>` and pushes
    /// that branch to the repository's remote (`origin` of a local repository, the followed URL
    /// of a remote one, with the source's credentials).
    ///
    /// # Errors
    ///
    /// The revert cannot be made (see [`commit_revert`]) or the push fails.
    pub fn propose_revert(
        &self,
        commit: Oid,
        explanation: &str,
        (name, email): (&str, &str),
    ) -> Result<RevertProposal, SourceError> {
        let onto = self.last_head().unwrap_or(commit);
        let signature = Signature::now(name, email).map_err(|e| SourceError::Git {
            doing: "signing the revert".into(),
            message: e.message().to_owned(),
        })?;
        let (branch, id) = commit_revert(self.repo(), commit, onto, explanation, &signature)?;
        let refspec = format!("refs/heads/{branch}:refs/heads/{branch}");
        let push_error = |url: &str| {
            let doing = format!("pushing {branch} to {}", crate::source::redact_url(url));
            move |e: git2::Error| SourceError::Git {
                doing,
                message: e.message().to_owned(),
            }
        };
        let (remote_url, credentials) = match &self.origin {
            Origin::Remote { url, credentials } => (url.clone(), credentials.clone()),
            // A local repository's `origin` is reached with the environment's credentials.
            Origin::Local { .. } => match self.repo().find_remote("origin") {
                Ok(remote) => match remote.url().ok() {
                    Some(url) => (
                        url.to_owned(),
                        crate::Credentials::from_env()
                            .unwrap_or_else(|_| crate::Credentials::none()),
                    ),
                    None => {
                        return Ok(RevertProposal {
                            branch,
                            commit: id,
                            pushed_to: None,
                        });
                    }
                },
                Err(_) => {
                    return Ok(RevertProposal {
                        branch,
                        commit: id,
                        pushed_to: None,
                    });
                }
            },
        };
        let mut remote = self
            .repo()
            .find_remote("origin")
            .map_err(push_error(&remote_url))?;
        let mut options = PushOptions::new();
        options.remote_callbacks(credentials.callbacks());
        remote
            .push(&[refspec.as_str()], Some(&mut options))
            .map_err(push_error(&remote_url))?;
        Ok(RevertProposal {
            branch,
            commit: id,
            pushed_to: Some(crate::source::redact_url(&remote_url)),
        })
    }
}
