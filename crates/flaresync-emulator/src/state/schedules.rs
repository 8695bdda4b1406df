//! Cron Triggers (`GET`/`PUT …/scripts/{s}/schedules`, SPEC.md §3 table): the Worker's set of
//! cron expressions. Not versioned: uploads, deployments and rollbacks leave them alone; deleting
//! the Worker deletes them.
//!
//! `PUT` replaces the whole set. Emulator choices (no documented Cloudflare equivalent):
//! an invalid expression is 400 / [`INVALID_CRON`]; duplicates in one `PUT` collapse to the
//! first; a cron kept across a `PUT` keeps its `created_on`/`modified_on`, a new one gets the
//! request's time for both. The answer lists crons in the order they were sent.

use rusqlite::{Transaction, params};
use serde_json::{Value, json};

use super::{Ctx, Reply, next_timestamp, store};
use crate::error::ApiError;

/// Emulator code for an invalid cron expression (or an unusable `PUT` body).
pub const INVALID_CRON: u32 = 10100;

/// Most cron triggers one Worker may have (Cloudflare's paid-plan per-Worker figure is not
/// documented per script; the emulator refuses sets larger than this).
pub const MAX_SCHEDULES: usize = 250;

/// One stored schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub cron: String,
    pub created_on: String,
    pub modified_on: String,
}

impl Schedule {
    fn render(&self) -> Value {
        json!({
            "cron": self.cron,
            "created_on": self.created_on,
            "modified_on": self.modified_on,
        })
    }
}

fn invalid(message: String) -> ApiError {
    ApiError::new(400, INVALID_CRON, message)
}

/// One cron field's domain.
struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    /// Case-insensitive three-letter names, value = `min + index`.
    names: &'static [&'static str],
    /// `L` / `W` (day of month) or `L` / `#` (day of week) allowed.
    day_of_month: bool,
    day_of_week: bool,
}

const MONTHS: &[&str] = &[
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: &[&str] = &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

const FIELDS: [Field; 5] = [
    Field {
        name: "minute",
        min: 0,
        max: 59,
        names: &[],
        day_of_month: false,
        day_of_week: false,
    },
    Field {
        name: "hour",
        min: 0,
        max: 23,
        names: &[],
        day_of_month: false,
        day_of_week: false,
    },
    Field {
        name: "day of month",
        min: 1,
        max: 31,
        names: &[],
        day_of_month: true,
        day_of_week: false,
    },
    Field {
        name: "month",
        min: 1,
        max: 12,
        names: MONTHS,
        day_of_month: false,
        day_of_week: false,
    },
    // Cloudflare: 1-7 = SUN-SAT; 0 is accepted as Sunday too, as most cron dialects do.
    Field {
        name: "day of week",
        min: 0,
        max: 7,
        names: WEEKDAYS,
        day_of_month: false,
        day_of_week: true,
    },
];

impl Field {
    fn value(&self, text: &str) -> Result<u32, String> {
        if let Ok(n) = text.parse::<u32>() {
            if (self.min..=self.max).contains(&n) {
                return Ok(n);
            }
            return Err(format!(
                "{} value {n} is outside {}-{}",
                self.name, self.min, self.max
            ));
        }
        let upper = text.to_ascii_uppercase();
        let base = if self.day_of_week { 1 } else { self.min };
        self.names
            .iter()
            .position(|n| *n == upper)
            .map(|i| base + i as u32)
            .ok_or_else(|| format!("{} value {text:?} is not a number or a name", self.name))
    }

    fn check_item(&self, item: &str) -> Result<(), String> {
        if item.is_empty() {
            return Err(format!("{} has an empty list item", self.name));
        }
        // Quartz-style day forms Cloudflare accepts.
        if self.day_of_month {
            let upper = item.to_ascii_uppercase();
            if upper == "L" || upper == "LW" {
                return Ok(());
            }
            if let Some(day) = upper.strip_suffix('W') {
                return self.value(day).map(drop);
            }
        }
        if self.day_of_week {
            let upper = item.to_ascii_uppercase();
            if upper == "L" {
                return Ok(());
            }
            if let Some((day, nth)) = upper.split_once('#') {
                self.value(day)?;
                return match nth.parse::<u32>() {
                    Ok(1..=5) => Ok(()),
                    _ => Err(format!(
                        "day of week {item:?}: the number after # must be 1-5"
                    )),
                };
            }
            if let Some(day) = upper.strip_suffix('L') {
                return self.value(day).map(drop);
            }
        }
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => (range, Some(step)),
            None => (item, None),
        };
        if let Some(step) = step {
            match step.parse::<u32>() {
                Ok(s) if s >= 1 && s <= self.max.max(1) => {}
                _ => {
                    return Err(format!(
                        "{} step {step:?} must be a number from 1 to {}",
                        self.name,
                        self.max.max(1)
                    ));
                }
            }
        }
        if range == "*" {
            return Ok(());
        }
        match range.split_once('-') {
            Some((lo, hi)) => {
                let (lo, hi) = (self.value(lo)?, self.value(hi)?);
                if lo > hi {
                    return Err(format!("{} range {range:?} runs backwards", self.name));
                }
                Ok(())
            }
            None => self.value(range).map(drop),
        }
    }
}

