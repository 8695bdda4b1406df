//! The generic JSON webhook: the [`Event`] as the body, its kind and a delivery id in headers,
//! and, with a secret, `X-Flaresync-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>`
//! (GitHub's scheme, so receivers can reuse their verification code).

use sha2::Digest as _;

use super::{deliver::Request, event::Event};
use crate::webhook::{WebhookSecret, sign};

/// The header that carries the signature.
pub const SIGNATURE_HEADER: &str = "x-flaresync-signature-256";
/// The header that names the event kind.
pub const EVENT_HEADER: &str = "x-flaresync-event";
/// A stable id per event (the same on every retry), for receivers that deduplicate.
pub const DELIVERY_HEADER: &str = "x-flaresync-delivery";

/// The request for `event`.
pub fn request(url: &str, secret: Option<&WebhookSecret>, event: &Event) -> Request {
    // Serializing plain strings, numbers and lists cannot fail.
    let body = serde_json::to_vec(event).unwrap_or_default();
    let mut headers = vec![
        ("content-type", "application/json".to_owned()),
        ("user-agent", super::USER_AGENT.to_owned()),
        (EVENT_HEADER, event.kind.as_str().to_owned()),
        (DELIVERY_HEADER, delivery_id(event)),
    ];
    if let Some(secret) = secret {
        headers.push((SIGNATURE_HEADER, sign(secret, &body)));
    }
    Request {
        url: url.to_owned(),
        headers,
        body,
    }
}

/// 16 hex digits from the event's identity and time.
pub fn delivery_id(event: &Event) -> String {
    let digest = sha2::Sha256::digest(format!("{}\n{}", event.key, event.timestamp).as_bytes());
    hex::encode(&digest[..8])
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::notify::event::{EventKind, EventState};
    use crate::webhook::verify_signature;

    pub(crate) fn event() -> Event {
        Event {
            kind: EventKind::Deploy,
            state: EventState::Success,
            worker: "api".into(),
            account: "acct".into(),
            env: None,
            environment: "acct/default".into(),
            branch: "main".into(),
            commit: "c0ffee".into(),
            version_ids: vec!["v2".into()],
            deployment_id: Some("d2".into()),
            reason: Some("deploy".into()),
            rules: Vec::new(),
            actor: Some("Ada".into()),
            timestamp: "2026-01-01T00:00:00Z".into(),
            key: "api\ndeploy\nc0ffee:v2:d2".into(),
        }
    }

    #[test]
    fn the_body_is_the_documented_payload_and_the_signature_verifies() {
        let secret = WebhookSecret::new("s3cret");
        let request = request("http://hooks.test/x", Some(&secret), &event());
        let body: serde_json::Value = serde_json::from_slice(&request.body).expect("json");
        for field in [
            "kind",
            "state",
            "worker",
            "account",
            "environment",
            "commit",
            "version_ids",
            "reason",
            "rules",
            "actor",
            "timestamp",
        ] {
            assert!(body.get(field).is_some(), "{field} in {body}");
        }
        assert_eq!(body["kind"], "deploy");
        assert!(body.get("key").is_none());
        let header = |name: &str| {
            request
                .headers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(header(EVENT_HEADER).as_deref(), Some("deploy"));
        let signature = header(SIGNATURE_HEADER).expect("signed");
        assert_eq!(
            verify_signature(&secret, &request.body, Some(&signature)),
            Ok(())
        );
        assert!(!format!("{request:?}").contains("s3cret"));
    }

    #[test]
    fn without_a_secret_nothing_is_signed() {
        let request = request("http://hooks.test/x", None, &event());
        assert!(request.headers.iter().all(|(n, _)| *n != SIGNATURE_HEADER));
    }
}
