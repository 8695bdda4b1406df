use flaresync_git::*;

use crate::fixture::Fixture;

fn open(fixture: &Fixture) -> GitSource {
    let mut source = GitSource::open_local(fixture.path("repo"), "main").expect("open");
    let update = source.fetch().expect("fetch");
    assert_eq!(update.kind, HeadUpdateKind::Initial);
    assert_eq!(update.new, fixture.rev("repo", "c9"));
    source
}

fn version_digest(source: &mut GitSource, commit: Oid, worker: &str) -> flaresync_config::Digest {
    source
        .desired_state(commit)
        .expect("state")
        .digests(worker)
        .unwrap_or_else(|| panic!("{worker} missing at {commit}"))
        .1
}

#[test]
fn digests_follow_reverts_and_ignore_unrelated_commits() {
    let fixture = Fixture::run("make_revert.sh", &[]);
    let mut source = open(&fixture);
    let c = |n: u32| fixture.rev("repo", &format!("c{n}"));
    let api: Vec<flaresync_config::Digest> = (1..=9)
        .map(|n| version_digest(&mut source, c(n), "api"))
        .collect();
    let web: Vec<flaresync_config::Digest> = (1..=9)
        .map(|n| version_digest(&mut source, c(n), "web"))
        .collect();
    // api: v1 v2 v2 v2 v1(revert) v2(reapply) v3 v2(revert) v1(by hand)
    let api_groups = [0, 1, 1, 1, 0, 1, 2, 1, 0];
    // web: w1 ×6, w2, w1(revert) , w1
    let web_groups = [0, 0, 0, 0, 0, 0, 1, 0, 0];
    for (i, group) in api_groups.iter().enumerate() {
        for (j, other) in api_groups.iter().enumerate() {
            assert_eq!(
                api[i] == api[j],
                group == other,
                "api c{} vs c{}",
                i + 1,
                j + 1
            );
        }
    }
    for (i, group) in web_groups.iter().enumerate() {
        for (j, other) in web_groups.iter().enumerate() {
            assert_eq!(
                web[i] == web[j],
                group == other,
                "web c{} vs c{}",
                i + 1,
                j + 1
            );
        }
    }
    let states: Vec<DesiredState> = (1..=9)
        .map(|n| source.desired_state(c(n)).expect("state"))
        .collect();
    let changed: Vec<Vec<String>> = states
        .windows(2)
        .map(|pair| pair[1].changed_since(&pair[0]))
        .collect();
    let names = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        changed,
        vec![
            names(&["api"]),
            names(&[]),
            names(&[]),
            names(&["api"]),
            names(&["api"]),
            names(&["api", "web"]),
            names(&["api", "web"]),
            names(&["api"]),
        ]
    );
    let state = source.desired_state(c(1)).expect("state");
    assert_eq!(
        state.workers.keys().collect::<Vec<_>>(),
        vec!["workers/api", "workers/web"]
    );
    assert!(state.errors().is_empty());
}

#[test]
fn only_workers_whose_inputs_changed_are_re_read() {
    let fixture = Fixture::run("make_revert.sh", &[]);
    let mut source = open(&fixture);
    let mut loads = Vec::new();
    for n in 1..=9 {
        let before = source.cache_stats().worker_loads;
        source
            .desired_state(fixture.rev("repo", &format!("c{n}")))
            .expect("state");
        loads.push(source.cache_stats().worker_loads - before);
    }
    // c1 reads both; c2 api only; c3/c4 nothing; c5/c6 restore trees already read;
    // c7 both change; c8/c9 restore known trees.
    assert_eq!(loads, vec![2, 1, 0, 0, 0, 0, 2, 0, 0]);
    let stats = source.cache_stats();
    assert_eq!(stats.worker_hits, 18 - 5);
    assert_eq!(stats.repo_config_loads, 1);
    source
        .desired_state(fixture.rev("repo", "c5"))
        .expect("state");
    assert_eq!(source.cache_stats().state_hits, 1);
    assert_eq!(source.cache_stats().worker_loads, 5);
}

