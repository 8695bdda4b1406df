//! The `filter` argument of `workersInvocationsAdaptive`: parsed from the GraphQL input object
//! into a predicate over invocations. Pure.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::super::request_log::Dims;
use super::GraphqlError;

/// One condition on an invocation.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    All(Vec<Filter>),
    Any(Vec<Filter>),
    /// (field, operator, operand)
    Compare(Field, Op, Value),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    ScriptName,
    ScriptVersion,
    Status,
    Datetime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Neq,
    In,
    NotIn,
    Gt,
    Geq,
    Lt,
    Leq,
}

const TYPE: &str = "AccountWorkersInvocationsAdaptiveFilter_InputObject";

/// Parses a filter object (`None` or `null`: everything).
pub fn parse(value: Option<&Value>) -> Result<Filter, GraphqlError> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(Filter::All(Vec::new()));
    };
    let Some(object) = value.as_object() else {
        return Err(GraphqlError::new(format!("filter must be a {TYPE}")));
    };
    let mut all = Vec::new();
    for (key, operand) in object {
        all.push(match key.as_str() {
            "AND" | "OR" => {
                let parts = operand
                    .as_array()
                    .ok_or_else(|| GraphqlError::new(format!("{key} takes a list of filters")))?
                    .iter()
                    .map(|f| parse(Some(f)))
                    .collect::<Result<Vec<_>, _>>()?;
                if key == "AND" {
                    Filter::All(parts)
                } else {
                    Filter::Any(parts)
                }
            }
            other => compare(other, operand)?,
        });
    }
    Ok(Filter::All(all))
}

fn compare(key: &str, operand: &Value) -> Result<Filter, GraphqlError> {
    let (name, op) = match key.rsplit_once('_') {
        Some((name, suffix)) => (name, operator(suffix)),
        None => (key, Some(Op::Eq)),
    };
    let field = match name {
        "scriptName" => Some(Field::ScriptName),
        "scriptVersion" => Some(Field::ScriptVersion),
        "status" => Some(Field::Status),
        "datetime" => Some(Field::Datetime),
        _ => None,
    };
    match (field, op) {
        (Some(field), Some(op)) => Ok(Filter::Compare(field, op, operand.clone())),
        _ => Err(GraphqlError::new(format!(
            "Unknown field \"{key}\" on type \"{TYPE}\""
        ))),
    }
}

fn operator(suffix: &str) -> Option<Op> {
    Some(match suffix {
        "neq" => Op::Neq,
        "in" => Op::In,
        "notin" => Op::NotIn,
        "gt" => Op::Gt,
        "geq" => Op::Geq,
        "lt" => Op::Lt,
        "leq" => Op::Leq,
        _ => return None,
    })
}

impl Filter {
    pub fn matches(&self, invocation: &Dims) -> bool {
        match self {
            Filter::All(parts) => parts.iter().all(|f| f.matches(invocation)),
            Filter::Any(parts) => parts.iter().any(|f| f.matches(invocation)),
            Filter::Compare(Field::Datetime, op, operand) => {
                let Some(bound) = operand.as_str().and_then(parse_time) else {
                    return false;
                };
                ordered(*op, invocation.at.cmp(&bound))
            }
            Filter::Compare(field, op, operand) => {
                let actual = match field {
                    Field::ScriptName => invocation.script,
                    Field::ScriptVersion => invocation.version_id,
                    _ => invocation.outcome.as_str(),
                };
                text(*op, actual, operand)
            }
        }
    }
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn ordered(op: Op, order: std::cmp::Ordering) -> bool {
    use std::cmp::Ordering::{Equal, Greater, Less};
    match op {
        Op::Eq => order == Equal,
        Op::Neq => order != Equal,
        Op::Gt => order == Greater,
        Op::Geq => order != Less,
        Op::Lt => order == Less,
        Op::Leq => order != Greater,
        Op::In | Op::NotIn => false,
    }
}

fn text(op: Op, actual: &str, operand: &Value) -> bool {
    let listed = || {
        operand
            .as_array()
            .is_some_and(|items| items.iter().any(|i| i.as_str() == Some(actual)))
    };
    match op {
        Op::In => listed(),
        Op::NotIn => !listed(),
        Op::Neq => operand.as_str() != Some(actual),
        Op::Eq => operand.as_str() == Some(actual),
        _ => operand.as_str().is_some_and(|o| ordered(op, actual.cmp(o))),
    }
}
