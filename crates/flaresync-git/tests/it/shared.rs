use flaresync_git::*;

use crate::fixture::Fixture;

#[test]
fn inputs_outside_the_worker_directory_and_symlink_hops_invalidate_the_cache() {
    let fixture = Fixture::run("make_shared.sh", &[]);
    let rev = |n: u32| fixture.rev("repo", &format!("c{n}"));
    let mut source = GitSource::open_local(fixture.path("repo"), "main").expect("open");
    source.fetch().expect("fetch");
    let mut loads = Vec::new();
    let mut api = Vec::new();
    let mut states = Vec::new();
    for n in 1..=6 {
        let before = source.cache_stats().worker_loads;
        let state = source.desired_state(rev(n)).expect("state");
        assert!(state.errors().is_empty(), "c{n}: {:?}", state.errors());
        loads.push(source.cache_stats().worker_loads - before);
        api.push(state.digests("api").expect("api").1);
        states.push(state);
    }
    // c1 both; c2 api (shared file); c3 api (intermediate link only); c4 none;
    // c5 and c6 both (flaresync.toml is an input of every worker).
    assert_eq!(loads, vec![2, 1, 1, 0, 2, 2]);
    assert_ne!(api[0], api[1]);
    assert_ne!(
        api[1], api[2],
        "retargeting the shared link changes the bundle"
    );
    assert_eq!(api[2], api[3]);
    let bundle = &states[2].worker("api").expect("api").spec.modules[0];
    assert_eq!(
        &bundle.content[..],
        b"export default { fetch() { return new Response(\"impl v2\"); } };\n"
    );
    let (config, warnings) = source.repo_config_at(rev(6)).expect("config");
    assert_eq!(config.exclude, vec!["docs".to_string()]);
    assert!(warnings.is_empty());
    source.set_last_head(None);
    assert_eq!(
        source.repo_config_at(rev(4)).expect("defaults").0,
        flaresync_config::RepoConfig::default()
    );
    assert_eq!(states[5].skipped, vec!["workers/web".to_string()]);
    assert!(states[5].worker("web").is_none());
    assert!(states[4].worker("web").is_some());
}
