use flaresync_git::*;

use crate::fixture::{Fixture, assert_fetch};

fn url(fixture: &Fixture) -> String {
    format!("file://{}", fixture.path("remote.git").display())
}

/// Runs `git args` in the fixture's bare remote repository.
fn remote_git(fixture: &Fixture, args: &[&str]) {
    let status = std::process::Command::new("git")
        .args(args)
        .current_dir(fixture.path("remote.git"))
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .status()
        .expect("git");
    assert!(status.success(), "git {args:?}");
}

#[test]
fn remote_fetch_follows_fast_forwards_and_force_pushes() {
    let fixture = Fixture::run("make_force_push.sh", &["setup"]);
    let work = |name: &str| fixture.rev("work", name);
    let cache = fixture.path("cache");
    let mut source =
        GitSource::remote(&url(&fixture), &cache, "main", Credentials::none()).expect("remote");
    let update = source.fetch().expect("fetch");
    assert_eq!(
        (update.old, update.new, update.kind),
        (None, work("c2"), HeadUpdateKind::Initial)
    );
    assert_fetch(&mut source, HeadUpdateKind::Unchanged);

    fixture.step(&["advance"]);
    // A peek sees the new head without taking it: the fetch still reports the move.
    assert_eq!(source.peek_head().expect("peek"), work("c3"));
    assert_eq!(source.last_head(), Some(work("c2")));
    let update = source.fetch().expect("fetch");
    assert_eq!(
        (update.old, update.new, update.kind),
        (Some(work("c2")), work("c3"), HeadUpdateKind::FastForward)
    );
    assert_eq!(
        source
            .commits_between(update.old, update.new)
            .expect("walk"),
        vec![work("c3")]
    );

    // Versions uploaded before the rewrite.
    let listed: Vec<(String, Option<String>)> = [("api-3", "c3"), ("api-2", "c2"), ("api-1", "c1")]
        .iter()
        .map(|(id, name)| (id.to_string(), Some(work(name).to_string())))
        .collect();
    let known = source
        .rebuild_mapping("api", &listed)
        .expect("mapping")
        .known;
    assert_eq!(known.len(), 3);

    fixture.step(&["rewrite"]);
    let update = source.fetch().expect("fetch");
    assert_eq!(update.kind, HeadUpdateKind::Rewritten);
    assert_eq!(update.old, Some(work("c3")));
    let rewritten = update.new;
    assert_ne!(rewritten, work("c2"));
    assert_eq!(
        source.commit_info(rewritten).expect("info").parents,
        vec![work("c1")]
    );
    let state = source.desired_state(rewritten).expect("state");
    assert!(
        source
            .revert_candidates(&state, &known)
            .expect("candidates")
            .is_empty(),
        "new content, nothing to roll back to"
    );
    // The rewritten-away commits stay readable, so their versions keep their digests.
    let again = source.rebuild_mapping("api", &listed).expect("mapping");
    assert_eq!(again.known, known);

    fixture.step(&["reset"]);
    let update = source.fetch().expect("fetch");
    assert_eq!(
        (update.new, update.kind),
        (work("c1"), HeadUpdateKind::Rewritten)
    );
    let state = source.desired_state(work("c1")).expect("state");
    let found = source
        .revert_candidates(&state, &known)
        .expect("candidates");
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].target_version.as_str(), found[0].kind.clone()),
        ("api-1", CandidateKind::SameCommit)
    );
}

#[test]
fn cache_is_reused_across_sources() {
    let fixture = Fixture::run("make_force_push.sh", &["setup"]);
    let cache = fixture.path("cache");
    let mut first =
        GitSource::remote(&url(&fixture), &cache, "main", Credentials::none()).expect("remote");
    let head = first.fetch().expect("fetch").new;
    drop(first);
    let mut second =
        GitSource::remote(&url(&fixture), &cache, "main", Credentials::none()).expect("reuse");
    second.set_last_head(Some(head));
    assert_fetch(&mut second, HeadUpdateKind::Unchanged);
}

