//! The status server's guards (issue 11, item 14): a bearer token for mutating endpoints (403
//! saying how to enable them when none is configured), a rate limit, bounded bodies, webhooks up
//! to GitHub's 25 MB, and a webhook listener that serves nothing else.

use flaresync_reconcile::{
    ReconcileRequest, TriggerSource,
    server::{AdminToken, Endpoints},
    webhook::sign,
};

use crate::server::{ADMIN, Harness, start_with, webhook_config};

async fn status_server(admin_token: Option<&str>) -> Harness {
    start_with(
        Some(webhook_config()),
        admin_token.and_then(AdminToken::new),
        Endpoints::All,
    )
    .await
}

/// A signed push to `main`, padded to about `size` bytes.
fn push(size: usize) -> (Vec<u8>, String) {
    let padding = "x".repeat(size);
    let body = serde_json::to_vec(&serde_json::json!({
        "ref": "refs/heads/main", "after": "0123abcd", "padding": padding
    }))
    .expect("serializes");
    let signature = sign(&webhook_config().secret, &body);
    (body, signature)
}

#[tokio::test]
async fn without_a_token_configured_mutating_endpoints_are_refused_saying_how_to_enable_them() {
    let mut harness = status_server(None).await;
    let (status, text) = harness.post_reconcile("", Some(ADMIN)).await;
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("FLARESYNC_ADMIN_TOKEN"), "{text}");
    assert!(harness.triggers.try_recv().is_err(), "nothing requested");
    for path in ["/healthz", "/status", "/metrics"] {
        assert_eq!(harness.get_status(path).await, 200, "{path} stays open");
    }
    harness.shutdown().await;
}

#[tokio::test]
async fn mutating_endpoints_need_the_bearer_token() {
    let mut harness = status_server(Some(ADMIN)).await;
    for token in [None, Some("wrong"), Some("admin-t0ke")] {
        let (status, text) = harness.post_reconcile("", token).await;
        assert_eq!(status, 401, "{token:?}: {text}");
        assert!(!text.contains(ADMIN), "{text}");
    }
    assert!(harness.triggers.try_recv().is_err(), "nothing requested");
    assert_eq!(harness.post_reconcile("", Some(ADMIN)).await.0, 202);
    assert_eq!(
        harness.triggers.recv().await,
        Some(ReconcileRequest::all(TriggerSource::Manual))
    );
    // Only a Worker name reaches the loop (and its log).
    let (status, text) = harness
        .post_reconcile("?worker=%1B%5B31mX%0Aforged", Some(ADMIN))
        .await;
    assert_eq!(status, 400, "{text}");
    assert!(!text.contains("forged"), "{text}");
    assert!(harness.triggers.try_recv().is_err(), "nothing requested");
    harness.shutdown().await;
}

#[tokio::test]
async fn webhooks_up_to_githubs_25_mb_are_accepted_and_larger_ones_refused() {
    let mut harness = status_server(Some(ADMIN)).await;
    // Above axum's 2 MB default, which refused real GitHub deliveries of large pushes.
    let (body, signature) = push(3 * 1024 * 1024);
    assert_eq!(harness.deliver(body, Some(&signature)).await.0, 202);
    assert_eq!(
        harness.triggers.recv().await,
        Some(ReconcileRequest::all(TriggerSource::Webhook))
    );
    let (body, signature) = push(25 * 1024 * 1024 + 1);
    assert_eq!(harness.deliver(body, Some(&signature)).await.0, 413);
    // Unsigned deliveries are refused before the body is read.
    assert_eq!(harness.deliver(vec![b'x'; 1024], None).await.0, 401);
    // The endpoints that read no body refuse large ones.
    let response = harness
        .http
        .post(format!("{}/reconcile", harness.base))
        .bearer_auth(ADMIN)
        .body(vec![0u8; 128 * 1024])
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 413);
    assert!(harness.triggers.try_recv().is_err(), "nothing requested");
    harness.shutdown().await;
}

#[tokio::test]
async fn a_burst_is_rate_limited_but_healthz_is_not() {
    let harness = status_server(Some(ADMIN)).await;
    let mut statuses = Vec::new();
    for _ in 0..300 {
        statuses.push(harness.get_status("/status").await);
    }
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert!(limited > 0, "no 429 in a burst of 300");
    assert!(statuses.iter().all(|s| *s == 200 || *s == 429));
    for _ in 0..300 {
        assert_eq!(harness.get_status("/healthz").await, 200);
    }
    harness.shutdown().await;
}

#[tokio::test]
async fn the_webhook_listener_serves_the_webhook_and_nothing_else() {
    let mut harness = start_with(
        Some(webhook_config()),
        AdminToken::new(ADMIN),
        Endpoints::WebhookOnly,
    )
    .await;
    for path in ["/healthz", "/status", "/metrics"] {
        assert_eq!(harness.get_status(path).await, 404, "{path}");
    }
    assert_eq!(harness.post_reconcile("", Some(ADMIN)).await.0, 404);
    let (body, signature) = push(16);
    assert_eq!(harness.deliver(body, Some(&signature)).await.0, 202);
    assert_eq!(
        harness.triggers.recv().await,
        Some(ReconcileRequest::all(TriggerSource::Webhook))
    );
    harness.shutdown().await;
}
