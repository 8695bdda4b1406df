use flaresync_git::*;

use crate::fixture::Fixture;

#[test]
fn broken_workers_keep_the_names_they_last_loaded_with() {
    let fixture = Fixture::run("make_broken.sh", &[]);
    let rev = |name: &str| fixture.rev("repo", name);
    let repo = Repository::open(fixture.path("repo")).expect("open");
    let mut cache = DesiredStateCache::new();

    assert!(
        cache
            .last_good_names(&repo, rev("g2"), 10)
            .expect("names")
            .is_empty(),
        "nothing is broken at g2"
    );
    let names = cache.last_good_names(&repo, rev("n1"), 10).expect("names");
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        [
            ("workers/api".to_owned(), "api-worker".to_owned()),
            ("workers/auth".to_owned(), "auth-worker".to_owned()),
        ],
        "a directory that never loaded has no name"
    );
    // The search is bounded: from n1, the last good state (g2) is three commits back.
    assert!(
        cache
            .last_good_names(&repo, rev("n1"), 2)
            .expect("names")
            .is_empty()
    );
    assert_eq!(
        cache
            .last_good_names(&repo, rev("n1"), 3)
            .expect("names")
            .len(),
        2
    );
}
