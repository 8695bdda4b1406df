//! Notifications: after each pass, what happened (deploy, rollback, blocked, drift, health or
//! analysis failure, rollout abort) goes to a generic JSON webhook, a Slack-compatible
//! incoming webhook and GitHub (commit statuses and Deployments).
//!
//! - [`event`]: the pure derivation of events from a pass's report (transitions only).
//! - [`webhook`], [`slack`], [`github`]: what each sink is sent (pure), GitHub's calls in order.
//! - [`deliver`]: one request with retries and exponential backoff.
//!
//! # Guarantees
//!
//! - A pass never waits for a sink: events go into a bounded queue per sink (`try_send`; a
//!   full queue drops the event and counts it), and one background task per sink delivers
//!   them in order, so a dead Slack neither slows passes nor delays the webhook.
//! - Failures are counted in `/metrics` (`flaresync_notifications_total{sink,result}`) and the
//!   last one per sink is in `/status` (`notifications`), without the URL's secret parts: a
//!   Slack webhook URL *is* its secret, so only scheme and host are ever shown.
//!
//! # Caveats
//!
//! Delivery is at most once per attempt series: after the last retry the event is dropped
//! (and reported). A process that exits waits for its queue only as long as its caller asks
//! ([`Notifier::flush`]).

pub mod deliver;
pub mod event;
pub mod github;
pub mod slack;
pub mod webhook;

use std::{
    collections::BTreeSet,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use tokio::sync::mpsc;
use tracing::{debug, warn};

pub use deliver::RetryPolicy;
pub use event::{Event, EventKind, EventState, Origin};

use crate::{
    github::GithubConfig,
    metrics::Metrics,
    pass::SyncReport,
    status::{SinkError, SinkStatus, StatusBoard, now_rfc3339},
    webhook::WebhookSecret,
};

/// How flaresync names itself to receivers.
pub const USER_AGENT: &str = crate::github::USER_AGENT;

/// Where notifications go (see the crate README's Notifications section for the variables).
#[derive(Clone)]
pub struct NotifyConfig {
    /// Generic JSON webhook URL.
    pub webhook: Option<String>,
    /// Signs the webhook's body (`X-Flaresync-Signature-256`).
    pub webhook_secret: Option<WebhookSecret>,
    /// Slack (or Mattermost, Rocket.Chat) incoming-webhook URL. A secret.
    pub slack: Option<String>,
    /// Post commit statuses and Deployments when a GitHub token and repository are configured
    /// ([`crate::ContextOptions::github`]).
    pub github: bool,
    pub retry: RetryPolicy,
    /// Events waiting per sink before new ones are dropped.
    pub queue: usize,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            webhook: None,
            webhook_secret: None,
            slack: None,
            github: true,
            retry: RetryPolicy::default(),
            queue: 256,
        }
    }
}

impl std::fmt::Debug for NotifyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotifyConfig")
            .field("webhook", &self.webhook.as_deref().map(masked))
            .field("webhook_secret", &self.webhook_secret)
            .field("slack", &self.slack.as_deref().map(masked))
            .field("github", &self.github)
            .field("retry", &self.retry)
            .field("queue", &self.queue)
            .finish()
    }
}

/// A URL as status and logs may show it: scheme and host only (`https://hooks.slack.com/…`).
/// Paths, queries and user information of webhook URLs carry their secrets.
pub fn masked(url: &str) -> String {
    let shown = flaresync_config::url::display_url(url);
    match shown.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split('/').next().unwrap_or_default();
            let more = rest.len() > host.len() + 1;
            format!("{scheme}://{host}{}", if more { "/…" } else { "" })
        }
        None => "(not a URL)".to_owned(),
    }
}

/// One destination.
enum Sink {
    Webhook {
        url: String,
        secret: Option<WebhookSecret>,
    },
    Slack {
        url: String,
    },
    Github {
        config: GithubConfig,
        memory: github::GithubSink,
    },
}

impl Sink {
    fn name(&self) -> &'static str {
        match self {
            Sink::Webhook { .. } => "webhook",
            Sink::Slack { .. } => "slack",
            Sink::Github { .. } => "github",
        }
    }

    fn target(&self) -> String {
        match self {
            Sink::Webhook { url, .. } | Sink::Slack { url } => masked(url),
            Sink::Github { config, .. } => {
                format!("{} {}", masked(&config.api_url), config.repository)
            }
        }
    }

    async fn deliver(
        &mut self,
        http: &reqwest::Client,
        policy: &RetryPolicy,
        event: &Event,
        on_retry: &mut (dyn FnMut(&str) + Send),
    ) -> Result<(), String> {
        let request = match self {
            Sink::Webhook { url, secret } => webhook::request(url, secret.as_ref(), event),
            Sink::Slack { url } => slack::request(url, event),
            Sink::Github { config, memory } => {
                return memory.deliver(http, config, policy, event, on_retry).await;
            }
        };
        deliver::send(http, &request, policy, on_retry)
            .await
            .map(|_| ())
            .map_err(|failure| failure.to_string())
    }
}

