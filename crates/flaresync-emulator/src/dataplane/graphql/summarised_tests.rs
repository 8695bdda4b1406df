//! Answers over a log whose older requests are summarised equal the answers over the same
//! requests kept raw: exactly for counts, sums, maxima, dimensions to the minute and time
//! filters on whole minutes; within the sketch's 1% for quantiles.

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use serde_json::{Map, Value};

use super::execute;
use super::parse;
use crate::dataplane::latency_sketch::RELATIVE_ERROR;
use crate::dataplane::request_log::{Invocation, InvocationLog, Outcome, Selection};

const OUTCOMES: [Outcome; 4] = [
    Outcome::Success,
    Outcome::ScriptThrewException,
    Outcome::ExceededResources,
    Outcome::InternalError,
];

fn base() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default()
}

fn ask(query: &str, fetch: &dyn Fn(&super::filter::Filter) -> Selection) -> Value {
    let fields = parse::parse(query, &Map::new()).expect("query parses");
    execute::execute(&fields, "acc", fetch).expect("query answers")
}

type Spec = (i64, u8, u8, u8, u64, u64, u64);

fn invocations(mut specs: Vec<Spec>) -> Vec<Invocation> {
    specs.sort_by_key(|s| s.0);
    specs
        .into_iter()
        .map(
            |(ms, script, version, outcome, wall, cpu, sub)| Invocation {
                at: base() + Duration::milliseconds(ms),
                script: format!("w{script}").into(),
                version_id: format!("v{version}").into(),
                status: 200,
                outcome: OUTCOMES[usize::from(outcome) % OUTCOMES.len()],
                wall_time_us: wall,
                cpu_time_us: cpu,
                subrequests: sub,
            },
        )
        .collect()
}

/// Compares two answers: equal, except quantiles within the relative error.
fn same(summarised: &Value, raw: &Value, path: &str) -> Result<(), String> {
    match (summarised, raw) {
        (Value::Object(a), Value::Object(b)) => {
            if a.len() != b.len() {
                return Err(format!("{path}: {a:?} vs {b:?}"));
            }
            a.iter().try_for_each(|(key, value)| {
                let other = b.get(key).ok_or_else(|| format!("{path}/{key} missing"))?;
                if path.ends_with("quantiles") {
                    let (x, y) = (
                        value.as_f64().unwrap_or(-1.0),
                        other.as_f64().unwrap_or(-2.0),
                    );
                    return if (x - y).abs() <= (RELATIVE_ERROR + 1e-9) * y {
                        Ok(())
                    } else {
                        Err(format!("{path}/{key}: {x} vs exact {y}"))
                    };
                }
                same(value, other, &format!("{path}/{key}"))
            })
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .try_for_each(|(n, (x, y))| same(x, y, &format!("{path}[{n}]"))),
        (a, b) if a == b => Ok(()),
        (a, b) => Err(format!("{path}: {a} vs exact {b}")),
    }
}

fn query(dimensions: &str, from_minute: i64, to_minute: i64) -> String {
    let at = |m: i64| (base() + Duration::minutes(m)).format("%Y-%m-%dT%H:%M:%SZ");
    format!(
        "{{ viewer {{ accounts(filter: {{accountTag: \"acc\"}}) {{
           workersInvocationsAdaptive(limit: 10000, filter: {{datetime_geq: \"{}\",
             datetime_lt: \"{}\", scriptName_in: [\"w0\", \"w1\"]}}, orderBy: [sum_requests_DESC]) {{
             dimensions {{ {dimensions} }} count
             sum {{ requests errors subrequests wallTime cpuTimeUs }}
             max {{ wallTime cpuTime }}
             quantiles {{ wallTimeP50 wallTimeP90 wallTimeP99 cpuTimeP50 cpuTimeP999 }} }} }} }} }}",
        at(from_minute),
        at(to_minute)
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn summarised_answers_match_raw_ones(
        specs in prop::collection::vec(
            (0i64..1_800_000, 0u8..3, 0u8..3, 0u8..4, 0u64..2_000_000, 0u64..50_000, 0u64..4),
            1..300,
        ),
        from_minute in 0i64..20,
        span in 1i64..40,
        dimensions in prop::sample::select(vec![
            "scriptName scriptVersion status datetimeMinute",
            "scriptVersion datetimeFiveMinutes",
            "status datetimeHour date",
            "scriptName",
        ]),
    ) {
        let all = invocations(specs);
        let log = InvocationLog::default();
        all.iter().for_each(|i| log.record(i.clone()));
        let text = query(dimensions, from_minute, from_minute + span);
        let summarised = ask(&text, &|f| log.query(|d| f.matches(d)));
        let raw = ask(&text, &|f| Selection {
            raw: all.iter().filter(|i| f.matches(&i.dims())).cloned().collect(),
            summaries: Vec::new(),
        });
        // Rows with equal sums may come in either order: compare them sorted by dimensions.
        let rows = |answer: &Value| {
            let mut rows = answer["viewer"]["accounts"][0]["workersInvocationsAdaptive"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            rows.sort_by_key(|r| r["dimensions"].to_string());
            Value::Array(rows)
        };
        let result = same(&rows(&summarised), &rows(&raw), "");
        prop_assert!(result.is_ok(), "{:?}", result);
    }
}

#[test]
fn a_query_over_summarised_minutes_reads_them() {
    // 20 minutes of requests: the first ten are summarised, the rest raw.
    let specs: Vec<Spec> = (0..1_200)
        .map(|s| {
            (
                s * 1_000,
                0,
                0,
                u8::from(s % 5 == 0),
                1_000 + s as u64,
                10,
                1,
            )
        })
        .collect();
    let all = invocations(specs);
    let log = InvocationLog::default();
    all.iter().for_each(|i| log.record(i.clone()));
    assert!(log.bucket_count() >= 10 && log.len() <= 601);
    let answer = ask(&query("scriptName", 0, 10), &|f| {
        log.query(|d| f.matches(d))
    });
    let row = &answer["viewer"]["accounts"][0]["workersInvocationsAdaptive"][0];
    assert_eq!(row["sum"]["requests"], 600);
    assert_eq!(row["sum"]["errors"], 120);
    assert_eq!(row["max"]["wallTime"], 1_599);
    let p50 = row["quantiles"]["wallTimeP50"].as_f64().unwrap_or(0.0);
    assert!((p50 - 1_299.0).abs() <= 13.0, "{p50}");
}
