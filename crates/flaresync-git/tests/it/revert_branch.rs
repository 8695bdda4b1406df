use flaresync_git::*;

use crate::fixture::Fixture;

/// The bare remote's `refs/heads/<branch>` commit, read with git2 (the test's own reader).
fn remote_branch(fixture: &Fixture, branch: &str) -> Option<(Oid, String, Vec<Oid>)> {
    let repo = Repository::open_bare(fixture.path("remote.git")).expect("remote opens");
    let commit = repo
        .find_reference(&format!("refs/heads/{branch}"))
        .ok()?
        .peel_to_commit()
        .ok()?;
    Some((
        commit.id(),
        commit.message().unwrap_or_default().to_owned(),
        commit.parent_ids().collect(),
    ))
}

#[test]
fn an_aborted_commit_is_reverted_on_its_own_branch_and_pushed() {
    let fixture = Fixture::run("make_force_push.sh", &["setup"]);
    let url = format!("file://{}", fixture.path("remote.git").display());
    let mut source = GitSource::remote(&url, fixture.path("cache"), "main", Credentials::none())
        .expect("remote");
    let head = source.fetch().expect("fetch").new;
    let bad = fixture.rev("work", "c2");
    assert_eq!(head, bad, "the bad commit is the branch head");

    let proposal = source
        .propose_revert(
            bad,
            "flaresync aborted the rollout: error rate 21%",
            ("flaresync", "f@x"),
        )
        .expect("proposed");
    let branch = revert_branch_name(bad);
    assert_eq!(proposal.branch, branch);
    assert!(branch.starts_with("flaresync/revert-"), "{branch}");
    assert!(
        proposal
            .pushed_to
            .as_deref()
            .is_some_and(|p| p.starts_with("file://"))
    );
    let (id, message, parents) = remote_branch(&fixture, &branch).expect("pushed");
    assert_eq!(id, proposal.commit);
    assert_eq!(parents, vec![bad]);
    assert_eq!(parse_revert(&message), Some(bad.to_string()));
    assert!(message.contains("error rate 21%"), "{message}");
    // The revert's content is the content before the bad commit.
    let repo = Repository::open_bare(fixture.path("remote.git")).expect("opens");
    let tree = |oid: Oid| repo.find_commit(oid).expect("commit").tree_id();
    assert_eq!(tree(proposal.commit), tree(fixture.rev("work", "c1")));
    // Asking again keeps the branch as it is.
    let again = source
        .propose_revert(bad, "again", ("flaresync", "f@x"))
        .expect("proposed");
    assert_eq!(again.commit, proposal.commit);
}