/// What the sink tasks and the publisher share: status, metrics, and the count of events not
/// yet finished.
struct Shared {
    status: Arc<StatusBoard>,
    metrics: Arc<Metrics>,
    pending: AtomicUsize,
    idle: tokio::sync::Notify,
    http: reqwest::Client,
    retry: RetryPolicy,
}

impl Shared {
    fn record(&self, sink: &str, result: &'static str, update: impl FnOnce(&mut SinkStatus)) {
        self.metrics.record_notification(sink, result);
        self.status.update_notification(sink, update);
    }

    fn finish_one(&self) {
        self.pending.fetch_sub(1, Ordering::SeqCst);
        self.idle.notify_waiters();
    }
}

struct Queue {
    name: &'static str,
    sender: mpsc::Sender<Arc<Event>>,
}

/// The notification side of a [`crate::Context`]: derives events from each pass and hands
/// them to the sinks' background tasks.
pub struct Notifier {
    queues: Vec<Queue>,
    /// The sinks and their receivers until the first event starts their tasks (the context
    /// may be created outside a runtime).
    idle_sinks: Mutex<Vec<(Sink, mpsc::Receiver<Arc<Event>>)>>,
    /// Keys of the standing events of the last pass ([`event::derive`]).
    seen: Mutex<BTreeSet<String>>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sinks: Vec<&str> = self.queues.iter().map(|q| q.name).collect();
        f.debug_struct("Notifier").field("sinks", &sinks).finish()
    }
}

impl Notifier {
    /// The sinks `config` names (GitHub's when `github` is set and allowed), registered in
    /// `/status`. Starts nothing yet.
    pub fn new(
        config: &NotifyConfig,
        github: Option<&GithubConfig>,
        status: Arc<StatusBoard>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let mut sinks = Vec::new();
        if let Some(url) = config.webhook.clone() {
            sinks.push(Sink::Webhook {
                url,
                secret: config.webhook_secret.clone(),
            });
        }
        if let Some(url) = config.slack.clone() {
            sinks.push(Sink::Slack { url });
        }
        if let (true, Some(github)) = (config.github, github) {
            sinks.push(Sink::Github {
                config: github.clone(),
                memory: github::GithubSink::default(),
            });
        }
        let mut queues = Vec::new();
        let mut idle_sinks = Vec::new();
        for sink in sinks {
            let (sender, receiver) = mpsc::channel(config.queue.max(1));
            let target = sink.target();
            status.update_notification(sink.name(), |entry| entry.target = target);
            queues.push(Queue {
                name: sink.name(),
                sender,
            });
            idle_sinks.push((sink, receiver));
        }
        Notifier {
            queues,
            idle_sinks: Mutex::new(idle_sinks),
            seen: Mutex::new(BTreeSet::new()),
            shared: Arc::new(Shared {
                status,
                metrics,
                pending: AtomicUsize::new(0),
                idle: tokio::sync::Notify::new(),
                http: reqwest::Client::new(),
                retry: config.retry,
            }),
        }
    }

    /// Whether any sink is configured.
    pub fn is_active(&self) -> bool {
        !self.queues.is_empty()
    }

    /// Queues the events of `report` for every sink and returns at once. Must be called on a
    /// Tokio runtime (the first call starts the sinks' tasks).
    pub fn publish(&self, report: &SyncReport, origin: &Origin) -> usize {
        if !self.is_active() {
            return 0;
        }
        let events = {
            let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            let (events, keys) = event::derive(report, origin, &now_rfc3339(), &seen);
            *seen = keys;
            events
        };
        if events.is_empty() {
            return 0;
        }
        self.start();
        for event in events.iter().cloned().map(Arc::new) {
            for queue in &self.queues {
                self.shared.pending.fetch_add(1, Ordering::SeqCst);
                if queue.sender.try_send(event.clone()).is_err() {
                    self.shared.finish_one();
                    warn!(sink = queue.name, event = event.kind.as_str(), worker = %event.worker, "Notification dropped: the sink's queue is full.");
                    self.shared
                        .record(queue.name, "dropped", |s| s.dropped += 1);
                }
            }
        }
        events.len()
    }

