//! The config repository as a source of commits: open a local repository or keep a bare clone
//! of a remote one in a cache directory, follow one branch, and report how its head moved.
//!
//! Force-pushes are expected: when the previous head is no longer an ancestor of the new head,
//! [`fetch`](GitSource::fetch) reports [`HeadUpdateKind::Rewritten`] and still moves to the new
//! head. Old objects stay in the cache, so versions built from rewritten commits can still be
//! mapped back to their trees.

use std::path::{Path, PathBuf};

use git2::{AutotagOption, FetchOptions, Oid, Repository};

use crate::credentials::Credentials;
use crate::desired::{CacheStats, DesiredError, DesiredState, DesiredStateCache};
use crate::mapping::{KnownVersion, Mapping, rebuild_mapping};
use crate::revert::{RevertCandidate, RevertError, find_revert_candidates};
use crate::stamp::{self, StampError};
use crate::tree::CommitTree;

/// Errors of [`GitSource`].
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The local path is not a Git repository.
    #[error("cannot open the git repository at {path}: {message}")]
    Open { path: PathBuf, message: String },
    /// The cache directory exists but cannot be used for a bare clone.
    #[error("cannot use {path} as the git cache directory: {message}")]
    Cache { path: PathBuf, message: String },
    /// Fetching from the remote failed (network, authentication, missing repository).
    #[error("cannot fetch branch {branch:?} from {url}: {message}")]
    Fetch {
        url: String,
        branch: String,
        message: String,
    },
    /// The followed branch does not exist.
    #[error("branch {branch:?} does not exist in {location}; check the configured branch name")]
    BranchNotFound { branch: String, location: String },
    /// A commit named by id or prefix is not in the repository.
    #[error("commit {commit} is not in the repository ({message})")]
    CommitNotFound { commit: String, message: String },
    /// Any other libgit2 failure, with what flaresync was doing.
    #[error("git error while {doing}: {message}")]
    Git { doing: String, message: String },
    /// A version tag cannot be produced.
    #[error(transparent)]
    Stamp(#[from] StampError),
    /// The tag limit forces a prefix that is ambiguous in this repository.
    #[error(
        "the commit prefix {prefix} (tag limit {limit} bytes) is ambiguous in this repository; \
         raise the tag limit"
    )]
    AmbiguousPrefix { prefix: String, limit: usize },
}

fn git_error(doing: impl Into<String>) -> impl FnOnce(git2::Error) -> SourceError {
    let doing = doing.into();
    move |error| SourceError::Git {
        doing,
        message: error.message().to_owned(),
    }
}

/// How the followed branch moved between two fetches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HeadUpdateKind {
    /// First head seen (no previous head known).
    Initial,
    /// Same commit as before.
    Unchanged,
    /// The new head descends from the old one (plain commits, merges, squash merges).
    FastForward,
    /// The old head is not an ancestor of the new one: history was rewritten (force-push,
    /// reset). The source still converges on the new head.
    Rewritten,
}

/// Result of one [`GitSource::fetch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadUpdate {
    pub old: Option<Oid>,
    pub new: Oid,
    pub kind: HeadUpdateKind,
}

/// Classifies a head move. `old_is_ancestor` is only consulted when the heads differ.
pub fn classify_head_update(
    old: Option<Oid>,
    new: Oid,
    old_is_ancestor: impl FnOnce(Oid) -> bool,
) -> HeadUpdate {
    let kind = match old {
        None => HeadUpdateKind::Initial,
        Some(old) if old == new => HeadUpdateKind::Unchanged,
        Some(old) if old_is_ancestor(old) => HeadUpdateKind::FastForward,
        Some(_) => HeadUpdateKind::Rewritten,
    };
    HeadUpdate { old, new, kind }
}

/// Commit metadata flaresync shows and stamps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitInfo {
    pub id: Oid,
    /// Full message.
    pub message: String,
    /// First line of the message.
    pub subject: String,
    pub author_name: String,
    pub author_email: String,
    /// Author time, seconds since the epoch.
    pub author_time: i64,
    /// Who committed it (`name <email>`): differs from the author after a rebase, a merge by a
    /// bot, a cherry-pick.
    pub committer: String,
    pub parents: Vec<Oid>,
}

