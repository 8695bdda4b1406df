//! A burst of requests against the status server on loopback: prints the process's memory
//! (RSS) when idle and after the burst, the answers by status, and what was logged.
//!
//! `cargo bench -p flaresync-reconcile --bench status_burst [-- <requests> <connections>]`
//! (or `cargo test --bench status_burst` for a debug build). Defaults: 50,000 requests over 32
//! connections, a mix of open endpoints, refused mutating calls, unsigned webhooks and unknown
//! paths, each carrying caller text. Stops by itself; exits 1 when memory grew more than 10%
//! over idle, when more than 20 log lines were written, or when a log line carries caller text.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use flaresync_reconcile::{
    metrics::{ApiSnapshot, Metrics},
    server::{self, AdminToken, ServerState, WebhookConfig},
    status::StatusBoard,
    trigger,
    webhook::WebhookSecret,
};
use tracing::{Event, Metadata, Subscriber, field::Field, span};

/// Text every request carries; no log line may contain it.
const MARKER: &str = "CALLER-TEXT-7f3a";
const WARMUP: usize = 2_000;
const MAX_LOG_LINES: usize = 20;

/// Keeps every event at INFO and above, as text.
#[derive(Default)]
struct Capture {
    lines: Mutex<Vec<String>>,
    next_span: AtomicU64,
}

struct Text(String);

impl tracing::field::Visit for Text {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={value:?} ", field.name());
    }
}

impl Subscriber for Capture {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        *metadata.level() <= tracing::Level::INFO
    }
    fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(self.next_span.fetch_add(1, Ordering::Relaxed) + 1)
    }
    fn record(&self, _: &span::Id, _: &span::Record<'_>) {}
    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut text = Text(format!("{} ", event.metadata().level()));
        event.record(&mut text);
        if let Ok(mut lines) = self.lines.lock() {
            lines.push(text.0);
        }
    }
    fn enter(&self, _: &span::Id) {}
    fn exit(&self, _: &span::Id) {}
}

/// Resident memory of this process in KiB (Linux), `None` elsewhere.
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn state(triggers: trigger::TriggerSender) -> ServerState {
    let status = Arc::new(StatusBoard::new());
    for index in 0..50 {
        status.update(&format!("worker-{index}"), |s| {
            s.live_version = Some(format!("v-{index}"));
        });
    }
    ServerState {
        rollout_control: None,
        page_access: flaresync_reconcile::server::PageAccess::Auto,
        status,
        metrics: Arc::new(Metrics::new()),
        api_snapshot: Arc::new(ApiSnapshot::default),
        triggers,
        webhook: Some(WebhookConfig {
            secret: WebhookSecret::new("bench-webhook-secret"),
            branch: "main".into(),
        }),
        admin_token: AdminToken::new("bench-admin-token"),
    }
}

/// Request number `index` of the mix; every one but `/healthz` and `/status` carries caller text.
fn request(http: &reqwest::Client, base: &str, index: usize) -> reqwest::RequestBuilder {
    let junk = format!("{MARKER}\u{1b}[31m\r\nforged: line {index}");
    match index % 6 {
        0 => http.get(format!("{base}/healthz")),
        1 => http.get(format!("{base}/status")),
        2 => http
            .post(format!("{base}/reconcile"))
            .query(&[("worker", &junk)]),
        3 => http
            .post(format!("{base}/reconcile"))
            .header("authorization", format!("Bearer {MARKER}")),
        4 => http
            .post(format!("{base}/webhook"))
            .header("x-github-event", MARKER)
            .header("x-hub-signature-256", format!("sha256={MARKER}"))
            .body(junk.repeat(64)),
        _ => http.get(format!("{base}/{MARKER}/{index}")),
    }
}

/// Sends `count` requests over `connections` concurrent clients; answers by status.
async fn burst(base: &str, count: usize, connections: usize) -> BTreeMap<u16, usize> {
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (next, base) = (next.clone(), base.to_owned());
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut seen: BTreeMap<u16, usize> = BTreeMap::new();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed) as usize;
                if index >= count {
                    return seen;
                }
                let status = match request(&http, &base, index).send().await {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        let _ = response.bytes().await;
                        status
                    }
                    Err(_) => 0,
                };
                *seen.entry(status).or_default() += 1;
            }
        }));
    }
    let mut total: BTreeMap<u16, usize> = BTreeMap::new();
    for task in tasks {
        for (status, n) in task.await.unwrap_or_default() {
            *total.entry(status).or_default() += n;
        }
    }
    total
}

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with("--"));
    let count: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(50_000);
    let connections: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(32);
    let capture = Arc::new(Capture::default());
    tracing::subscriber::set_global_default(capture.clone()).expect("subscriber");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let failed = runtime.block_on(async move {
        let listener = server::bind(Some("127.0.0.1:0".parse().expect("address")))
            .await
            .expect("binds");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let (sender, mut receiver) = trigger::channel();
        tokio::spawn(async move { while receiver.recv().await.is_some() {} });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(server::serve(listener, state(sender), async move {
            let _ = stopped.await;
        }));
        burst(&base, WARMUP, connections).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let idle = rss_kib();
        let started = Instant::now();
        let answers = burst(&base, count, connections).await;
        let elapsed = started.elapsed();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let after = rss_kib();
        let _ = stop.send(());
        let _ = server.await;
        report(count, connections, elapsed, &answers, idle, after, &capture)
    });
    std::process::exit(i32::from(failed));
}

/// Prints the figures; `true` when a limit was broken.
fn report(
    count: usize,
    connections: usize,
    elapsed: Duration,
    answers: &BTreeMap<u16, usize>,
    idle: Option<u64>,
    after: Option<u64>,
    capture: &Capture,
) -> bool {
    println!(
        "status_burst: {count} requests over {connections} connections in {:.2} s",
        elapsed.as_secs_f64()
    );
    println!("answers by status: {answers:?}");
    let lines = capture.lines.lock().map(|l| l.clone()).unwrap_or_default();
    let leaked = lines.iter().filter(|line| line.contains(MARKER)).count();
    println!(
        "log lines: {} (limit {MAX_LOG_LINES}), with caller text: {leaked}",
        lines.len()
    );
    for line in &lines {
        println!("  {line}");
    }
    let mut failed = lines.len() > MAX_LOG_LINES || leaked > 0;
    match (idle, after) {
        (Some(idle), Some(after)) => {
            let growth = (after as f64 - idle as f64) / idle as f64 * 100.0;
            println!(
                "RSS idle {idle} KiB, after the burst {after} KiB ({growth:+.1}%, limit +10%)"
            );
            failed |= growth > 10.0;
        }
        _ => println!("RSS: not available on this platform"),
    }
    println!("{}", if failed { "FAILED" } else { "ok" });
    failed
}
