use chrono::{DateTime, TimeZone, Utc};
use flaresync_journal::*;

mod backends;
use backends::{Backend, Store};

// The journal's behaviour, once per backend (SQLite and PostgreSQL).
on_both_backends!(
    records_survive_reopen_and_queries_filter_by_worker,
    journal_is_append_only,
    started_actions_without_outcome_are_in_flight,
    concurrent_writers_lose_nothing,
    unknown_action_names_round_trip,
    recorded_entries_survive_an_abort,
    scopes_keep_repositories_sharing_a_journal_apart,
);

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 10, minute, 0)
        .single()
        .expect("valid time")
}

fn webhook() -> Trigger {
    Trigger::new(TriggerKind::Webhook, Some("alice"))
}

const C1: &str = "1111111111111111111111111111111111111111";
const C2: &str = "2222222222222222222222222222222222222222";

fn records_survive_reopen_and_queries_filter_by_worker(backend: Backend) {
    let Some(store) = Store::new(backend, "reopen") else {
        return;
    };
    {
        let journal = store.open();
        let upload = Entry::new("api", Action::Upload, Outcome::Success, webhook())
            .at(at(0))
            .commit(C1)
            .digest(&"d1".into())
            .version("v1");
        assert_eq!(journal.record(&upload).expect("record"), 1);
        journal
            .record(
                &Entry::new("api", Action::Deploy, Outcome::Success, webhook())
                    .at(at(1))
                    .commit(C1)
                    .version("v1")
                    .deployment("dep1"),
            )
            .expect("record");
        journal
            .record(&Entry::new("other", Action::Deploy, Outcome::Success, webhook()).at(at(2)))
            .expect("record");
        journal
            .record(
                &Entry::new(
                    "api",
                    Action::Rollback,
                    Outcome::Failure,
                    Trigger::new(TriggerKind::Cli, None),
                )
                .at(at(3))
                .commit(C2)
                .version("v0")
                .message("rollback refused: secret changed"),
            )
            .expect("record");
    }
    let journal = store.open();
    let history = journal.history("api").expect("history");
    assert_eq!(
        history.iter().map(|r| r.seq).collect::<Vec<_>>(),
        vec![1, 2, 4]
    );
    assert_eq!(history[0].entry.trigger, webhook());
    assert_eq!(history[0].entry.at, at(0));
    assert_eq!(history[2].entry.message, "rollback refused: secret changed");
    // The failed rollback is not what is live: the last applied is the successful deploy.
    let applied = journal.last_applied("api").expect("query").expect("some");
    assert_eq!(applied.seq, 2);
    assert_eq!(applied.entry.deployment_id.as_deref(), Some("dep1"));
    assert_eq!(journal.last_applied("nobody").expect("query"), None);
    assert_eq!(journal.workers().expect("workers"), vec!["api", "other"]);
    assert_eq!(journal.for_version("v1").expect("query").len(), 2);
    assert_eq!(journal.recent(1).expect("recent")[0].seq, 4);
    assert_eq!(journal.last_commit().expect("query").as_deref(), Some(C1));
}

fn journal_is_append_only(backend: Backend) {
    let Some(store) = Store::new(backend, "appendonly") else {
        return;
    };
    let journal = store.open();
    journal
        .record(&Entry::new(
            "api",
            Action::Drift,
            Outcome::Success,
            webhook(),
        ))
        .expect("record");
    let refused: Vec<String> = match backend {
        Backend::Sqlite => {
            let raw = rusqlite::Connection::open(journal.path().expect("a file")).expect("raw");
            [
                "UPDATE journal SET outcome = 'failure'",
                "DELETE FROM journal",
            ]
            .iter()
            .map(|sql| raw.execute(sql, []).expect_err("refused").to_string())
            .collect()
        }
        Backend::Postgres => {
            let server = test_postgres::server().expect("server");
            [
                "UPDATE journal SET outcome = 'failure'",
                "DELETE FROM journal",
                "TRUNCATE journal",
            ]
            .iter()
            .map(|sql| server.execute(store.url(), sql).expect_err("refused"))
            .collect()
        }
    };
    for error in refused {
        assert!(error.contains("append-only"), "{error}");
    }
    assert_eq!(journal.history("api").expect("history").len(), 1);
}

#[test]
fn the_sqlite_journal_is_in_wal_mode() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("journal.sqlite");
    Journal::open(&path).expect("open");
    let raw = rusqlite::Connection::open(&path).expect("raw open");
    let mode: String = raw
        .pragma_query_value(None, "journal_mode", |row| row.get(0))
        .expect("pragma");
    assert_eq!(mode, "wal");
}

