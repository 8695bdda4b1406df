use flaresync_git::*;

use crate::fixture::{Fixture, assert_fetch};
use crate::reverts::{candidates_at, summary};

fn uploads(source: &mut GitSource, worker: &str, commits: &[(&str, Oid)]) -> Vec<KnownVersion> {
    let listed: Vec<(String, Option<String>)> = commits
        .iter()
        .map(|(id, commit)| (id.to_string(), Some(commit.to_string())))
        .collect();
    let mapping = source.rebuild_mapping(worker, &listed).expect("mapping");
    assert!(mapping.unmapped.is_empty(), "{:?}", mapping.unmapped);
    mapping.known
}

#[test]
fn revert_of_a_merge_restores_the_pre_merge_versions() {
    let fixture = Fixture::run("make_merge.sh", &[]);
    let rev = |name: &str| fixture.rev("repo", name);
    let mut source = GitSource::open_local(fixture.path("repo"), "main").expect("open");
    source.fetch().expect("fetch");
    let mut known = uploads(
        &mut source,
        "api",
        &[("api-2", rev("m1")), ("api-1", rev("c1"))],
    );
    known.extend(uploads(
        &mut source,
        "web",
        &[("web-2", rev("m1")), ("web-1", rev("c1"))],
    ));
    let found = candidates_at(&mut source, rev("r1"), &known);
    let reverted = CandidateKind::GitRevert {
        reverted: rev("m1").to_string(),
    };
    assert_eq!(
        summary(&found),
        vec![
            ("api", "api-1", rev("c1"), reverted.clone()),
            ("web", "web-1", rev("c1"), reverted),
        ]
    );
    // The merge itself holds the feature branch's tip state.
    let merge = source.desired_state(rev("m1")).expect("state");
    let tip = source.desired_state(rev("f2")).expect("state");
    assert_eq!(merge.digests("api"), tip.digests("api"));
    assert_eq!(merge.digests("web"), tip.digests("web"));
}

#[test]
fn squash_merge_equals_the_branch_tip_and_maps_to_its_version() {
    let fixture = Fixture::run("make_merge.sh", &[]);
    let rev = |name: &str| fixture.rev("repo", name);
    let mut source = GitSource::open_local(fixture.path("repo"), "main").expect("open");
    let update = source.fetch().expect("fetch");
    assert_eq!(update.new, rev("q1"));
    let squashed = source.desired_state(rev("q1")).expect("state");
    let tip = source.desired_state(rev("s2")).expect("state");
    assert_eq!(squashed.digests("api"), tip.digests("api"));
    assert_eq!(squashed.digests("web"), tip.digests("web"));
    assert_eq!(
        source.commit_info(rev("q1")).expect("info").parents.len(),
        1
    );
    // A preview version built from the branch tip (not in main's history) is still found.
    let known = uploads(
        &mut source,
        "api",
        &[("api-6", rev("s2")), ("api-1", rev("c1"))],
    );
    let found = source
        .revert_candidates(&squashed, &known)
        .expect("candidates");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].target_version, "api-6");
    assert_eq!(found[0].kind, CandidateKind::ManualRevert);
}

#[test]
fn moving_a_local_branch_backwards_is_a_rewrite() {
    let fixture = Fixture::run("make_merge.sh", &[]);
    let rev = |name: &str| fixture.rev("repo", name);
    let mut source = GitSource::open_local(fixture.path("repo"), "main").expect("open");
    assert_fetch(&mut source, HeadUpdateKind::Initial);
    assert_fetch(&mut source, HeadUpdateKind::Unchanged);
    let repo = git2::Repository::open(fixture.path("repo")).expect("open");
    repo.reference("refs/heads/main", rev("c1"), true, "reset")
        .expect("reset");
    let update = source.fetch().expect("fetch");
    assert_eq!(
        (update.old, update.new, update.kind),
        (Some(rev("q1")), rev("c1"), HeadUpdateKind::Rewritten)
    );
    repo.reference("refs/heads/main", rev("m1"), true, "merge")
        .expect("forward");
    let update = source.fetch().expect("fetch");
    assert_eq!(update.kind, HeadUpdateKind::FastForward);
    let brought = source
        .commits_between(update.old, update.new)
        .expect("walk");
    assert_eq!(brought.len(), 4, "c2, f1, f2, m1");
    assert_eq!(brought.last(), Some(&rev("m1")));
}
