//! The SQLite journal: an append-only table of every action flaresync took.
//!
//! # Guarantees
//! - Append-only: triggers refuse `UPDATE` and `DELETE` on the table.
//! - Crash-safe: WAL with `synchronous=FULL`; each `record` is one committed transaction, so
//!   after `record` returns the entry survives a crash or power loss.
//! - Concurrent readers (the status server, `flaresync history`) do not block the writer.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::entry::{Action, Entry, Outcome, Recorded, Trigger, TriggerKind};

/// Errors of the journal.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// The database file cannot be opened or initialised.
    #[error("cannot open the journal at {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    /// The directory of the database file cannot be created.
    #[error(
        "cannot create the journal directory {path}: {source}; check permissions or choose another state directory"
    )]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The database was written by a newer flaresync.
    #[error(
        "the journal at {path} has schema version {found}, newer than this flaresync ({supported}); \
         upgrade flaresync"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    /// A statement failed.
    #[error("journal {operation} failed: {source}")]
    Query {
        operation: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    /// A stored row cannot be decoded (hand-edited or corrupt database).
    #[error("journal row {seq} is malformed: {reason}")]
    Malformed { seq: i64, reason: String },
}

const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS journal (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    at            TEXT NOT NULL,
    worker        TEXT NOT NULL,
    commit_id     TEXT,
    digest        TEXT,
    version_id    TEXT,
    deployment_id TEXT,
    trigger_kind  TEXT NOT NULL,
    actor         TEXT,
    action        TEXT NOT NULL,
    outcome       TEXT NOT NULL,
    message       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS journal_worker ON journal (worker, seq);
CREATE INDEX IF NOT EXISTS journal_version ON journal (version_id);
CREATE TRIGGER IF NOT EXISTS journal_no_update BEFORE UPDATE ON journal
BEGIN SELECT RAISE(ABORT, 'the flaresync journal is append-only'); END;
CREATE TRIGGER IF NOT EXISTS journal_no_delete BEFORE DELETE ON journal
BEGIN SELECT RAISE(ABORT, 'the flaresync journal is append-only'); END;
";

const COLUMNS: &str = "seq, at, worker, commit_id, digest, version_id, deployment_id, \
                       trigger_kind, actor, action, outcome, message";

/// The journal. Cheap to share (`&Journal` is `Sync`); writes are serialised internally.
pub struct Journal {
    path: PathBuf,
    connection: Mutex<Connection>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal").field("path", &self.path).finish()
    }
}

fn query_error(operation: &'static str) -> impl FnOnce(rusqlite::Error) -> JournalError {
    move |source| JournalError::Query { operation, source }
}

