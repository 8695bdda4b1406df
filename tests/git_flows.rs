//! Real-world Git flows end to end: the `flaresync` binary and `flaresync emulator` in separate
//! processes, config repositories built with the `git` CLI.
//!
//! - a remote served as `file://` and as a plain path: pushes, a force-push (reported as
//!   rewritten history, still converging), the clone cache reused, the git token never printed,
//!   and `flaresync run` polling the remote;
//! - merge commits, squash merges, empty commits and commits touching no Worker upload nothing;
//! - broken Workers (bad TOML, missing bundle, `main` escaping the repository through a
//!   symlink) next to healthy ones: the healthy ones deploy, the errors name file:line:col or the
//!   Worker, and fixing them converges.

mod common;

use std::{
    process::Child,
    time::{Duration, Instant},
};

use common::*;

#[test]
fn remote_file_url_push_force_push_and_cache_reuse() {
    let remote = Remote::new();
    let emulator = Emulator::start(&remote.state.with_file_name("emulator"));
    worker(&remote.work, "workers/api", "flow-api", "v1");
    worker(&remote.work, "workers/auth", "flow-auth", "auth");
    let c1 = commit_all(&remote.work, "initial");
    remote.push(false);

    let out = sync(&emulator, &remote.url(), &remote.state);
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(emulator.live_tag("flow-api").as_deref(), Some(c1.as_str()));

    // The clone cache is one bare repository under the state directory, reused by the next run.
    let clone = remote.state.join("clone");
    assert!(
        clone.join("objects").is_dir(),
        "bare clone in {}",
        clone.display()
    );
    let marker = clone.join("objects/flaresync-reuse-marker");
    write(&marker, "kept");

    set_body(&remote.work, "workers/api", "v2");
    let c2 = commit_all(&remote.work, "api v2");
    set_body(&remote.work, "workers/api", "v3");
    let c3 = commit_all(&remote.work, "api v3");
    remote.push(false);
    let out = sync(&emulator, &remote.url(), &remote.state);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(!out.stderr.contains("rewritten"), "{}", out.all());
    assert_eq!(emulator.live_tag("flow-api").as_deref(), Some(c3.as_str()));
    assert!(marker.exists(), "the clone cache was recreated");

    // Force-push a rewritten history: c2 dropped, c3 replaced by c3' (head not a descendant).
    git(&remote.work, &["reset", "-q", "--hard", &c1]);
    set_body(&remote.work, "workers/api", "v3-rewritten");
    let rewritten = commit_all(&remote.work, "api v3, rewritten");
    force_push_and_sync(&emulator, &remote);
    assert_eq!(
        emulator.live_tag("flow-api").as_deref(),
        Some(rewritten.as_str())
    );

    // c2 was pushed together with c3, so it never became a version.
    assert!(!emulator.versions("flow-api").contains(&c2));
    // Force-push back to c1 (already uploaded): a rollback, nothing uploaded.
    let before = emulator.versions("flow-api");
    git(&remote.work, &["reset", "-q", "--hard", &c1]);
    let out = force_push_and_sync(&emulator, &remote);
    assert_eq!(emulator.versions("flow-api"), before, "{}", out.all());
    assert_eq!(emulator.live_tag("flow-api").as_deref(), Some(c1.as_str()));
    tags_are_unique(&before);
    // flow-auth never changed: one version.
    assert_eq!(emulator.versions("flow-auth").len(), 1);

    // A further pass is a no-op.
    let out = sync(&emulator, &remote.url(), &remote.state);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(!out.stderr.contains("rewritten"), "{}", out.all());
    assert_eq!(emulator.versions("flow-api"), before);

    // The same remote named by its path (a bare repository opened in place) agrees.
    let out = sync(
        &emulator,
        remote.bare.to_str().expect("utf-8"),
        &remote.state.with_file_name("state-path"),
    );
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("in sync"), "{}", out.all());
    assert_eq!(emulator.versions("flow-api"), before);
}

