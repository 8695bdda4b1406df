//! The analysis providers: Cloudflare's GraphQL Analytics (canary vs stable over the same
//! window), HTTP probes sent to the canary version with `Cloudflare-Workers-Version-Overrides`,
//! and a user's Prometheus query. Each turns what it measured into [`Check`]s through the pure
//! functions of [`super::verdict`]; [`analyse`] runs the configured ones.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use flaresync_config::{Analysis, LatencyQuantile, Probe, PrometheusCheck};
use serde_json::{Value, json};

use super::verdict::{self, Analysed, Check, Traffic, Verdict};

/// The analytics query: per version of one script over one window.
const QUERY: &str = "query RolloutAnalysis($account: string!, $script: string!, $since: Time!, $until: Time!) {
  viewer { accounts(filter: {accountTag: $account}) {
    rows: workersInvocationsAdaptive(limit: 100, filter: {scriptName: $script, datetime_geq: $since, datetime_leq: $until}) {
      dimensions { scriptVersion }
      sum { requests errors }
      quantiles { QUANTILE }
    }
  } }
}";

/// What one analysis looks at.
pub struct Subject<'a> {
    pub script: &'a str,
    pub canary: &'a str,
    /// The version the canary is compared with, and the window to read it over (the bake
    /// compares with stable's numbers from the step before 100%).
    pub stable: Option<(&'a str, DateTime<Utc>, DateTime<Utc>)>,
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

/// Runs every configured check. Never fails: a provider that cannot answer makes its check
/// Inconclusive (or, for a probe, Failed: the canary did not answer).
pub async fn analyse(
    client: &flaresync_cloudflare::Client,
    http: &reqwest::Client,
    analysis: &Analysis,
    subject: &Subject<'_>,
) -> Analysed {
    let mut checks = Vec::new();
    match traffic(
        client,
        subject.script,
        subject.since,
        subject.until,
        analysis.latency_quantile,
    )
    .await
    {
        Ok(by_version) => {
            let canary = by_version.get(subject.canary).copied().unwrap_or(Traffic {
                requests: 0,
                errors: 0,
                latency_ms: 0.0,
            });
            checks.push(verdict::error_rate(analysis, &canary));
            if let Some(stable) = stable_traffic(client, analysis, subject, &by_version).await {
                checks.push(verdict::latency(analysis, &canary, &stable));
            }
        }
        Err(error) => checks.push(Check::new(
            "error_rate",
            Verdict::Inconclusive,
            format!("analytics could not be read: {error}"),
        )),
    }
    if let Some(probe) = &analysis.probe {
        checks.push(run_probe(http, probe, subject.script, subject.canary).await);
    }
    if let Some(prometheus) = &analysis.prometheus {
        let value = query_prometheus(http, prometheus).await;
        checks.push(verdict::prometheus(prometheus.threshold, value));
    }
    Analysed::from_checks(checks)
}

async fn stable_traffic(
    client: &flaresync_cloudflare::Client,
    analysis: &Analysis,
    subject: &Subject<'_>,
    same_window: &BTreeMap<String, Traffic>,
) -> Option<Traffic> {
    let (stable, since, until) = subject.stable?;
    if since == subject.since && until == subject.until {
        return Some(same_window.get(stable).copied().unwrap_or(Traffic {
            requests: 0,
            errors: 0,
            latency_ms: 0.0,
        }));
    }
    let earlier = traffic(
        client,
        subject.script,
        since,
        until,
        analysis.latency_quantile,
    )
    .await
    .ok()?;
    earlier.get(stable).copied()
}

/// Requests, errors and the latency quantile of every version of `script` over the window.
pub async fn traffic(
    client: &flaresync_cloudflare::Client,
    script: &str,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    quantile: LatencyQuantile,
) -> Result<BTreeMap<String, Traffic>, flaresync_cloudflare::Error> {
    // The dataset takes whole seconds: the window is widened to them (the last partial second
    // would otherwise be cut off).
    let until = until + chrono::Duration::seconds(1);
    let variables = json!({
        "account": client.account_id(),
        "script": script,
        "since": since.to_rfc3339_opts(SecondsFormat::Secs, true),
        "until": until.to_rfc3339_opts(SecondsFormat::Secs, true),
    });
    let data = client
        .graphql(&QUERY.replace("QUANTILE", quantile.field()), variables)
        .await?;
    Ok(parse_traffic(&data, quantile))
}

/// The rows of an analytics answer by version (wall time: microseconds to milliseconds).
pub fn parse_traffic(data: &Value, quantile: LatencyQuantile) -> BTreeMap<String, Traffic> {
    let rows = data
        .pointer("/viewer/accounts/0/rows")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut out: BTreeMap<String, Traffic> = BTreeMap::new();
    for row in rows {
        let Some(version) = row
            .pointer("/dimensions/scriptVersion")
            .and_then(Value::as_str)
        else {
            continue;
        };
        let number = |pointer: &str| row.pointer(pointer).and_then(Value::as_f64).unwrap_or(0.0);
        out.insert(
            version.to_owned(),
            Traffic {
                requests: number("/sum/requests") as u64,
                errors: number("/sum/errors") as u64,
                latency_ms: number(&format!("/quantiles/{}", quantile.field())) / 1000.0,
            },
        );
    }
    out
}

/// The `Cloudflare-Workers-Version-Overrides` value that sends a request to `version`.
pub fn override_header(script: &str, version: &str) -> String {
    format!("{script}=\"{version}\"")
}

/// Sends the probe to the canary up to `attempts` times; Passed at the first good answer.
pub async fn run_probe(http: &reqwest::Client, probe: &Probe, script: &str, canary: &str) -> Check {
    let url = flaresync_config::url::display_url(&probe.url);
    let mut last = String::from("not run");
    for attempt in 0..probe.attempts.max(1) {
        if attempt > 0 {
            tokio::time::sleep(probe.interval).await;
        }
        let mut request = http.get(&probe.url).timeout(probe.timeout).header(
            "Cloudflare-Workers-Version-Overrides",
            override_header(script, canary),
        );
        if let Some(host) = &probe.host {
            request = request.header(reqwest::header::HOST, host.as_str());
        }
        let answer = match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let body = response.text().await.unwrap_or_default();
                verdict::probe_answer(
                    probe.expected_status,
                    probe.body_contains.as_deref(),
                    Ok((status, &body)),
                )
            }
            // The URL may carry a token in its query: never in the message.
            Err(error) => verdict::probe_answer(
                probe.expected_status,
                None,
                Err(error.without_url().to_string()),
            ),
        };
        match answer {
            Ok(status) => {
                return Check::new(
                    "probe",
                    Verdict::Passed,
                    format!(
                        "probe {url} to the canary answered {status} (attempt {})",
                        attempt + 1
                    ),
                );
            }
            Err(message) => last = message,
        }
    }
    Check::new(
        "probe",
        Verdict::Failed,
        format!(
            "probe {url} to the canary {last} ({} attempts)",
            probe.attempts.max(1)
        ),
    )
}

