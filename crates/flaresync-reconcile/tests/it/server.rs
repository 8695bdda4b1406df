use std::sync::Arc;

use flaresync_reconcile::{
    Reason, ReconcileRequest, Target, TriggerSource,
    metrics::{ApiSnapshot, Metrics, ResultLabel},
    server::{self, AdminToken, Endpoints, PageAccess, ServerState, WebhookConfig},
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
    start_with_page(webhook, admin_token, endpoints, PageAccess::Auto).await
}

/// [`start_with`] with the status page's access rule.
pub async fn start_with_page(
    webhook: Option<WebhookConfig>,
    admin_token: Option<AdminToken>,
    endpoints: Endpoints,
    page_access: PageAccess,
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
        page_access,
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
    /// `GET {path}`.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("answers")
    }

    /// `GET {path}`: the status code.
    pub async fn get_status(&self, path: &str) -> u16 {
        self.get(path).await.status().as_u16()
    }

    /// `POST /reconcile{query}` with `token` as the bearer token, if any: (status, body).
    pub async fn post_reconcile(&self, query: &str, token: Option<&str>) -> (u16, String) {
        let mut request = self.http.post(format!("{}/reconcile{query}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        status_and_text(request).await
    }

    /// A GitHub push delivery of `body` to `/webhook`, signed with `signature` if any:
    /// (status, body).
    pub async fn deliver(&self, body: Vec<u8>, signature: Option<&str>) -> (u16, String) {
        let mut request = self
            .http
            .post(format!("{}/webhook", self.base))
            .header("x-github-event", "push");
        if let Some(signature) = signature {
            request = request.header("x-hub-signature-256", signature);
        }
        status_and_text(request.body(body)).await
    }

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

async fn status_and_text(request: reqwest::RequestBuilder) -> (u16, String) {
    let response = request.send().await.expect("answers");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
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
    assert_eq!(harness.get_status("/healthz").await, 200);

    let status: serde_json::Value = harness
        .get("/status")
        .await
        .json()
        .await
        .expect("status is json");
    assert_eq!(status["workers"][0]["worker"], "api");
    assert_eq!(status["workers"][0]["live_version"], "v-123");

    let metrics = harness.get("/metrics").await;
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
    assert_eq!(harness.post_reconcile("", Some(ADMIN)).await.0, 202);
    assert_eq!(
        harness.triggers.recv().await,
        Some(ReconcileRequest::all(TriggerSource::Manual))
    );
    assert_eq!(
        harness.post_reconcile("?worker=api", Some(ADMIN)).await.0,
        202
    );
    let request = harness.triggers.recv().await.expect("a request");
    assert_eq!(request.target, Target::Worker("api".into()));
    harness.shutdown().await;
}

#[tokio::test]
async fn webhook_rejects_missing_and_bad_signatures_and_filters_branches() {
    let mut harness = start(Some(webhook_config())).await;
    let body = serde_json::to_vec(&serde_json::json!({
        "ref": "refs/heads/main", "after": "0123abcd"
    }))
    .expect("serializes");

    assert_eq!(harness.deliver(body.clone(), None).await.0, 401);

    let forged = sign(&WebhookSecret::new("wrong"), &body);
    let (status, forged_text) = harness.deliver(body.clone(), Some(&forged)).await;
    assert_eq!(status, 401);
    assert!(!forged_text.contains("s3cret"));

    let other_branch = serde_json::to_vec(&serde_json::json!({
        "ref": "refs/heads/feature", "after": "0123abcd"
    }))
    .expect("serializes");
    let signature = sign(&webhook_config().secret, &other_branch);
    let ignored = harness.deliver(other_branch, Some(&signature)).await;
    assert_eq!(ignored.0, 200);
    assert!(
        harness.triggers.try_recv().is_err(),
        "no request for other branches"
    );

    let signature = sign(&webhook_config().secret, &body);
    assert_eq!(harness.deliver(body, Some(&signature)).await.0, 202);
    assert_eq!(
        harness.triggers.recv().await,
        Some(ReconcileRequest::all(TriggerSource::Webhook))
    );
    harness.shutdown().await;
}

#[tokio::test]
async fn webhook_is_404_when_not_configured() {
    let harness = start(None).await;
    assert_eq!(harness.deliver(b"{}".to_vec(), None).await.0, 404);
    harness.shutdown().await;
}

#[tokio::test]
async fn the_status_page_is_public_on_loopback_by_default() {
    let harness = start(None).await;
    let answer = harness.get("/").await;
    assert_eq!(answer.status(), 200);
    let content_type = answer.headers().get("content-type").cloned();
    assert_eq!(
        content_type.as_ref().and_then(|v| v.to_str().ok()),
        Some("text/html; charset=utf-8")
    );
    let page = answer.text().await.expect("body");
    assert!(page.contains("id=\"worker-api\""), "{page}");
    assert!(page.contains(">v-123<"), "the live version: {page}");
    harness.shutdown().await;
}

#[tokio::test]
async fn the_status_page_asks_for_the_admin_token_when_configured_so() {
    let harness = start_with_page(
        None,
        AdminToken::new(ADMIN),
        Endpoints::All,
        PageAccess::Token,
    )
    .await;
    let challenged = harness.get("/").await;
    assert_eq!(challenged.status(), 401);
    let challenge = challenged.headers().get("www-authenticate").cloned();
    assert!(
        challenge.is_some_and(|v| v.to_str().is_ok_and(|v| v.starts_with("Basic "))),
        "browsers prompt for Basic credentials"
    );
    let page = |password: &str| {
        harness
            .http
            .get(format!("{}/", harness.base))
            .basic_auth("oncall", Some(password))
            .send()
    };
    assert_eq!(page("wrong").await.expect("answers").status(), 401);
    assert_eq!(page(ADMIN).await.expect("answers").status(), 200);
    // The JSON keeps its rule: read-only, public.
    assert_eq!(harness.get_status("/status").await, 200);
    harness.shutdown().await;

    let no_token = start_with_page(None, None, Endpoints::All, PageAccess::Token).await;
    let (status, body) = status_and_text(no_token.http.get(format!("{}/", no_token.base))).await;
    assert_eq!(status, 403);
    assert!(body.contains("FLARESYNC_ADMIN_TOKEN"), "{body}");
    no_token.shutdown().await;

    let off = start_with_page(
        None,
        AdminToken::new(ADMIN),
        Endpoints::All,
        PageAccess::Off,
    )
    .await;
    assert_eq!(off.get_status("/").await, 404);
    off.shutdown().await;
}