impl CommitInfo {
    /// Seven-digit abbreviation used in explanations.
    pub fn short(&self) -> String {
        short_hex(self.id)
    }

    /// `"Name <email>"`.
    pub fn author(&self) -> String {
        format!("{} <{}>", self.author_name, self.author_email)
    }

    /// Who is behind the commit, for the journal: the author, and the committer when another.
    pub fn actor(&self) -> String {
        let author = self.author();
        if self.committer == author {
            author
        } else {
            format!("{author}, committed by {}", self.committer)
        }
    }
}

/// Seven-digit abbreviation of `oid`.
pub fn short_hex(oid: Oid) -> String {
    let mut hex = oid.to_string();
    hex.truncate(7);
    hex
}

pub(crate) enum Origin {
    Local {
        path: PathBuf,
    },
    Remote {
        url: String,
        credentials: Credentials,
    },
}

/// A config repository, following one branch.
pub struct GitSource {
    repo: Repository,
    branch: String,
    pub(crate) origin: Origin,
    last_head: Option<Oid>,
    /// For a remote: the head the clone cache held when opened (the previous run's last fetch),
    /// so the first fetch of a new process still recognises a force-push. Used whenever
    /// `last_head` is unknown.
    cached_head: Option<Oid>,
    cache: DesiredStateCache,
}

impl std::fmt::Debug for GitSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let location = match &self.origin {
            Origin::Local { path } => path.display().to_string(),
            Origin::Remote { url, .. } => redact_url(url),
        };
        f.debug_struct("GitSource")
            .field("location", &location)
            .field("branch", &self.branch)
            .field("last_head", &self.last_head)
            .finish()
    }
}

/// `url` without any `user:password@` part, for messages (the workspace's one helper).
pub use flaresync_config::url::redact_url;

const REMOTE_NAME: &str = "origin";

/// Splits `scheme://user:password@host/...` into the URL without the user information and the
/// credentials it carried (see [`flaresync_config::url::split_credentials`]). A URL without a
/// password keeps its user name.
fn split_url_credentials(url: &str) -> (String, Option<crate::credentials::HttpsCredentials>) {
    let (url, credentials) = flaresync_config::url::split_credentials(url);
    let credentials = credentials.map(|c| crate::credentials::HttpsCredentials {
        username: c.username,
        password: crate::credentials::Secret::new(c.password),
    });
    (url, credentials)
}

impl GitSource {
    /// Opens an existing local repository (bare or with a working copy) and follows `branch`.
    /// [`fetch`](Self::fetch) then only re-reads the branch ref.
    pub fn open_local(path: impl AsRef<Path>, branch: &str) -> Result<Self, SourceError> {
        let path = path.as_ref();
        let repo = Repository::open(path).map_err(|e| SourceError::Open {
            path: path.to_owned(),
            message: e.message().to_owned(),
        })?;
        Ok(GitSource {
            repo,
            branch: branch.to_owned(),
            origin: Origin::Local {
                path: path.to_owned(),
            },
            last_head: None,
            cached_head: None,
            cache: DesiredStateCache::new(),
        })
    }

