//! The routing decision: which version of a Worker's current deployment serves one request.
//!
//! Pure: the deployment, the two request headers that matter and one random draw in, a choice
//! out. Rules (SPEC-2 §6):
//! 1. `Cloudflare-Workers-Version-Overrides` naming this Worker and a version of its **current**
//!    deployment pins that version (any percentage, 0% included); an override for another
//!    version, or a header that does not parse, is ignored.
//! 2. Else `Cloudflare-Workers-Version-Key` makes the choice sticky: the key's stable hash gives
//!    a bucket in [0, 100), compared with the cumulative percentages in deployment order, so a
//!    key stays put while the version it is on grows.
//! 3. Else the random draw is compared with the cumulative percentages.

use sha2::{Digest, Sha256};

/// Header that pins a version (RFC 8941 dictionary, Worker name -> version id).
pub const OVERRIDES_HEADER: &str = "cloudflare-workers-version-overrides";
/// Header whose value makes the version choice sticky.
pub const KEY_HEADER: &str = "cloudflare-workers-version-key";

/// One version's share of a deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct Share {
    pub version_id: String,
    pub percentage: f64,
}

/// Why a version was chosen (the `ctx.version.reason` vocabulary of Cloudflare's docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Override,
    VersionKey,
    Random,
}

/// The chosen version: an index into the deployment's shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choice {
    pub index: usize,
    pub reason: Reason,
}

/// The request facts the decision reads.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestHints<'a> {
    pub overrides: Option<&'a str>,
    pub key: Option<&'a str>,
}

/// Chooses the version of `script`'s deployment `shares` for one request. `draw` is a uniform
/// random number in [0, 1). `None` only when no version has a positive share and no override
/// applies.
pub fn choose(
    script: &str,
    shares: &[Share],
    hints: RequestHints<'_>,
    draw: f64,
) -> Option<Choice> {
    if let Some(index) = hints.overrides.and_then(|h| pinned(script, shares, h)) {
        return Some(Choice {
            index,
            reason: Reason::Override,
        });
    }
    let (point, reason) = match hints.key {
        Some(key) => (key_bucket(key), Reason::VersionKey),
        None => (draw.clamp(0.0, 1.0) * 100.0, Reason::Random),
    };
    by_percentage(shares, point).map(|index| Choice { index, reason })
}

/// The index of the version the override header pins for `script`, if it is in `shares`.
fn pinned(script: &str, shares: &[Share], header: &str) -> Option<usize> {
    let pins = super::overrides::parse(header).ok()?;
    let wanted = pins.get(script)?;
    shares
        .iter()
        .position(|share| share.version_id.eq_ignore_ascii_case(wanted))
}

/// A stable point in [0, 100) for a version key (same key, same point, in every process).
pub fn key_bucket(key: &str) -> f64 {
    let digest = Sha256::digest(key.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    // 10 000 buckets: percentages with two decimals (Cloudflare's 0.01 step) are exact.
    (u64::from_be_bytes(first) % 10_000) as f64 / 100.0
}

/// The first version whose cumulative percentage exceeds `point`; a point past a total that
/// falls short of 100 (rounding) goes to the last version with a positive share.
fn by_percentage(shares: &[Share], point: f64) -> Option<usize> {
    let mut cumulative = 0.0;
    for (index, share) in shares.iter().enumerate() {
        if share.percentage <= 0.0 {
            continue;
        }
        cumulative += share.percentage;
        if point < cumulative {
            return Some(index);
        }
    }
    shares.iter().rposition(|share| share.percentage > 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "0a0a0a0a-0000-4000-8000-00000000000a";
    const B: &str = "0b0b0b0b-0000-4000-8000-00000000000b";

    fn split(a: f64) -> Vec<Share> {
        vec![
            Share {
                version_id: A.into(),
                percentage: a,
            },
            Share {
                version_id: B.into(),
                percentage: 100.0 - a,
            },
        ]
    }

    #[test]
    fn override_pins_a_deployed_version_even_at_zero_percent() {
        let header = format!("other=\"{A}\", api=\"{}\"", B.to_uppercase());
        let hints = RequestHints {
            overrides: Some(&header),
            key: Some("sticky"),
        };
        let choice = choose("api", &split(100.0), hints, 0.0);
        assert_eq!(
            choice,
            Some(Choice {
                index: 1,
                reason: Reason::Override
            })
        );
    }

    #[test]
    fn override_for_another_worker_or_version_or_garbage_is_ignored() {
        for header in [
            format!("other=\"{B}\""),
            "api=\"5f1e3c1d-0000-4000-8000-000000000000\"".to_owned(),
            format!("API=\"{B}\""),
            format!("api={B}"),
            format!("api=\"{B}\","),
        ] {
            let hints = RequestHints {
                overrides: Some(&header),
                key: None,
            };
            let choice = choose("api", &split(100.0), hints, 0.5);
            assert_eq!(
                choice,
                Some(Choice {
                    index: 0,
                    reason: Reason::Random
                }),
                "{header}"
            );
        }
    }

    #[test]
    fn random_draw_follows_cumulative_percentages() {
        let shares = split(90.0);
        let pick = |draw| choose("api", &shares, RequestHints::default(), draw).map(|c| c.index);
        assert_eq!(pick(0.0), Some(0));
        assert_eq!(pick(0.8999), Some(0));
        assert_eq!(pick(0.9), Some(1));
        assert_eq!(pick(0.999_999), Some(1));
    }

    #[test]
    fn nothing_to_route_to_without_a_positive_share() {
        let shares = vec![Share {
            version_id: A.into(),
            percentage: 0.0,
        }];
        assert_eq!(choose("api", &shares, RequestHints::default(), 0.3), None);
        assert_eq!(choose("api", &[], RequestHints::default(), 0.3), None);
    }

    #[test]
    fn a_short_total_goes_to_the_last_positive_share() {
        let shares = vec![
            Share {
                version_id: A.into(),
                percentage: 33.33,
            },
            Share {
                version_id: B.into(),
                percentage: 66.66,
            },
        ];
        let pick = choose("api", &shares, RequestHints::default(), 0.9999);
        assert_eq!(pick.map(|c| c.index), Some(1));
    }
}
