//! GitHub push webhooks: signature verification and the decision whether to reconcile.
//!
//! Pure functions over bytes and header values; the HTTP handler in [`crate::server`] only maps
//! the outcome to a status code. The secret never appears in errors or logs.
//!
//! See <https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries>:
//! `X-Hub-Signature-256: sha256=<hex of HMAC-SHA256(secret, raw body)>`.

use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::Sha256;

/// Why a delivery was refused. Every variant maps to `401 Unauthorized` except
/// [`Error::BadPayload`] (`400`).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// The `X-Hub-Signature-256` header is absent.
    #[error("missing X-Hub-Signature-256 header; configure the webhook secret in GitHub")]
    MissingSignature,
    /// The header is not `sha256=<64 hex digits>`.
    #[error("malformed X-Hub-Signature-256 header; expected sha256=<hex digest>")]
    MalformedSignature,
    /// The digest does not match the body under our secret.
    #[error("webhook signature does not match; check that both sides use the same secret")]
    SignatureMismatch,
    /// The body is not a push payload we can read.
    #[error("webhook body is not a valid push event: {0}")]
    BadPayload(String),
}

/// The webhook secret. Its `Debug` output is redacted.
#[derive(Clone)]
pub struct WebhookSecret(Vec<u8>);

impl WebhookSecret {
    pub fn new(secret: impl Into<Vec<u8>>) -> Self {
        WebhookSecret(secret.into())
    }
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

/// Verifies `X-Hub-Signature-256` over the raw body with a constant-time comparison.
pub fn verify_signature(
    secret: &WebhookSecret,
    body: &[u8],
    header: Option<&str>,
) -> Result<(), Error> {
    let header = header.ok_or(Error::MissingSignature)?;
    let hex_digest = header
        .trim()
        .strip_prefix("sha256=")
        .ok_or(Error::MalformedSignature)?;
    let expected = hex::decode(hex_digest).map_err(|_| Error::MalformedSignature)?;
    if expected.len() != 32 {
        return Err(Error::MalformedSignature);
    }
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&secret.0)
        .map_err(|_| Error::SignatureMismatch)?;
    mac.update(body);
    // `verify_slice` compares in constant time (`ctutils::CtEq` in digest 0.11).
    mac.verify_slice(&expected)
        .map_err(|_| Error::SignatureMismatch)
}

/// Computes the header value GitHub would send for `body` (used by tests and tooling).
pub fn sign(secret: &WebhookSecret, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&secret.0)
        .expect("HMAC-SHA256 accepts keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[derive(Debug, Deserialize)]
struct PushPayload {
    #[serde(rename = "ref")]
    git_ref: String,
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    deleted: bool,
    /// Who pushed (`pusher.name`, GitHub's push payload).
    #[serde(default)]
    pusher: Option<Pusher>,
}

#[derive(Debug, Deserialize)]
struct Pusher {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
}

/// What to do with a verified delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// A push to the configured branch: reconcile (the commit is informational; the loop always
    /// reads the branch head itself).
    Reconcile {
        commit: Option<String>,
        /// Who pushed, `name <email>`, for the journal.
        pusher: Option<String>,
    },
    /// Verified but not for us (other branch, tag, ping, other event). Answered with 202/200.
    Ignore { why: String },
}

