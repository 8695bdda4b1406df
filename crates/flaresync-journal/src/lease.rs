//! Lease decisions (pure): who may work on a (repository, account) pair, and whether a holder's
//! fencing token is still current. [`crate::postgres`] reads the lease row under a row lock,
//! asks these functions, and writes what they decide; times are the database's clock, so the
//! replicas' clocks never matter.
//!
//! The fencing token only grows: a new holder gets the old token plus one, a holder that renews
//! keeps its own. A paused ex-leader still believes it holds token `n`; once someone took the
//! lease over, the row says `n + 1` and [`fence`] refuses it.

use chrono::{DateTime, Utc};

/// How a (repository, account) pair is named in messages and as its journal scope
/// ([`crate::Journal::scoped`]).
pub fn scope_name(repository: &str, account: &str) -> String {
    format!("{repository} / account {account}")
}

/// The lease row of one (repository, account) pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRow {
    pub holder: String,
    pub token: i64,
    pub expires_at: DateTime<Utc>,
}

/// What [`decide`] says about a request for the lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The lease is free (never held, or expired): take it with this new token.
    Take { token: i64 },
    /// The requester holds it already: extend it, keeping its token.
    Renew { token: i64 },
    /// Someone else holds it until `until`.
    Wait {
        holder: String,
        until: DateTime<Utc>,
    },
}

/// What `me` gets when asking for the lease whose row is `current` at `now`.
///
/// A holder whose lease expired but that nobody took over gets it back with the same token:
/// no one else can have written in between.
pub fn decide(current: Option<&LeaseRow>, me: &str, now: DateTime<Utc>) -> Decision {
    match current {
        None => Decision::Take { token: 1 },
        Some(row) if row.holder == me => Decision::Renew { token: row.token },
        Some(row) if row.expires_at <= now => Decision::Take {
            token: row.token.saturating_add(1),
        },
        Some(row) => Decision::Wait {
            holder: row.holder.clone(),
            until: row.expires_at,
        },
    }
}

/// Why a write was refused by [`fence`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Fenced {
    #[error("no lease was ever taken for this repository and account")]
    NoLease,
    #[error(
        "the lease was taken over by {holder} (fencing token {current}, this process holds {held})"
    )]
    Superseded {
        holder: String,
        current: i64,
        held: i64,
    },
    #[error("this process does not hold the lease (held by {holder} until {until})")]
    NotHeld {
        holder: String,
        until: DateTime<Utc>,
    },
}

/// Whether the holder of token `held` (`None`: it holds none) may write now, given the row.
/// On `Ok`, the caller extends the lease before writing.
pub fn fence(held: Option<i64>, current: Option<&LeaseRow>, me: &str) -> Result<(), Fenced> {
    let row = current.ok_or(Fenced::NoLease)?;
    match held {
        Some(held) if row.token == held && row.holder == me => Ok(()),
        Some(held) => Err(Fenced::Superseded {
            holder: row.holder.clone(),
            current: row.token,
            held,
        }),
        None => Err(Fenced::NotHeld {
            holder: row.holder.clone(),
            until: row.expires_at,
        }),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    fn at(second: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, second)
            .single()
            .expect("valid time")
    }

    fn row(holder: &str, token: i64, expires: u32) -> LeaseRow {
        LeaseRow {
            holder: holder.into(),
            token,
            expires_at: at(expires),
        }
    }

    #[test]
    fn the_first_holder_gets_token_one() {
        assert_eq!(decide(None, "a", at(0)), Decision::Take { token: 1 });
    }

    #[test]
    fn a_live_lease_of_another_makes_the_requester_wait() {
        assert_eq!(
            decide(Some(&row("a", 4, 15)), "b", at(10)),
            Decision::Wait {
                holder: "a".into(),
                until: at(15)
            }
        );
    }

    #[test]
    fn an_expired_lease_is_taken_over_with_a_higher_token() {
        assert_eq!(
            decide(Some(&row("a", 4, 15)), "b", at(15)),
            Decision::Take { token: 5 }
        );
    }

    #[test]
    fn the_holder_renews_with_its_own_token_even_after_expiry() {
        assert_eq!(
            decide(Some(&row("a", 4, 15)), "a", at(10)),
            Decision::Renew { token: 4 }
        );
        assert_eq!(
            decide(Some(&row("a", 4, 15)), "a", at(30)),
            Decision::Renew { token: 4 }
        );
    }

    #[test]
    fn the_current_holder_passes_the_fence() {
        assert_eq!(fence(Some(4), Some(&row("a", 4, 15)), "a"), Ok(()));
    }

    #[test]
    fn an_ex_leader_is_fenced_once_its_token_is_superseded() {
        let taken = decide(Some(&row("a", 4, 15)), "b", at(20));
        let Decision::Take { token } = taken else {
            panic!("b takes over: {taken:?}");
        };
        let error = fence(Some(4), Some(&row("b", token, 35)), "a").expect_err("fenced");
        assert_eq!(
            error,
            Fenced::Superseded {
                holder: "b".into(),
                current: 5,
                held: 4
            }
        );
        assert!(error.to_string().contains("taken over by b"));
    }

    #[test]
    fn a_process_without_a_token_or_a_lease_row_is_fenced() {
        assert_eq!(fence(Some(1), None, "a"), Err(Fenced::NoLease));
        assert!(matches!(
            fence(None, Some(&row("b", 2, 15)), "a"),
            Err(Fenced::NotHeld { .. })
        ));
    }
}
