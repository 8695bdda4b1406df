//! Which entries a replica claims or gives up (pure): given the live replicas (their
//! heartbeats), every entry's lease row and the database's clock.
//!
//! The rule: the entries are shared as evenly as possible. With `n` entries and `r` live
//! replicas sorted by name, the replica at index `i` gets `n / r` entries, plus one when
//! `i < n % r`, so the shares add up to `n` and differ by at most one. A replica holding more
//! than its share releases the surplus; one holding fewer claims free entries (never held,
//! or expired) up to its share. A live lease of another replica is never touched, even when
//! that replica's heartbeat is gone: it may still be writing until its lease runs out.
//! Which free entry a replica prefers is a hash of (replica, entry) — rendezvous hashing — so
//! replicas starting together reach for different entries instead of racing for the same.

use chrono::{DateTime, Utc};
use flaresync_journal::lease::LeaseRow;

/// One entry as the fleet tables show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryLease {
    /// The entry's lease scope (repository / account).
    pub key: String,
    pub row: Option<LeaseRow>,
}

/// What a replica does with an entry this round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Try to take the lease (it is free).
    Take(String),
    /// Stop its reconcile loop and give the lease up (this replica holds more than its share).
    Release(String),
}

/// How many entries the replica `me` should hold.
pub fn share(me: &str, replicas: &[String], entries: usize) -> usize {
    let mut live: Vec<&str> = replicas.iter().map(String::as_str).collect();
    if !live.contains(&me) {
        live.push(me);
    }
    live.sort_unstable();
    live.dedup();
    let index = live.iter().position(|r| *r == me).unwrap_or(0);
    let count = live.len();
    entries / count + usize::from(index < entries % count)
}

/// Whether `me` holds the lease of `entry` (also an expired one nobody took over: renewing it
/// keeps its token).
pub fn held_by(entry: &EntryLease, me: &str) -> bool {
    entry.row.as_ref().is_some_and(|row| row.holder == me)
}

/// Whether anyone may take `entry` now.
pub fn is_free(entry: &EntryLease, now: DateTime<Utc>) -> bool {
    entry.row.as_ref().is_none_or(|row| row.expires_at <= now)
}

/// What `me` does this round.
pub fn decide(
    me: &str,
    replicas: &[String],
    entries: &[EntryLease],
    now: DateTime<Utc>,
) -> Vec<Claim> {
    let target = share(me, replicas, entries.len());
    let mut mine: Vec<&EntryLease> = entries.iter().filter(|e| held_by(e, me)).collect();
    if mine.len() > target {
        // Keep the ones this replica prefers most; release the rest.
        mine.sort_by_key(|e| std::cmp::Reverse(preference(me, &e.key)));
        return mine[target..]
            .iter()
            .map(|e| Claim::Release(e.key.clone()))
            .collect();
    }
    let mut free: Vec<&EntryLease> = entries
        .iter()
        .filter(|e| !held_by(e, me) && is_free(e, now))
        .collect();
    free.sort_by_key(|e| std::cmp::Reverse(preference(me, &e.key)));
    free.into_iter()
        .take(target - mine.len())
        .map(|e| Claim::Take(e.key.clone()))
        .collect()
}

