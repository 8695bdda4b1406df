//! Error types: [`ApiError`] is a Cloudflare-style API failure (HTTP status + `errors[0]`),
//! [`EmulatorError`] is a failure of the emulator process itself (bind, open state, serve).

use std::path::PathBuf;

/// A Cloudflare API error as the emulator answers it: an HTTP status and one `{code, message}`.
///
/// The message is Cloudflare's text where it is known (SPEC.md §7); rule refusals name the rule
/// and say why, so a failing test explains itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cloudflare api error {code} (http {status}): {message}")]
pub struct ApiError {
    /// HTTP status of the response.
    pub status: u16,
    /// Cloudflare error code (`errors[0].code`).
    pub code: u32,
    /// Cloudflare error message (`errors[0].message`).
    pub message: String,
}

impl ApiError {
    pub fn new(status: u16, code: u32, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400 with code 10021, Cloudflare's generic "validation failed" for uploads and deployments.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(400, 10021, message)
    }

    /// 404 with code 10007: the Worker does not exist.
    pub fn worker_not_found() -> Self {
        Self::new(404, 10007, "This Worker does not exist on your account.")
    }

    /// 500 with code 10002: an internal failure (storage error); the detail is logged, not sent.
    pub fn internal() -> Self {
        Self::new(
            500,
            10002,
            "An internal error occurred. Please try again later.",
        )
    }

    /// 400 with code 10001-ish for an unparseable request body.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, 10001, message)
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(error: rusqlite::Error) -> Self {
        tracing::error!(error = %error, "Emulator state storage failed.");
        ApiError::internal()
    }
}

impl From<serde_json::Error> for ApiError {
    fn from(error: serde_json::Error) -> Self {
        tracing::error!(error = %error, "Emulator state holds a document that does not decode.");
        ApiError::internal()
    }
}

/// Failures of the emulator as a process.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("failed to create the emulator state directory {path}")]
    CreateStateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to open the emulator state database {path}; check permissions or delete it")]
    OpenState {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("failed to initialise the emulator state schema")]
    Schema(#[source] rusqlite::Error),
    #[error("invalid emulator configuration: {0}")]
    Config(String),
    #[error("failed to read the listener address")]
    LocalAddr(#[source] std::io::Error),
    #[error("failed to bind the emulator listener on {addr}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
}
