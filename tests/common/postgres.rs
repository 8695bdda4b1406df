//! PostgreSQL for the flow tests: a fresh database on the test server
//! (`flaresync_journal::test_postgres`), and polling until something holds.

use std::time::Duration;

use flaresync_journal::test_postgres;

/// A fresh database on the test server, or `None` when PostgreSQL tests are skipped.
pub fn database(label: &str) -> Option<String> {
    if test_postgres::skip(label) {
        return None;
    }
    let server = test_postgres::server().expect("a test PostgreSQL server");
    Some(server.database(label).expect("a fresh database"))
}

/// Polls `done` every 200 ms, at most `tries` times.
pub fn eventually(tries: u32, what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..tries {
        if done() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("gave up waiting: {what}");
}