    /// Waits until every queued event was delivered or given up, at most `within`; returns
    /// whether the queues are empty.
    pub async fn flush(&self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let notified = self.shared.idle.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            if self.shared.pending.load(Ordering::SeqCst) == 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.shared.pending.load(Ordering::SeqCst) == 0;
            }
        }
    }

    /// Events queued or in delivery.
    pub fn pending(&self) -> usize {
        self.shared.pending.load(Ordering::SeqCst)
    }

    fn start(&self) {
        let idle = std::mem::take(&mut *self.idle_sinks.lock().unwrap_or_else(|p| p.into_inner()));
        for (sink, receiver) in idle {
            tokio::spawn(run_sink(sink, receiver, self.shared.clone()));
        }
    }
}

/// One sink's task: its events in order, each retried per the policy.
async fn run_sink(mut sink: Sink, mut receiver: mpsc::Receiver<Arc<Event>>, shared: Arc<Shared>) {
    let name = sink.name();
    while let Some(event) = receiver.recv().await {
        let mut on_retry = |what: &str| {
            debug!(sink = name, event = event.kind.as_str(), worker = %event.worker, error = %what, "Notification failed; retrying.");
            shared.record(name, "retried", |s| s.retries += 1);
        };
        let result = sink
            .deliver(&shared.http, &shared.retry, &event, &mut on_retry)
            .await;
        let at = now_rfc3339();
        match result {
            Ok(()) => {
                debug!(sink = name, event = event.kind.as_str(), worker = %event.worker, "Notification delivered.");
                shared.record(name, "delivered", |s| {
                    s.delivered += 1;
                    s.last_delivered_at = Some(at);
                });
            }
            Err(error) => {
                warn!(sink = name, event = event.kind.as_str(), worker = %event.worker, error = %error, "Notification given up.");
                shared.record(name, "failed", |s| {
                    s.failed += 1;
                    s.last_error = Some(SinkError {
                        message: error,
                        event: event.kind.as_str().to_owned(),
                        worker: event.worker.clone(),
                        at,
                    });
                });
            }
        }
        shared.finish_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn a_full_queue_drops_events_and_counts_them_without_waiting() {
        use event::tests::{applied_outcome, empty_plan, origin, report, worker};
        let status = Arc::new(StatusBoard::new());
        let metrics = Arc::new(Metrics::new());
        let config = NotifyConfig {
            webhook: Some("http://127.0.0.1:9/hook".into()),
            queue: 1,
            ..NotifyConfig::default()
        };
        let notifier = Notifier::new(&config, None, status.clone(), metrics.clone());
        let three = report(
            ["a", "b", "c"]
                .iter()
                .map(|name| worker(name, "deploy", applied_outcome(name)))
                .collect(),
            empty_plan(),
        );
        // On this single-threaded runtime the sink's task cannot run before `publish` returns:
        // one event fits the queue, two do not.
        assert_eq!(notifier.publish(&three, &origin()), 3);
        assert_eq!(notifier.pending(), 1);
        assert_eq!(metrics.notification_count("webhook", "dropped"), 2);
        let sink = status.snapshot().notifications[0].clone();
        assert_eq!((sink.sink.as_str(), sink.dropped), ("webhook", 2));
        assert_eq!(sink.target, "http://127.0.0.1:9/…");
    }

    #[test]
    fn urls_show_scheme_and_host_only() {
        assert_eq!(
            masked("https://hooks.slack.com/services/T000/B000/XXXXSECRET"),
            "https://hooks.slack.com/…"
        );
        assert_eq!(
            masked("https://user:pw@example.com:8443/hook?token=abc"),
            "https://example.com:8443/…"
        );
        assert_eq!(masked("http://127.0.0.1:9000"), "http://127.0.0.1:9000");
        assert_eq!(masked("not a url"), "(not a URL)");
    }

    #[test]
    fn the_config_never_shows_its_secrets() {
        let config = NotifyConfig {
            webhook: Some("https://example.com/hook/s3cret-path".into()),
            webhook_secret: Some(WebhookSecret::new("hmac-s3cret")),
            slack: Some("https://hooks.slack.com/services/T/B/sl4ck".into()),
            ..NotifyConfig::default()
        };
        let shown = format!("{config:?}");
        for secret in ["s3cret-path", "hmac-s3cret", "sl4ck"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
}
