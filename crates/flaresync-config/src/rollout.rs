//! `rollout` in `flaresync.toml`: progressive delivery of a Worker's new versions.
//!
//! ```toml
//! [rollout]                       # repository default (absent: every change goes out at 100%)
//! steps = [10, 50, 100]           # canary share of each step, in percent (100 is implied last)
//! step_interval = "2m"            # analysis after each step, then the next step
//! bake = "10m"                    # analysis after 100%, before the rollout counts as done
//! max_error_rate = 0.05           # or "5%": canary error rate above this fails (default 5%)
//! max_latency_ratio = 2.0         # canary latency quantile / stable's above this fails
//! latency_quantile = "p99"        # "p50" | "p90" | "p99" (the dataset has no p95)
//! latency_tolerance_ms = 5        # differences below this never fail (noise of fast Workers)
//! min_requests = 20               # fewer canary requests in a window: Inconclusive
//! probe = { url = "https://api.example.com/health", expected_status = 200,
//!           body_contains = "ok", attempts = 3, interval = "2s", timeout = "5s" }
//! prometheus = { url = "http://prometheus:9090", query = "sum(rate(errors[1m]))", threshold = 5 }
//!
//! [workers.api]
//! rollout = { steps = [5, 25, 100], max_error_rate = "1%" }  # over the repository default
//! [workers.cron-only]
//! rollout = false                 # this Worker goes out at 100% as before
//! ```
//!
//! A Worker's own `rollout` table is merged key by key over the repository's: a key it does
//! not set keeps the repository default's value (then the built-in default). A Worker's `probe`
//! and `prometheus` tables merge the same way over the default's (a Worker's probe without
//! `url` probes the default's URL). Parsing is pure: the reading of files happens in
//! [`crate::repo`].

use std::time::Duration;

use serde::Serialize;

use crate::error::ConfigError;
use crate::reader::{Cx, Tbl};
use crate::source::{Node, Val};

/// Default `max_error_rate` (a fraction: 5%).
pub const DEFAULT_MAX_ERROR_RATE: f64 = 0.05;
/// Default `max_latency_ratio`.
pub const DEFAULT_MAX_LATENCY_RATIO: f64 = 2.0;
/// Default `min_requests`.
pub const DEFAULT_MIN_REQUESTS: u64 = 20;
/// Default `latency_tolerance_ms`.
pub const DEFAULT_LATENCY_TOLERANCE_MS: u64 = 5;

/// A progressive rollout strategy (validated: steps ascend within 1..=100 and end at 100).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rollout {
    /// Canary share of each step, in percent, ascending; the last is 100.
    pub steps: Vec<u8>,
    #[serde(with = "millis")]
    pub step_interval: Duration,
    #[serde(with = "millis")]
    pub bake: Duration,
    pub analysis: Analysis,
}

/// What decides whether a step passed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analysis {
    /// Highest canary error rate that passes, as a fraction (0.05 = 5%).
    pub max_error_rate: f64,
    /// Highest canary / stable ratio of the latency quantile that passes.
    pub max_latency_ratio: f64,
    pub latency_quantile: LatencyQuantile,
    /// A canary slower than stable by less than this never fails the latency check.
    pub latency_tolerance_ms: u64,
    /// Fewer canary requests than this in a window make the traffic analysis Inconclusive.
    pub min_requests: u64,
    pub probe: Option<Probe>,
    pub prometheus: Option<PrometheusCheck>,
}

// Floats are checked finite when read, so equality is reflexive.
impl Eq for Rollout {}
impl Eq for Analysis {}
impl Eq for PrometheusCheck {}

/// Which wall-time quantile the latency check compares (`workersInvocationsAdaptive` offers
/// P25, P50, P75, P90, P99 and P999; no P95).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LatencyQuantile {
    P50,
    P90,
    #[default]
    P99,
}

impl LatencyQuantile {
    /// The GraphQL field name (`wallTimeP99`).
    pub fn field(self) -> &'static str {
        match self {
            LatencyQuantile::P50 => "wallTimeP50",
            LatencyQuantile::P90 => "wallTimeP90",
            LatencyQuantile::P99 => "wallTimeP99",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LatencyQuantile::P50 => "p50",
            LatencyQuantile::P90 => "p90",
            LatencyQuantile::P99 => "p99",
        }
    }
}

/// An HTTP probe sent to the canary version (`Cloudflare-Workers-Version-Overrides`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Probe {
    pub url: String,
    /// `Host` header to send, for a URL that names an address rather than the Worker's host.
    pub host: Option<String>,
    pub expected_status: u16,
    /// The body must contain this text.
    pub body_contains: Option<String>,
    pub attempts: u32,
    #[serde(with = "millis")]
    pub interval: Duration,
    #[serde(with = "millis")]
    pub timeout: Duration,
}

