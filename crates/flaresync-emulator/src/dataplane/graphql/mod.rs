//! Cloudflare's GraphQL Analytics API for the `workersInvocationsAdaptive` dataset (SPEC-2 §5),
//! answered from the data plane's invocation log: [`parse`] reads the query document,
//! [`filter`] the dataset filter, [`execute`] groups and aggregates ([`group`] one row's raw and
//! summarised invocations). The envelope is GraphQL's
//! (`{data, errors}`), not the REST one. Pure; `http/graphql.rs` serves it.

pub mod execute;
pub mod filter;
pub mod group;
pub mod parse;
#[cfg(test)]
mod summarised_tests;

use serde_json::{Map, Value, json};

use super::request_log::InvocationLog;

/// A GraphQL error: message and the path of the field it concerns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct GraphqlError {
    pub message: String,
    pub path: Vec<String>,
}

impl GraphqlError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            path: Vec::new(),
        }
    }

    /// Prefixes the path with `field` (errors bubble up through the fields).
    pub fn at(mut self, field: &str) -> Self {
        self.path.insert(0, field.to_owned());
        self
    }
}

/// Answers a request body `{query, variables?}` with `{data, errors}`.
pub fn answer(body: &Value, account_id: &str, log: &InvocationLog) -> Value {
    match run(body, account_id, log) {
        Ok(data) => json!({"data": data, "errors": null}),
        Err(error) => errors(&error),
    }
}

/// The error envelope.
pub fn errors(error: &GraphqlError) -> Value {
    let mut entry = json!({
        "message": error.message,
        "extensions": {"timestamp": chrono::Utc::now().to_rfc3339()},
    });
    if !error.path.is_empty() {
        entry["path"] = json!(error.path);
    }
    json!({"data": null, "errors": [entry]})
}

fn run(body: &Value, account_id: &str, log: &InvocationLog) -> Result<Value, GraphqlError> {
    let query = body
        .get("query")
        .and_then(Value::as_str)
        .ok_or_else(|| GraphqlError::new("the request body needs a \"query\" string"))?;
    let empty = Map::new();
    let variables = body
        .get("variables")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let fields = parse::parse(query, variables).map_err(|e| GraphqlError::new(e.0))?;
    execute::execute(&fields, account_id, &|filter| {
        log.query(|dims| filter.matches(dims))
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::Utc;

    use super::*;
    use crate::dataplane::request_log::{Invocation, Outcome};

    fn log() -> InvocationLog {
        let log = InvocationLog::default();
        for n in 0..10u64 {
            log.record(Invocation {
                at: Utc::now(),
                script: Arc::from("api"),
                version_id: Arc::from(if n < 8 { "v1" } else { "v2" }),
                status: if n == 3 || n == 9 { 500 } else { 200 },
                outcome: if n == 3 || n == 9 {
                    Outcome::ScriptThrewException
                } else {
                    Outcome::Success
                },
                wall_time_us: 100 * (n + 1),
                cpu_time_us: 100 * (n + 1),
                subrequests: 1,
            });
        }
        log
    }

    fn ask(query: &str, variables: Value) -> Value {
        answer(
            &json!({"query": query, "variables": variables}),
            "acc",
            &log(),
        )
    }

    #[test]
    fn groups_by_version_with_sums_and_quantiles() {
        let out = ask(
            "query($a: string!, $v: [string!]) { viewer { accounts(filter: {accountTag: $a}) {
               workersInvocationsAdaptive(limit: 10, filter: {scriptName: \"api\", scriptVersion_in: $v},
                 orderBy: [scriptVersion_ASC]) {
                 dimensions { scriptVersion } sum { requests errors subrequests }
                 quantiles { cpuTimeP50 cpuTimeP99 } } } } }",
            json!({"a": "acc", "v": ["v1", "v2"]}),
        );
        assert_eq!(out["errors"], Value::Null, "{out}");
        let rows = &out["data"]["viewer"]["accounts"][0]["workersInvocationsAdaptive"];
        assert_eq!(
            rows[0],
            json!({"dimensions": {"scriptVersion": "v1"},
                   "sum": {"requests": 8, "errors": 1, "subrequests": 8},
                   "quantiles": {"cpuTimeP50": 400.0, "cpuTimeP99": 800.0}})
        );
        assert_eq!(
            rows[1]["sum"],
            json!({"requests": 2, "errors": 1, "subrequests": 2})
        );
    }

    #[test]
    fn filters_by_status_and_time() {
        let out = ask(
            "{ viewer { accounts(filter: {accountTag: \"acc\"}) { workersInvocationsAdaptive(limit: 5,
               filter: {status_neq: \"success\", datetime_geq: \"2000-01-01T00:00:00Z\"}) { sum { requests } } } } }",
            json!({}),
        );
        let rows = &out["data"]["viewer"]["accounts"][0]["workersInvocationsAdaptive"];
        assert_eq!(rows, &json!([{"sum": {"requests": 2}}]));
    }

    #[test]
    fn unknown_fields_and_bad_queries_get_graphql_errors() {
        let unknown = ask(
            "{ viewer { accounts(filter: {accountTag: \"acc\"}) { workersInvocationsAdaptive(limit: 1) { sum { bogus } } } } }",
            json!({}),
        );
        assert_eq!(unknown["data"], Value::Null);
        assert_eq!(
            unknown["errors"][0]["message"],
            json!("Unknown field \"bogus\" on type \"AccountWorkersInvocationsAdaptiveSum\"")
        );
        assert_eq!(
            unknown["errors"][0]["path"],
            json!(["viewer", "accounts", "workersInvocationsAdaptive"])
        );
        for bad in [
            "{ viewer {",
            "{ nope }",
            "{ viewer { accounts(filter: {accountTag: \"other\"}) { x } } }",
        ] {
            let out = ask(bad, json!({}));
            assert!(out["errors"][0]["message"].is_string(), "{bad}: {out}");
        }
        let no_query = answer(&json!({}), "acc", &log());
        assert!(no_query["errors"][0]["message"].is_string());
    }
}
