use std::time::Duration;

use flaresync_reconcile::{
    ReconcileRequest, TriggerSource, trigger,
    watcher::{RepoWatcher, WatchConfig},
};

/// Waits for the next request, or `None` after `wait`.
async fn next(receiver: &mut trigger::TriggerReceiver, wait: Duration) -> Option<ReconcileRequest> {
    tokio::time::timeout(wait, receiver.recv())
        .await
        .ok()
        .flatten()
}

#[tokio::test]
async fn a_burst_of_changes_sends_one_request_and_watching_continues() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join(".git/refs/heads")).expect("mkdir");
    std::fs::create_dir_all(dir.path().join(".flaresync")).expect("mkdir");
    std::fs::create_dir_all(dir.path().join("state")).expect("mkdir");
    let (sender, mut receiver) = trigger::channel();
    let watcher = RepoWatcher::spawn(
        WatchConfig {
            root: dir.path().to_owned(),
            debounce: Duration::from_millis(300),
            ignore: vec!["state/journal.sqlite".into()],
        },
        sender,
    )
    .expect("watcher starts");
    // Give the backend a moment to register the watch.
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Ignored paths never trigger: object writes, the journal, flaresync's state dir.
    std::fs::create_dir_all(dir.path().join(".git/objects/ab")).expect("mkdir");
    std::fs::write(dir.path().join(".git/objects/ab/cdef"), "blob").expect("write");
    std::fs::write(dir.path().join("state/journal.sqlite"), "x").expect("write");
    std::fs::write(dir.path().join("state/journal.sqlite-wal"), "x").expect("write");
    std::fs::write(dir.path().join(".flaresync/cache"), "x").expect("write");
    assert_eq!(next(&mut receiver, Duration::from_secs(1)).await, None);

    // A commit-like burst: several ref and file writes in quick succession.
    for index in 0..5 {
        std::fs::write(
            dir.path().join(".git/refs/heads/main"),
            format!("{index:040}"),
        )
        .expect("write ref");
        std::fs::write(
            dir.path().join("wrangler.toml"),
            format!("name = \"w{index}\""),
        )
        .expect("write config");
    }
    assert_eq!(
        next(&mut receiver, Duration::from_secs(10)).await,
        Some(ReconcileRequest::all(TriggerSource::FileSystem))
    );
    assert_eq!(
        next(&mut receiver, Duration::from_millis(800)).await,
        None,
        "one request per burst"
    );

    // The watch was re-added: a later change is seen again.
    std::fs::write(dir.path().join(".git/refs/heads/main"), "f".repeat(40)).expect("write ref");
    assert_eq!(
        next(&mut receiver, Duration::from_secs(10)).await,
        Some(ReconcileRequest::all(TriggerSource::FileSystem))
    );
    watcher.stop();
}

/// A ref written right after the request for the files before it (a `git commit` right after
/// its files were written) is seen even in a tree large enough that re-watching it takes a
/// while: the watch is re-added before the old one is dropped.
#[tokio::test]
async fn a_commit_right_after_its_files_is_not_missed_in_a_large_tree() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join(".git/refs/heads")).expect("mkdir");
    for index in 0..1500 {
        std::fs::create_dir_all(dir.path().join(format!("workers/w{index:04}/src")))
            .expect("mkdir");
    }
    let (sender, mut receiver) = trigger::channel();
    let watcher = RepoWatcher::spawn(
        WatchConfig {
            root: dir.path().to_owned(),
            debounce: Duration::from_millis(20),
            ignore: Vec::new(),
        },
        sender,
    )
    .expect("watcher starts");
    tokio::time::sleep(Duration::from_millis(200)).await;

    for round in 0..3 {
        std::fs::write(
            dir.path().join("workers/w0001/src/index.js"),
            format!("// {round}"),
        )
        .expect("write bundle");
        assert_eq!(
            next(&mut receiver, Duration::from_secs(10)).await,
            Some(ReconcileRequest::all(TriggerSource::FileSystem)),
            "round {round}: the file write"
        );
        // The commit, while the watcher re-adds its watch over 1,500 directories.
        std::fs::write(
            dir.path().join(".git/refs/heads/main"),
            format!("{round:040}"),
        )
        .expect("write ref");
        assert_eq!(
            next(&mut receiver, Duration::from_secs(10)).await,
            Some(ReconcileRequest::all(TriggerSource::FileSystem)),
            "round {round}: the commit after it"
        );
        // Let any duplicate of the commit's request (seen by both watches) arrive first.
        while next(&mut receiver, Duration::from_millis(300))
            .await
            .is_some()
        {}
    }
    watcher.stop();
}