#[test]
fn run_loop_polls_a_remote_and_follows_a_force_push() {
    let remote = Remote::new();
    let emulator = Emulator::start(&remote.state.with_file_name("emulator"));
    worker(&remote.work, "workers/api", "loop-api", "v1");
    let c1 = commit_all(&remote.work, "initial");
    remote.push(false);

    let log = remote.state.with_file_name("run.log");
    let log_file = std::fs::File::create(&log).expect("log file");
    let mut command = flaresync();
    command
        .args([
            "run",
            "--repo",
            &remote.url(),
            "--status-listen",
            "127.0.0.1:0",
            "--poll-interval-secs",
            "1",
            "--state-dir",
        ])
        .arg(&remote.state)
        .stdout(log_file.try_clone().expect("clone"))
        .stderr(log_file);
    emulator.env(&mut command);
    let child = command.spawn().expect("flaresync run starts");
    struct Kill(Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _run = Kill(child);

    let wait_for = |tag: &str| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while emulator.live_tag("loop-api").as_deref() != Some(tag) {
            assert!(
                Instant::now() < deadline,
                "the loop never deployed {tag}:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    wait_for(&c1);

    set_body(&remote.work, "workers/api", "v2");
    let c2 = commit_all(&remote.work, "api v2");
    remote.push(false);
    wait_for(&c2);

    git(&remote.work, &["reset", "-q", "--hard", &c1]);
    set_body(&remote.work, "workers/api", "v2-rewritten");
    let rewritten = commit_all(&remote.work, "api v2, rewritten");
    remote.push(true);
    wait_for(&rewritten);

    let text = std::fs::read_to_string(&log).expect("log");
    assert!(text.contains("history was rewritten"), "{text}");
    assert!(!text.contains(GIT_TOKEN), "the git token leaked:\n{text}");
    assert!(!text.contains(TOKEN), "the API token leaked:\n{text}");
    let tags = emulator.versions("loop-api");
    assert_eq!(tags.len(), 3, "{tags:?}");
    tags_are_unique(&tags);
}

/// Force-pushes and syncs: the pass succeeds and reports that the history was rewritten.
fn force_push_and_sync(emulator: &Emulator, remote: &Remote) -> Output {
    remote.push(true);
    let out = sync(emulator, &remote.url(), &remote.state);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stderr.contains("history was rewritten"),
        "a force-push must be reported:\n{}",
        out.all()
    );
    out
}

#[test]
fn merges_squashes_empty_and_unrelated_commits_upload_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, emulator, state) = repo_emulator_state(dir.path());
    let repo_arg = repo.to_str().expect("utf-8").to_owned();
    worker(&repo, "workers/a", "merge-a", "a1");
    worker(&repo, "workers/b", "merge-b", "b1");
    commit_all(&repo, "initial");
    assert_eq!(sync(&emulator, &repo_arg, &state).code, 0);

    let versions = || {
        (
            emulator.versions("merge-a").len(),
            emulator.versions("merge-b").len(),
        )
    };
    let assert_in_sync = |what: &str, expected: (usize, usize)| {
        let out = sync(&emulator, &repo_arg, &state);
        assert_eq!(out.code, 0, "{what}: {}", out.all());
        assert_eq!(versions(), expected, "{what}: {}", out.all());
        let again = sync(&emulator, &repo_arg, &state);
        assert!(
            again.stdout.contains("no changes"),
            "{what}: {}",
            again.all()
        );
    };

    commit_all(&repo, "empty commit");
    assert_in_sync("empty commit", (1, 1));

    write(&repo.join("README.md"), "# workers\n");
    write(&repo.join("docs/notes.txt"), "notes\n");
    commit_all(&repo, "docs only");
    assert_in_sync("a commit touching no worker", (1, 1));

    // A merge commit: the feature branch changed merge-a.
    git(&repo, &["checkout", "-q", "-b", "feature"]);
    set_body(&repo, "workers/a", "a2");
    commit_all(&repo, "a2");
    git(&repo, &["checkout", "-q", "main"]);
    git(
        &repo,
        &["merge", "-q", "--no-ff", "-m", "Merge feature", "feature"],
    );
    assert_in_sync("merge commit", (2, 1));

    // A squash merge whose net content equals main: nothing to upload.
    git(&repo, &["checkout", "-q", "-b", "squashed"]);
    set_body(&repo, "workers/a", "a3");
    commit_all(&repo, "a3");
    set_body(&repo, "workers/a", "a2");
    write(&repo.join("docs/notes.txt"), "more notes\n");
    commit_all(&repo, "back to a2, notes");
    git(&repo, &["checkout", "-q", "main"]);
    git(&repo, &["merge", "-q", "--squash", "squashed"]);
    commit_all(&repo, "Squash squashed");
    assert_in_sync("squash merge with unchanged content", (2, 1));

    // A squash merge that changes merge-b uploads exactly one version.
    git(&repo, &["checkout", "-q", "-b", "squash-b"]);
    set_body(&repo, "workers/b", "b2");
    commit_all(&repo, "b2");
    set_body(&repo, "workers/b", "b3");
    commit_all(&repo, "b3");
    git(&repo, &["checkout", "-q", "main"]);
    git(&repo, &["merge", "-q", "--squash", "squash-b"]);
    let squash = commit_all(&repo, "Squash b");
    assert_in_sync("squash merge changing b", (2, 2));
    assert_eq!(
        emulator.live_tag("merge-b").as_deref(),
        Some(squash.as_str())
    );

    // Reformatting a config (same content, other key order and comments) uploads nothing.
    write(
        &repo.join("workers/b/wrangler.toml"),
        "# the b worker\ncompatibility_date = \"2025-06-01\"\nmain = \"./dist/index.js\"\nname = \"merge-b\"\n",
    );
    commit_all(&repo, "reformat b");
    assert_in_sync("reformatted config", (2, 2));
}