/// Decides on a verified delivery. `event` is the `X-GitHub-Event` header, `branch` the
/// configured branch name (`main`, not `refs/heads/main`).
pub fn decide(event: Option<&str>, body: &[u8], branch: &str) -> Result<Decision, Error> {
    match event.unwrap_or("push") {
        "push" => {}
        "ping" => {
            return Ok(Decision::Ignore {
                why: "ping event".into(),
            });
        }
        other => {
            return Ok(Decision::Ignore {
                why: format!("event {other:?} is not a push"),
            });
        }
    }
    let payload: PushPayload =
        serde_json::from_slice(body).map_err(|error| Error::BadPayload(error.to_string()))?;
    let wanted = format!("refs/heads/{branch}");
    if payload.git_ref != wanted {
        return Ok(Decision::Ignore {
            why: format!("push to {} is not {wanted}", payload.git_ref),
        });
    }
    if payload.deleted {
        return Ok(Decision::Ignore {
            why: format!("{wanted} was deleted"),
        });
    }
    let pusher = payload.pusher.and_then(|p| match (p.name, p.email) {
        (Some(name), Some(email)) => Some(format!("{name} <{email}>")),
        (name, email) => name.or(email),
    });
    Ok(Decision::Reconcile {
        commit: payload.after,
        pusher,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_push_names_its_pusher_for_the_journal() {
        let body = serde_json::to_vec(&serde_json::json!({
            "ref": "refs/heads/main",
            "after": "abc123",
            "pusher": {"name": "octocat", "email": "octo@example.com"}
        }))
        .expect("serializes");
        assert_eq!(
            decide(Some("push"), &body, "main"),
            Ok(Decision::Reconcile {
                commit: Some("abc123".into()),
                pusher: Some("octocat <octo@example.com>".into()),
            })
        );
    }

    fn secret() -> WebhookSecret {
        WebhookSecret::new("It's a Secret to Everybody")
    }

    #[test]
    fn github_documented_example_signature_verifies() {
        // Test vector from GitHub's "Validating webhook deliveries" page.
        let header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert_eq!(
            verify_signature(&secret(), b"Hello, World!", Some(header)),
            Ok(())
        );
        assert_eq!(sign(&secret(), b"Hello, World!"), header);
    }

    #[test]
    fn missing_malformed_and_wrong_signatures_are_rejected() {
        let body = b"{}";
        assert_eq!(
            verify_signature(&secret(), body, None),
            Err(Error::MissingSignature)
        );
        for bad in ["", "sha1=abc", "sha256=zz", "sha256=abcd"] {
            assert_eq!(
                verify_signature(&secret(), body, Some(bad)),
                Err(Error::MalformedSignature),
                "{bad}"
            );
        }
        let other = sign(&WebhookSecret::new("other"), body);
        assert_eq!(
            verify_signature(&secret(), body, Some(&other)),
            Err(Error::SignatureMismatch)
        );
        let good = sign(&secret(), body);
        assert_eq!(
            verify_signature(&secret(), b"{ }", Some(&good)),
            Err(Error::SignatureMismatch)
        );
    }

    #[test]
    fn only_pushes_to_the_configured_branch_trigger() {
        let push = |git_ref: &str| {
            serde_json::to_vec(&serde_json::json!({"ref": git_ref, "after": "abc123"}))
                .expect("serializes")
        };
        assert_eq!(
            decide(Some("push"), &push("refs/heads/main"), "main"),
            Ok(Decision::Reconcile {
                commit: Some("abc123".into()),
                pusher: None,
            })
        );
        assert!(matches!(
            decide(Some("push"), &push("refs/heads/feature"), "main"),
            Ok(Decision::Ignore { .. })
        ));
        assert!(matches!(
            decide(Some("push"), &push("refs/tags/main"), "main"),
            Ok(Decision::Ignore { .. })
        ));
        assert!(matches!(
            decide(Some("ping"), b"{}", "main"),
            Ok(Decision::Ignore { .. })
        ));
        assert!(matches!(
            decide(Some("push"), b"not json", "main"),
            Err(Error::BadPayload(_))
        ));
        let deleted =
            serde_json::to_vec(&serde_json::json!({"ref": "refs/heads/main", "deleted": true}))
                .expect("serializes");
        assert!(matches!(
            decide(Some("push"), &deleted, "main"),
            Ok(Decision::Ignore { .. })
        ));
    }

    #[test]
    fn secret_debug_is_redacted() {
        assert!(!format!("{:?}", secret()).contains("Secret to"));
    }
}