    /// Follows `branch` of the remote `url` (https, ssh, file), keeping a bare clone in
    /// `cache_dir` (created if missing, reused if it already holds one). Nothing is fetched
    /// until [`fetch`](Self::fetch).
    pub fn remote(
        url: &str,
        cache_dir: impl AsRef<Path>,
        branch: &str,
        credentials: Credentials,
    ) -> Result<Self, SourceError> {
        let cache_dir = cache_dir.as_ref();
        let cache_error = |message: String| SourceError::Cache {
            path: cache_dir.to_owned(),
            message,
        };
        let repo = match Repository::open_bare(cache_dir) {
            Ok(repo) => repo,
            Err(_) => {
                let occupied = std::fs::read_dir(cache_dir)
                    .map(|mut entries| entries.next().is_some())
                    .unwrap_or(false);
                if occupied {
                    return Err(cache_error(
                        "the directory is not empty and is not a bare git repository; \
                         point the cache at an empty or flaresync-owned directory"
                            .into(),
                    ));
                }
                Repository::init_bare(cache_dir).map_err(|e| cache_error(e.message().into()))?
            }
        };
        // Credentials written into the URL (`https://user:token@host/...`) never reach the
        // clone's config on disk: the URL is stored and used without them, and they are handed
        // to libgit2 through the credential callback instead (unless the environment set some).
        let (url, from_url) = split_url_credentials(url);
        let credentials = match (credentials.https.is_some(), from_url) {
            (false, Some(https)) => Credentials {
                https: Some(https),
                ..credentials
            },
            _ => credentials,
        };
        let url = url.as_str();
        match repo.find_remote(REMOTE_NAME) {
            Ok(remote) if remote.url().ok() == Some(url) => {}
            Ok(_) => repo
                .remote_set_url(REMOTE_NAME, url)
                .map_err(|e| cache_error(e.message().into()))?,
            Err(_) => {
                repo.remote(REMOTE_NAME, url)
                    .map_err(|e| cache_error(e.message().into()))?;
            }
        }
        // What the previous run fetched (absent in a fresh cache).
        let cached_head = repo
            .find_reference(&format!("refs/remotes/{REMOTE_NAME}/{branch}"))
            .and_then(|reference| reference.peel_to_commit())
            .map(|commit| commit.id())
            .ok();
        Ok(GitSource {
            repo,
            branch: branch.to_owned(),
            origin: Origin::Remote {
                url: url.to_owned(),
                credentials,
            },
            last_head: None,
            cached_head,
            cache: DesiredStateCache::new(),
        })
    }

    /// The branch the remote's `HEAD` points at (what `git clone` checks out), asked over the
    /// network with the source's credentials. Only for remotes: a local source answers
    /// [`SourceError::Git`]. Use it when no branch is configured.
    pub fn remote_default_branch(&self) -> Result<String, SourceError> {
        let Origin::Remote { url, credentials } = &self.origin else {
            return Err(SourceError::Git {
                doing: "asking for the remote's default branch".into(),
                message: "the repository is local; read its HEAD instead".into(),
            });
        };
        let fetch_error = |error: git2::Error| SourceError::Fetch {
            url: redact_url(url),
            branch: "HEAD".into(),
            message: error.message().to_owned(),
        };
        let mut remote = self.repo.find_remote(REMOTE_NAME).map_err(fetch_error)?;
        let mut proxy = git2::ProxyOptions::new();
        proxy.auto();
        let connection = remote
            .connect_auth(
                git2::Direction::Fetch,
                Some(credentials.callbacks()),
                Some(proxy),
            )
            .map_err(fetch_error)?;
        let head = connection
            .default_branch()
            .map_err(|_| SourceError::Fetch {
                url: redact_url(url),
                branch: "HEAD".into(),
                message: "the remote names no default branch (its HEAD points at no existing \
                          branch); configure the branch to follow"
                    .into(),
            })?;
        let head = head.as_str().map_err(|_| SourceError::Fetch {
            url: redact_url(url),
            branch: "HEAD".into(),
            message: "the remote's HEAD names a branch that is not valid UTF-8".into(),
        })?;
        Ok(head.strip_prefix("refs/heads/").unwrap_or(head).to_owned())
    }

    /// Sets the head flaresync last acted on (e.g. from the journal after a restart), so the
    /// next fetch classifies the move relative to it instead of reporting `Initial`. `None`
    /// forgets it: a remote then falls back to the head its clone cache held when opened.
    pub fn set_last_head(&mut self, head: Option<Oid>) {
        self.last_head = head;
    }

    /// The head seen by the last fetch.
    pub fn last_head(&self) -> Option<Oid> {
        self.last_head
    }

    /// The followed branch.
    pub fn branch(&self) -> &str {
        &self.branch
    }

    /// The underlying repository (the bare cache for a remote).
    pub fn repo(&self) -> &Repository {
        &self.repo
    }