/// Validates one cron expression: five space-separated fields (minute, hour, day of month,
/// month, day of week) with `*`, `,`, `-`, `/`, month and weekday names, and the day forms
/// `L`, `LW`, `<n>W` (day of month), `L`, `<d>L`, `<d>#<n>` (day of week).
pub fn validate_cron(cron: &str) -> Result<(), String> {
    let fields: Vec<&str> = cron.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!(
            "cron {cron:?} has {} fields; it needs 5 (minute hour day-of-month month day-of-week)",
            fields.len()
        ));
    }
    for (text, field) in fields.iter().zip(FIELDS.iter()) {
        for item in text.split(',') {
            field
                .check_item(item)
                .map_err(|e| format!("invalid cron {cron:?}: {e}"))?;
        }
    }
    Ok(())
}

/// Parses a `PUT` body: `[{"cron": "..."}, ...]`; returns the crons, trimmed, duplicates removed.
pub fn parse_put_body(body: &Value) -> Result<Vec<String>, ApiError> {
    let Some(items) = body.as_array() else {
        return Err(invalid(
            "the schedules body must be a JSON array of {\"cron\": \"<expression>\"} objects"
                .into(),
        ));
    };
    let mut crons: Vec<String> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Some(cron) = item.get("cron").and_then(Value::as_str) else {
            return Err(invalid(format!(
                "schedule {i} needs a \"cron\" string, e.g. {{\"cron\": \"*/15 * * * *\"}}"
            )));
        };
        let cron = cron.trim();
        validate_cron(cron).map_err(invalid)?;
        if !crons.iter().any(|c| c == cron) {
            crons.push(cron.to_owned());
        }
    }
    if crons.len() > MAX_SCHEDULES {
        return Err(invalid(format!(
            "a Worker can have at most {MAX_SCHEDULES} cron triggers; {} were sent",
            crons.len()
        )));
    }
    Ok(crons)
}

