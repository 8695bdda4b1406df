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
    Git(flaresync_git::SourceError),

    /// The desired state at a commit could not be computed (invalid `flaresync.toml`,
    /// unreadable tree).
    #[error("failed to compute the desired state: {0}")]
    Desired(flaresync_git::desired::DesiredError),

    /// A Cloudflare API call failed.
    #[error("{operation} failed: {error}")]
    Api {
        operation: String,
        error: flaresync_cloudflare::Error,
    },

    /// The journal could not be opened, read or written.
    #[error("journal error: {0}")]
    Journal(flaresync_journal::JournalError),

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

    /// A route, custom domain or queue consumer the Worker declares cannot be applied: it belongs
    /// to another Worker, or its zone or queue does not exist. Needs a human or a commit.
    #[error("routes, custom domains or queue consumers of worker {worker} not applied: {message}")]
    Triggers { worker: String, message: String },

    /// A progressive rollout of the commit was aborted: every Worker the commit changed was put
    /// back where possible, and the commit is rejected until Git changes.
    #[error(
        "rollout of commit {commit} aborted for worker {worker}: {reason}; the commit is rejected until Git changes (merge the revert flaresync proposed, or push a fix)"
    )]
    RolloutAborted {
        worker: String,
        commit: String,
        reason: String,
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

// The wrapped errors are part of each message (reports and the journal keep only the text), so
// they are not also exposed as `source()`: a chain printer (`{:#}`) would show them twice.
impl From<flaresync_git::SourceError> for Error {
    fn from(error: flaresync_git::SourceError) -> Self {
        Error::Git(error)
    }
}

impl From<flaresync_git::desired::DesiredError> for Error {
    fn from(error: flaresync_git::desired::DesiredError) -> Self {
        Error::Desired(error)
    }
}

impl From<flaresync_journal::JournalError> for Error {
    fn from(error: flaresync_journal::JournalError) -> Self {
        Error::Journal(error)
    }
}

impl Error {
    pub(crate) fn api(operation: impl Into<String>, source: flaresync_cloudflare::Error) -> Self {
        Error::Api {
            operation: operation.into(),
            error: source,
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
            Error::Api { error, .. } => classify_api(error),
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
            Error::HealthCheckFailed { .. } | Error::RolloutAborted { .. } => Class::Stalled {
                reason: Reason::HealthCheckFailed,
            },
            Error::Triggers { .. } => Class::Stalled {
                reason: Reason::TriggerConflict,
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

#[cfg(test)]
mod tests {
    use super::*;
    use flaresync_cloudflare::{ApiError, ApiMessage, Error as CfError};

    fn api(status: u16, code: i64) -> CfError {
        CfError::Api(ApiError {
            status,
            errors: vec![ApiMessage {
                code,
                message: "refused".into(),
            }],
            method: "POST".into(),
            path: "/accounts/a/workers/scripts/api/deployments".into(),
        })
    }

    #[test]
    fn api_errors_are_sorted_into_the_taxonomy() {
        let cases = [
            (
                api(429, 971),
                Class::Waiting {
                    reason: Reason::ApiRateLimited,
                    after: DEFAULT_RATE_LIMIT_WAIT,
                },
            ),
            (
                CfError::RateLimited {
                    method: "GET".into(),
                    path: "/x".into(),
                    retry_after: Duration::from_secs(240),
                    max: Duration::from_secs(60),
                },
                Class::Waiting {
                    reason: Reason::ApiRateLimited,
                    after: Duration::from_secs(240),
                },
            ),
            (
                api(503, 10002),
                Class::Transient {
                    reason: Reason::ApiUnavailable,
                },
            ),
            (
                api(403, 10000),
                Class::Stalled {
                    reason: Reason::ApiUnauthorized,
                },
            ),
            (
                api(400, 10220),
                Class::Stalled {
                    reason: Reason::ApiRejected,
                },
            ),
            (
                CfError::OutcomeUnknown {
                    method: "POST".into(),
                    path: "/x".into(),
                    reason: "no tag",
                    last: Box::new(api(500, 10002)),
                },
                Class::Transient {
                    reason: Reason::ApiUnavailable,
                },
            ),
        ];
        for (error, expected) in cases {
            let text = error.to_string();
            assert_eq!(classify_api(&error), expected, "{text}");
            assert_eq!(Error::api("deploying api", error).class(), expected);
        }
    }

    #[test]
    fn reconcile_errors_have_stable_reasons() {
        let cases = [
            (
                Error::Blocked {
                    worker: "api".into(),
                    findings: "FS001".into(),
                },
                "Stalled",
                "RollbackBlocked",
            ),
            (
                Error::ConfigInvalid {
                    worker: "api".into(),
                    message: "bad".into(),
                },
                "Stalled",
                "ConfigInvalid",
            ),
            (
                Error::VerifyFailed {
                    worker: "api".into(),
                    expected: "v2@100%".into(),
                    actual: "v1@100%".into(),
                },
                "Transient",
                "VerifyFailed",
            ),
            (
                Error::HealthCheckFailed {
                    worker: "api".into(),
                    commit: "abc".into(),
                    message: "503".into(),
                },
                "Stalled",
                "HealthCheckFailed",
            ),
        ];
        for (error, kind, reason) in cases {
            assert_eq!(error.class().kind_str(), kind, "{error}");
            assert_eq!(error.reason().as_str(), reason, "{error}");
            let message = error.to_string();
            assert!(
                message.chars().next().is_some_and(|c| c.is_lowercase()),
                "{message}"
            );
        }
    }
}