    /// Fetches the branch (remote) or re-reads it (local) and reports how its head moved.
    pub fn fetch(&mut self) -> Result<HeadUpdate, SourceError> {
        let reference = self.fetch_reference()?;
        let new = self.resolve_ref(&reference)?;
        let repo = &self.repo;
        let update = classify_head_update(self.last_head.or(self.cached_head), new, |old| {
            // A missing old commit (gc'd after a force-push) counts as rewritten history.
            repo.graph_descendant_of(new, old).unwrap_or(false)
        });
        match update.kind {
            HeadUpdateKind::Rewritten => tracing::warn!(
                branch = %self.branch,
                old = %update.old.map(short_hex).unwrap_or_default(),
                new = %short_hex(new),
                "Branch history was rewritten; following the new head."
            ),
            HeadUpdateKind::Unchanged => {}
            _ => {
                tracing::info!(branch = %self.branch, head = %short_hex(new), "Branch head moved.")
            }
        }
        self.last_head = Some(new);
        Ok(update)
    }

    /// The branch's head now (fetched for a remote), without taking it as the head flaresync
    /// acts on: the next [`fetch`](Self::fetch) still reports the move from the last one. For a
    /// look at a newer commit in the middle of a pass.
    pub fn peek_head(&self) -> Result<Oid, SourceError> {
        let reference = self.fetch_reference()?;
        self.resolve_ref(&reference)
    }

    /// Fetches the branch into its tracking ref (remote); the ref holding the branch's head.
    fn fetch_reference(&self) -> Result<String, SourceError> {
        Ok(match &self.origin {
            Origin::Local { .. } => format!("refs/heads/{}", self.branch),
            Origin::Remote { url, credentials } => {
                let tracking = format!("refs/remotes/{REMOTE_NAME}/{}", self.branch);
                let refspec = format!("+refs/heads/{}:{tracking}", self.branch);
                let fetch_error = |error: git2::Error| SourceError::Fetch {
                    url: redact_url(url),
                    branch: self.branch.clone(),
                    message: error.message().to_owned(),
                };
                let mut remote = self.repo.find_remote(REMOTE_NAME).map_err(fetch_error)?;
                let mut options = FetchOptions::new();
                options.remote_callbacks(credentials.callbacks());
                options.download_tags(AutotagOption::None);
                // A branch deleted on the remote must not leave a stale tracking ref behind to
                // be deployed forever: prune it, so the branch reads as missing.
                options.prune(git2::FetchPrune::On);
                let mut proxy = git2::ProxyOptions::new();
                proxy.auto();
                options.proxy_options(proxy);
                remote
                    .fetch(&[refspec.as_str()], Some(&mut options), None)
                    .map_err(fetch_error)?;
                tracking
            }
        })
    }

    fn location(&self) -> String {
        match &self.origin {
            Origin::Local { path } => path.display().to_string(),
            Origin::Remote { url, .. } => redact_url(url),
        }
    }

    fn resolve_ref(&self, reference: &str) -> Result<Oid, SourceError> {
        match self.repo.find_reference(reference) {
            Ok(found) => found
                .peel_to_commit()
                .map(|commit| commit.id())
                .map_err(git_error(format!("reading {reference}"))),
            Err(e) if e.code() == git2::ErrorCode::NotFound => Err(SourceError::BranchNotFound {
                branch: self.branch.clone(),
                location: self.location(),
            }),
            Err(e) => Err(git_error(format!("reading {reference}"))(e)),
        }
    }