#[test]
fn broken_workers_next_to_healthy_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, emulator, state) = repo_emulator_state(dir.path());
    let repo_arg = repo.to_str().expect("utf-8").to_owned();
    worker(&repo, "workers/toml", "broken-toml", "t1");
    worker(&repo, "workers/bundle", "broken-bundle", "b1");
    worker(&repo, "workers/link", "broken-link", "l1");
    worker(&repo, "workers/ok", "healthy", "h1");
    commit_all(&repo, "initial");
    assert_eq!(sync(&emulator, &repo_arg, &state).code, 0);

    // Break three Workers and change the healthy one in the same commit.
    write(
        &repo.join("workers/toml/wrangler.toml"),
        "name = \"broken-toml\"\nmain = \"dist/index.js\ncompatibility_date = \"2025-06-01\"\n",
    );
    std::fs::remove_file(repo.join("workers/bundle/dist/index.js")).expect("rm");
    std::fs::remove_file(repo.join("workers/link/dist/index.js")).expect("rm");
    std::os::unix::fs::symlink(
        "../../../../outside.js",
        repo.join("workers/link/dist/index.js"),
    )
    .expect("symlink");
    set_body(&repo, "workers/ok", "h2");
    let broken = commit_all(&repo, "break three workers, change the healthy one");

    let validate = run(flaresync().args(["validate", "--repo", &repo_arg]));
    assert_eq!(validate.code, 2, "{}", validate.all());
    assert!(
        validate.stdout.contains("workers/toml/wrangler.toml:2:"),
        "bad TOML names file:line:col:\n{}",
        validate.all()
    );

    let out = sync(&emulator, &repo_arg, &state);
    let text = out.all();
    assert_eq!(
        emulator.live_tag("healthy").as_deref(),
        Some(broken.as_str())
    );
    // A broken config keeps its Worker's identity (its last good script name), even in a fresh
    // process: blocked, not "removed from Git", and the pass does not claim convergence.
    assert_eq!(out.code, 2, "broken Workers make the pass fail:\n{text}");
    assert!(!text.contains("removed from Git"), "{text}");
    for name in ["broken-toml", "broken-bundle", "broken-link"] {
        assert!(
            text.lines()
                .any(|line| line.starts_with(name) && line.contains("blocked")),
            "{name} is reported blocked under its script name:\n{text}"
        );
    }
    assert!(
        text.contains("workers/toml/wrangler.toml:2:"),
        "bad TOML names file:line:col:\n{text}"
    );
    assert!(
        text.contains("workers/bundle/wrangler.toml:2:")
            && text.contains("workers/bundle/dist/index.js"),
        "a missing bundle names the config line and the file:\n{text}"
    );
    assert!(
        text.contains("workers/link") && text.contains("outside the repository"),
        "a symlink escape names the Worker:\n{text}"
    );
    // The broken Workers keep their last good version.
    assert_eq!(emulator.versions("broken-toml").len(), 1);
    assert_eq!(emulator.versions("broken-bundle").len(), 1);
    assert_eq!(emulator.versions("broken-link").len(), 1);

    // Fix them (the bundle with new content): converges, each broken Worker gets what changed.
    worker(&repo, "workers/toml", "broken-toml", "t1");
    set_body(&repo, "workers/bundle", "b2");
    std::fs::remove_file(repo.join("workers/link/dist/index.js")).expect("rm");
    write(
        &repo.join("shared/link.js"),
        "export default { fetch() { return new Response(\"l2\"); } };\n",
    );
    std::os::unix::fs::symlink(
        "../../../shared/link.js",
        repo.join("workers/link/dist/index.js"),
    )
    .expect("symlink");
    let fixed = commit_all(&repo, "fix the broken workers");
    let out = sync(&emulator, &repo_arg, &state);
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(emulator.versions("broken-toml").len(), 1, "t1 is unchanged");
    assert_eq!(
        emulator.live_tag("broken-bundle").as_deref(),
        Some(fixed.as_str())
    );
    assert_eq!(
        emulator.live_tag("broken-link").as_deref(),
        Some(fixed.as_str())
    );
    let again = sync(&emulator, &repo_arg, &state);
    assert!(again.stdout.contains("no changes"), "{}", again.all());
}
