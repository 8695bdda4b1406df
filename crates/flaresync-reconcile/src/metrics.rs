//! Prometheus metrics of the reconcile loop, rendered in the text exposition format.
//!
//! A deliberately small registry (counters, one histogram, gauges) behind a mutex: the loop
//! records a handful of samples per pass, so contention is irrelevant, and owning the renderer
//! keeps label escaping and naming under test. API request counts and the request budget come
//! from the Cloudflare client at render time through [`ApiSnapshot`].
//!
//! Labels are low-cardinality by construction: `reason` is a [`Reason`] code, `result` a fixed
//! word, `worker` a script name.

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    sync::{Mutex, MutexGuard},
    time::Duration,
};

use crate::policy::Reason;

/// Upper bounds (seconds) of the reconcile duration histogram buckets.
const DURATION_BUCKETS: [f64; 11] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// Outcome label of one Worker reconcile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ResultLabel {
    /// Nothing to do: live equals Git.
    InSync,
    /// A write was made and verified.
    Applied,
    /// The plan was computed but not applied (dry run, or drift with policy `report`).
    Planned,
    /// Skipped this pass (backing off, blocked by plan).
    Skipped,
    Error,
}

impl ResultLabel {
    pub fn as_str(self) -> &'static str {
        match self {
            ResultLabel::InSync => "in_sync",
            ResultLabel::Applied => "applied",
            ResultLabel::Planned => "planned",
            ResultLabel::Skipped => "skipped",
            ResultLabel::Error => "error",
        }
    }
}

/// API-side figures taken from the Cloudflare client when `/metrics` is rendered.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApiSnapshot {
    /// `(method, status)` -> count; `status` is the client's status class (`2xx`, `4xx`, `5xx`,
    /// `transport` for answers that never came).
    pub requests: BTreeMap<(String, String), u64>,
    /// Requests left in the client's rate-limit budget, when known.
    pub budget_available: Option<f64>,
}

#[derive(Debug, Default)]
struct Histogram {
    buckets: [u64; DURATION_BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Debug, Default)]
struct Inner {
    reconcile_total: BTreeMap<(String, ResultLabel), u64>,
    errors_total: BTreeMap<Reason, u64>,
    duration: Histogram,
    drift: BTreeMap<String, bool>,
    /// worker -> (commit, version)
    worker_info: BTreeMap<String, (String, String)>,
    /// worker -> its rollout (the latest report, ended ones included).
    rollouts: BTreeMap<String, crate::rollout::RolloutReport>,
    passes_total: u64,
    /// (sink, result) -> notifications.
    notifications: BTreeMap<(String, &'static str), u64>,
}

/// The loop's metric registry. Cheap to share behind an `Arc`.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl Metrics {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A poisoned lock only means a panic elsewhere mid-update of plain counters; the data
        // is still usable, so keep serving metrics.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn record_reconcile(&self, worker: &str, result: ResultLabel) {
        *self
            .lock()
            .reconcile_total
            .entry((worker.to_owned(), result))
            .or_default() += 1;
    }

    pub fn record_error(&self, reason: Reason) {
        *self.lock().errors_total.entry(reason).or_default() += 1;
    }

    /// Records the duration of one reconcile pass.
    pub fn observe_duration(&self, duration: Duration) {
        let seconds = duration.as_secs_f64();
        let mut inner = self.lock();
        inner.passes_total += 1;
        let histogram = &mut inner.duration;
        histogram.count += 1;
        histogram.sum += seconds;
        for (bucket, bound) in histogram.buckets.iter_mut().zip(DURATION_BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
    }

    pub fn set_drift(&self, worker: &str, drifted: bool) {
        self.lock().drift.insert(worker.to_owned(), drifted);
    }

    /// Sets `flaresync_worker_info{worker,commit,version} 1`, replacing the previous series of
    /// that Worker.
    pub fn set_worker_info(&self, worker: &str, commit: &str, version: &str) {
        self.lock()
            .worker_info
            .insert(worker.to_owned(), (commit.to_owned(), version.to_owned()));
    }

    /// Number of completed passes (observed durations).
    pub fn passes_total(&self) -> u64 {
        self.lock().passes_total
    }

    /// Count of `flaresync_reconcile_total{worker,result}`.
    pub fn reconcile_count(&self, worker: &str, result: ResultLabel) -> u64 {
        self.lock()
            .reconcile_total
            .get(&(worker.to_owned(), result))
            .copied()
            .unwrap_or_default()
    }

    pub fn error_count(&self, reason: Reason) -> u64 {
        self.lock()
            .errors_total
            .get(&reason)
            .copied()
            .unwrap_or_default()
    }

    /// Sets the rollout series of `worker` (phase, step, weight, last analysis values).
    pub fn set_rollout(&self, worker: &str, rollout: &crate::rollout::RolloutReport) {
        let mut inner = self.lock();
        let previous = inner.rollouts.insert(worker.to_owned(), rollout.clone());
        // A report without an analysis (a wait) keeps the values of the last one.
        if rollout.last_analysis.is_none()
            && let Some(previous) = previous
            && previous.commit == rollout.commit
            && let Some(current) = inner.rollouts.get_mut(worker)
        {
            current.last_analysis = previous.last_analysis;
        }
    }

    /// Counts a notification by sink and result (`delivered`, `failed`, `retried`, `dropped`).
    pub fn record_notification(&self, sink: &str, result: &'static str) {
        *self
            .lock()
            .notifications
            .entry((sink.to_owned(), result))
            .or_default() += 1;
    }

    pub fn notification_count(&self, sink: &str, result: &'static str) -> u64 {
        self.lock()
            .notifications
            .get(&(sink.to_owned(), result))
            .copied()
            .unwrap_or(0)
    }

    /// Renders the Prometheus text exposition format (version 0.0.4).
    pub fn render(&self, api: &ApiSnapshot) -> String {
        let inner = self.lock();
        let mut out = String::new();
        render_reconciles(&mut out, &inner);
        render_duration(&mut out, &inner);
        render_api(&mut out, api);
        render_workers(&mut out, &inner);
        render_rollouts(&mut out, &inner);
        render_notifications(&mut out, &inner);
        out
    }
}

