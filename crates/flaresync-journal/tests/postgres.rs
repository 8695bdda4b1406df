//! What only the PostgreSQL journal has: the versioned schema migration on open, leases with
//! fencing tokens, and a URL whose password never shows. Runs against a real PostgreSQL (see
//! `flaresync_journal::test_postgres`); skipped only with `FLARESYNC_SKIP_POSTGRES=1`.

use std::time::Duration;

use flaresync_journal::postgres::migrations::{MIGRATIONS, latest};
use flaresync_journal::{
    Acquired, Journal, JournalError, JournalLocation, LeaseError, lease::Fenced, test_postgres,
};

mod backends;
use backends::{Backend, Store};

const TTL: Duration = Duration::from_secs(15);

fn store(label: &str) -> Option<Store> {
    Store::new(Backend::Postgres, label)
}

fn expire_leases(store: &Store) {
    let server = test_postgres::server().expect("server");
    server
        .execute(
            store.url(),
            "UPDATE flaresync_leases SET expires_at = now() - interval '1 second'",
        )
        .expect("expire");
}

#[test]
fn the_schema_is_migrated_once_and_recorded_by_version() {
    let Some(store) = store("migrate") else {
        return;
    };
    // Replicas starting together: every one opens, the schema is migrated once.
    std::thread::scope(|scope| {
        for _ in 0..3 {
            scope.spawn(|| store.open());
        }
    });
    let server = test_postgres::server().expect("server");
    let count = |sql: &str| server.execute(store.url(), sql).expect("query");
    assert_eq!(
        count("SELECT version FROM flaresync_schema") as usize,
        MIGRATIONS.len()
    );
    assert_eq!(
        count(&format!(
            "SELECT 1 FROM flaresync_schema WHERE version = {}",
            latest(MIGRATIONS)
        )),
        1
    );
    store.open();
    assert_eq!(
        count("SELECT version FROM flaresync_schema") as usize,
        MIGRATIONS.len(),
        "reopening applies nothing twice"
    );
}

#[test]
fn a_database_of_a_newer_flaresync_is_refused() {
    let Some(store) = store("toonew") else {
        return;
    };
    store.open();
    let server = test_postgres::server().expect("server");
    server
        .execute(
            store.url(),
            "INSERT INTO flaresync_schema (version, name) VALUES (999, 'from the future')",
        )
        .expect("insert");
    let error = Journal::open_location(&store.location).expect_err("refused");
    assert!(matches!(error, JournalError::TooNew { found: 999, .. }));
    assert!(error.to_string().contains("upgrade flaresync"), "{error}");
}

#[test]
fn a_password_in_the_url_never_shows_in_errors() {
    if test_postgres::skip("password") {
        return;
    }
    // Nothing listens on this port (it was free a moment ago).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let url = format!("postgres://fs:hunter2-secret@127.0.0.1:{port}/x?password=hunter2-secret");
    let location = JournalLocation::postgres(&url).expect("postgres");
    let error = Journal::open_location(&location).expect_err("nothing listens");
    let shown = format!("{error} / {error:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains(&format!("127.0.0.1:{port}")), "{shown}");
}

#[test]
fn a_lease_is_exclusive_expires_and_is_taken_over_with_a_higher_token() {
    let Some(store) = store("lease") else {
        return;
    };
    let (a, b) = (store.open(), store.open());
    let lease_a = a.lease("repo", "acct", "replica-a", TTL).expect("lease");
    let lease_b = b.lease("repo", "acct", "replica-b", TTL).expect("lease");
    assert_eq!(
        lease_a.acquire().expect("acquire"),
        Acquired::Held { token: 1 }
    );
    let Acquired::Busy { holder, .. } = lease_b.acquire().expect("acquire") else {
        panic!("b must wait while a holds the lease");
    };
    assert_eq!(holder, "replica-a");
    assert_eq!(
        lease_a.acquire().expect("renew"),
        Acquired::Held { token: 1 }
    );
    lease_a.check().expect("a writes");

    // Other pairs are independent.
    let other = b
        .lease("repo", "other-acct", "replica-b", TTL)
        .expect("lease");
    assert_eq!(
        other.acquire().expect("acquire"),
        Acquired::Held { token: 1 }
    );

    // a stops renewing (paused, partitioned): once expired, b takes over with token 2.
    expire_leases(&store);
    assert_eq!(
        lease_b.acquire().expect("take"),
        Acquired::Held { token: 2 }
    );
    lease_b.check().expect("b writes");
    let fenced = lease_a.check().expect_err("a is fenced");
    assert!(
        matches!(
            &fenced,
            LeaseError::Fenced {
                source: Fenced::Superseded {
                    current: 2,
                    held: 1,
                    ..
                },
                ..
            }
        ),
        "{fenced:?}"
    );
    assert!(fenced.to_string().contains("replica-b"), "{fenced}");
    assert!(matches!(
        lease_a.acquire().expect("acquire"),
        Acquired::Busy { .. }
    ));

    // A release hands over at once, and the next token is higher still.
    lease_b.release().expect("release");
    assert_eq!(
        lease_a.acquire().expect("take"),
        Acquired::Held { token: 3 }
    );
    assert!(lease_b.check().is_err(), "a released lease does not write");
}

#[test]
fn a_lease_left_alone_expires_after_its_ttl() {
    let Some(store) = store("ttl") else {
        return;
    };
    let journal = store.open();
    let ttl = Duration::from_millis(300);
    let a = journal.lease("repo", "acct", "a", ttl).expect("lease");
    let b = journal.lease("repo", "acct", "b", ttl).expect("lease");
    assert_eq!(a.acquire().expect("acquire"), Acquired::Held { token: 1 });
    // Bounded: the lease must fall to b well within 100 TTLs.
    let mut taken = None;
    for _ in 0..100 {
        if let Acquired::Held { token } = b.acquire().expect("acquire") {
            taken = Some(token);
            break;
        }
        std::thread::sleep(ttl / 3);
    }
    assert_eq!(taken, Some(2), "b takes the expired lease over");
    let row = b.current().expect("read").expect("row");
    assert_eq!((row.holder.as_str(), row.token), ("b", 2));
}

#[test]
fn a_sqlite_journal_has_no_leases() {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = Journal::open(dir.path().join("j.sqlite3")).expect("open");
    assert!(!journal.has_leases());
    let error = journal
        .lease("repo", "acct", "me", TTL)
        .expect_err("no leases");
    assert!(error.to_string().contains("PostgreSQL"), "{error}");
}
