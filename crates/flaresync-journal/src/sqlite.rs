//! The SQLite backend: one file per state directory, the embedded default of a single instance.
//!
//! # Guarantees
//! - Append-only: triggers refuse `UPDATE` and `DELETE` on the table.
//! - Crash-safe: WAL with `synchronous=FULL`; each `record` is one committed transaction, so
//!   after `record` returns the entry survives a crash or power loss.
//! - Concurrent readers (the status server, `flaresync history`) do not block the writer.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, Row};

use crate::error::JournalError;
use crate::private;
use crate::queries::{RawRow, Value};
use crate::store::Store;

const SCHEMA_VERSION: i64 = 2;

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
    message       TEXT NOT NULL DEFAULT '',
    scope         TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS journal_worker ON journal (worker, seq);
CREATE INDEX IF NOT EXISTS journal_version ON journal (version_id);
CREATE TRIGGER IF NOT EXISTS journal_no_update BEFORE UPDATE ON journal
BEGIN SELECT RAISE(ABORT, 'the flaresync journal is append-only'); END;
CREATE TRIGGER IF NOT EXISTS journal_no_delete BEFORE DELETE ON journal
BEGIN SELECT RAISE(ABORT, 'the flaresync journal is append-only'); END;
";

pub(crate) struct SqliteStore {
    connection: Mutex<Connection>,
}

/// Creates the database file owner-only (SQLite gives its `-wal` and `-shm` files the same
/// mode), and tightens a journal (and companions) an older flaresync left readable to others.
fn make_private(path: &Path) -> Result<(), JournalError> {
    let failed = |path: &Path| {
        let path = path.to_owned();
        move |source| JournalError::Permissions { path, source }
    };
    private::open_private_file(path).map_err(failed(path))?;
    for suffix in ["-wal", "-shm"] {
        let mut companion = path.as_os_str().to_owned();
        companion.push(suffix);
        let companion = PathBuf::from(companion);
        if companion.exists() {
            private::restrict(&companion, private::FILE_MODE).map_err(failed(&companion))?;
        }
    }
    Ok(())
}

fn query_error(operation: &'static str) -> impl FnOnce(rusqlite::Error) -> JournalError {
    move |source| JournalError::Query { operation, source }
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        match self {
            Value::Text(text) => text.to_sql(),
            Value::Int(number) => number.to_sql(),
        }
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the journal file at `path`.
    pub(crate) fn open(path: &Path) -> Result<Self, JournalError> {
        let open_error = |source| JournalError::Open {
            path: path.to_owned(),
            source,
        };
        // A fresh state directory: create it (SQLite creates the file, not its directory).
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
            && !parent.exists()
        {
            private::create_private_dir(parent).map_err(|source| JournalError::CreateDir {
                path: parent.to_owned(),
                source,
            })?;
        }
        make_private(path)?;
        let connection = Connection::open(path).map_err(open_error)?;
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
        // A 512 KiB page cache instead of SQLite's 2 MiB: the journal is read by indexed
        // lookups, and the OS caches the file anyway (this is resident memory of every run).
        connection
            .pragma_update(None, "cache_size", -512)
            .map_err(open_error)?;
        let found: i64 = connection
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(open_error)?;
        if found > SCHEMA_VERSION {
            return Err(JournalError::TooNew {
                location: path.display().to_string(),
                found,
                supported: SCHEMA_VERSION,
            });
        }
        connection.execute_batch(SCHEMA).map_err(open_error)?;
        // Version 2 added the scope column (see `Journal::scoped`); a version-1 file gets it.
        let has_scope: i64 = connection
            .query_row(
                "SELECT count(*) FROM pragma_table_info('journal') WHERE name = 'scope'",
                [],
                |row| row.get(0),
            )
            .map_err(open_error)?;
        if has_scope == 0 {
            connection
                .execute_batch("ALTER TABLE journal ADD COLUMN scope TEXT NOT NULL DEFAULT ''")
                .map_err(open_error)?;
        }
        connection
            .pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(open_error)?;
        Ok(SqliteStore {
            connection: Mutex::new(connection),
        })
    }

    fn connection(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a half-written entry (SQLite rolls the
        // statement back), so a poisoned lock is safe to reuse.
        self.connection
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn query<T>(
        &self,
        operation: &'static str,
        sql: &str,
        params: &[Value],
        map: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, JournalError> {
        let connection = self.connection();
        let mut statement = connection.prepare(sql).map_err(query_error(operation))?;
        statement
            .query_map(rusqlite::params_from_iter(params), map)
            .map_err(query_error(operation))?
            .collect::<Result<_, _>>()
            .map_err(query_error(operation))
    }
}

impl Store for SqliteStore {
    fn insert(&self, sql: &str, params: Vec<Value>) -> Result<i64, JournalError> {
        let connection = self.connection();
        connection
            .query_row(sql, rusqlite::params_from_iter(&params), |row| row.get(0))
            .map_err(query_error("record"))
    }

    fn rows(
        &self,
        operation: &'static str,
        sql: &str,
        params: Vec<Value>,
    ) -> Result<Vec<RawRow>, JournalError> {
        self.query(operation, sql, &params, raw_row)
    }

    fn texts(
        &self,
        operation: &'static str,
        sql: &str,
        params: Vec<Value>,
    ) -> Result<Vec<Option<String>>, JournalError> {
        self.query(operation, sql, &params, |row| row.get(0))
    }
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
