use std::sync::Arc;

use flaresync_reconcile::{
    Reason, ReconcileRequest, Target, TriggerSource,
    metrics::{ApiSnapshot, Metrics, ResultLabel},
    server::{self, AdminToken, Endpoints, ServerState, WebhookConfig},
    status::StatusBoard,
    trigger,
    webhook::{WebhookSecret, sign},
};

pub struct Harness {
    pub base: String,
    pub triggers: trigger::TriggerReceiver,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    pub http: reqwest::Client,
}

/// The admin token of [`start`]'s server.
pub const ADMIN: &str = "admin-t0ken";

async fn start(webhook: Option<WebhookConfig>) -> Harness {
    start_with(webhook, AdminToken::new(ADMIN), Endpoints::All).await
}

pub async fn start_with(
    webhook: Option<WebhookConfig>,
    admin_token: Option<AdminToken>,
    endpoints: Endpoints,
) -> Harness {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds port 0");
    let base = format!("http://{}", listener.local_addr().expect("has address"));
    let (sender, triggers) = trigger::channel();
    let metrics = Arc::new(Metrics::new());
    metrics.record_reconcile("api", ResultLabel::Applied);
    metrics.record_error(Reason::ApiUnavailable);
    let status = Arc::new(StatusBoard::new());
    status.update("api", |s| s.live_version = Some("v-123".into()));
    let state = ServerState {
        rollout_control: None,
        status,
        metrics,
        api_snapshot: Arc::new(|| {
            let mut snapshot = ApiSnapshot::default();
            snapshot.requests.insert(("GET".into(), "200".into()), 3);
            snapshot.budget_available = Some(1197.0);
            snapshot
        }),
        triggers: sender,
        webhook,
        admin_token,
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let stopped = async move {
        let _ = stopped.await;
    };
    let task = tokio::spawn(server::serve_endpoints(endpoints, listener, state, stopped));
    Harness {
        base,
        triggers,
        stop: Some(stop),
        task,
        http: reqwest::Client::new(),
    }
}

impl Harness {
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task
            .await
            .expect("server task joins")
            .expect("server stops cleanly");
    }
}

pub fn webhook_config() -> WebhookConfig {
    WebhookConfig {
        secret: WebhookSecret::new("s3cret"),
        branch: "main".into(),
    }
}

#[tokio::test]
async fn healthz_status_and_metrics_are_served() {
    let harness = start(None).await;
    let health = harness
        .http
        .get(format!("{}/healthz", harness.base))
        .send()
        .await
        .expect("healthz answers");
    assert_eq!(health.status(), 200);

    let status: serde_json::Value = harness
        .http
        .get(format!("{}/status", harness.base))
        .send()
        .await
        .expect("status answers")
        .json()
        .await
        .expect("status is json");
    assert_eq!(status["workers"][0]["worker"], "api");
    assert_eq!(status["workers"][0]["live_version"], "v-123");

    let metrics = harness
        .http
        .get(format!("{}/metrics", harness.base))
        .send()
        .await
        .expect("metrics answer");
    assert!(
        metrics
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/plain"))
    );
    let text = metrics.text().await.expect("metrics body");
    assert!(text.contains("flaresync_reconcile_total{worker=\"api\",result=\"applied\"} 1"));
    assert!(text.contains("flaresync_reconcile_errors_total{reason=\"ApiUnavailable\"} 1"));
    assert!(text.contains("flaresync_api_requests_total{method=\"GET\",status=\"200\"} 3"));
    assert!(text.contains("flaresync_api_budget_available 1197"));
    harness.shutdown().await;
}

#[tokio::test]
async fn manual_reconcile_sends_a_request() {
    let mut harness = start(None).await;
    let all = harness
        .http
        .post(format!("{}/reconcile", harness.base))
        .bearer_auth(ADMIN)
        .send()
        .await
        .expect("reconcile answers");
    assert_eq!(all.status(), 202);
    assert_eq!(
        harness.triggers.recv().await,
        Some(ReconcileRequest::all(TriggerSource::Manual))
    );
    let one = harness
        .http
        .post(format!("{}/reconcile?worker=api", harness.base))
        .bearer_auth(ADMIN)
        .send()
        .await
        .expect("reconcile answers");
    assert_eq!(one.status(), 202);
    let request = harness.triggers.recv().await.expect("a request");
    assert_eq!(request.target, Target::Worker("api".into()));
    harness.shutdown().await;
}

#[tokio::test]
async fn webhook_rejects_missing_and_bad_signatures_and_filters_branches() {
    let mut harness = start(Some(webhook_config())).await;
    let url = format!("{}/webhook", harness.base);
    let body = serde_json::to_vec(&serde_json::json!({
        "ref": "refs/heads/main", "after": "0123abcd"
    }))
    .expect("serializes");

    let missing = harness
        .http
        .post(&url)
        .header("x-github-event", "push")
        .body(body.clone())
        .send()
        .await
        .expect("answers");
    assert_eq!(missing.status(), 401);

    let forged = harness
        .http
        .post(&url)
        .header("x-github-event", "push")
        .header(
            "x-hub-signature-256",
            sign(&WebhookSecret::new("wrong"), &body),
        )
        .body(body.clone())
        .send()
        .await
        .expect("answers");
    assert_eq!(forged.status(), 401);
    let forged_text = forged.text().await.expect("body");
    assert!(!forged_text.contains("s3cret"));

    let other_branch = serde_json::to_vec(&serde_json::json!({
        "ref": "refs/heads/feature", "after": "0123abcd"
    }))
    .expect("serializes");
    let ignored = harness
        .http
        .post(&url)
        .header("x-github-event", "push")
        .header(
            "x-hub-signature-256",
            sign(&webhook_config().secret, &other_branch),
        )
        .body(other_branch)
        .send()
        .await
        .expect("answers");
    assert_eq!(ignored.status(), 200);
    assert!(
        harness.triggers.try_recv().is_err(),
        "no request for other branches"
    );

    let good = harness
        .http
        .post(&url)
        .header("x-github-event", "push")
        .header("x-hub-signature-256", sign(&webhook_config().secret, &body))
        .body(body)
        .send()
        .await
        .expect("answers");
    assert_eq!(good.status(), 202);
    assert_eq!(
        harness.triggers.recv().await,
        Some(ReconcileRequest::all(TriggerSource::Webhook))
    );
    harness.shutdown().await;
}

#[tokio::test]
async fn webhook_is_404_when_not_configured() {
    let harness = start(None).await;
    let response = harness
        .http
        .post(format!("{}/webhook", harness.base))
        .body("{}")
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 404);
    harness.shutdown().await;
}
