//! The journal: an append-only record of every action flaresync took, in a SQLite file (the
//! embedded default, [`crate::sqlite`]) or in PostgreSQL ([`crate::postgres`], shared by
//! replicas). Both backends run the same statements ([`crate::queries`]) and so behave alike;
//! every caller uses this one type.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub use crate::error::JournalError;

use crate::entry::{Entry, Recorded};
use crate::location::JournalLocation;
use crate::postgres::connection::Connection;
use crate::postgres::fleet::Fleet;
use crate::postgres::lease::Lease;
use crate::postgres::store::PgStore;
use crate::queries::{self, Value};
use crate::sqlite::SqliteStore;
use crate::store::Store;

/// The journal. Cheap to share (`&Journal` is `Sync`); writes are serialised internally.
pub struct Journal {
    location: JournalLocation,
    store: Box<dyn Store>,
    /// The PostgreSQL connection, for leases (`None` on SQLite).
    postgres: Option<Arc<Connection>>,
    /// Whose entries this handle writes and reads (`""`: writes unscoped, reads all).
    scope: String,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("location", &self.location.display())
            .finish()
    }
}

impl Journal {
    /// Opens (creating if needed) the SQLite journal at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, JournalError> {
        Self::open_location(&JournalLocation::Sqlite(path.as_ref().to_owned()))
    }

    /// Opens the journal at `location`: a SQLite file (created if needed) or a PostgreSQL
    /// database (its schema migrated to this flaresync's version first).
    pub fn open_location(location: &JournalLocation) -> Result<Self, JournalError> {
        let (store, postgres): (Box<dyn Store>, _) = match location {
            JournalLocation::Sqlite(path) => (Box::new(SqliteStore::open(path)?), None),
            JournalLocation::Postgres(url) => {
                let store = PgStore::open(url, location.display())?;
                let connection = store.connection.clone();
                (Box::new(store), Some(connection))
            }
        };
        Ok(Journal {
            location: location.clone(),
            store,
            postgres,
            scope: String::new(),
        })
    }

    /// This journal limited to one (repository, account) pair: entries are recorded in
    /// `scope` and only its entries are read. A PostgreSQL journal shared by several
    /// repositories (a fleet) needs it, so one repository's intents and commits never mix
    /// with another's. `""` is every scope.
    pub fn scoped(self, scope: impl Into<String>) -> Self {
        Journal {
            scope: scope.into(),
            ..self
        }
    }

    /// The scope set by [`Journal::scoped`] (`""`: none).
    pub fn scope(&self) -> &str {
        &self.scope
    }

    /// Path of the SQLite file; `None` for a PostgreSQL journal.
    pub fn path(&self) -> Option<&Path> {
        match &self.location {
            JournalLocation::Sqlite(path) => Some(path),
            JournalLocation::Postgres(_) => None,
        }
    }

    /// Where the journal is, for messages (never with credentials).
    pub fn display(&self) -> String {
        self.location.display()
    }

    /// Whether the journal can hold leases (PostgreSQL).
    pub fn has_leases(&self) -> bool {
        self.postgres.is_some()
    }

    /// A lease on (`repository`, `account`) for `holder`, not yet acquired (see
    /// [`Lease::acquire`]). Needs a PostgreSQL journal.
    pub fn lease(
        &self,
        repository: &str,
        account: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Lease, JournalError> {
        Ok(Lease::new(
            self.postgres()?,
            repository,
            account,
            holder,
            ttl,
        ))
    }

    /// This replica's handle on the fleet tables (heartbeats, every lease). Needs a
    /// PostgreSQL journal.
    pub fn fleet(&self, replica: &str) -> Result<Fleet, JournalError> {
        Ok(Fleet::new(self.postgres()?, replica))
    }

    /// The PostgreSQL connection leases and the fleet tables need.
    fn postgres(&self) -> Result<Arc<Connection>, JournalError> {
        self.postgres.clone().ok_or_else(|| JournalError::NoLeases {
            location: self.display(),
        })
    }

    /// Appends `entry`; returns its sequence number. Durable when this returns.
    pub fn record(&self, entry: &Entry) -> Result<i64, JournalError> {
        self.store
            .insert(queries::INSERT, queries::insert_values(entry, &self.scope))
    }

    fn select(
        &self,
        operation: &'static str,
        clause: &str,
        mut params: Vec<Value>,
    ) -> Result<Vec<Recorded>, JournalError> {
        params.push(text(&self.scope));
        self.store
            .rows(operation, &queries::select(clause), params)?
            .into_iter()
            .map(queries::decode)
            .collect()
    }

    /// Every entry for `worker`, oldest first.
    pub fn history(&self, worker: &str) -> Result<Vec<Recorded>, JournalError> {
        self.select("history", queries::HISTORY, vec![text(worker)])
    }

    /// The newest `limit` entries for all workers, newest first.
    pub fn recent(&self, limit: u32) -> Result<Vec<Recorded>, JournalError> {
        self.select(
            "recent",
            queries::RECENT,
            vec![Value::Int(i64::from(limit))],
        )
    }

    /// Every entry naming `version_id`, oldest first.
    pub fn for_version(&self, version_id: &str) -> Result<Vec<Recorded>, JournalError> {
        self.select("for_version", queries::FOR_VERSION, vec![text(version_id)])
    }

    /// The newest entry for `worker`, whatever it says.
    pub fn last_entry(&self, worker: &str) -> Result<Option<Recorded>, JournalError> {
        let mut found = self.select("last_entry", queries::LAST_ENTRY, vec![text(worker)])?;
        Ok(found.pop())
    }

    /// The last successful deploy or rollback of `worker`: what flaresync last put live.
    pub fn last_applied(&self, worker: &str) -> Result<Option<Recorded>, JournalError> {
        let mut found = self.select("last_applied", queries::LAST_APPLIED, vec![text(worker)])?;
        Ok(found.pop())
    }

    /// Actions that were started but never finished (flaresync stopped between the
    /// `Started` entry and its outcome): for each worker, a `Started` entry with no later
    /// entry of the same action. The reconciler checks live state for these after a restart.
    pub fn in_flight(&self) -> Result<Vec<Recorded>, JournalError> {
        self.select("in_flight", queries::IN_FLIGHT, Vec::new())
    }

    /// Names of all workers with entries, sorted.
    pub fn workers(&self) -> Result<Vec<String>, JournalError> {
        Ok(self
            .store
            .texts("workers", queries::WORKERS, vec![text(&self.scope)])?
            .into_iter()
            .flatten()
            .collect())
    }

    /// The commit of the last successful upload/deploy/rollback recorded for any worker: where
    /// flaresync left off (feeds `GitSource::set_last_head` after a restart).
    pub fn last_commit(&self) -> Result<Option<String>, JournalError> {
        Ok(self
            .store
            .texts("last_commit", queries::LAST_COMMIT, vec![text(&self.scope)])?
            .into_iter()
            .flatten()
            .next())
    }
}

fn text(value: &str) -> Value {
    Value::Text(Some(value.to_owned()))
}