fn started_actions_without_outcome_are_in_flight(backend: Backend) {
    let Some(store) = Store::new(backend, "inflight") else {
        return;
    };
    let journal = store.open();
    let poll = Trigger::new(TriggerKind::Poll, None);
    journal
        .record(&Entry::new("a", Action::Upload, Outcome::Started, poll.clone()).commit(C1))
        .expect("record");
    journal
        .record(&Entry::new("a", Action::Upload, Outcome::Success, poll.clone()).version("v"))
        .expect("record");
    journal
        .record(&Entry::new("a", Action::Deploy, Outcome::Started, poll.clone()).version("v"))
        .expect("record");
    journal
        .record(&Entry::new(
            "b",
            Action::Deploy,
            Outcome::Success,
            poll.clone(),
        ))
        .expect("record");
    let in_flight = journal.in_flight().expect("query");
    assert_eq!(in_flight.len(), 1);
    assert_eq!(in_flight[0].seq, 3);
    assert_eq!(in_flight[0].entry.action, Action::Deploy);
}

/// Two repositories of a fleet in one journal, each with a Worker named `api`: each scope sees
/// only its own entries, intents and last commit; the unscoped journal sees them all.
fn scopes_keep_repositories_sharing_a_journal_apart(backend: Backend) {
    let Some(store) = Store::new(backend, "scopes") else {
        return;
    };
    let shop = store.open().scoped("shop / account f1");
    let blog = store.open().scoped("blog / account f1");
    let poll = Trigger::new(TriggerKind::Poll, None);
    shop.record(&Entry::new("api", Action::Deploy, Outcome::Success, poll.clone()).commit(C1))
        .expect("record");
    blog.record(&Entry::new("api", Action::Deploy, Outcome::Started, poll.clone()).commit(C2))
        .expect("record");
    assert_eq!(shop.history("api").expect("history").len(), 1);
    assert_eq!(shop.in_flight().expect("in flight"), Vec::new());
    assert_eq!(blog.in_flight().expect("in flight").len(), 1);
    assert_eq!(shop.last_commit().expect("commit").as_deref(), Some(C1));
    assert_eq!(blog.last_commit().expect("commit"), None);
    assert_eq!(
        blog.last_applied("api").expect("applied"),
        None,
        "the other repository's deploy is not this one's"
    );
    let everything = store.open();
    assert_eq!(everything.scope(), "");
    assert_eq!(everything.history("api").expect("history").len(), 2);
    assert_eq!(everything.recent(10).expect("recent").len(), 2);
    assert_eq!(blog.recent(10).expect("recent").len(), 1);
}

fn concurrent_writers_lose_nothing(backend: Backend) {
    let Some(store) = Store::new(backend, "concurrent") else {
        return;
    };
    let journal = store.open();
    std::thread::scope(|scope| {
        for worker in ["a", "b", "c", "d"] {
            let journal = &journal;
            scope.spawn(move || {
                for _ in 0..25 {
                    journal
                        .record(&Entry::new(
                            worker,
                            Action::Noop,
                            Outcome::Skipped,
                            Trigger::new(TriggerKind::Poll, None),
                        ))
                        .expect("record");
                }
            });
        }
    });
    assert_eq!(journal.recent(1000).expect("recent").len(), 100);
    assert_eq!(journal.history("c").expect("history").len(), 25);
}

fn unknown_action_names_round_trip(backend: Backend) {
    let Some(store) = Store::new(backend, "unknown") else {
        return;
    };
    let journal = store.open();
    let action = Action::Other("preview".into());
    journal
        .record(&Entry::new(
            "a",
            action.clone(),
            Outcome::Success,
            webhook(),
        ))
        .expect("record");
    assert_eq!(
        journal.history("a").expect("history")[0].entry.action,
        action
    );
}

fn version(id: &str, number: u64, tag: Option<&str>, minute: u32, source: &str) -> VersionRecord {
    VersionRecord {
        id: id.into(),
        number: Some(number),
        tag: tag.map(str::to_owned),
        message: None,
        created_on: Some(at(minute)),
        source: Some(source.into()),
        triggered_by: Some("upload".into()),
    }
}

fn deployment(id: &str, minute: u32, versions: &[(&str, f64)]) -> DeploymentRecord {
    DeploymentRecord {
        id: id.into(),
        created_on: Some(at(minute)),
        source: Some("api".into()),
        versions: versions.iter().map(|(v, p)| (v.to_string(), *p)).collect(),
        message: None,
        triggered_by: Some("deployment".into()),
        author_email: None,
    }
}

