//! Property tests of the data plane's routing decision (percentages, version-key stickiness
//! and ramp monotonicity, overrides).

use flaresync_emulator::dataplane::routing::{Reason, RequestHints, Share, choose, key_bucket};
use proptest::prelude::*;

fn two(a: f64, first: &str, second: &str) -> Vec<Share> {
    vec![
        Share {
            version_id: first.into(),
            percentage: a,
        },
        Share {
            version_id: second.into(),
            percentage: 100.0 - a,
        },
    ]
}

fn hinted(key: &str) -> RequestHints<'_> {
    RequestHints {
        overrides: None,
        key: Some(key),
    }
}

proptest! {
    #[test]
    fn a_choice_is_always_a_deployed_version_with_a_share(
        a in 0u32..=10_000, draw in 0.0f64..1.0, key in proptest::option::of("[ -~]{0,40}"),
    ) {
        let shares = two(f64::from(a) / 100.0, "v1", "v2");
        let hints = RequestHints { overrides: None, key: key.as_deref() };
        let choice = choose("w", &shares, hints, draw).expect("some version has a share");
        prop_assert!(shares[choice.index].percentage > 0.0);
    }

    #[test]
    fn the_same_key_always_gets_the_same_version(
        a in 0u32..=10_000, key in "[ -~]{0,40}", d1 in 0.0f64..1.0, d2 in 0.0f64..1.0,
    ) {
        let shares = two(f64::from(a) / 100.0, "v1", "v2");
        let first = choose("w", &shares, hinted(&key), d1);
        let second = choose("w", &shares, hinted(&key), d2);
        prop_assert_eq!(first, second);
        prop_assert!(first.is_some_and(|c| c.reason == Reason::VersionKey));
    }

    #[test]
    fn a_key_on_the_growing_version_stays_there(
        key in "[ -~]{0,40}", old in 0u32..=10_000, step in 0u32..=10_000,
    ) {
        // v2 grows from 100-old to 100-new (v1 shrinks), the order of the versions is kept.
        let new = old.saturating_sub(step);
        let before = two(f64::from(old) / 100.0, "v1", "v2");
        let after = two(f64::from(new) / 100.0, "v1", "v2");
        let was = choose("w", &before, hinted(&key), 0.0).map(|c| before[c.index].version_id.clone());
        let now = choose("w", &after, hinted(&key), 0.0).map(|c| after[c.index].version_id.clone());
        if was.as_deref() == Some("v2") {
            prop_assert_eq!(now.as_deref(), Some("v2"));
        }
    }

    #[test]
    fn a_valid_override_beats_key_and_draw(
        a in 0u32..=10_000, pick in 0usize..2, key in "[ -~]{0,20}", draw in 0.0f64..1.0,
    ) {
        let shares = two(f64::from(a) / 100.0, "1111aaaa-0000-4000-8000-000000000001",
            "2222bbbb-0000-4000-8000-000000000002");
        let header = format!("w=\"{}\"", shares[pick].version_id);
        let hints = RequestHints { overrides: Some(&header), key: Some(&key) };
        let choice = choose("w", &shares, hints, draw).expect("pinned");
        prop_assert_eq!(choice.index, pick);
        prop_assert_eq!(choice.reason, Reason::Override);
    }

    #[test]
    fn an_unparsable_override_changes_nothing(
        junk in "[ -~]{0,60}", a in 0u32..=10_000, draw in 0.0f64..1.0,
    ) {
        let shares = two(f64::from(a) / 100.0, "v1", "v2");
        let header = format!("{junk},,");
        let with = choose("w", &shares, RequestHints { overrides: Some(&header), key: None }, draw);
        let without = choose("w", &shares, RequestHints::default(), draw);
        prop_assert_eq!(with, without);
    }

    #[test]
    fn key_buckets_are_in_range(key in "\\PC{0,64}") {
        let bucket = key_bucket(&key);
        prop_assert!((0.0..100.0).contains(&bucket));
    }
}

#[test]
fn uniform_draws_and_many_keys_split_by_percentage() {
    let shares = two(90.0, "v1", "v2");
    let n = 20_000;
    let by_draw = (0..n)
        .filter(|i| {
            let draw = f64::from(*i) / f64::from(n);
            choose("w", &shares, RequestHints::default(), draw).map(|c| c.index) == Some(1)
        })
        .count();
    assert_eq!(by_draw, 2_000);
    let by_key = (0..n)
        .filter(|i| {
            let key = format!("user-{i}");
            choose("w", &shares, hinted(&key), 0.0).map(|c| c.index) == Some(1)
        })
        .count();
    let share = by_key as f64 / f64::from(n);
    assert!((share - 0.10).abs() < 0.01, "keys on v2: {share}");
}