/// Uploaded versions, as Cloudflare would list them (newest first), with flaresync's tags.
fn listed(
    source: &GitSource,
    uploads: &[(&str, Oid)],
    limit: usize,
) -> Vec<(String, Option<String>)> {
    uploads
        .iter()
        .rev()
        .map(|(id, commit)| {
            (
                id.to_string(),
                Some(source.version_tag(*commit, limit).expect("tag")),
            )
        })
        .collect()
}

fn known(source: &mut GitSource, fixture: &Fixture) -> Vec<KnownVersion> {
    let c = |n: u32| fixture.rev("repo", &format!("c{n}"));
    let api = listed(
        source,
        &[("api-1", c(1)), ("api-2", c(2)), ("api-3", c(7))],
        100,
    );
    let web = listed(source, &[("web-1", c(1)), ("web-2", c(7))], 20);
    let mut known = source.rebuild_mapping("api", &api).expect("mapping").known;
    known.extend(source.rebuild_mapping("web", &web).expect("mapping").known);
    assert_eq!(known.len(), 5);
    known
}

#[test]
fn mapping_is_rebuilt_from_tags_and_git_alone() {
    let fixture = Fixture::run("make_revert.sh", &[]);
    let mut source = open(&fixture);
    let c1 = fixture.rev("repo", "c1");
    let c2 = fixture.rev("repo", "c2");
    let full = source.version_tag(c2, 100).expect("tag");
    assert_eq!(full, c2.to_string());
    let short = source.version_tag(c2, 20).expect("tag");
    assert_eq!(short, c2.to_string()[..20]);
    assert_eq!(source.resolve_commit(&short).expect("resolves"), c2);
    assert_eq!(
        source
            .version_message(fixture.rev("repo", "c5"), 1000)
            .expect("message"),
        "Revert \"bump api\" (Alice Author <alice@example.com>)"
    );
    assert_eq!(
        source.version_message(c2, 20).expect("message"),
        "bump api (Alice Auth"
    );
    let versions = vec![
        ("ver-untagged".to_string(), None),
        ("ver-foreign".to_string(), Some("v1.2.3".to_string())),
        ("ver-2".to_string(), Some(short)),
        ("ver-1".to_string(), Some(c1.to_string())),
        (
            "ver-elsewhere".to_string(),
            Some("deadbeefdeadbeef".to_string()),
        ),
    ];
    let mapping = source.rebuild_mapping("api", &versions).expect("mapping");
    let expected: Vec<(
        String,
        Oid,
        flaresync_config::Digest,
        flaresync_config::Digest,
    )> = [("ver-2", c2), ("ver-1", c1)]
        .iter()
        .map(|(id, commit)| {
            let state = source.desired_state(*commit).expect("state");
            let (digest, version_digest) = state.digests("api").expect("api");
            (id.to_string(), *commit, digest, version_digest)
        })
        .collect();
    let got: Vec<(
        String,
        Oid,
        flaresync_config::Digest,
        flaresync_config::Digest,
    )> = mapping
        .known
        .iter()
        .map(|k| {
            (
                k.version_id.clone(),
                k.commit,
                k.digest.clone(),
                k.version_digest.clone(),
            )
        })
        .collect();
    assert_eq!(got, expected);
    assert_ne!(got[0].3, got[1].3);
    let reasons: Vec<_> = mapping
        .unmapped
        .iter()
        .map(|u| (u.version_id.as_str(), u.reason.clone()))
        .collect();
    assert_eq!(
        reasons,
        vec![
            ("ver-untagged", UnmappedReason::Untagged),
            ("ver-foreign", UnmappedReason::ForeignTag("v1.2.3".into())),
            (
                "ver-elsewhere",
                UnmappedReason::UnknownCommit("deadbeefdeadbeef".into())
            ),
        ]
    );
    // A worker that does not exist at the commit.
    let missing = source
        .rebuild_mapping("nope", &[("v".into(), Some(c1.to_string()))])
        .expect("mapping");
    assert!(matches!(
        missing.unmapped[0].reason,
        UnmappedReason::WorkerNotAtCommit { .. }
    ));
}