/// Notifications by sink and result.
fn render_notifications(out: &mut String, inner: &Inner) {
    if inner.notifications.is_empty() {
        return;
    }
    header(
        out,
        "flaresync_notifications_total",
        "counter",
        "Notifications by sink and result (delivered, failed, retried, dropped).",
    );
    for ((sink, result), count) in &inner.notifications {
        sample(
            out,
            "flaresync_notifications_total",
            &[("sink", sink), ("result", result)],
            *count as f64,
        );
    }
}

/// Reconciles by result.
fn render_reconciles(out: &mut String, inner: &Inner) {
    header(
        out,
        "flaresync_reconcile_total",
        "counter",
        "Worker reconciles by result.",
    );
    for ((worker, result), count) in &inner.reconcile_total {
        sample(
            out,
            "flaresync_reconcile_total",
            &[("worker", worker), ("result", result.as_str())],
            *count as f64,
        );
    }
}

/// Pass durations (histogram) and errors by reason.
fn render_duration(out: &mut String, inner: &Inner) {
    header(
        out,
        "flaresync_reconcile_duration_seconds",
        "histogram",
        "Duration of reconcile passes.",
    );
    for (bound, count) in DURATION_BUCKETS.iter().zip(inner.duration.buckets) {
        sample(
            out,
            "flaresync_reconcile_duration_seconds_bucket",
            &[("le", &format_float(*bound))],
            count as f64,
        );
    }
    sample(
        out,
        "flaresync_reconcile_duration_seconds_bucket",
        &[("le", "+Inf")],
        inner.duration.count as f64,
    );
    sample(
        out,
        "flaresync_reconcile_duration_seconds_sum",
        &[],
        inner.duration.sum,
    );
    sample(
        out,
        "flaresync_reconcile_duration_seconds_count",
        &[],
        inner.duration.count as f64,
    );

    header(
        out,
        "flaresync_reconcile_errors_total",
        "counter",
        "Reconcile errors by reason code.",
    );
    for (reason, count) in &inner.errors_total {
        sample(
            out,
            "flaresync_reconcile_errors_total",
            &[("reason", reason.as_str())],
            *count as f64,
        );
    }
}

/// Cloudflare API requests and the budget left.
fn render_api(out: &mut String, api: &ApiSnapshot) {
    header(
        out,
        "flaresync_api_requests_total",
        "counter",
        "Cloudflare API requests by method and HTTP status.",
    );
    for ((method, status), count) in &api.requests {
        sample(
            out,
            "flaresync_api_requests_total",
            &[("method", method), ("status", status)],
            *count as f64,
        );
    }

    if let Some(budget) = api.budget_available {
        header(
            out,
            "flaresync_api_budget_available",
            "gauge",
            "Requests left in the Cloudflare API rate-limit budget.",
        );
        sample(out, "flaresync_api_budget_available", &[], budget);
    }
}

/// Per Worker: drift and what is live.
fn render_workers(out: &mut String, inner: &Inner) {
    header(
        out,
        "flaresync_drift",
        "gauge",
        "1 when the Worker's active deployment was changed outside flaresync.",
    );
    for (worker, drifted) in &inner.drift {
        sample(
            out,
            "flaresync_drift",
            &[("worker", worker)],
            if *drifted { 1.0 } else { 0.0 },
        );
    }

    header(
        out,
        "flaresync_worker_info",
        "gauge",
        "The Git commit and Cloudflare version live for each Worker.",
    );
    for (worker, (commit, version)) in &inner.worker_info {
        sample(
            out,
            "flaresync_worker_info",
            &[("worker", worker), ("commit", commit), ("version", version)],
            1.0,
        );
    }
}