/// The stored schedules of `script`, in stored order.
pub fn load(tx: &Transaction<'_>, script: &str) -> Result<Vec<Schedule>, ApiError> {
    let mut stmt = tx.prepare(
        "SELECT cron, created_on, modified_on FROM schedules WHERE script = ?1 ORDER BY position",
    )?;
    let rows = stmt
        .query_map([script], |r| {
            Ok(Schedule {
                cron: r.get(0)?,
                created_on: r.get(1)?,
                modified_on: r.get(2)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Deletes every schedule of `script` (the Worker is being deleted).
pub fn delete_all(tx: &Transaction<'_>, script: &str) -> Result<(), ApiError> {
    tx.execute("DELETE FROM schedules WHERE script = ?1", [script])?;
    Ok(())
}

fn render(schedules: &[Schedule]) -> Reply {
    Reply::new(json!({
        "schedules": schedules.iter().map(Schedule::render).collect::<Vec<_>>(),
    }))
}

/// `GET …/schedules`.
pub fn get(tx: &Transaction<'_>, script: &str) -> Result<Reply, ApiError> {
    store::require_script(tx, script)?;
    Ok(render(&load(tx, script)?))
}

/// `PUT …/schedules`: replaces the set with `body`'s crons.
pub fn put(tx: &Transaction<'_>, ctx: &Ctx, script: &str, body: &Value) -> Result<Reply, ApiError> {
    store::require_script(tx, script)?;
    let crons = parse_put_body(body)?;
    let old = load(tx, script)?;
    let mut now: Option<String> = None;
    let mut new = Vec::with_capacity(crons.len());
    for cron in crons {
        let schedule = match old.iter().find(|s| s.cron == cron) {
            Some(kept) => kept.clone(),
            None => {
                let at = match &now {
                    Some(at) => at.clone(),
                    None => {
                        let at = next_timestamp(tx, ctx.now)?;
                        now = Some(at.clone());
                        at
                    }
                };
                Schedule {
                    cron,
                    created_on: at.clone(),
                    modified_on: at,
                }
            }
        };
        new.push(schedule);
    }
    delete_all(tx, script)?;
    for (position, s) in new.iter().enumerate() {
        tx.execute(
            "INSERT INTO schedules (script, position, cron, created_on, modified_on)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![script, position as i64, s.cron, s.created_on, s.modified_on],
        )?;
    }
    Ok(render(&new))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_cloudflare_documented_forms() {
        for cron in [
            "*/15 * * * *",
            "* * * * *",
            "0 17 * * sun",
            "10 7 * * mon-fri",
            "0 15 1 * *",
            "59 23 LW * *",
            "0 0 L * *",
            "0 0 15W * *",
            "0 9 * * 2#2",
            "0 9 * * FRI#1",
            "0 0 * * 6L",
            "0 0 * * L",
            "0,30 8-18/2 * JAN-mar,dec 1-7",
            "5 4 * * 0",
            "  1 2 3 4 5  ",
        ] {
            assert_eq!(validate_cron(cron), Ok(()), "{cron}");
        }
    }

    #[test]
    fn refuses_malformed_expressions() {
        for cron in [
            "",
            "* * * *",
            "0 * * * * *",
            "60 * * * *",
            "* 24 * * *",
            "* * 0 * *",
            "* * 32 * *",
            "* * * 13 *",
            "* * * * 8",
            "*/0 * * * *",
            "5-1 * * * *",
            "1,,2 * * * *",
            "@daily * * * *",
            "* * * FOO *",
            "* * * * MON#6",
            "L * * * *",
            "* * * L *",
            "-1 * * * *",
            "* * 15L * *",
        ] {
            assert!(validate_cron(cron).is_err(), "{cron:?} should be refused");
        }
    }

    #[test]
    fn put_body_must_be_an_array_of_cron_objects() {
        assert_eq!(
            parse_put_body(&json!([{"cron": "*/5 * * * *"}, {"cron": " */5 * * * * "}]))
                .expect("valid"),
            vec!["*/5 * * * *".to_string()]
        );
        assert_eq!(
            parse_put_body(&json!([])).expect("empty"),
            Vec::<String>::new()
        );
        for bad in [
            json!({"cron": "* * * * *"}),
            json!([{"cron": 5}]),
            json!(["* * * * *"]),
            json!([{"cron": "* * *"}]),
        ] {
            let e = parse_put_body(&bad).expect_err("refused");
            assert_eq!((e.status, e.code), (400, INVALID_CRON), "{bad}");
        }
        let too_many: Vec<Value> = (0..=MAX_SCHEDULES)
            .map(|i| json!({"cron": format!("{} {} * * *", i % 60, i / 60)}))
            .collect();
        assert!(parse_put_body(&Value::Array(too_many)).is_err());
    }
}