/// A user's Prometheus query: the first sample's value must not exceed `threshold`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrometheusCheck {
    /// Base URL of the Prometheus HTTP API (`/api/v1/query` is appended).
    pub url: String,
    pub query: String,
    pub threshold: f64,
}

/// A Worker's `rollout` key: its own strategy, or `false` to go out at 100%.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum RolloutSetting {
    Off,
    On(Box<Rollout>),
}

mod millis {
    pub fn serialize<S: serde::Serializer>(
        value: &std::time::Duration,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(u64::try_from(value.as_millis()).unwrap_or(u64::MAX))
    }
}

impl Default for Rollout {
    /// The built-in strategy a `rollout` table starts from: steps 10, 50, 100; 2 minutes per
    /// step; a 10-minute bake; the default thresholds; no probe, no Prometheus query.
    fn default() -> Self {
        Rollout {
            steps: vec![10, 50, 100],
            step_interval: Duration::from_secs(120),
            bake: Duration::from_secs(600),
            analysis: Analysis {
                max_error_rate: DEFAULT_MAX_ERROR_RATE,
                max_latency_ratio: DEFAULT_MAX_LATENCY_RATIO,
                latency_quantile: LatencyQuantile::default(),
                latency_tolerance_ms: DEFAULT_LATENCY_TOLERANCE_MS,
                min_requests: DEFAULT_MIN_REQUESTS,
                probe: None,
                prometheus: None,
            },
        }
    }
}

/// Reads a `rollout` value: a table, or (when `allow_off`) `false`. The keys a table does not
/// set keep `base`'s values (the repository default for a Worker's table, else the built-in
/// [`Rollout::default`]).
pub(crate) fn read_setting(
    cx: &mut Cx<'_>,
    node: &Node,
    path: &str,
    allow_off: bool,
    base: Option<&Rollout>,
) -> Result<RolloutSetting, ConfigError> {
    match &node.value {
        Val::Bool(false) if allow_off => Ok(RolloutSetting::Off),
        Val::Bool(_) => Err(cx.err(
            node,
            format!(
                "`{path}` must be a table (steps, step_interval, bake, ...){}",
                if allow_off { " or false" } else { "" }
            ),
        )),
        _ => {
            let mut table = Tbl::new(cx, node, path)?;
            let defaults = Rollout::default();
            let rollout = read_rollout(cx, &mut table, base.unwrap_or(&defaults))?;
            table.finish(cx, &[]);
            Ok(RolloutSetting::On(Box::new(rollout)))
        }
    }
}

fn read_rollout(cx: &mut Cx<'_>, t: &mut Tbl<'_>, base: &Rollout) -> Result<Rollout, ConfigError> {
    let steps = match t.get("steps") {
        None => base.steps.clone(),
        Some(node) => steps(cx, node, &t.key_path("steps"))?,
    };
    let step_interval = duration(cx, t, "step_interval")?.unwrap_or(base.step_interval);
    let bake = duration(cx, t, "bake")?.unwrap_or(base.bake);
    let defaults = &base.analysis;
    let max_error_rate = match t.get("max_error_rate") {
        None => defaults.max_error_rate,
        Some(node) => error_rate(cx, node, &t.key_path("max_error_rate"))?,
    };
    let max_latency_ratio = match t.get("max_latency_ratio") {
        None => defaults.max_latency_ratio,
        Some(node) => match number(&node.value) {
            Some(ratio) if ratio.is_finite() && ratio >= 1.0 => ratio,
            _ => {
                return Err(cx.err(
                    node,
                    format!(
                        "`{}` must be a number of at least 1.0 (2.0 = twice stable's latency)",
                        t.key_path("max_latency_ratio")
                    ),
                ));
            }
        },
    };
    let latency_quantile = match t.str(cx, "latency_quantile")?.as_deref() {
        None => defaults.latency_quantile,
        Some("p50") => LatencyQuantile::P50,
        Some("p90") => LatencyQuantile::P90,
        Some("p99") => LatencyQuantile::P99,
        Some(other) => {
            let node = t.get("latency_quantile").unwrap_or(t.node);
            return Err(cx.err(
                node,
                format!(
                    "`{}` must be \"p50\", \"p90\" or \"p99\", found {other:?} (Cloudflare's analytics offer no p95)",
                    t.key_path("latency_quantile")
                ),
            ));
        }
    };
    let probe = match t.table(cx, "probe")? {
        None => defaults.probe.clone(),
        Some(mut probe) => {
            let read = read_probe(cx, &mut probe, defaults.probe.as_ref())?;
            probe.finish(cx, &[]);
            Some(read)
        }
    };
    let prometheus = match t.table(cx, "prometheus")? {
        None => defaults.prometheus.clone(),
        Some(mut table) => {
            let read = read_prometheus(cx, &mut table, defaults.prometheus.as_ref())?;
            table.finish(cx, &[]);
            Some(read)
        }
    };
    Ok(Rollout {
        steps,
        step_interval,
        bake,
        analysis: Analysis {
            max_error_rate,
            max_latency_ratio,
            latency_quantile,
            latency_tolerance_ms: t
                .u64(cx, "latency_tolerance_ms")?
                .unwrap_or(defaults.latency_tolerance_ms),
            min_requests: t.u64(cx, "min_requests")?.unwrap_or(defaults.min_requests),
            probe,
            prometheus,
        },
    })
}