impl Journal {
    /// Opens (creating if needed) the journal at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, JournalError> {
        let path = path.as_ref().to_owned();
        let open_error = |source| JournalError::Open {
            path: path.clone(),
            source,
        };
        // A fresh state directory: create it (SQLite creates the file, not its directory).
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
            && !parent.exists()
        {
            std::fs::create_dir_all(parent).map_err(|source| JournalError::CreateDir {
                path: parent.to_owned(),
                source,
            })?;
        }
        let connection = Connection::open(&path).map_err(open_error)?;
        connection
            .busy_timeout(std::time::Duration::from_secs(5))
            .map_err(open_error)?;
        // WAL: readers never block the writer; FULL: a committed entry survives power loss.
        connection
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(open_error)?;
        connection
            .pragma_update(None, "synchronous", "FULL")
            .map_err(open_error)?;
        let found: i64 = connection
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(open_error)?;
        if found > SCHEMA_VERSION {
            return Err(JournalError::TooNew {
                path,
                found,
                supported: SCHEMA_VERSION,
            });
        }
        connection.execute_batch(SCHEMA).map_err(open_error)?;
        connection
            .pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(open_error)?;
        Ok(Journal {
            path,
            connection: Mutex::new(connection),
        })
    }

    /// Path of the database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn connection(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a half-written entry (SQLite rolls the
        // statement back), so a poisoned lock is safe to reuse.
        self.connection
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Appends `entry`; returns its sequence number. Durable when this returns.
    pub fn record(&self, entry: &Entry) -> Result<i64, JournalError> {
        let connection = self.connection();
        connection
            .execute(
                "INSERT INTO journal (at, worker, commit_id, digest, version_id, deployment_id, \
                 trigger_kind, actor, action, outcome, message) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    format_time(entry.at),
                    entry.worker,
                    entry.commit,
                    entry.digest.as_deref(),
                    entry.version_id,
                    entry.deployment_id,
                    entry.trigger.kind.as_str(),
                    entry.trigger.actor,
                    entry.action.as_str(),
                    entry.outcome.as_str(),
                    entry.message,
                ],
            )
            .map_err(query_error("record"))?;
        Ok(connection.last_insert_rowid())
    }

    fn select(
        &self,
        operation: &'static str,
        clause: &str,
        parameters: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<Recorded>, JournalError> {
        let connection = self.connection();
        let sql = format!("SELECT {COLUMNS} FROM journal {clause}");
        let mut statement = connection.prepare(&sql).map_err(query_error(operation))?;
        let rows = statement
            .query_map(parameters, raw_row)
            .map_err(query_error(operation))?;
        let mut out = Vec::new();
        for row in rows {
            out.push(decode(row.map_err(query_error(operation))?)?);
        }
        Ok(out)
    }

    /// Every entry for `worker`, oldest first.
    pub fn history(&self, worker: &str) -> Result<Vec<Recorded>, JournalError> {
        self.select("history", "WHERE worker = ?1 ORDER BY seq", &[&worker])
    }

    /// The newest `limit` entries for all workers, newest first.
    pub fn recent(&self, limit: u32) -> Result<Vec<Recorded>, JournalError> {
        self.select("recent", "ORDER BY seq DESC LIMIT ?1", &[&limit])
    }

    /// Every entry naming `version_id`, oldest first.
    pub fn for_version(&self, version_id: &str) -> Result<Vec<Recorded>, JournalError> {
        self.select(
            "for_version",
            "WHERE version_id = ?1 ORDER BY seq",
            &[&version_id],
        )
    }

    /// The last successful deploy or rollback of `worker`: what flaresync last put live.
    pub fn last_applied(&self, worker: &str) -> Result<Option<Recorded>, JournalError> {
        let mut found = self.select(
            "last_applied",
            "WHERE worker = ?1 AND action IN ('deploy', 'rollback') AND outcome = 'success' \
             ORDER BY seq DESC LIMIT 1",
            &[&worker],
        )?;
        Ok(found.pop())
    }

    /// Actions that were started but never finished (flaresync stopped between the
    /// `Started` entry and its outcome): for each worker, a `Started` entry with no later
    /// entry of the same action. The reconciler checks live state for these after a restart.
    pub fn in_flight(&self) -> Result<Vec<Recorded>, JournalError> {
        self.select(
            "in_flight",
            "AS started WHERE outcome = 'started' AND NOT EXISTS ( \
               SELECT 1 FROM journal AS later \
               WHERE later.worker = started.worker AND later.action = started.action \
                 AND later.seq > started.seq) \
             ORDER BY seq",
            &[],
        )
    }

    /// Names of all workers with entries, sorted.
    pub fn workers(&self) -> Result<Vec<String>, JournalError> {
        let connection = self.connection();
        let mut statement = connection
            .prepare("SELECT DISTINCT worker FROM journal ORDER BY worker")
            .map_err(query_error("workers"))?;
        let names: Vec<String> = statement
            .query_map([], |row| row.get::<_, String>(0))
            .map_err(query_error("workers"))?
            .collect::<Result<_, _>>()
            .map_err(query_error("workers"))?;
        Ok(names)
    }

    /// The commit of the last successful upload/deploy/rollback recorded for any worker: where
    /// flaresync left off (feeds `GitSource::set_last_head` after a restart).
    pub fn last_commit(&self) -> Result<Option<String>, JournalError> {
        let connection = self.connection();
        connection
            .query_row(
                "SELECT commit_id FROM journal WHERE commit_id IS NOT NULL \
                 AND outcome = 'success' ORDER BY seq DESC LIMIT 1",
                [],
                |row| row.get(0),
            )
            .optional()
            .map_err(query_error("last_commit"))
    }
}

fn format_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

struct RawRow {
    seq: i64,
    at: String,
    worker: String,
    commit: Option<String>,
    digest: Option<String>,
    version_id: Option<String>,
    deployment_id: Option<String>,
    trigger_kind: String,
    actor: Option<String>,
    action: String,
    outcome: String,
    message: String,
}

fn raw_row(row: &Row<'_>) -> rusqlite::Result<RawRow> {
    Ok(RawRow {
        seq: row.get(0)?,
        at: row.get(1)?,
        worker: row.get(2)?,
        commit: row.get(3)?,
        digest: row.get(4)?,
        version_id: row.get(5)?,
        deployment_id: row.get(6)?,
        trigger_kind: row.get(7)?,
        actor: row.get(8)?,
        action: row.get(9)?,
        outcome: row.get(10)?,
        message: row.get(11)?,
    })
}

fn decode(raw: RawRow) -> Result<Recorded, JournalError> {
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