#[test]
fn history_view_joins_commits_versions_and_deployments() {
    let journal = vec![
        Recorded {
            seq: 1,
            entry: Entry::new("api", Action::Upload, Outcome::Success, webhook())
                .at(at(10))
                .commit(C1)
                .digest(&"digest-1".into())
                .version("ver-aaaa-1"),
        },
        Recorded {
            seq: 2,
            entry: Entry::new("api", Action::Deploy, Outcome::Success, webhook())
                .at(at(11))
                .commit(C1)
                .version("ver-aaaa-1")
                .deployment("dep-1111"),
        },
        Recorded {
            seq: 3,
            entry: Entry::new("api", Action::Blocked, Outcome::Skipped, webhook())
                .at(at(30))
                .commit(C2)
                .message("rollback would cross a durable object migration\nmore"),
        },
        Recorded {
            seq: 4,
            entry: Entry::new("elsewhere", Action::Deploy, Outcome::Success, webhook())
                .version("ver-aaaa-1"),
        },
    ];
    let versions = vec![
        version("ver-dddd-4", 4, None, 25, "dash"),
        version("ver-cccc-3", 3, Some("v1.2.3"), 20, "wrangler"),
        version("ver-bbbb-2", 2, Some(C2), 15, "api"),
        version("ver-aaaa-1", 1, Some(C1), 10, "api"),
    ];
    let deployments = vec![
        deployment("dep-1111", 11, &[("ver-aaaa-1", 100.0)]),
        deployment(
            "dep-3333",
            26,
            &[("ver-dddd-4", 90.0), ("ver-cccc-3", 10.0)],
        ),
        deployment("dep-0000", 1, &[("ver-old-0", 100.0)]),
    ];
    let view = history_view("api", &journal, &versions, &deployments);
    let origins: Vec<_> = view
        .rows
        .iter()
        .map(|r| (r.version_id.as_str(), r.origin.clone()))
        .collect();
    assert_eq!(
        origins,
        vec![
            ("ver-dddd-4", VersionOrigin::Untagged),
            (
                "ver-cccc-3",
                VersionOrigin::ForeignTag {
                    tag: "v1.2.3".into()
                }
            ),
            ("ver-bbbb-2", VersionOrigin::CommitTag { commit: C2.into() }),
            (
                "ver-aaaa-1",
                VersionOrigin::Flaresync {
                    commit: Some(C1.into())
                }
            ),
            ("ver-old-0", VersionOrigin::NotListed),
        ]
    );
    assert_eq!(view.rows[0].active_percentage, Some(90.0));
    assert_eq!(view.rows[1].active_percentage, Some(10.0));
    assert_eq!(view.rows[3].active_percentage, None);
    assert_eq!(view.rows[3].digest.as_deref(), Some("digest-1"));
    assert_eq!(
        view.rows[3].journal.len(),
        2,
        "other workers' entries are ignored"
    );
    assert_eq!(view.other_events.len(), 1);

    let view = view.with_commit_subjects(|commit| (commit == C1).then(|| "initial".to_string()));
    assert_eq!(view.rows[2].commit_subject, None);
    let text = render_history(&view);
    let expected = "\
history of api: 5 version(s), 2 uploaded outside flaresync

#4    ver-dddd  2026-11-20 10:25  outside flaresync via dash, untagged  [live 90%]
      deployed  2026-11-20 10:26  90% in deployment dep-3333 (deployment)

#3    ver-cccc  2026-11-20 10:20  outside flaresync via wrangler, tag \"v1.2.3\"  [live 10%]
      deployed  2026-11-20 10:26  10% in deployment dep-3333 (deployment)

#2    ver-bbbb  2026-11-20 10:15  commit 2222222 (tag; not in journal)

#1    ver-aaaa  2026-11-20 10:10  commit 1111111 (flaresync)
      commit    initial
      deployed  2026-11-20 10:11  100% in deployment dep-1111 (deployment)
      journal   2026-11-20 10:10  upload success by webhook (alice) at 1111111
      journal   2026-11-20 10:11  deploy success by webhook (alice) at 1111111 (deployment dep-1111)

#?    ver-old-  ????-??-?? ??:??  not in the version list
      deployed  2026-11-20 10:01  100% in deployment dep-0000 (deployment)

other events
      2026-11-20 10:30  blocked (nothing applied) by webhook (alice) at 2222222: rollback would cross a durable object migration
";
    assert_eq!(text, expected, "\n{text}");
}

