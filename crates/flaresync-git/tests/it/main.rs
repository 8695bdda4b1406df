//! Integration tests of flaresync-git against real repositories built by the fixture scripts.

mod broken;
mod fixture;
mod merges;
mod remote;
mod revert_branch;
mod reverts;
mod shared;

/// The source is moved into blocking tasks by the reconciler.
#[test]
fn git_source_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<flaresync_git::GitSource>();
    assert_send::<flaresync_git::DesiredState>();
}
