//! The reconcile error and its classification into the loop's taxonomy.
//!
//! Every variant says when it happens; [`Error::class`] sorts it into Stalled / Waiting /
//! Transient with a stable [`Reason`] (see [`crate::policy`]). Messages never carry secrets:
//! the Cloudflare client's errors name method and path only, git errors redact URLs.

use std::time::Duration;

use crate::policy::{Class, Reason};

/// How long to wait after a 429 that came without a usable `Retry-After`.
const DEFAULT_RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The repository could not be opened, fetched or read.
    #[error("failed to read the config repository: {0}")]
    Git(#[from] flaresync_git::SourceError),

    /// The desired state at a commit could not be computed (invalid `flaresync.toml`,
    /// unreadable tree).
    #[error("failed to compute the desired state: {0}")]
    Desired(#[from] flaresync_git::desired::DesiredError),

    /// A Cloudflare API call failed.
    #[error("{operation} failed: {source}")]
    Api {
        operation: String,
        #[source]
        source: flaresync_cloudflare::Error,
    },

    /// The journal could not be opened, read or written.
    #[error("journal error: {0}")]
    Journal(#[from] flaresync_journal::JournalError),

    /// The Worker's config at the head commit does not load; it needs a fixing commit.
    #[error("config of worker {worker} is invalid: {message}")]
    ConfigInvalid { worker: String, message: String },

    /// The planner refused the action for this Worker (illegal rollback, broken config, ...).
    #[error("worker {worker} is blocked: {findings}")]
    Blocked { worker: String, findings: String },

    /// After a write, the active deployment is not the one flaresync created.
    #[error(
        "verification failed for worker {worker}: expected the active deployment to serve {expected}, found {actual}"
    )]
    VerifyFailed {
        worker: String,
        expected: String,
        actual: String,
    },

    /// The post-deploy health check failed for the commit (the Worker was rolled back when a
    /// previous version was known).
    #[error("health check of worker {worker} failed for commit {commit}: {message}")]
    HealthCheckFailed {
        worker: String,
        commit: String,
        message: String,
    },

    /// A Worker drifted, the policy is `heal`, and healing it failed.
    #[error("could not heal drift of worker {worker}: {message}")]
    DriftHeal { worker: String, message: String },

    /// The loop itself could not start (watcher, signal handler).
    #[error(transparent)]
    Run(#[from] crate::runner::RunError),

    /// The loop is shutting down; the work was not started.
    #[error("reconcile cancelled by shutdown")]
    Cancelled,

    /// A blocking task (git access) panicked or was cancelled.
    #[error("internal task failed: {0}")]
    Task(String),

    /// An invariant did not hold (a bug); the message says which.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub(crate) fn api(operation: impl Into<String>, source: flaresync_cloudflare::Error) -> Self {
        Error::Api {
            operation: operation.into(),
            source,
        }
    }

    /// The loop's classification of this error.
    pub fn class(&self) -> Class {
        match self {
            Error::Git(flaresync_git::SourceError::Stamp(_)) => Class::Stalled {
                reason: Reason::Internal,
            },
            Error::Git(_) => Class::Transient {
                reason: Reason::GitFetchFailed,
            },
            Error::Desired(flaresync_git::desired::DesiredError::RepoConfig { .. }) => {
                Class::Stalled {
                    reason: Reason::ConfigInvalid,
                }
            }
            Error::Desired(_) => Class::Transient {
                reason: Reason::GitFetchFailed,
            },
            Error::Api { source, .. } => classify_api(source),
            Error::Journal(_) => Class::Transient {
                reason: Reason::JournalFailed,
            },
            Error::ConfigInvalid { .. } => Class::Stalled {
                reason: Reason::ConfigInvalid,
            },
            Error::Blocked { .. } => Class::Stalled {
                reason: Reason::RollbackBlocked,
            },
            Error::VerifyFailed { .. } => Class::Transient {
                reason: Reason::VerifyFailed,
            },
            Error::HealthCheckFailed { .. } => Class::Stalled {
                reason: Reason::HealthCheckFailed,
            },
            Error::DriftHeal { .. } => Class::Transient {
                reason: Reason::DriftHealFailed,
            },
            Error::Run(_) => Class::Stalled {
                reason: Reason::Internal,
            },
            Error::Cancelled => Class::Transient {
                reason: Reason::Cancelled,
            },
            Error::Task(_) | Error::Internal(_) => Class::Transient {
                reason: Reason::Internal,
            },
        }
    }

    /// Shorthand for `self.class().reason()`.
    pub fn reason(&self) -> Reason {
        self.class().reason()
    }
}

/// Sorts a Cloudflare client error: rate limits wait, transport trouble and 5xx back off,
/// refused credentials and rejected requests stall (they need a human or a commit).
pub fn classify_api(error: &flaresync_cloudflare::Error) -> Class {
    if error.is_rate_limited() {
        return Class::Waiting {
            reason: Reason::ApiRateLimited,
            after: error.retry_after().unwrap_or(DEFAULT_RATE_LIMIT_WAIT),
        };
    }
    if error.is_transient() {
        return Class::Transient {
            reason: Reason::ApiUnavailable,
        };
    }
    match error {
        // Unknown outcome: the next pass re-reads live state before writing again.
        flaresync_cloudflare::Error::OutcomeUnknown { .. }
        | flaresync_cloudflare::Error::VerificationFailed { .. }
        | flaresync_cloudflare::Error::Decode { .. } => Class::Transient {
            reason: Reason::ApiUnavailable,
        },
        _ => match error.api().map(|api| api.status) {
            Some(401 | 403) => Class::Stalled {
                reason: Reason::ApiUnauthorized,
            },
            _ => Class::Stalled {
                reason: Reason::ApiRejected,
            },
        },
    }
}
