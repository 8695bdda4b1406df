//! The backends the journal suite runs against: a SQLite file in a temporary directory, and a
//! fresh database on the test PostgreSQL server (see `flaresync_journal::test_postgres`).

use flaresync_journal::{Journal, JournalLocation, test_postgres};

// Each test file that includes this module uses only the backends it needs.
#[allow(dead_code)]
#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// One journal location, reopenable.
pub struct Store {
    pub location: JournalLocation,
    _dir: Option<tempfile::TempDir>,
}

impl Store {
    /// A fresh location on `backend`; `None` when PostgreSQL tests are skipped
    /// (`FLARESYNC_SKIP_POSTGRES=1`). Without that, a missing PostgreSQL fails the test.
    pub fn new(backend: Backend, label: &str) -> Option<Store> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("tempdir");
                Some(Store {
                    location: JournalLocation::Sqlite(dir.path().join("journal.sqlite3")),
                    _dir: Some(dir),
                })
            }
            Backend::Postgres => {
                if test_postgres::skip(label) {
                    return None;
                }
                let server = test_postgres::server().expect("a test PostgreSQL server");
                let url = server.database(label).expect("a fresh database");
                Some(Store {
                    location: JournalLocation::postgres(&url).expect("a postgres url"),
                    _dir: None,
                })
            }
        }
    }

    pub fn open(&self) -> Journal {
        Journal::open_location(&self.location).expect("open the journal")
    }

    /// The PostgreSQL URL (panics for SQLite).
    pub fn url(&self) -> &str {
        match &self.location {
            JournalLocation::Postgres(url) => url,
            JournalLocation::Sqlite(_) => panic!("not a PostgreSQL store"),
        }
    }
}

/// Runs the test function `$name(backend: Backend)` once per backend.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn sqlite() {
                super::$name($crate::backends::Backend::Sqlite);
            }
            #[test]
            fn postgres() {
                super::$name($crate::backends::Backend::Postgres);
            }
        }
    )*};
}
