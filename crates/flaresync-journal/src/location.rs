//! Where the journal lives: a SQLite file (the default, one per state directory) or a
//! PostgreSQL database (`postgres://…`, shared by replicas and CI runs). The URL may carry a
//! password: [`JournalLocation::display`] is the only form that goes into messages and logs.

use std::path::PathBuf;

/// A journal's location.
#[derive(Clone, PartialEq, Eq)]
pub enum JournalLocation {
    Sqlite(PathBuf),
    /// A libpq-style URL (`postgres://user:password@host:port/db?…`).
    Postgres(String),
}

impl std::fmt::Debug for JournalLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JournalLocation::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            JournalLocation::Postgres(_) => {
                f.debug_tuple("Postgres").field(&self.display()).finish()
            }
        }
    }
}

impl JournalLocation {
    /// `postgres://…` or `postgresql://…` names a database; `None` for anything else.
    pub fn postgres(value: &str) -> Option<Self> {
        let value = value.trim();
        ["postgres://", "postgresql://"]
            .iter()
            .any(|scheme| {
                value
                    .get(..scheme.len())
                    .is_some_and(|start| start.eq_ignore_ascii_case(scheme))
            })
            .then(|| JournalLocation::Postgres(value.to_owned()))
    }

    /// For messages and logs: a path as is, a URL without user information, query or fragment
    /// (a password can hide in either).
    pub fn display(&self) -> String {
        match self {
            JournalLocation::Sqlite(path) => path.display().to_string(),
            JournalLocation::Postgres(url) => flaresync_config::url::display_url(url),
        }
    }

    /// Whether a URL carries a password (in its user information or its query).
    pub fn has_password(&self) -> bool {
        match self {
            JournalLocation::Sqlite(_) => false,
            JournalLocation::Postgres(url) => {
                flaresync_config::url::split_credentials(url).1.is_some()
                    || url.to_ascii_lowercase().contains("password=")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_postgres_urls_name_a_database() {
        assert!(JournalLocation::postgres("postgres://db/flaresync").is_some());
        assert!(JournalLocation::postgres(" PostgreSQL://db/x ").is_some());
        assert_eq!(JournalLocation::postgres("/var/lib/journal.sqlite3"), None);
        assert_eq!(JournalLocation::postgres("mysql://db"), None);
    }

    #[test]
    fn a_password_never_shows() {
        for url in [
            "postgres://fs:s3cr%2Ft@db.internal:5432/flaresync?sslmode=require",
            "postgres://fs@db.internal/flaresync?password=s3cr%2Ft",
        ] {
            let location = JournalLocation::postgres(url).expect("postgres");
            assert!(location.has_password(), "{url}");
            for shown in [location.display(), format!("{location:?}")] {
                assert!(!shown.contains("s3cr"), "{shown}");
                assert!(shown.contains("db.internal"), "{shown}");
            }
        }
        assert!(
            !JournalLocation::postgres("postgres://db/x")
                .expect("postgres")
                .has_password()
        );
    }
}