/// A required text key of a nested table, or `base`'s value when the table leaves it out.
fn text_or(
    cx: &Cx<'_>,
    t: &mut Tbl<'_>,
    key: &str,
    base: Option<&String>,
    hint: &str,
) -> Result<String, ConfigError> {
    match base {
        Some(value) if !t.has(key) => Ok(value.clone()),
        _ => t.req_nonempty(cx, key, hint),
    }
}

fn read_probe(
    cx: &mut Cx<'_>,
    p: &mut Tbl<'_>,
    base: Option<&Probe>,
) -> Result<Probe, ConfigError> {
    let url = text_or(
        cx,
        p,
        "url",
        base.map(|b| &b.url),
        "set the URL the probe requests from the canary",
    )?;
    let expected_status = match p.u64(cx, "expected_status")? {
        None => base.map_or(200, |b| b.expected_status),
        Some(status) if (100..=599).contains(&status) => status as u16,
        Some(_) => {
            let node = p.get("expected_status").unwrap_or(p.node);
            return Err(cx.err(
                node,
                format!(
                    "`{}` must be an HTTP status between 100 and 599",
                    p.key_path("expected_status")
                ),
            ));
        }
    };
    let attempts = match p.u64(cx, "attempts")? {
        None => base.map_or(3, |b| b.attempts),
        Some(n) if (1..=100).contains(&n) => n as u32,
        Some(_) => {
            let node = p.get("attempts").unwrap_or(p.node);
            return Err(cx.err(
                node,
                format!("`{}` must be between 1 and 100", p.key_path("attempts")),
            ));
        }
    };
    Ok(Probe {
        url,
        host: p
            .str(cx, "host")?
            .or_else(|| base.and_then(|b| b.host.clone())),
        expected_status,
        body_contains: p
            .str(cx, "body_contains")?
            .or_else(|| base.and_then(|b| b.body_contains.clone())),
        attempts,
        interval: duration(cx, p, "interval")?
            .unwrap_or(base.map_or(Duration::from_secs(2), |b| b.interval)),
        timeout: duration(cx, p, "timeout")?
            .unwrap_or(base.map_or(Duration::from_secs(5), |b| b.timeout)),
    })
}

fn read_prometheus(
    cx: &mut Cx<'_>,
    p: &mut Tbl<'_>,
    base: Option<&PrometheusCheck>,
) -> Result<PrometheusCheck, ConfigError> {
    let url = text_or(
        cx,
        p,
        "url",
        base.map(|b| &b.url),
        "set the base URL of the Prometheus HTTP API",
    )?;
    let query = text_or(
        cx,
        p,
        "query",
        base.map(|b| &b.query),
        "set the PromQL query to evaluate",
    )?;
    let threshold = match p.get("threshold") {
        Some(node) => number(&node.value)
            .filter(|n| n.is_finite())
            .ok_or_else(|| {
                cx.err(
                    node,
                    format!("`{}` must be a number", p.key_path("threshold")),
                )
            })?,
        None => match base {
            Some(base) => base.threshold,
            None => return Err(p.missing(cx, "threshold", "set the highest value that passes")),
        },
    };
    Ok(PrometheusCheck {
        url,
        query,
        threshold,
    })
}

fn number(value: &Val) -> Option<f64> {
    match value {
        Val::Int(i) => Some(*i as f64),
        Val::Num(n) => n.as_f64(),
        _ => None,
    }
}