/// A one-shot `flaresync sync` opens a new source each run: the first fetch of the new process
/// must still see a force-push made since the previous run (the clone cache remembers the head).
#[test]
fn a_new_source_over_a_reused_cache_sees_a_force_push_since_the_last_run() {
    let fixture = Fixture::run("make_force_push.sh", &["setup"]);
    let work = |name: &str| fixture.rev("work", name);
    let cache = fixture.path("cache");
    let open = || GitSource::remote(&url(&fixture), &cache, "main", Credentials::none());

    let mut first = open().expect("remote");
    assert_fetch(&mut first, HeadUpdateKind::Initial);
    drop(first);

    let mut unchanged = open().expect("reuse");
    let update = unchanged.fetch().expect("fetch");
    assert_eq!(
        (update.old, update.kind),
        (Some(work("c2")), HeadUpdateKind::Unchanged)
    );
    drop(unchanged);

    fixture.step(&["advance"]);
    let mut advanced = open().expect("reuse");
    let update = advanced.fetch().expect("fetch");
    assert_eq!(
        (update.old, update.new, update.kind),
        (Some(work("c2")), work("c3"), HeadUpdateKind::FastForward)
    );
    drop(advanced);

    fixture.step(&["rewrite"]);
    let mut rewritten = open().expect("reuse");
    // The CLI reads flaresync.toml with a first fetch, forgets that head, then syncs: both
    // fetches compare with what the previous run saw.
    assert_fetch(&mut rewritten, HeadUpdateKind::Rewritten);
    rewritten.set_last_head(None);
    let update = rewritten.fetch().expect("fetch");
    assert_eq!(
        (update.old, update.kind),
        (Some(work("c3")), HeadUpdateKind::Rewritten)
    );
    // Within one process the head just fetched wins.
    assert_fetch(&mut rewritten, HeadUpdateKind::Unchanged);
}

#[test]
fn fetch_errors_name_the_problem() {
    let fixture = Fixture::run("make_force_push.sh", &["setup"]);
    let mut missing_branch = GitSource::remote(
        &url(&fixture),
        fixture.path("cache"),
        "nope",
        Credentials::none(),
    )
    .expect("remote");
    let error = missing_branch.fetch().expect_err("no such branch");
    assert!(error.to_string().contains("nope"), "{error}");

    let occupied = fixture.path("occupied");
    std::fs::create_dir_all(&occupied).expect("mkdir");
    std::fs::write(occupied.join("file"), "x").expect("write");
    let error = GitSource::remote(&url(&fixture), &occupied, "main", Credentials::none())
        .expect_err("not a cache");
    assert!(matches!(error, SourceError::Cache { .. }), "{error}");

    let secret_url = "https://user:hunter2@127.0.0.1:9/repo.git";
    let mut unreachable = GitSource::remote(
        secret_url,
        fixture.path("cache2"),
        "main",
        Credentials::none(),
    )
    .expect("remote");
    let error = unreachable.fetch().expect_err("nothing listens on port 9");
    assert!(!error.to_string().contains("hunter2"), "{error}");
    assert!(!format!("{unreachable:?}").contains("hunter2"));
}

#[test]
fn remote_default_branch_is_what_the_remote_head_names() {
    let fixture = Fixture::run("make_force_push.sh", &["setup"]);
    let source = GitSource::remote(
        &url(&fixture),
        fixture.path("cache"),
        "ignored",
        Credentials::none(),
    )
    .expect("remote");
    assert_eq!(source.remote_default_branch().expect("head"), "main");
    let git = |args: &[&str]| remote_git(&fixture, args);
    git(&["symbolic-ref", "HEAD", "refs/heads/nothing-yet"]);
    let error = source.remote_default_branch().expect_err("unborn HEAD");
    assert!(error.to_string().contains("no default branch"), "{error}");
    git(&["branch", "trunk", "main"]);
    git(&["symbolic-ref", "HEAD", "refs/heads/trunk"]);
    assert_eq!(source.remote_default_branch().expect("head"), "trunk");
    let local = GitSource::open_local(fixture.path("work"), "main").expect("local");
    assert!(local.remote_default_branch().is_err());
    let unreachable = GitSource::remote(
        "https://user:hunter2@127.0.0.1:9/repo.git",
        fixture.path("cache2"),
        "main",
        Credentials::none(),
    )
    .expect("remote");
    let error = unreachable
        .remote_default_branch()
        .expect_err("nothing listens");
    assert!(!error.to_string().contains("hunter2"), "{error}");
}

#[test]
fn a_branch_deleted_on_the_remote_is_missing_not_stale() {
    let fixture = Fixture::run("make_force_push.sh", &["setup"]);
    let git = |args: &[&str]| remote_git(&fixture, args);
    git(&["branch", "feature", "main"]);
    let mut source = GitSource::remote(
        &url(&fixture),
        fixture.path("cache"),
        "feature",
        Credentials::none(),
    )
    .expect("remote");
    source.fetch().expect("the branch exists");
    git(&["branch", "-D", "feature"]);
    let error = source.fetch().expect_err("the branch is gone");
    assert!(
        matches!(error, SourceError::BranchNotFound { .. }),
        "{error}"
    );
    // Other tracking refs are left alone.
    let mut main = GitSource::remote(
        &url(&fixture),
        fixture.path("cache"),
        "main",
        Credentials::none(),
    )
    .expect("remote");
    main.fetch().expect("main still fetches");
}