    /// The tree of `commit`, readable by the config loader.
    pub fn commit_tree(&self, commit: Oid) -> Result<CommitTree<'_>, SourceError> {
        CommitTree::new(&self.repo, commit).map_err(|e| SourceError::CommitNotFound {
            commit: commit.to_string(),
            message: e.message().to_owned(),
        })
    }

    /// Metadata of `commit`.
    pub fn commit_info(&self, commit: Oid) -> Result<CommitInfo, SourceError> {
        commit_info(&self.repo, commit)
    }

    /// Commits reachable from `new` but not from `old`, oldest first (what a head move brought
    /// in; after a rewrite, the new side of the fork).
    pub fn commits_between(&self, old: Option<Oid>, new: Oid) -> Result<Vec<Oid>, SourceError> {
        let mut walk = self.repo.revwalk().map_err(git_error("walking history"))?;
        walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::REVERSE)
            .map_err(git_error("walking history"))?;
        walk.push(new).map_err(git_error("walking history"))?;
        if let Some(old) = old {
            // An unknown old head (gc'd) hides nothing.
            if self.repo.find_commit(old).is_ok() {
                walk.hide(old).map_err(git_error("walking history"))?;
            }
        }
        walk.collect::<Result<Vec<_>, _>>()
            .map_err(git_error("walking history"))
    }

    /// The `workers/tag` for `commit` under a tag limit of `limit` bytes, checked to be an
    /// unambiguous prefix in this repository.
    pub fn version_tag(&self, commit: Oid, limit: usize) -> Result<String, SourceError> {
        let tag = stamp::version_tag(&commit.to_string(), limit)?;
        if tag.len() < commit.to_string().len() {
            match self.repo.find_object_by_prefix(&tag, None) {
                Ok(object) if object.id() == commit => {}
                _ => return Err(SourceError::AmbiguousPrefix { prefix: tag, limit }),
            }
        }
        Ok(tag)
    }

    /// The `workers/message` for `commit`.
    pub fn version_message(&self, commit: Oid, limit: usize) -> Result<String, SourceError> {
        let info = self.commit_info(commit)?;
        Ok(stamp::version_message(&info.subject, &info.author(), limit))
    }

    /// Resolves a full id or unambiguous prefix to a commit of this repository.
    pub fn resolve_commit(&self, hex: &str) -> Result<Oid, SourceError> {
        resolve_commit(&self.repo, hex)
    }

    /// Every Worker's desired state at `commit` (incremental; see [`DesiredStateCache`]).
    pub fn desired_state(&mut self, commit: Oid) -> Result<DesiredState, DesiredError> {
        self.cache.desired_state(&self.repo, commit)
    }

    /// `flaresync.toml` at `commit` (defaults when absent), without loading any Worker.
    /// Unlike going through [`commit_tree`](Self::commit_tree), nothing stays borrowed.
    pub fn repo_config_at(
        &self,
        commit: Oid,
    ) -> Result<(flaresync_config::RepoConfig, Vec<flaresync_config::Warning>), DesiredError> {
        let tree = CommitTree::new(&self.repo, commit).map_err(|e| DesiredError::Commit {
            commit,
            message: e.message().to_owned(),
        })?;
        flaresync_config::load_repo_config(&tree).map_err(|source| DesiredError::RepoConfig {
            commit,
            source: std::sync::Arc::new(source),
        })
    }

    /// Counters of the desired-state cache (re-reads vs reuse).
    pub fn cache_stats(&self) -> CacheStats {
        self.cache.stats()
    }

    /// Rebuilds which version of `worker` holds which commit and digest from Cloudflare's
    /// version list (`(version_id, workers/tag)`). See [`rebuild_mapping`].
    pub fn rebuild_mapping(
        &mut self,
        worker: &str,
        versions: &[(String, Option<String>)],
    ) -> Result<Mapping, DesiredError> {
        rebuild_mapping(&self.repo, &mut self.cache, worker, versions)
    }

    /// Rollback candidates at `head` given the uploaded versions. See
    /// [`find_revert_candidates`].
    pub fn revert_candidates(
        &mut self,
        head: &DesiredState,
        known: &[KnownVersion],
    ) -> Result<Vec<RevertCandidate>, RevertError> {
        find_revert_candidates(&self.repo, &mut self.cache, head, known)
    }
}

/// Metadata of `commit` in `repo`.
pub fn commit_info(repo: &Repository, commit: Oid) -> Result<CommitInfo, SourceError> {
    let found = repo
        .find_commit(commit)
        .map_err(|e| SourceError::CommitNotFound {
            commit: commit.to_string(),
            message: e.message().to_owned(),
        })?;
    let message = String::from_utf8_lossy(found.message_bytes()).into_owned();
    let author = found.author();
    Ok(CommitInfo {
        id: commit,
        subject: stamp::subject_of(&message).to_owned(),
        message,
        author_name: String::from_utf8_lossy(author.name_bytes()).into_owned(),
        author_email: String::from_utf8_lossy(author.email_bytes()).into_owned(),
        author_time: author.when().seconds(),
        committer: {
            let committer = found.committer();
            format!(
                "{} <{}>",
                String::from_utf8_lossy(committer.name_bytes()),
                String::from_utf8_lossy(committer.email_bytes())
            )
        },
        parents: found.parent_ids().collect(),
    })
}

