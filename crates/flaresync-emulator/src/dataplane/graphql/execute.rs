//! Answers a parsed query over the invocation log: `viewer { accounts(filter: {accountTag}) {
//! workersInvocationsAdaptive(limit, filter, orderBy) { sum quantiles dimensions avg max count } } }`.
//! Rows are grouped by the selected dimensions. Pure: the invocations come from `fetch`, raw
//! and summarised (those are known to the minute: their `datetime` is their minute's start).

use std::collections::BTreeMap;

use chrono::Timelike;
use serde_json::{Map, Value, json};

use super::super::request_log::{Dims, Selection};
use super::GraphqlError;
use super::filter::{self, Filter};
use super::group::{Group, Metric};
use super::parse::Field;

const DATASET: &str = "workersInvocationsAdaptive";
const ROW_TYPE: &str = "AccountWorkersInvocationsAdaptive";
const MAX_LIMIT: u64 = 10_000;

/// Answers the top-level `fields` for `account_id`; `fetch` returns the invocations a filter
/// keeps.
pub fn execute(
    fields: &[Field],
    account_id: &str,
    fetch: &dyn Fn(&Filter) -> Selection,
) -> Result<Value, GraphqlError> {
    let mut data = Map::new();
    for field in fields {
        match field.name.as_str() {
            "viewer" => {
                let viewer = viewer(field, account_id, fetch).map_err(|e| e.at("viewer"))?;
                data.insert(field.key().to_owned(), viewer);
            }
            other => return Err(unknown(other, "Query")),
        }
    }
    Ok(Value::Object(data))
}

fn unknown(field: &str, on: &str) -> GraphqlError {
    GraphqlError::new(format!("Unknown field \"{field}\" on type \"{on}\""))
}

fn viewer(
    field: &Field,
    account_id: &str,
    fetch: &dyn Fn(&Filter) -> Selection,
) -> Result<Value, GraphqlError> {
    let mut out = Map::new();
    for accounts in &field.selections {
        if accounts.name != "accounts" {
            return Err(unknown(&accounts.name, "viewer"));
        }
        let tag = accounts
            .argument("filter")
            .and_then(|f| f.get("accountTag"))
            .and_then(Value::as_str);
        if tag.is_some_and(|t| !t.eq_ignore_ascii_case(account_id)) || tag.is_none() {
            return Err(GraphqlError::new(
                "accounts: a filter with the accountTag of your account is required",
            )
            .at("accounts"));
        }
        let mut account = Map::new();
        for dataset in &accounts.selections {
            if dataset.name != DATASET {
                return Err(unknown(&dataset.name, "account").at("accounts"));
            }
            let rows =
                dataset_rows(dataset, fetch).map_err(|e| e.at(dataset.key()).at("accounts"))?;
            account.insert(dataset.key().to_owned(), rows);
        }
        out.insert(accounts.key().to_owned(), json!([account]));
    }
    Ok(Value::Object(out))
}

fn dataset_rows(
    dataset: &Field,
    fetch: &dyn Fn(&Filter) -> Selection,
) -> Result<Value, GraphqlError> {
    let limit = dataset
        .argument("limit")
        .and_then(Value::as_u64)
        .ok_or_else(|| GraphqlError::new("limit is required"))?;
    if limit > MAX_LIMIT {
        return Err(GraphqlError::new(format!(
            "limit must be at most {MAX_LIMIT}"
        )));
    }
    let filter = filter::parse(dataset.argument("filter"))?;
    let dimensions: Vec<&Field> = dataset
        .selections
        .iter()
        .filter(|f| f.name == "dimensions")
        .flat_map(|f| f.selections.iter())
        .collect();
    let key = |dims: &Dims| {
        dimensions
            .iter()
            .map(|d| dimension(&d.name, dims))
            .collect::<Result<Vec<_>, _>>()
    };
    let mut groups: BTreeMap<Vec<String>, Group> = BTreeMap::new();
    let selection = fetch(&filter);
    for invocation in &selection.raw {
        groups
            .entry(key(&invocation.dims())?)
            .or_default()
            .add_raw(invocation);
    }
    for summary in &selection.summaries {
        groups
            .entry(key(&summary.dims())?)
            .or_default()
            .add_summary(summary);
    }
    let mut rows = Vec::new();
    for (key, group) in groups {
        rows.push(row(dataset, &dimensions, &key, &group)?);
    }
    order(&mut rows, dataset.argument("orderBy"));
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(Value::Array(rows))
}

