//! Analysis verdicts from measured numbers: Passed / Failed / Inconclusive per check, and the
//! verdict of a whole analysis. Pure: the numbers come from GraphQL analytics, probes and
//! Prometheus (see [`super::analysis`]).

use flaresync_config::Analysis;
use serde::Serialize;

/// Requests, errors and a latency quantile of one version over one window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Traffic {
    pub requests: u64,
    pub errors: u64,
    /// The configured wall-time quantile, in milliseconds.
    pub latency_ms: f64,
}

impl Traffic {
    /// Errors per request (0 without requests).
    pub fn error_rate(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.errors as f64 / self.requests as f64
        }
    }
}

/// The outcome of one check or of a whole analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Passed,
    Failed,
    Inconclusive,
}

/// The outcome of one check.
pub type CheckResult = Verdict;

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Passed => "passed",
            Verdict::Failed => "failed",
            Verdict::Inconclusive => "inconclusive",
        }
    }
}

/// One check with what it measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// `error_rate`, `latency`, `probe`, `prometheus`.
    pub name: String,
    pub result: CheckResult,
    /// The measured numbers and the limit, in words.
    pub detail: String,
    /// The measured value, when the check has one number (for metrics).
    pub value: Option<f64>,
}

impl Check {
    pub fn new(name: &str, result: CheckResult, detail: impl Into<String>) -> Self {
        Check {
            name: name.to_owned(),
            result,
            detail: detail.into(),
            value: None,
        }
    }

    fn value(mut self, value: f64) -> Self {
        self.value = Some(value);
        self
    }
}

// Every measured value is a finite number or +inf (a ratio over a zero latency), never NaN.
impl Eq for Check {}
impl Eq for Analysed {}

/// A whole analysis: its checks and their combined verdict (any Failed fails; else any
/// Inconclusive is Inconclusive; no check at all is Inconclusive).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analysed {
    pub verdict: Verdict,
    pub checks: Vec<Check>,
}

impl Analysed {
    pub fn from_checks(checks: Vec<Check>) -> Self {
        let verdict = if checks.iter().any(|c| c.result == Verdict::Failed) {
            Verdict::Failed
        } else if checks.is_empty() || checks.iter().any(|c| c.result == Verdict::Inconclusive) {
            Verdict::Inconclusive
        } else {
            Verdict::Passed
        };
        Analysed { verdict, checks }
    }