fn steps(cx: &Cx<'_>, node: &Node, path: &str) -> Result<Vec<u8>, ConfigError> {
    let Val::Array(items) = &node.value else {
        return Err(cx.err(
            node,
            format!("`{path}` must be an array of percentages, e.g. [10, 50, 100]"),
        ));
    };
    let mut steps: Vec<u8> = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let step = match item.value {
            Val::Int(i) if (1..=100).contains(&i) => i as u8,
            _ => {
                return Err(cx.err(
                    item,
                    format!("`{path}[{index}]` must be a whole percentage between 1 and 100"),
                ));
            }
        };
        if steps.last().is_some_and(|last| *last >= step) {
            return Err(cx.err(
                item,
                format!(
                    "`{path}` must ascend: {step} does not come after {}",
                    steps[steps.len() - 1]
                ),
            ));
        }
        steps.push(step);
    }
    if steps.last() != Some(&100) {
        steps.push(100);
    }
    Ok(steps)
}

fn error_rate(cx: &Cx<'_>, node: &Node, path: &str) -> Result<f64, ConfigError> {
    let rate = match &node.value {
        Val::Num(n) => n.as_f64(),
        Val::Int(0) => Some(0.0),
        Val::Int(1) => Some(1.0),
        Val::Str(s) => s
            .trim()
            .strip_suffix('%')
            .and_then(|p| p.trim().parse::<f64>().ok())
            .map(|p| p / 100.0),
        _ => None,
    };
    rate.filter(|r| r.is_finite() && (0.0..=1.0).contains(r))
        .ok_or_else(|| {
            cx.err(
                node,
                format!(
                    "`{path}` must be a fraction between 0 and 1 (0.05) or a percentage (\"5%\")"
                ),
            )
        })
}

fn duration(cx: &Cx<'_>, t: &mut Tbl<'_>, key: &str) -> Result<Option<Duration>, ConfigError> {
    let Some(node) = t.get(key) else {
        return Ok(None);
    };
    let parsed = match &node.value {
        Val::Str(text) => parse_duration(text),
        _ => None,
    };
    parsed.map(Some).ok_or_else(|| {
        cx.err(
            node,
            format!(
                "`{}` must be a duration such as \"500ms\", \"30s\", \"2m\" or \"1h30m\"",
                t.key_path(key)
            ),
        )
    })
}

