//! The PostgreSQL backend of the journal: the schema migrated on open, and the shared
//! statements of [`crate::queries`] run on the connection's thread.

use std::sync::Arc;

use postgres::types::ToSql;

use super::connection::Connection;
use super::migrations::{MIGRATIONS, Pending, pending};
use crate::error::JournalError;
use crate::queries::{RawRow, Value, postgres_placeholders};
use crate::store::Store;

/// Serialises migrations of replicas that start together (an arbitrary, fixed key).
const MIGRATION_LOCK: i64 = 0x666c_6172_6573_796e;

pub(crate) struct PgStore {
    pub(crate) connection: Arc<Connection>,
}

impl PgStore {
    /// Connects to `url` and brings its schema up to date.
    pub(crate) fn open(url: &str, location: String) -> Result<Self, JournalError> {
        let connection = Arc::new(Connection::open(url, location)?);
        migrate(&connection)?;
        Ok(PgStore { connection })
    }
}

/// Applies the pending migrations in one transaction, under an advisory lock.
fn migrate(connection: &Connection) -> Result<(), JournalError> {
    let location = connection.location().to_owned();
    let failed = connection.error("migration");
    connection.call(move |client| -> Result<(), JournalError> {
        let mut transaction = client.transaction().map_err(failed)?;
        let failed = |source| JournalError::Postgres {
            operation: "migration",
            location: location.clone(),
            source,
        };
        transaction
            .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .map_err(failed)?;
        transaction
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS flaresync_schema (
                         version    BIGINT PRIMARY KEY,
                         name       TEXT NOT NULL,
                         applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
            )
            .map_err(failed)?;
        let applied: i64 = transaction
            .query_one(
                "SELECT coalesce(max(version), 0) FROM flaresync_schema",
                &[],
            )
            .and_then(|row| row.try_get(0))
            .map_err(failed)?;
        let steps = match pending(applied, MIGRATIONS) {
            Pending::Apply(steps) => steps,
            Pending::TooNew { found, supported } => {
                return Err(JournalError::TooNew {
                    location: location.clone(),
                    found,
                    supported,
                });
            }
        };
        for step in steps {
            let failed = |source| JournalError::Migration {
                version: step.version,
                name: step.name,
                location: location.clone(),
                source,
            };
            transaction.batch_execute(step.sql).map_err(failed)?;
            transaction
                .execute(
                    "INSERT INTO flaresync_schema (version, name) VALUES ($1, $2)",
                    &[&step.version, &step.name],
                )
                .map_err(failed)?;
        }
        transaction.commit().map_err(failed)
    })?
}

/// Owned parameters, so a job can take them to the connection's thread.
fn owned(params: Vec<Value>) -> Vec<Box<dyn ToSql + Sync + Send>> {
    params
        .into_iter()
        .map(|value| -> Box<dyn ToSql + Sync + Send> {
            match value {
                Value::Text(text) => Box::new(text),
                Value::Int(number) => Box::new(number),
            }
        })
        .collect()
}

fn borrowed(params: &[Box<dyn ToSql + Sync + Send>]) -> Vec<&(dyn ToSql + Sync)> {
    params
        .iter()
        .map(|p| p.as_ref() as &(dyn ToSql + Sync))
        .collect()
}

impl PgStore {
    fn query<T: Send + 'static>(
        &self,
        operation: &'static str,
        sql: &str,
        params: Vec<Value>,
        map: fn(&postgres::Row) -> Result<T, postgres::Error>,
    ) -> Result<Vec<T>, JournalError> {
        let sql = postgres_placeholders(sql);
        let params = owned(params);
        let failed = self.connection.error(operation);
        self.connection.call(move |client| {
            client
                .query(sql.as_str(), &borrowed(&params))
                .and_then(|rows| rows.iter().map(map).collect())
                .map_err(failed)
        })?
    }
}

impl Store for PgStore {
    fn insert(&self, sql: &str, params: Vec<Value>) -> Result<i64, JournalError> {
        let found = self.query("record", sql, params, |row| row.try_get(0))?;
        found.into_iter().next().ok_or(JournalError::Malformed {
            seq: 0,
            reason: "the insert returned no sequence number".into(),
        })
    }

    fn rows(
        &self,
        operation: &'static str,
        sql: &str,
        params: Vec<Value>,
    ) -> Result<Vec<RawRow>, JournalError> {
        self.query(operation, sql, params, raw_row)
    }

    fn texts(
        &self,
        operation: &'static str,
        sql: &str,
        params: Vec<Value>,
    ) -> Result<Vec<Option<String>>, JournalError> {
        self.query(operation, sql, params, |row| row.try_get(0))
    }
}

fn raw_row(row: &postgres::Row) -> Result<RawRow, postgres::Error> {
    Ok(RawRow {
        seq: row.try_get(0)?,
        at: row.try_get(1)?,
        worker: row.try_get(2)?,
        commit: row.try_get(3)?,
        digest: row.try_get(4)?,
        version_id: row.try_get(5)?,
        deployment_id: row.try_get(6)?,
        trigger_kind: row.try_get(7)?,
        actor: row.try_get(8)?,
        action: row.try_get(9)?,
        outcome: row.try_get(10)?,
        message: row.try_get(11)?,
    })
}
