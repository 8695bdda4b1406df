//! The PostgreSQL schema as a numbered list of migrations, and which of them a database still
//! needs (pure). [`super::store`] applies the pending ones on start, each in its own
//! transaction under an advisory lock, so replicas starting together migrate once.
//!
//! Rules for a new migration: append it with the next number, never edit or reorder a shipped
//! one (databases in the field recorded them as applied).

/// One step of the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every migration, oldest first.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "journal",
        sql: "
CREATE TABLE journal (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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
CREATE INDEX journal_worker ON journal (worker, seq);
CREATE INDEX journal_version ON journal (version_id);
CREATE FUNCTION flaresync_journal_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'the flaresync journal is append-only'; END $$;
CREATE TRIGGER journal_no_change BEFORE UPDATE OR DELETE ON journal
    FOR EACH ROW EXECUTE FUNCTION flaresync_journal_append_only();
CREATE TRIGGER journal_no_truncate BEFORE TRUNCATE ON journal
    FOR EACH STATEMENT EXECUTE FUNCTION flaresync_journal_append_only();
",
    },
    Migration {
        version: 2,
        name: "leases",
        sql: "
CREATE TABLE flaresync_leases (
    repository  TEXT NOT NULL,
    account     TEXT NOT NULL,
    holder      TEXT NOT NULL,
    token       BIGINT NOT NULL CHECK (token > 0),
    acquired_at TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (repository, account)
);
",
    },
    Migration {
        version: 3,
        name: "fleet",
        sql: "
ALTER TABLE journal ADD COLUMN scope TEXT NOT NULL DEFAULT '';
CREATE INDEX journal_scope_worker ON journal (scope, worker, seq);
CREATE TABLE flaresync_replicas (
    replica     TEXT PRIMARY KEY,
    started_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL
);
",
    },
];

/// The newest schema this flaresync knows.
pub fn latest(migrations: &[Migration]) -> i64 {
    migrations.last().map_or(0, |m| m.version)
}

/// What a database at schema `applied` needs.
#[derive(Debug, PartialEq, Eq)]
pub enum Pending<'a> {
    /// These, in order (empty: up to date).
    Apply(&'a [Migration]),
    /// The database was migrated by a newer flaresync.
    TooNew { found: i64, supported: i64 },
}

/// The migrations after `applied`, or [`Pending::TooNew`].
pub fn pending(applied: i64, migrations: &[Migration]) -> Pending<'_> {
    let supported = latest(migrations);
    if applied > supported {
        return Pending::TooNew {
            found: applied,
            supported,
        };
    }
    let start = migrations.partition_point(|m| m.version <= applied);
    Pending::Apply(&migrations[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_start_at_one_and_increase_by_one() {
        for (index, migration) in MIGRATIONS.iter().enumerate() {
            assert_eq!(migration.version, index as i64 + 1, "{}", migration.name);
            assert!(!migration.sql.trim().is_empty());
        }
    }

    #[test]
    fn a_fresh_database_gets_every_migration_and_a_current_one_none() {
        assert_eq!(pending(0, MIGRATIONS), Pending::Apply(MIGRATIONS));
        assert_eq!(
            pending(latest(MIGRATIONS), MIGRATIONS),
            Pending::Apply(&[][..])
        );
    }

    #[test]
    fn a_database_part_way_gets_the_rest_in_order() {
        let Pending::Apply(rest) = pending(1, MIGRATIONS) else {
            panic!("expected migrations");
        };
        assert_eq!(
            rest.iter().map(|m| m.version).collect::<Vec<_>>(),
            (2..=latest(MIGRATIONS)).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_database_of_a_newer_flaresync_is_refused() {
        let newer = latest(MIGRATIONS) + 3;
        assert_eq!(
            pending(newer, MIGRATIONS),
            Pending::TooNew {
                found: newer,
                supported: latest(MIGRATIONS)
            }
        );
    }
}
