//! Journal write throughput, SQLite vs PostgreSQL (issue 16's figures; `scripts/bench-fleet`
//! runs it). One writer records `JOURNAL_BENCH_ENTRIES` entries (default 2,000) the way a
//! reconcile pass does — one durable insert at a time, each committed before the next — into
//! a fresh SQLite file (WAL, `synchronous=FULL`) and a fresh PostgreSQL database
//! (`FLARESYNC_TEST_POSTGRES_URL`, an admin URL of a running server with its own durability
//! settings; else the throwaway test server, which runs with `fsync=off` and says so), then
//! four writers at once. Prints entries per second and the median insert time.
//!
//!   cargo run --release -p flaresync-journal --example journal_throughput

use std::time::{Duration, Instant};

use flaresync_journal::{Action, Entry, Journal, JournalLocation, Outcome, Trigger, TriggerKind};

fn entry(writer: usize, number: usize) -> Entry {
    Entry::new(
        &format!("bench-w{:04}", number % 1000),
        Action::Deploy,
        if number.is_multiple_of(2) {
            Outcome::Started
        } else {
            Outcome::Success
        },
        Trigger::new(TriggerKind::Poll, Some("bench")),
    )
    .commit(&format!("{writer:02}{number:038}"))
    .version(&format!("version-{number}"))
}

/// (entries per second, median insert) for `writers` threads recording `count` entries in all.
fn measure(location: &JournalLocation, writers: usize, count: usize) -> (f64, Duration) {
    let journals: Vec<Journal> = (0..writers)
        .map(|w| {
            Journal::open_location(location)
                .expect("open the journal")
                .scoped(format!("bench / writer {w}"))
        })
        .collect();
    let started = Instant::now();
    let mut samples: Vec<Duration> = std::thread::scope(|scope| {
        let handles: Vec<_> = journals
            .iter()
            .enumerate()
            .map(|(w, journal)| {
                scope.spawn(move || {
                    (0..count / writers)
                        .map(|n| {
                            let at = Instant::now();
                            journal.record(&entry(w, n)).expect("record");
                            at.elapsed()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("writer"))
            .collect()
    });
    let elapsed = started.elapsed();
    samples.sort();
    let median = samples.get(samples.len() / 2).copied().unwrap_or_default();
    (samples.len() as f64 / elapsed.as_secs_f64(), median)
}

fn main() {
    let count: usize = std::env::var("JOURNAL_BENCH_ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let dir = tempfile::tempdir().expect("tempdir");
    let own_server = std::env::var(flaresync_journal::test_postgres::URL_VAR).is_ok();
    let server = flaresync_journal::test_postgres::server().expect("a PostgreSQL server");
    let mut rows = Vec::new();
    for writers in [1, 4] {
        let sqlite = JournalLocation::Sqlite(dir.path().join(format!("journal-{writers}.sqlite3")));
        let url = server.database("throughput").expect("a fresh database");
        let postgres = JournalLocation::postgres(&url).expect("url");
        rows.push((
            "SQLite (WAL, synchronous=FULL)",
            writers,
            measure(&sqlite, writers, count),
        ));
        let name = if own_server {
            "PostgreSQL (FLARESYNC_TEST_POSTGRES_URL)"
        } else {
            "PostgreSQL (test server, fsync=off)"
        };
        rows.push((name, writers, measure(&postgres, writers, count)));
    }
    println!("journal writes, {count} entries per run, one durable insert each:");
    for (backend, writers, (per_second, median)) in rows {
        println!(
            "  {backend:<42} {writers} writer(s): {per_second:>8.0} entries/s, median insert {:.2} ms",
            median.as_secs_f64() * 1000.0
        );
    }
}