/// Resolves a full id or unambiguous prefix to a commit of `repo`.
pub fn resolve_commit(repo: &Repository, hex: &str) -> Result<Oid, SourceError> {
    repo.find_commit_by_prefix(hex)
        .map(|commit| commit.id())
        .map_err(|e| SourceError::CommitNotFound {
            commit: hex.to_owned(),
            message: e.message().to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oid(n: u8) -> Oid {
        Oid::from_bytes(&[n; 20]).expect("20 bytes")
    }

    #[test]
    fn head_update_classification() {
        let never = |_| panic!("ancestry must not be consulted");
        assert_eq!(
            classify_head_update(None, oid(1), never).kind,
            HeadUpdateKind::Initial
        );
        assert_eq!(
            classify_head_update(Some(oid(1)), oid(1), never).kind,
            HeadUpdateKind::Unchanged
        );
        assert_eq!(
            classify_head_update(Some(oid(1)), oid(2), |_| true).kind,
            HeadUpdateKind::FastForward
        );
        let rewritten = classify_head_update(Some(oid(1)), oid(2), |_| false);
        assert_eq!(rewritten.kind, HeadUpdateKind::Rewritten);
        assert_eq!(rewritten.old, Some(oid(1)));
        assert_eq!(rewritten.new, oid(2));
    }

    #[test]
    fn urls_lose_their_userinfo() {
        assert_eq!(
            redact_url("https://user:tok@github.com/o/r.git"),
            "https://[redacted]@github.com/o/r.git"
        );
        assert_eq!(
            redact_url("https://github.com/o/r.git"),
            "https://github.com/o/r.git"
        );
        assert_eq!(
            redact_url("git@github.com:o/r.git"),
            "git@github.com:o/r.git"
        );
    }

    #[test]
    fn credentials_in_a_url_never_reach_the_clone_config_on_disk() {
        let (url, credentials) =
            split_url_credentials("https://bob:ghp_SECRET@example.invalid/acme/config.git");
        assert_eq!(url, "https://example.invalid/acme/config.git");
        let credentials = credentials.expect("user and password are taken from the URL");
        assert_eq!(credentials.username, "bob");
        assert_eq!(credentials.password.expose(), "ghp_SECRET");
        assert_eq!(
            split_url_credentials("https://example.invalid/r.git"),
            ("https://example.invalid/r.git".to_owned(), None)
        );
        assert_eq!(
            split_url_credentials("ssh://git@example.invalid/r.git").0,
            "ssh://git@example.invalid/r.git"
        );

        let cache = tempfile::tempdir().expect("tempdir");
        let source = GitSource::remote(
            "https://bob:ghp_SECRET@example.invalid/acme/config.git",
            cache.path(),
            "main",
            Credentials::none(),
        )
        .expect("the clone cache is created without any network access");
        drop(source);
        let config = std::fs::read_to_string(cache.path().join("config")).expect("git config");
        assert!(!config.contains("ghp_SECRET"), "{config}");
        assert!(
            config.contains("https://example.invalid/acme/config.git"),
            "{config}"
        );
    }

    /// A password with an unencoded `/` (or `@`, `:`, `%`) used to escape the split and be
    /// written, whole, into `<state>/clone/config`.
    #[test]
    fn a_password_with_a_slash_never_reaches_the_clone_config() {
        for password in ["gh/p_SECRET", "gh@p:SE%CRET/x"] {
            let url = format!("https://bob:{password}@example.invalid/acme/config.git");
            let (bare, credentials) = split_url_credentials(&url);
            assert_eq!(bare, "https://example.invalid/acme/config.git");
            let credentials = credentials.expect("user and password are taken from the URL");
            assert_eq!(credentials.password.expose(), password);
            let cache = tempfile::tempdir().expect("tempdir");
            let source = GitSource::remote(&url, cache.path(), "main", Credentials::none())
                .expect("the clone cache is created without any network access");
            assert!(!format!("{source:?}").contains("SECRET"));
            drop(source);
            let config = std::fs::read_to_string(cache.path().join("config")).expect("config");
            assert!(!config.contains("SECRET"), "{config}");
        }
    }
}
