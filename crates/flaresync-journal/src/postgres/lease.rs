//! Leases in PostgreSQL: one row per (repository, account) in `flaresync_leases`. Each
//! operation is one transaction that locks the pair (an advisory lock, so even the first
//! insert is serialised), reads the row and the database's clock, asks [`crate::lease`] what to
//! do, and writes it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::connection::Connection;
use crate::error::JournalError;
use crate::lease::{Decision, Fenced, LeaseRow, decide, fence};

/// The outcome of [`Lease::acquire`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acquired {
    /// This process holds the lease with this fencing token.
    Held { token: i64 },
    /// Another holds it.
    Busy {
        holder: String,
        until: DateTime<Utc>,
    },
}

/// Why [`Lease::check`] refused a write.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error("lease on {scope}: {source}")]
    Fenced {
        scope: String,
        #[source]
        source: Fenced,
    },
    /// The database cannot tell whether the lease is still held: no write then either.
    #[error("lease on {scope} cannot be checked: {source}")]
    Journal {
        scope: String,
        #[source]
        source: JournalError,
    },
}

/// One process's claim on a (repository, account) pair.
pub struct Lease {
    connection: Arc<Connection>,
    repository: String,
    account: String,
    holder: String,
    ttl: Duration,
    token: Mutex<Option<i64>>,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("scope", &self.scope())
            .field("holder", &self.holder)
            .field("token", &self.token())
            .finish()
    }
}

/// What a transaction writes after deciding.
enum Write {
    Nothing,
    /// Insert or replace the row with this holder and token, from now for the TTL.
    Take(i64),
    /// Extend the row's expiry to now + TTL.
    Extend,
    /// End the lease now (keeping its token, so the next holder's is higher).
    Expire,
}

impl Lease {
    pub(crate) fn new(
        connection: Arc<Connection>,
        repository: &str,
        account: &str,
        holder: &str,
        ttl: Duration,
    ) -> Self {
        Lease {
            connection,
            repository: repository.to_owned(),
            account: account.to_owned(),
            holder: holder.to_owned(),
            ttl,
            token: Mutex::new(None),
        }
    }

    /// `repository / account <id>`, for messages.
    pub fn scope(&self) -> String {
        crate::lease::scope_name(&self.repository, &self.account)
    }

    /// This process's name in the lease table.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// How long a lease lasts without renewal.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The fencing token this process holds, if any.
    pub fn token(&self) -> Option<i64> {
        *self.token.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set_token(&self, token: Option<i64>) {
        *self.token.lock().unwrap_or_else(|p| p.into_inner()) = token;
    }

    /// Takes the lease if free, renews it if held; says who holds it otherwise.
    pub fn acquire(&self) -> Result<Acquired, JournalError> {
        let holder = self.holder.clone();
        let (row, now) = self.transaction("lease acquire", move |row, now| {
            match decide(row, &holder, now) {
                Decision::Take { token } => Write::Take(token),
                Decision::Renew { .. } => Write::Extend,
                Decision::Wait { .. } => Write::Nothing,
            }
        })?;
        let acquired = match decide(row.as_ref(), &self.holder, now) {
            Decision::Take { token } | Decision::Renew { token } => Acquired::Held { token },
            Decision::Wait { holder, until } => Acquired::Busy { holder, until },
        };
        self.set_token(match &acquired {
            Acquired::Held { token } => Some(*token),
            Acquired::Busy { .. } => None,
        });
        Ok(acquired)
    }

    /// The fencing check before a write: passes (and extends the lease) only while this
    /// process's token is the current one.
    pub fn check(&self) -> Result<(), LeaseError> {
        let held = self.token();
        let holder = self.holder.clone();
        let (row, _) = self
            .transaction("lease check", move |row, _| {
                match fence(held, row, &holder) {
                    Ok(()) => Write::Extend,
                    Err(_) => Write::Nothing,
                }
            })
            .map_err(|source| LeaseError::Journal {
                scope: self.scope(),
                source,
            })?;
        fence(held, row.as_ref(), &self.holder).map_err(|source| LeaseError::Fenced {
            scope: self.scope(),
            source,
        })
    }

    /// Gives the lease up (a stopping `run`, a finished `sync`), so the next holder need not
    /// wait for the TTL. Only this process's own, current token is ended.
    pub fn release(&self) -> Result<(), JournalError> {
        let held = self.token();
        let holder = self.holder.clone();
        self.transaction("lease release", move |row, _| {
            match fence(held, row, &holder) {
                Ok(()) => Write::Expire,
                Err(_) => Write::Nothing,
            }
        })?;
        self.set_token(None);
        Ok(())
    }

    /// The row as it is now (for status), or `None` when never taken.
    pub fn current(&self) -> Result<Option<LeaseRow>, JournalError> {
        Ok(self.transaction("lease read", |_, _| Write::Nothing)?.0)
    }

    /// One transaction: lock the pair, read its row and the clock, write what `step` says.
    /// Returns the row as read and the database's `now`.
    fn transaction(
        &self,
        operation: &'static str,
        step: impl FnOnce(Option<&LeaseRow>, DateTime<Utc>) -> Write + Send + 'static,
    ) -> Result<(Option<LeaseRow>, DateTime<Utc>), JournalError> {
        let (repository, account, holder) = (
            self.repository.clone(),
            self.account.clone(),
            self.holder.clone(),
        );
        let ttl_ms = i64::try_from(self.ttl.as_millis()).unwrap_or(i64::MAX);
        let failed = self.connection.error(operation);
        self.connection
            .call(move |client| -> Result<_, postgres::Error> {
                let mut tx = client.transaction()?;
                tx.execute(
                    "SELECT pg_advisory_xact_lock(hashtextextended($1 || '\u{1f}' || $2, 0))",
                    &[&repository, &account],
                )?;
                let now: DateTime<Utc> = tx.query_one("SELECT now()", &[])?.try_get(0)?;
                let row = tx
                    .query_opt(
                        "SELECT holder, token, expires_at FROM flaresync_leases \
                         WHERE repository = $1 AND account = $2",
                        &[&repository, &account],
                    )?
                    .map(|row| -> Result<LeaseRow, postgres::Error> {
                        Ok(LeaseRow {
                            holder: row.try_get(0)?,
                            token: row.try_get(1)?,
                            expires_at: row.try_get(2)?,
                        })
                    })
                    .transpose()?;
                let until = "now() + $3::bigint * interval '1 millisecond'";
                match step(row.as_ref(), now) {
                    Write::Nothing => 0,
                    Write::Take(token) => tx.execute(
                        &format!(
                            "INSERT INTO flaresync_leases \
                             (repository, account, holder, token, acquired_at, expires_at) \
                             VALUES ($1, $2, $4, $5, now(), {until}) \
                             ON CONFLICT (repository, account) DO UPDATE SET \
                             holder = EXCLUDED.holder, token = EXCLUDED.token, \
                             acquired_at = EXCLUDED.acquired_at, expires_at = EXCLUDED.expires_at"
                        ),
                        &[&repository, &account, &ttl_ms, &holder, &token],
                    )?,
                    Write::Extend => tx.execute(
                        &format!(
                            "UPDATE flaresync_leases SET expires_at = {until} \
                             WHERE repository = $1 AND account = $2"
                        ),
                        &[&repository, &account, &ttl_ms],
                    )?,
                    Write::Expire => tx.execute(
                        "UPDATE flaresync_leases SET expires_at = now() \
                         WHERE repository = $1 AND account = $2",
                        &[&repository, &account],
                    )?,
                };
                tx.commit()?;
                Ok((row, now))
            })?
            .map_err(failed)
    }
}