/// The revert candidates of the desired state at `head`.
pub(crate) fn candidates_at(
    source: &mut GitSource,
    head: Oid,
    known: &[KnownVersion],
) -> Vec<RevertCandidate> {
    let state = source.desired_state(head).expect("state");
    source.revert_candidates(&state, known).expect("candidates")
}

/// Each candidate as (worker, target version, target commit, kind).
pub(crate) fn summary(candidates: &[RevertCandidate]) -> Vec<(&str, &str, Oid, CandidateKind)> {
    candidates
        .iter()
        .map(|c| {
            (
                c.worker.as_str(),
                c.target_version.as_str(),
                c.target_commit,
                c.kind.clone(),
            )
        })
        .collect()
}

#[test]
fn git_revert_is_a_rollback_candidate_with_an_explanation() {
    let fixture = Fixture::run("make_revert.sh", &[]);
    let mut source = open(&fixture);
    let known = known(&mut source, &fixture);
    let c = |n: u32| fixture.rev("repo", &format!("c{n}"));
    let found = candidates_at(&mut source, c(5), &known);
    assert_eq!(
        summary(&found),
        vec![
            (
                "api",
                "api-1",
                c(1),
                CandidateKind::GitRevert {
                    reverted: c(2).to_string()
                }
            ),
            ("web", "web-1", c(1), CandidateKind::Unchanged),
        ]
    );
    assert_eq!(found[0].head_commit, c(5));
    assert!(found[0].settings_match);
    let short = |n: u32| short_hex(c(n));
    assert_eq!(
        found[0].explanation,
        format!(
            "commit {} 'Revert \"bump api\"' (reverting {}) restores the state of {} 'initial' \
             for api, already uploaded as version api-1",
            short(5),
            short(2),
            short(1)
        )
    );
}

#[test]
fn revert_of_a_revert_goes_back_to_the_reverted_version() {
    let fixture = Fixture::run("make_revert.sh", &[]);
    let mut source = open(&fixture);
    let known = known(&mut source, &fixture);
    let c = |n: u32| fixture.rev("repo", &format!("c{n}"));
    let found = candidates_at(&mut source, c(6), &known);
    assert_eq!(
        summary(&found)[0],
        (
            "api",
            "api-2",
            c(2),
            CandidateKind::GitRevert {
                reverted: c(5).to_string()
            }
        )
    );
}

#[test]
fn revert_spanning_two_workers_gives_two_candidates() {
    let fixture = Fixture::run("make_revert.sh", &[]);
    let mut source = open(&fixture);
    let known = known(&mut source, &fixture);
    let c = |n: u32| fixture.rev("repo", &format!("c{n}"));
    let reverted = CandidateKind::GitRevert {
        reverted: c(7).to_string(),
    };
    assert_eq!(
        summary(&candidates_at(&mut source, c(8), &known)),
        vec![
            ("api", "api-2", c(2), reverted.clone()),
            ("web", "web-1", c(1), reverted),
        ]
    );
}

#[test]
fn manual_revert_and_same_commit_are_detected() {
    let fixture = Fixture::run("make_revert.sh", &[]);
    let mut source = open(&fixture);
    let known = known(&mut source, &fixture);
    let c = |n: u32| fixture.rev("repo", &format!("c{n}"));
    let manual = candidates_at(&mut source, c(9), &known);
    assert_eq!(
        summary(&manual)[0],
        ("api", "api-1", c(1), CandidateKind::ManualRevert)
    );
    assert!(
        manual[0].explanation.contains("no revert message"),
        "{}",
        manual[0].explanation
    );
    // The uploaded commit itself (a reset back to it looks the same).
    let same = candidates_at(&mut source, c(7), &known);
    assert_eq!(
        summary(&same),
        vec![
            ("api", "api-3", c(7), CandidateKind::SameCommit),
            ("web", "web-2", c(7), CandidateKind::SameCommit),
        ]
    );
    // Nothing uploaded with c7's content: no candidate for it.
    let without: Vec<KnownVersion> = known.iter().filter(|k| k.commit != c(7)).cloned().collect();
    assert!(candidates_at(&mut source, c(7), &without).is_empty());
}