/// A stable 64-bit FNV-1a hash of (replica, entry): the replica's preference for the entry.
fn preference(replica: &str, key: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in replica.bytes().chain([0x1f]).chain(key.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    fn at(second: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 3, 20, 0, second)
            .single()
            .expect("time")
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    fn entry(key: &str, holder: Option<(&str, u32)>) -> EntryLease {
        EntryLease {
            key: key.into(),
            row: holder.map(|(holder, expires)| LeaseRow {
                holder: holder.into(),
                token: 1,
                expires_at: at(expires),
            }),
        }
    }

    fn free_entries(count: usize) -> Vec<EntryLease> {
        (0..count)
            .map(|i| entry(&format!("repo-{i}"), None))
            .collect()
    }

    #[test]
    fn shares_add_up_and_differ_by_at_most_one() {
        let replicas = names(&["a", "b", "c"]);
        let shares: Vec<usize> = ["a", "b", "c"]
            .iter()
            .map(|me| share(me, &replicas, 10))
            .collect();
        assert_eq!(shares, vec![4, 3, 3]);
        assert_eq!(share("a", &names(&["a"]), 10), 10);
        // A replica whose own heartbeat is not yet visible still counts itself.
        assert_eq!(share("b", &names(&["a"]), 10), 5);
        assert_eq!(share("a", &names(&["a", "b", "c"]), 2), 1);
        assert_eq!(share("c", &names(&["a", "b", "c"]), 2), 0);
    }

    #[test]
    fn a_lone_replica_claims_every_free_entry() {
        let claims = decide("a", &names(&["a"]), &free_entries(4), at(0));
        assert_eq!(claims.len(), 4);
        assert!(claims.iter().all(|c| matches!(c, Claim::Take(_))));
    }

    #[test]
    fn a_replica_over_its_share_releases_the_surplus_when_another_joins() {
        let entries: Vec<EntryLease> = (0..10)
            .map(|i| entry(&format!("repo-{i}"), Some(("a", 30))))
            .collect();
        let claims = decide("a", &names(&["a", "b"]), &entries, at(0));
        assert_eq!(claims.len(), 5);
        assert!(claims.iter().all(|c| matches!(c, Claim::Release(_))));
        // The newcomer waits for them: nothing is free yet.
        assert!(decide("b", &names(&["a", "b"]), &entries, at(0)).is_empty());
    }

    #[test]
    fn live_leases_of_a_vanished_replica_are_waited_out_then_taken() {
        let entries = vec![
            entry("x", Some(("dead", 15))),
            entry("y", Some(("dead", 15))),
        ];
        assert!(decide("b", &names(&["b"]), &entries, at(10)).is_empty());
        let mut claims = decide("b", &names(&["b"]), &entries, at(15));
        claims.sort_by_key(|c| format!("{c:?}"));
        assert_eq!(
            claims,
            vec![Claim::Take("x".into()), Claim::Take("y".into())]
        );
    }

    #[test]
    fn an_expired_lease_of_its_own_counts_as_held() {
        let entries = vec![entry("x", Some(("a", 5)))];
        assert!(decide("a", &names(&["a"]), &entries, at(10)).is_empty());
        assert!(held_by(&entries[0], "a"));
    }

    #[test]
    fn three_replicas_taking_turns_end_evenly_spread() {
        let replicas = names(&["r1", "r2", "r3"]);
        let mut entries = free_entries(10);
        // Each round every replica acts on what it sees; a Take succeeds when still free.
        for _ in 0..3 {
            for me in ["r1", "r2", "r3"] {
                for claim in decide(me, &replicas, &entries, at(0)) {
                    match claim {
                        Claim::Take(key) => {
                            let e = entries.iter_mut().find(|e| e.key == key).expect("entry");
                            if is_free(e, at(0)) {
                                e.row = Some(LeaseRow {
                                    holder: me.into(),
                                    token: 1,
                                    expires_at: at(30),
                                });
                            }
                        }
                        Claim::Release(key) => {
                            let e = entries.iter_mut().find(|e| e.key == key).expect("entry");
                            e.row = None;
                        }
                    }
                }
            }
        }
        let counts: Vec<usize> = ["r1", "r2", "r3"]
            .iter()
            .map(|me| entries.iter().filter(|e| held_by(e, me)).count())
            .collect();
        assert_eq!(counts.iter().sum::<usize>(), 10, "{counts:?}");
        let (min, max) = (counts.iter().min(), counts.iter().max());
        assert!(
            max.zip(min).is_some_and(|(max, min)| max - min <= 1),
            "{counts:?}"
        );
    }

    #[test]
    fn preferences_differ_between_replicas() {
        let keys: Vec<String> = (0..10).map(|i| format!("repo-{i}")).collect();
        let first = |me: &str| {
            keys.iter()
                .max_by_key(|k| preference(me, k))
                .cloned()
                .expect("some")
        };
        assert_ne!(first("r1"), first("r2"));
    }
}
