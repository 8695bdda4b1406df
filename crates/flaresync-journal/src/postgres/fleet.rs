//! What replicas sharing a fleet know of each other, in PostgreSQL: a heartbeat row per live
//! replica in `flaresync_replicas` (expiring like a lease), and every lease row, so that each
//! replica can decide which entries to claim or give up ([`crate::lease`] keeps the rules of
//! one lease; the fleet's rules are the caller's).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::connection::Connection;
use crate::error::JournalError;
use crate::lease::LeaseRow;

/// A lease row with the pair it is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairLease {
    pub repository: String,
    pub account: String,
    pub row: LeaseRow,
}

/// What one look at the fleet's tables shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetView {
    /// Replicas whose heartbeat has not expired (this one included), sorted.
    pub replicas: Vec<String>,
    /// Every lease row (expired ones too: their tokens matter).
    pub leases: Vec<PairLease>,
    /// The database's clock when it was read.
    pub now: DateTime<Utc>,
}

/// A replica's handle on the fleet tables.
pub struct Fleet {
    connection: Arc<Connection>,
    replica: String,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet")
            .field("replica", &self.replica)
            .finish()
    }
}

impl Fleet {
    pub(crate) fn new(connection: Arc<Connection>, replica: &str) -> Self {
        Fleet {
            connection,
            replica: replica.to_owned(),
        }
    }

    /// This replica's name (also its name as a lease holder).
    pub fn replica(&self) -> &str {
        &self.replica
    }

    /// Says this replica is alive for `ttl` more, and reads the live replicas and the leases.
    pub fn heartbeat(&self, ttl: Duration) -> Result<FleetView, JournalError> {
        let replica = self.replica.clone();
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        let failed = self.connection.error("fleet heartbeat");
        self.connection
            .call(move |client| -> Result<FleetView, postgres::Error> {
                let mut tx = client.transaction()?;
                tx.execute(
                    "INSERT INTO flaresync_replicas (replica, started_at, expires_at) \
                     VALUES ($1, now(), now() + $2::bigint * interval '1 millisecond') \
                     ON CONFLICT (replica) DO UPDATE SET expires_at = EXCLUDED.expires_at",
                    &[&replica, &ttl_ms],
                )?;
                let now: DateTime<Utc> = tx.query_one("SELECT now()", &[])?.try_get(0)?;
                let replicas = tx
                    .query(
                        "SELECT replica FROM flaresync_replicas WHERE expires_at > now() \
                         ORDER BY replica",
                        &[],
                    )?
                    .iter()
                    .map(|row| row.try_get(0))
                    .collect::<Result<Vec<String>, _>>()?;
                let leases = tx
                    .query(
                        "SELECT repository, account, holder, token, expires_at \
                         FROM flaresync_leases ORDER BY repository, account",
                        &[],
                    )?
                    .iter()
                    .map(|row| -> Result<PairLease, postgres::Error> {
                        Ok(PairLease {
                            repository: row.try_get(0)?,
                            account: row.try_get(1)?,
                            row: LeaseRow {
                                holder: row.try_get(2)?,
                                token: row.try_get(3)?,
                                expires_at: row.try_get(4)?,
                            },
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                // Old heartbeats go, so the table stays as small as the fleet.
                tx.execute(
                    "DELETE FROM flaresync_replicas WHERE expires_at < now() - interval '1 hour'",
                    &[],
                )?;
                tx.commit()?;
                Ok(FleetView {
                    replicas,
                    leases,
                    now,
                })
            })?
            .map_err(failed)
    }

    /// Removes this replica's heartbeat (a clean stop), so the others rebalance at once.
    pub fn leave(&self) -> Result<(), JournalError> {
        let replica = self.replica.clone();
        let failed = self.connection.error("fleet leave");
        self.connection
            .call(move |client| {
                client.execute(
                    "DELETE FROM flaresync_replicas WHERE replica = $1",
                    &[&replica],
                )
            })?
            .map(|_| ())
            .map_err(failed)
    }
}