    /// The checks that decided the verdict (all of them when Passed), `; `-joined.
    pub fn summary(&self) -> String {
        let deciding: Vec<&Check> = self
            .checks
            .iter()
            .filter(|c| self.verdict == Verdict::Passed || c.result == self.verdict)
            .collect();
        if deciding.is_empty() {
            return "no analysis configured".into();
        }
        deciding
            .iter()
            .map(|c| c.detail.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The value a check measured, by name.
    pub fn value_of(&self, name: &str) -> Option<f64> {
        self.checks
            .iter()
            .find(|c| c.name == name)
            .and_then(|c| c.value)
    }
}

/// The canary's error rate against `max_error_rate`; too few requests is Inconclusive.
pub fn error_rate(analysis: &Analysis, canary: &Traffic) -> Check {
    if canary.requests < analysis.min_requests {
        return Check::new(
            "error_rate",
            Verdict::Inconclusive,
            format!(
                "{} canary requests, fewer than min_requests {}",
                canary.requests, analysis.min_requests
            ),
        );
    }
    let rate = canary.error_rate();
    let result = if rate > analysis.max_error_rate {
        Verdict::Failed
    } else {
        Verdict::Passed
    };
    let comparison = if result == Verdict::Failed {
        "above"
    } else {
        "within"
    };
    Check::new(
        "error_rate",
        result,
        format!(
            "canary error rate {:.1}% ({} of {} requests), {comparison} max_error_rate {:.1}%",
            rate * 100.0,
            canary.errors,
            canary.requests,
            analysis.max_error_rate * 100.0
        ),
    )
    .value(rate)
}

/// The canary's latency quantile against stable's over the same window. Fails only when the
/// ratio exceeds `max_latency_ratio` *and* the canary is slower by at least
/// `latency_tolerance_ms`; too few requests on either side is Inconclusive.
pub fn latency(analysis: &Analysis, canary: &Traffic, stable: &Traffic) -> Check {
    let quantile = analysis.latency_quantile.as_str();
    let fewest = canary.requests.min(stable.requests);
    if fewest < analysis.min_requests {
        return Check::new(
            "latency",
            Verdict::Inconclusive,
            format!(
                "{} canary / {} stable requests, fewer than min_requests {} to compare {quantile}",
                canary.requests, stable.requests, analysis.min_requests
            ),
        );
    }
    let ratio = if stable.latency_ms > 0.0 {
        canary.latency_ms / stable.latency_ms
    } else if canary.latency_ms > 0.0 {
        f64::INFINITY
    } else {
        1.0
    };
    let slower_by = canary.latency_ms - stable.latency_ms;
    let failed =
        ratio > analysis.max_latency_ratio && slower_by >= analysis.latency_tolerance_ms as f64;
    let result = if failed {
        Verdict::Failed
    } else {
        Verdict::Passed
    };
    Check::new(
        "latency",
        result,
        format!(
            "canary {quantile} {:.1} ms vs stable {:.1} ms: ratio {:.2}, {} max_latency_ratio {:.2}",
            canary.latency_ms,
            stable.latency_ms,
            ratio,
            if failed { "above" } else { "within" },
            analysis.max_latency_ratio
        ),
    )
    .value(ratio)
}

/// A user's Prometheus value against its threshold (`Err`: the query failed: Inconclusive).
pub fn prometheus(threshold: f64, value: Result<f64, String>) -> Check {
    match value {
        Ok(value) if value > threshold => Check::new(
            "prometheus",
            Verdict::Failed,
            format!("prometheus value {value} above threshold {threshold}"),
        )
        .value(value),
        Ok(value) => Check::new(
            "prometheus",
            Verdict::Passed,
            format!("prometheus value {value} within threshold {threshold}"),
        )
        .value(value),
        Err(error) => Check::new(
            "prometheus",
            Verdict::Inconclusive,
            format!("prometheus query failed: {error}"),
        ),
    }
}

/// The verdict on one probe answer: `Ok((status, body))` or `Err(transport error)`.
pub fn probe_answer(
    expected_status: u16,
    body_contains: Option<&str>,
    answer: Result<(u16, &str), String>,
) -> Result<u16, String> {
    match answer {
        Ok((status, _)) if status != expected_status => {
            Err(format!("answered {status}, expected {expected_status}"))
        }
        Ok((status, body)) => match body_contains {
            Some(wanted) if !body.contains(wanted) => Err(format!(
                "answered {status} without the expected text {wanted:?} in its body"
            )),
            _ => Ok(status),
        },
        Err(error) => Err(format!("request failed: {error}")),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn analysis() -> Analysis {
        let (config, _) = flaresync_config::parse_repo_config(
            "flaresync.toml",
            b"[rollout]\nmin_requests = 20\n",
        )
        .expect("valid");
        config.rollout.expect("rollout").analysis
    }

    fn traffic(requests: u64, errors: u64, latency_ms: f64) -> Traffic {
        Traffic {
            requests,
            errors,
            latency_ms,
        }
    }

    #[test]
    fn the_error_rate_fails_above_the_limit_and_says_the_numbers() {
        let check = error_rate(&analysis(), &traffic(200, 42, 1.0));
        assert_eq!(check.result, Verdict::Failed);
        assert_eq!(
            check.detail,
            "canary error rate 21.0% (42 of 200 requests), above max_error_rate 5.0%"
        );
        assert_eq!(
            error_rate(&analysis(), &traffic(200, 10, 1.0)).result,
            Verdict::Passed
        );
    }

    #[test]
    fn a_quiet_worker_is_inconclusive_not_passed() {
        let check = error_rate(&analysis(), &traffic(3, 0, 1.0));
        assert_eq!(check.result, Verdict::Inconclusive);
        let whole = Analysed::from_checks(vec![check]);
        assert_eq!(whole.verdict, Verdict::Inconclusive);
        assert!(
            whole.summary().contains("3 canary requests"),
            "{}",
            whole.summary()
        );
        assert_eq!(Analysed::from_checks(vec![]).verdict, Verdict::Inconclusive);
    }

    #[test]
    fn latency_fails_on_ratio_and_absolute_slowdown_together() {
        let a = analysis();
        let slow = latency(&a, &traffic(100, 0, 250.0), &traffic(900, 0, 2.0));
        assert_eq!(slow.result, Verdict::Failed);
        assert!(
            slow.detail.contains("ratio 125.00, above"),
            "{}",
            slow.detail
        );
        // Three times as slow, but by 2 ms: noise of a fast Worker, not a regression.
        let noise = latency(&a, &traffic(100, 0, 3.0), &traffic(900, 0, 1.0));
        assert_eq!(noise.result, Verdict::Passed);
        let quiet = latency(&a, &traffic(100, 0, 300.0), &traffic(5, 0, 1.0));
        assert_eq!(quiet.result, Verdict::Inconclusive);
    }

    #[test]
    fn any_failure_fails_the_analysis() {
        let whole = Analysed::from_checks(vec![
            Check::new("error_rate", Verdict::Passed, "ok"),
            Check::new("probe", Verdict::Failed, "answered 500, expected 200"),
            Check::new("latency", Verdict::Inconclusive, "quiet"),
        ]);
        assert_eq!(whole.verdict, Verdict::Failed);
        assert_eq!(whole.summary(), "answered 500, expected 200");
    }

    #[test]
    fn probes_check_status_and_body() {
        assert_eq!(probe_answer(200, Some("ok"), Ok((200, "all ok"))), Ok(200));
        assert!(probe_answer(200, Some("ok"), Ok((200, "down"))).is_err());
        assert_eq!(
            probe_answer(200, None, Ok((503, ""))),
            Err("answered 503, expected 200".into())
        );
        assert!(probe_answer(200, None, Err("refused".into())).is_err());
    }

    #[test]
    fn prometheus_compares_with_its_threshold() {
        assert_eq!(prometheus(5.0, Ok(7.5)).result, Verdict::Failed);
        assert_eq!(prometheus(5.0, Ok(5.0)).result, Verdict::Passed);
        assert_eq!(
            prometheus(5.0, Err("down".into())).result,
            Verdict::Inconclusive
        );
    }

    proptest! {
        /// An error rate strictly above the limit always fails and one at or below always
        /// passes, given enough requests.
        #[test]
        fn error_rate_verdict_matches_the_arithmetic(requests in 20u64..10_000, errors_per_mille in 0u64..1000) {
            let errors = requests * errors_per_mille / 1000;
            let check = error_rate(&analysis(), &traffic(requests, errors, 1.0));
            let rate = errors as f64 / requests as f64;
            prop_assert_eq!(check.result == Verdict::Failed, rate > 0.05);
        }
    }
}