/// Per Worker with a rollout: phase, step, canary weight and the last analysis's values.
fn render_rollouts(out: &mut String, inner: &Inner) {
    if inner.rollouts.is_empty() {
        return;
    }
    header(
        out,
        "flaresync_rollout_phase",
        "gauge",
        "1 for the phase each Worker's rollout is in (progressing, baking, paused, aborted, completed).",
    );
    for (worker, rollout) in &inner.rollouts {
        let phase = rollout.phase.name();
        sample(
            out,
            "flaresync_rollout_phase",
            &[
                ("worker", worker),
                ("commit", short(&rollout.commit)),
                ("phase", phase),
            ],
            1.0,
        );
    }
    header(
        out,
        "flaresync_rollout_weight_percent",
        "gauge",
        "The canary's share of traffic in each Worker's rollout.",
    );
    for (worker, rollout) in &inner.rollouts {
        let weight = rollout.weight.map(f64::from).unwrap_or(0.0);
        sample(
            out,
            "flaresync_rollout_weight_percent",
            &[("worker", worker)],
            weight,
        );
    }
    header(
        out,
        "flaresync_rollout_step",
        "gauge",
        "The step (1-based) each Worker's rollout is at.",
    );
    for (worker, rollout) in &inner.rollouts {
        let step = match &rollout.phase {
            crate::rollout::Phase::Progressing { step, .. }
            | crate::rollout::Phase::Baking { step, .. }
            | crate::rollout::Phase::Paused { step, .. } => *step as f64,
            _ => 0.0,
        };
        sample(out, "flaresync_rollout_step", &[("worker", worker)], step);
    }
    header(
        out,
        "flaresync_rollout_analysis_value",
        "gauge",
        "The values the last analysis measured (error rate as a fraction, latency ratio, prometheus value).",
    );
    for (worker, rollout) in &inner.rollouts {
        for check in rollout.last_analysis.iter().flat_map(|a| a.checks.iter()) {
            if let Some(value) = check.value.filter(|v| v.is_finite()) {
                let labels = [
                    ("worker", worker.as_str()),
                    ("check", check.name.as_str()),
                    ("result", check.result.as_str()),
                ];
                sample(out, "flaresync_rollout_analysis_value", &labels, value);
            }
        }
    }
}

fn short(commit: &str) -> &str {
    commit.get(..7).unwrap_or(commit)
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    // Writing to a String cannot fail.
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: f64) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (index, (key, value)) in labels.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            let _ = write!(out, "{key}=\"{}\"", escape_label(value));
        }
        out.push('}');
    }
    let _ = writeln!(out, " {}", format_float(value));
}

/// Escapes a label value per the exposition format: backslash, double quote and newline.
fn escape_label(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for character in value.chars() {
        match character {
            '\\' => escaped.push_str("\\\\"),
            '"' => escaped.push_str("\\\""),
            '\n' => escaped.push_str("\\n"),
            other => escaped.push(other),
        }
    }
    escaped
}

fn format_float(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value.is_infinite() {
        if value > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_family_with_labels_and_escaping() {
        let metrics = Metrics::new();
        metrics.record_reconcile("api", ResultLabel::Applied);
        metrics.record_reconcile("api", ResultLabel::Applied);
        metrics.record_reconcile("web", ResultLabel::InSync);
        metrics.record_error(Reason::ApiRateLimited);
        metrics.observe_duration(Duration::from_millis(30));
        metrics.observe_duration(Duration::from_secs(60));
        metrics.set_drift("api", true);
        metrics.set_drift("web", false);
        metrics.set_worker_info("api", "abc1234", "v-1");
        metrics.set_worker_info("api", "def5678", "v\"2");
        let mut api = ApiSnapshot::default();
        api.requests.insert(("GET".into(), "200".into()), 7);
        api.budget_available = Some(1193.0);
        let text = metrics.render(&api);

        for line in [
            "flaresync_reconcile_total{worker=\"api\",result=\"applied\"} 2",
            "flaresync_reconcile_total{worker=\"web\",result=\"in_sync\"} 1",
            "flaresync_reconcile_errors_total{reason=\"ApiRateLimited\"} 1",
            "flaresync_reconcile_duration_seconds_bucket{le=\"0.05\"} 1",
            "flaresync_reconcile_duration_seconds_bucket{le=\"30\"} 1",
            "flaresync_reconcile_duration_seconds_bucket{le=\"+Inf\"} 2",
            "flaresync_reconcile_duration_seconds_count 2",
            "flaresync_api_requests_total{method=\"GET\",status=\"200\"} 7",
            "flaresync_api_budget_available 1193",
            "flaresync_drift{worker=\"api\"} 1",
            "flaresync_drift{worker=\"web\"} 0",
            "flaresync_worker_info{worker=\"api\",commit=\"def5678\",version=\"v\\\"2\"} 1",
            "# TYPE flaresync_reconcile_duration_seconds histogram",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        assert!(
            !text.contains("abc1234"),
            "old worker_info series must be replaced"
        );
        assert_eq!(metrics.passes_total(), 2);
        assert_eq!(metrics.reconcile_count("api", ResultLabel::Applied), 2);
        assert_eq!(metrics.error_count(Reason::ApiRateLimited), 1);
    }

    #[test]
    fn budget_gauge_is_absent_when_unknown() {
        let text = Metrics::new().render(&ApiSnapshot::default());
        assert!(!text.contains("flaresync_api_budget_available"));
        assert!(text.contains("# TYPE flaresync_reconcile_total counter"));
    }
}
