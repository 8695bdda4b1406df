//! The journal's statements, written once for both backends (SQLite's `?N` placeholders;
//! [`postgres_placeholders`] turns them into PostgreSQL's `$N`), their parameters, and the
//! decoding of a row into a [`Recorded`] entry.

use chrono::{DateTime, Utc};

use crate::entry::{Action, Entry, Outcome, Recorded, Trigger, TriggerKind};
use crate::error::JournalError;

/// A statement parameter, owned so it can cross to the PostgreSQL connection's thread.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Text(Option<String>),
    Int(i64),
}

impl Value {
    fn text(value: impl Into<String>) -> Self {
        Value::Text(Some(value.into()))
    }
}

pub(crate) const COLUMNS: &str = "seq, at, worker, commit_id, digest, version_id, deployment_id, \
                                  trigger_kind, actor, action, outcome, message";

pub(crate) const INSERT: &str = "INSERT INTO journal (at, worker, commit_id, digest, version_id, \
     deployment_id, trigger_kind, actor, action, outcome, message, scope) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) RETURNING seq";

// Every read takes the journal's scope as its last parameter: `''` reads every scope (a
// single-repository journal, or a command that shows all), anything else only that scope's
// entries (one (repository, account) pair of a shared PostgreSQL journal).
pub(crate) const HISTORY: &str =
    "WHERE worker = ?1 AND (CAST(?2 AS TEXT) = '' OR scope = ?2) ORDER BY seq";
pub(crate) const RECENT: &str =
    "WHERE (CAST(?2 AS TEXT) = '' OR scope = ?2) ORDER BY seq DESC LIMIT ?1";
pub(crate) const FOR_VERSION: &str =
    "WHERE version_id = ?1 AND (CAST(?2 AS TEXT) = '' OR scope = ?2) ORDER BY seq";
pub(crate) const LAST_ENTRY: &str = "WHERE worker = ?1 AND (CAST(?2 AS TEXT) = '' OR scope = ?2) \
     ORDER BY seq DESC LIMIT 1";
pub(crate) const LAST_APPLIED: &str = "WHERE worker = ?1 AND (CAST(?2 AS TEXT) = '' OR scope = ?2) \
     AND action IN ('deploy', 'rollback') AND outcome = 'success' ORDER BY seq DESC LIMIT 1";
pub(crate) const IN_FLIGHT: &str = "AS started WHERE outcome = 'started' \
     AND (CAST(?1 AS TEXT) = '' OR started.scope = ?1) AND NOT EXISTS ( \
       SELECT 1 FROM journal AS later \
       WHERE later.worker = started.worker AND later.action = started.action \
         AND later.scope = started.scope AND later.seq > started.seq) \
     ORDER BY seq";
pub(crate) const WORKERS: &str = "SELECT DISTINCT worker FROM journal WHERE (CAST(?1 AS TEXT) = '' OR scope = ?1) ORDER BY worker";
pub(crate) const LAST_COMMIT: &str = "SELECT commit_id FROM journal WHERE commit_id IS NOT NULL \
     AND outcome = 'success' AND (CAST(?1 AS TEXT) = '' OR scope = ?1) ORDER BY seq DESC LIMIT 1";

/// `SELECT <every column> FROM journal <clause>`.
pub(crate) fn select(clause: &str) -> String {
    format!("SELECT {COLUMNS} FROM journal {clause}")
}

/// The parameters of [`INSERT`] for `entry`, recorded in `scope`.
pub(crate) fn insert_values(entry: &Entry, scope: &str) -> Vec<Value> {
    vec![
        Value::text(format_time(entry.at)),
        Value::text(entry.worker.as_str()),
        Value::Text(entry.commit.clone()),
        Value::Text(entry.digest.as_ref().map(|d| d.as_str().to_owned())),
        Value::Text(entry.version_id.clone()),
        Value::Text(entry.deployment_id.clone()),
        Value::text(entry.trigger.kind.as_str()),
        Value::Text(entry.trigger.actor.clone()),
        Value::text(entry.action.as_str()),
        Value::text(entry.outcome.as_str()),
        Value::text(entry.message.as_str()),
        Value::text(scope),
    ]
}

/// `sql` with SQLite's `?N` placeholders written as PostgreSQL's `$N`. The statements above
/// hold no `?` in string literals, so every `?` followed by a digit is a placeholder.
pub(crate) fn postgres_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '?' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('$');
        } else {
            out.push(c);
        }
    }
    out
}

fn format_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// One journal row as stored, before decoding (columns in [`COLUMNS`] order).
#[derive(Debug)]
pub(crate) struct RawRow {
    pub seq: i64,
    pub at: String,
    pub worker: String,
    pub commit: Option<String>,
    pub digest: Option<String>,
    pub version_id: Option<String>,
    pub deployment_id: Option<String>,
    pub trigger_kind: String,
    pub actor: Option<String>,
    pub action: String,
    pub outcome: String,
    pub message: String,
}

pub(crate) fn decode(raw: RawRow) -> Result<Recorded, JournalError> {
    let malformed = |reason: String| JournalError::Malformed {
        seq: raw.seq,
        reason,
    };
    let at = DateTime::parse_from_rfc3339(&raw.at)
        .map_err(|e| malformed(format!("time {:?}: {e}", raw.at)))?
        .with_timezone(&Utc);
    let kind = TriggerKind::parse(&raw.trigger_kind)
        .ok_or_else(|| malformed(format!("unknown trigger {:?}", raw.trigger_kind)))?;
    let outcome = Outcome::parse(&raw.outcome)
        .ok_or_else(|| malformed(format!("unknown outcome {:?}", raw.outcome)))?;
    Ok(Recorded {
        seq: raw.seq,
        entry: Entry {
            at,
            worker: raw.worker,
            commit: raw.commit,
            digest: raw.digest.map(flaresync_config::Digest::new),
            version_id: raw.version_id,
            deployment_id: raw.deployment_id,
            trigger: Trigger {
                kind,
                actor: raw.actor,
            },
            action: Action::parse(&raw.action),
            outcome,
            message: raw.message,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_dollar_numbers() {
        assert_eq!(
            postgres_placeholders("WHERE a = ?1 AND b IN (?2, ?10) AND c = '?'"),
            "WHERE a = $1 AND b IN ($2, $10) AND c = '?'"
        );
        assert_eq!(postgres_placeholders(INSERT).matches('$').count(), 12);
    }

    #[test]
    fn a_malformed_row_names_its_sequence_number() {
        let raw = RawRow {
            seq: 7,
            at: "yesterday".into(),
            worker: "api".into(),
            commit: None,
            digest: None,
            version_id: None,
            deployment_id: None,
            trigger_kind: "poll".into(),
            actor: None,
            action: "deploy".into(),
            outcome: "success".into(),
            message: String::new(),
        };
        let error = decode(raw).expect_err("malformed");
        assert!(error.to_string().contains("journal row 7"), "{error}");
    }
}