/// `GET <url>/api/v1/query?query=…`: the first sample's value.
pub async fn query_prometheus(
    http: &reqwest::Client,
    check: &PrometheusCheck,
) -> Result<f64, String> {
    let url = format!("{}/api/v1/query", check.url.trim_end_matches('/'));
    let response = http
        .get(&url)
        .query(&[("query", check.query.as_str())])
        .timeout(std::time::Duration::from_secs(10))
        .send()
        .await
        .map_err(|error| error.without_url().to_string())?;
    let status = response.status().as_u16();
    let body: Value = response.json().await.map_err(|error| {
        format!(
            "answered {status} without a JSON body ({})",
            error.without_url()
        )
    })?;
    prometheus_value(&body)
}

/// The value of the first sample of a Prometheus `/api/v1/query` answer (vector or scalar).
pub fn prometheus_value(body: &Value) -> Result<f64, String> {
    if body.get("status").and_then(Value::as_str) != Some("success") {
        let error = body
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("no status");
        return Err(format!("prometheus answered an error: {error}"));
    }
    let value = match body.pointer("/data/resultType").and_then(Value::as_str) {
        Some("scalar") => body.pointer("/data/result/1"),
        _ => body.pointer("/data/result/0/value/1"),
    };
    value
        .and_then(Value::as_str)
        .ok_or_else(|| "the query returned no sample".to_owned())?
        .parse::<f64>()
        .map_err(|error| format!("the sample is not a number ({error})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn analytics_rows_become_numbers_per_version() {
        let data = json!({"viewer": {"accounts": [{"rows": [
            {"dimensions": {"scriptVersion": "v2"}, "sum": {"requests": 20, "errors": 4},
             "quantiles": {"wallTimeP99": 250_000.0}},
            {"dimensions": {"scriptVersion": "v1"}, "sum": {"requests": 180, "errors": 0},
             "quantiles": {"wallTimeP99": 1_500.0}},
        ]}]}});
        let traffic = parse_traffic(&data, LatencyQuantile::P99);
        assert_eq!(traffic["v2"].requests, 20);
        assert_eq!(traffic["v2"].errors, 4);
        assert!((traffic["v2"].latency_ms - 250.0).abs() < 1e-9);
        assert!((traffic["v1"].latency_ms - 1.5).abs() < 1e-9);
        assert!(parse_traffic(&json!(null), LatencyQuantile::P99).is_empty());
    }

    #[test]
    fn prometheus_answers_are_read_or_explained() {
        let vector = json!({"status": "success", "data": {"resultType": "vector",
            "result": [{"metric": {}, "value": [1700000000.0, "7.5"]}]}});
        assert_eq!(prometheus_value(&vector), Ok(7.5));
        let scalar =
            json!({"status": "success", "data": {"resultType": "scalar", "result": [1.0, "2"]}});
        assert_eq!(prometheus_value(&scalar), Ok(2.0));
        let empty = json!({"status": "success", "data": {"resultType": "vector", "result": []}});
        assert!(prometheus_value(&empty).is_err());
        let error = json!({"status": "error", "error": "parse error"});
        assert!(
            prometheus_value(&error)
                .unwrap_err()
                .contains("parse error")
        );
    }

    #[test]
    fn the_override_header_names_script_and_version() {
        assert_eq!(override_header("api", "v-1"), "api=\"v-1\"");
    }
}