/// A child process records entries and aborts (no destructors, no WAL checkpoint, no orderly
/// disconnect); every entry `record` returned for must be there when the journal is reopened.
fn recorded_entries_survive_an_abort(backend: Backend) {
    const CHILD: &str = "FLARESYNC_JOURNAL_ABORT_CHILD";
    if let Ok(location) = std::env::var(CHILD) {
        let location = JournalLocation::postgres(&location)
            .unwrap_or_else(|| JournalLocation::Sqlite(location.into()));
        let journal = Journal::open_location(&location).expect("open in child");
        for n in 0..20 {
            journal
                .record(
                    &Entry::new("api", Action::Upload, Outcome::Success, webhook())
                        .message(format!("entry {n}")),
                )
                .expect("record in child");
        }
        std::process::abort();
    }
    let Some(store) = Store::new(backend, "abort") else {
        return;
    };
    let (location, test) = match &store.location {
        JournalLocation::Sqlite(path) => (path.display().to_string(), "sqlite"),
        JournalLocation::Postgres(url) => (url.clone(), "postgres"),
    };
    let status = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            &format!("recorded_entries_survive_an_abort::{test}"),
            "--test-threads=1",
        ])
        .env(CHILD, &location)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("child runs");
    assert!(!status.success(), "the child must have aborted");
    if let JournalLocation::Sqlite(path) = &store.location {
        let mut wal = path.clone().into_os_string();
        wal.push("-wal");
        assert!(
            std::path::Path::new(&wal).exists(),
            "entries were in the WAL"
        );
    }
    let journal = store.open();
    let history = journal.history("api").expect("history");
    assert_eq!(history.len(), 20);
    assert_eq!(history[19].entry.message, "entry 19");
}

#[test]
fn script_upload_deploy_marks_its_version_as_flaresync_but_a_rollback_does_not() {
    // A script upload creates and deploys a version in one call: journaled as a deploy of the
    // commit the version is tagged with. A later rollback deploys the same version from another
    // head commit, which alone would not prove flaresync created it.
    let journal = vec![
        Recorded {
            seq: 1,
            entry: Entry::new("api", Action::Deploy, Outcome::Success, webhook())
                .at(at(10))
                .commit(C1)
                .version("ver-aaaa-1")
                .deployment("dep-1111"),
        },
        Recorded {
            seq: 2,
            entry: Entry::new("api", Action::Rollback, Outcome::Success, webhook())
                .at(at(20))
                .commit(C2)
                .version("ver-bbbb-2")
                .deployment("dep-2222"),
        },
    ];
    let versions = vec![
        version("ver-bbbb-2", 2, Some(C1), 15, "wrangler"),
        version("ver-aaaa-1", 1, Some(C1), 10, "api"),
    ];
    let view = history_view("api", &journal, &versions, &[]);
    let origin = |id: &str| {
        view.rows
            .iter()
            .find(|row| row.version_id == id)
            .map(|row| row.origin.clone())
            .expect("row present")
    };
    assert_eq!(
        origin("ver-aaaa-1"),
        VersionOrigin::Flaresync {
            commit: Some(C1.to_owned())
        }
    );
    assert_eq!(
        origin("ver-bbbb-2"),
        VersionOrigin::CommitTag {
            commit: C1.to_owned()
        }
    );
}

#[test]
fn opening_in_a_fresh_state_directory_creates_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state/nested/journal.sqlite3");
    let journal = Journal::open(&path).expect("the directory is created");
    assert!(journal.history("api").expect("history").is_empty());
    assert!(path.exists());

    // A file where the directory should be: an error naming it, not a panic.
    let blocker = dir.path().join("blocker");
    std::fs::write(&blocker, "x").expect("write");
    let error = Journal::open(blocker.join("sub/journal.sqlite3")).expect_err("not a directory");
    assert!(error.to_string().contains("blocker"), "{error}");
}

/// The journal (and SQLite's `-wal` / `-shm` beside it) is readable by its owner only, and a
/// directory the journal creates is 0700; an older journal left at 0644 is tightened.
#[cfg(unix)]
#[test]
fn the_journal_is_private_to_its_owner() {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = |path: &std::path::Path| {
        std::fs::metadata(path)
            .expect("exists")
            .permissions()
            .mode()
            & 0o777
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state/journal.sqlite3");
    let journal = Journal::open(&path).expect("open");
    journal
        .record(&Entry::new("api", Action::Upload, Outcome::Success, webhook()).at(at(0)))
        .expect("record");
    assert_eq!(mode(&dir.path().join("state")), 0o700);
    for file in [
        "journal.sqlite3",
        "journal.sqlite3-wal",
        "journal.sqlite3-shm",
    ] {
        assert_eq!(mode(&dir.path().join("state").join(file)), 0o600, "{file}");
    }
    drop(journal);

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let reopened = Journal::open(&path).expect("reopen");
    assert_eq!(mode(&path), 0o600);
    assert_eq!(reopened.history("api").expect("reads").len(), 1);
}