fn dimension(name: &str, i: &Dims) -> Result<String, GraphqlError> {
    let at = i.at.with_nanosecond(0).unwrap_or(i.at);
    let floor = |minutes: u32| {
        let m = at.minute() - at.minute() % minutes;
        at.with_minute(m)
            .and_then(|t| t.with_second(0))
            .unwrap_or(at)
    };
    let rfc = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    Ok(match name {
        "scriptName" => i.script.to_owned(),
        "scriptVersion" => i.version_id.to_owned(),
        "status" => i.outcome.as_str().to_owned(),
        "datetime" => rfc(at),
        "datetimeMinute" => rfc(floor(1)),
        "datetimeFiveMinutes" => rfc(floor(5)),
        "datetimeFifteenMinutes" => rfc(floor(15)),
        "datetimeHour" => rfc(floor(60)),
        "date" => at.format("%Y-%m-%d").to_string(),
        "environmentName" => "production".to_owned(),
        "usageModel" => "standard".to_owned(),
        "coloCode" => "LOCAL".to_owned(),
        other => return Err(unknown(other, &format!("{ROW_TYPE}Dimensions")).at("dimensions")),
    })
}

fn row(
    dataset: &Field,
    dimensions: &[&Field],
    key: &[String],
    group: &Group,
) -> Result<Value, GraphqlError> {
    let mut out = Map::new();
    for part in &dataset.selections {
        let value = match part.name.as_str() {
            "dimensions" => Value::Object(
                dimensions
                    .iter()
                    .zip(key)
                    .map(|(d, v)| (d.key().to_owned(), json!(v)))
                    .collect(),
            ),
            "count" => json!(group.totals().requests),
            "sum" | "quantiles" | "avg" | "max" => aggregate(part, group)?,
            other => return Err(unknown(other, ROW_TYPE)),
        };
        out.insert(part.key().to_owned(), value);
    }
    Ok(Value::Object(out))
}

fn aggregate(part: &Field, group: &Group) -> Result<Value, GraphqlError> {
    let on = format!(
        "{ROW_TYPE}{}{}",
        part.name[..1].to_uppercase(),
        &part.name[1..]
    );
    let totals = group.totals();
    let mut out = Map::new();
    for field in &part.selections {
        let value = match (part.name.as_str(), field.name.as_str()) {
            ("sum", "requests") => json!(totals.requests),
            ("sum", "errors") => json!(group.errors()),
            ("sum", "subrequests") => json!(totals.subrequests),
            ("sum", "wallTime") => json!(totals.wall_time_us),
            ("sum", "cpuTimeUs") => json!(totals.cpu_time_us),
            ("sum", "duration" | "responseBodySize") => json!(0),
            ("avg", "sampleInterval") => json!(1),
            ("max", "cpuTime") => json!(totals.max_cpu_time_us),
            ("max", "wallTime") => json!(totals.max_wall_time_us),
            ("quantiles", name) => quantile(name, group).ok_or_else(|| unknown(name, &on))?,
            (_, name) => return Err(unknown(name, &on)),
        };
        out.insert(field.key().to_owned(), value);
    }
    Ok(Value::Object(out))
}

/// `cpuTimeP50`, `wallTimeP99`, ...: the nearest-rank quantile in microseconds.
fn quantile(name: &str, group: &Group) -> Option<Value> {
    let (metric, rank) = name.split_once('P')?;
    let q = match rank {
        "25" => 0.25,
        "50" => 0.5,
        "75" => 0.75,
        "90" => 0.9,
        "99" => 0.99,
        "999" => 0.999,
        _ => return None,
    };
    let metric = match metric {
        "cpuTime" => Metric::Cpu,
        "wallTime" => Metric::Wall,
        _ => return None,
    };
    Some(json!(group.quantile(metric, q)))
}

/// `orderBy: [datetime_ASC, sum_requests_DESC, ...]` on dimension or aggregate keys.
fn order(rows: &mut [Value], order_by: Option<&Value>) {
    let Some(keys) = order_by.and_then(Value::as_array) else {
        return;
    };
    for key in keys.iter().rev().filter_map(Value::as_str) {
        let (path, descending) = match key.rsplit_once('_') {
            Some((path, "DESC")) => (path, true),
            Some((path, _)) => (path, false),
            None => (key, false),
        };
        let pointer = match path.split_once('_') {
            Some((group, field)) => format!("/{group}/{field}"),
            None => format!("/dimensions/{path}"),
        };
        rows.sort_by(|a, b| {
            let order = compare(a.pointer(&pointer), b.pointer(&pointer));
            if descending { order.reverse() } else { order }
        });
    }
}

fn compare(a: Option<&Value>, b: Option<&Value>) -> std::cmp::Ordering {
    match (a.and_then(Value::as_f64), b.and_then(Value::as_f64)) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        _ => a.and_then(Value::as_str).cmp(&b.and_then(Value::as_str)),
    }
}
