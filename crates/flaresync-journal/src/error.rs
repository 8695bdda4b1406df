//! Errors of the journal, for both backends. A PostgreSQL location is always shown without its
//! credentials or query (see [`crate::location::JournalLocation::display`]).

use std::path::PathBuf;

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
    /// The database file (or its WAL companions) cannot be made private to its owner.
    #[error("cannot make the journal file {path} private to its owner (mode 0600): {source}")]
    Permissions {
        path: PathBuf,
        #[source]
        source: std::io::Error,
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
        "the journal at {location} has schema version {found}, newer than this flaresync ({supported}); \
         upgrade flaresync"
    )]
    TooNew {
        location: String,
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
    /// The PostgreSQL server cannot be reached or refuses the login.
    #[error(
        "cannot connect to the PostgreSQL journal at {location}: {source}; check the URL in \
         --journal / FLARESYNC_JOURNAL_URL and that the server is up"
    )]
    Connect {
        location: String,
        #[source]
        source: postgres::Error,
    },
    /// A PostgreSQL statement failed.
    #[error("journal {operation} on {location} failed: {source}")]
    Postgres {
        operation: &'static str,
        location: String,
        #[source]
        source: postgres::Error,
    },
    /// A schema migration failed (the database keeps the schema it had).
    #[error(
        "schema migration {version} ({name}) of the PostgreSQL journal at {location} failed: {source}"
    )]
    Migration {
        version: i64,
        name: &'static str,
        location: String,
        #[source]
        source: postgres::Error,
    },
    /// The thread holding the PostgreSQL connection is gone.
    #[error("the PostgreSQL journal connection to {location} stopped; restart flaresync")]
    Disconnected { location: String },
    /// A stored row cannot be decoded (hand-edited or corrupt database).
    #[error("journal row {seq} is malformed: {reason}")]
    Malformed { seq: i64, reason: String },
    /// Leases need the PostgreSQL journal.
    #[error("leases need a PostgreSQL journal (--journal postgres://…); {location} is SQLite")]
    NoLeases { location: String },
}