/// `"500ms"`, `"30s"`, `"2m"`, `"1h30m"`; `None` for anything else (or zero).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let mut rest = text.trim();
    let mut total = Duration::ZERO;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        let value: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let part = match &rest[..unit_len] {
            "ms" => Duration::from_millis(value),
            "s" => Duration::from_secs(value),
            "m" => Duration::from_secs(value.checked_mul(60)?),
            "h" => Duration::from_secs(value.checked_mul(3600)?),
            _ => return None,
        };
        total = total.checked_add(part)?;
        rest = &rest[unit_len..];
    }
    (!total.is_zero()).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::parse_repo_config;

    fn rollout_of(text: &str, worker: &str) -> Option<Rollout> {
        let (config, warnings) = parse_repo_config("flaresync.toml", text.as_bytes()).expect("ok");
        assert!(warnings.is_empty(), "{warnings:?}");
        config.policy_for(worker, &[]).rollout
    }

    #[test]
    fn durations_read_like_a_human_writes_them() {
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        for bad in ["", "2", "m", "2 minutes", "0s", "-1s", "1.5m"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_repository_default_applies_and_a_worker_merges_over_it_or_turns_it_off() {
        let text = "[rollout]\nsteps = [10, 50]\nstep_interval = \"30s\"\nbake = \"1m\"\n\
                    max_error_rate = \"2%\"\nprobe = { url = \"https://x/health\", body_contains = \"ok\" }\n\
                    [workers.api]\nrollout = { steps = [25], max_latency_ratio = 3 }\n\
                    [workers.cron]\nrollout = false\n";
        let web = rollout_of(text, "web").expect("default");
        assert_eq!(web.steps, vec![10, 50, 100]);
        assert_eq!(web.step_interval, Duration::from_secs(30));
        assert!((web.analysis.max_error_rate - 0.02).abs() < 1e-9);
        let probe = web.analysis.probe.clone().expect("probe");
        assert_eq!((probe.attempts, probe.expected_status), (3, 200));
        assert_eq!(probe.body_contains.as_deref(), Some("ok"));
        let api = rollout_of(text, "api").expect("own");
        assert_eq!(api.steps, vec![25, 100]);
        assert!((api.analysis.max_latency_ratio - 3.0).abs() < 1e-9);
        // Every key api does not set is the repository default's.
        assert_eq!(
            Rollout {
                steps: web.steps.clone(),
                analysis: Analysis {
                    max_latency_ratio: web.analysis.max_latency_ratio,
                    ..api.analysis.clone()
                },
                ..api
            },
            web,
            "keys are merged"
        );
        assert_eq!(rollout_of(text, "cron"), None);
        assert_eq!(rollout_of("", "web"), None, "no rollout key: as today");
    }

    #[test]
    fn a_workers_threshold_keeps_the_default_steps() {
        // The issue's case: default steps, one Worker stricter on errors.
        let text = "[rollout]\nsteps = [5, 20]\nbake = \"30m\"\n\
                    [workers.api]\nrollout = { max_error_rate = \"1%\" }\n";
        let api = rollout_of(text, "api").expect("merged");
        assert_eq!(api.steps, vec![5, 20, 100]);
        assert_eq!(api.bake, Duration::from_secs(1800));
        assert!((api.analysis.max_error_rate - 0.01).abs() < 1e-9);
        // Without a repository default, a Worker's table starts from the built-in one.
        let alone =
            rollout_of("[workers.api]\nrollout = { min_requests = 3 }\n", "api").expect("own");
        assert_eq!(
            alone,
            Rollout {
                analysis: Analysis {
                    min_requests: 3,
                    ..Rollout::default().analysis
                },
                ..Rollout::default()
            }
        );
    }

    #[test]
    fn a_workers_probe_and_query_merge_over_the_defaults() {
        let text = "[rollout]\nprobe = { url = \"https://x/health\", attempts = 5, interval = \"1s\" }\n\
                    prometheus = { url = \"http://p\", query = \"up\", threshold = 1 }\n\
                    [workers.api]\nrollout = { probe = { body_contains = \"api ok\" }, prometheus = { threshold = 2 } }\n";
        let api = rollout_of(text, "api").expect("merged").analysis;
        let probe = api.probe.expect("probe");
        assert_eq!(probe.url, "https://x/health");
        assert_eq!(
            (probe.attempts, probe.interval),
            (5, Duration::from_secs(1))
        );
        assert_eq!(probe.body_contains.as_deref(), Some("api ok"));
        let prometheus = api.prometheus.expect("query");
        assert_eq!(
            (prometheus.url.as_str(), prometheus.query.as_str()),
            ("http://p", "up")
        );
        assert!((prometheus.threshold - 2.0).abs() < 1e-9);
        // Without a default probe a Worker's probe still needs its URL.
        let error = parse_repo_config(
            "flaresync.toml",
            b"[workers.api]\nrollout = { probe = { attempts = 2 } }\n",
        )
        .expect_err("no url");
        assert!(error.to_string().contains("url"), "{error}");
    }

    #[test]
    fn bad_values_are_errors_at_their_line() {
        let cases = [
            (
                "[rollout]\nsteps = [50, 10]\n",
                "flaresync.toml:2:14:",
                "must ascend",
            ),
            (
                "[rollout]\nsteps = [0]\n",
                "flaresync.toml:2:10:",
                "between 1 and 100",
            ),
            (
                "[rollout]\nbake = \"soon\"\n",
                "flaresync.toml:2:8:",
                "must be a duration",
            ),
            (
                "[rollout]\nmax_error_rate = 5\n",
                "flaresync.toml:2:18:",
                "\"5%\"",
            ),
            (
                "[rollout]\nmax_latency_ratio = 0.5\n",
                "flaresync.toml:2:21:",
                "at least 1.0",
            ),
            (
                "[rollout]\nlatency_quantile = \"p95\"\n",
                "flaresync.toml:2:20:",
                "no p95",
            ),
            (
                "rollout = false\n",
                "flaresync.toml:1:11:",
                "must be a table",
            ),
            (
                "[rollout.prometheus]\nurl = \"http://p\"\nquery = \"up\"\n",
                "flaresync.toml:1:1:",
                "`rollout.prometheus.threshold` is required",
            ),
            (
                "[workers.a]\nrollout = { probe = { attempts = 2 } }\n",
                "flaresync.toml:2:21:",
                "url",
            ),
        ];
        for (text, at, says) in cases {
            let message = parse_repo_config("flaresync.toml", text.as_bytes())
                .expect_err(text)
                .to_string();
            assert!(message.starts_with(at), "{text}: {message}");
            assert!(message.contains(says), "{text}: {message}");
        }
    }

    #[test]
    fn unknown_rollout_keys_warn() {
        let (_, warnings) =
            parse_repo_config("flaresync.toml", b"[rollout]\nstep = [10]\n").expect("ok");
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].message.contains("rollout.step"), "{warnings:?}");
    }
}
