//! Holding the PostgreSQL lease on (repository, account) while `sync` or `run` works: take it
//! (waiting for another holder as long as allowed), renew it in the background, make every
//! Cloudflare write pass its fencing check first, and give it up at the end. With the SQLite
//! journal there is no lease: the state-directory lock ([`crate::lock`]) keeps one process.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use flaresync_journal::{Acquired, Lease};
use flaresync_reconcile::Context;

use crate::settings::RepoSettings;

/// How long to wait for a lease another process holds.
#[derive(Debug, Clone, Copy)]
pub enum Wait {
    /// `sync`: up to this long, then [`Busy`].
    Bounded(Duration),
    /// `run`: a standby replica waits until the holder stops renewing.
    Forever,
}

/// The lease stayed with another process for the whole wait.
#[derive(Debug)]
pub struct Busy {
    pub scope: String,
    pub holder: String,
    pub until: DateTime<Utc>,
    pub waited: Duration,
}

impl std::fmt::Display for Busy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let message = busy_message(&self.scope, &self.holder, self.until, self.waited);
        f.write_str(&message)
    }
}

impl std::error::Error for Busy {}

/// What a `sync` that gave up waiting says (pure).
pub fn busy_message(scope: &str, holder: &str, until: DateTime<Utc>, waited: Duration) -> String {
    format!(
        "the lease on {scope} is held by {holder} (until {} unless renewed): another flaresync \
         (a `run` replica or another CI job) is deploying this repository to this account. \
         Waited {}s (--lease-wait); run again later, or raise --lease-wait",
        until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        waited.as_secs()
    )
}

/// This process's name in the lease table: who, where, which process.
pub fn holder_id() -> String {
    let who = crate::settings::operator().unwrap_or_else(|| "flaresync".into());
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{who}/pid-{}-{nonce:08x}", std::process::id())
}

/// A held lease; renewed until dropped, then released.
pub struct Held {
    lease: Arc<Lease>,
    renewer: tokio::task::JoinHandle<()>,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.renewer.abort();
        if let Err(error) = self.lease.release() {
            tracing::warn!(
                "cannot release the lease on {}: {error}",
                self.lease.scope()
            );
        }
    }
}

/// The fencing check as the Cloudflare client's write guard.
#[derive(Debug)]
struct Fence(Arc<Lease>);

impl flaresync_cloudflare::WriteGuard for Fence {
    fn allow_write(
        &self,
        _method: &str,
        _path: &str,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let multi_thread = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        let checked = if multi_thread {
            tokio::task::block_in_place(|| self.0.check())
        } else {
            self.0.check()
        };
        checked.map_err(Into::into)
    }
}

/// The fencing check of `lease` as a write guard for a Cloudflare client.
pub fn fence(lease: Arc<Lease>) -> Arc<dyn flaresync_cloudflare::WriteGuard> {
    Arc::new(Fence(lease))
}

/// Takes the lease of `ctx`'s repository and account when its journal is PostgreSQL (`None`
/// on SQLite), and makes the client's writes pass the fencing check.
pub async fn take(
    ctx: &Context,
    repo: &RepoSettings,
    ttl: Duration,
    wait: Wait,
) -> anyhow::Result<Option<Held>> {
    if !ctx.journal().has_leases() {
        return Ok(None);
    }
    let lease = Arc::new(ctx.journal().lease(
        &repo.lease_name(),
        ctx.client().account_id(),
        &holder_id(),
        ttl,
    )?);
    let started = tokio::time::Instant::now();
    let mut told = false;
    let token = loop {
        let acquired = blocking(&lease, |lease| lease.acquire()).await;
        match acquired {
            Ok(Acquired::Held { token }) => break token,
            // A lock held by a process paused mid-transaction, a database restart: the wait
            // goes on (the server ends such sessions), up to the limit.
            Err(error) => {
                if let Wait::Bounded(limit) = wait
                    && started.elapsed() >= limit
                {
                    return Err(
                        error.context(format!("cannot take the lease on {}", lease.scope()))
                    );
                }
                tracing::warn!("cannot take the lease on {} yet: {error:#}", lease.scope());
                tokio::time::sleep(poll_interval(ttl)).await;
            }
            Ok(Acquired::Busy { holder, until }) => {
                let waited = started.elapsed();
                if let Wait::Bounded(limit) = wait
                    && waited >= limit
                {
                    return Err(Busy {
                        scope: lease.scope(),
                        holder,
                        until,
                        waited,
                    }
                    .into());
                }
                if !told {
                    eprintln!(
                        "flaresync: waiting for the lease on {}, held by {holder}",
                        lease.scope()
                    );
                    told = true;
                }
                tokio::time::sleep(poll_interval(ttl)).await;
            }
        }
    };
    eprintln!(
        "flaresync: holding the lease on {} as {} (fencing token {token}, ttl {}s)",
        lease.scope(),
        lease.holder(),
        ttl.as_secs()
    );
    ctx.client().set_write_guard(fence(lease.clone()));
    let renewer = tokio::spawn(renew(lease.clone()));
    Ok(Some(Held { lease, renewer }))
}

/// How often a holder renews and a waiter asks again: a third of the TTL (at most 5 s, at
/// least 100 ms), so two renewals may fail before the lease runs out.
pub fn poll_interval(ttl: Duration) -> Duration {
    (ttl / 3).clamp(Duration::from_millis(100), Duration::from_secs(5))
}

async fn renew(lease: Arc<Lease>) {
    let mut lost = false;
    loop {
        tokio::time::sleep(poll_interval(lease.ttl())).await;
        match blocking(&lease, |lease| lease.acquire()).await {
            Ok(Acquired::Held { token }) if lost => {
                tracing::warn!("took the lease on {} again (token {token})", lease.scope());
                lost = false;
            }
            Ok(Acquired::Held { .. }) => {}
            Ok(Acquired::Busy { holder, .. }) if !lost => {
                tracing::warn!(
                    "lost the lease on {} to {holder}: writes are refused until it is free again",
                    lease.scope()
                );
                lost = true;
            }
            Ok(Acquired::Busy { .. }) => {}
            Err(error) => tracing::warn!("cannot renew the lease on {}: {error:#}", lease.scope()),
        }
    }
}

async fn blocking<T: Send + 'static>(
    lease: &Arc<Lease>,
    job: impl FnOnce(&Lease) -> Result<T, flaresync_journal::JournalError> + Send + 'static,
) -> anyhow::Result<T> {
    let lease = lease.clone();
    Ok(tokio::task::spawn_blocking(move || job(&lease)).await??)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    #[test]
    fn a_busy_lease_names_the_holder_the_wait_and_what_to_do() {
        let until = Utc
            .with_ymd_and_hms(2026, 12, 3, 18, 0, 15)
            .single()
            .expect("time");
        let message = busy_message(
            "https://git.example/ops/workers.git / account f1a2",
            "ci@runner-7/pid-42-0000beef",
            until,
            Duration::from_secs(60),
        );
        assert!(
            message.contains("held by ci@runner-7/pid-42-0000beef"),
            "{message}"
        );
        assert!(message.contains("until 2026-12-03T18:00:15Z"), "{message}");
        assert!(message.contains("Waited 60s (--lease-wait)"), "{message}");
    }

    #[test]
    fn renewals_come_three_times_per_ttl_within_bounds() {
        assert_eq!(
            poll_interval(Duration::from_secs(15)),
            Duration::from_secs(5)
        );
        assert_eq!(
            poll_interval(Duration::from_secs(3)),
            Duration::from_secs(1)
        );
        assert_eq!(
            poll_interval(Duration::from_secs(60)),
            Duration::from_secs(5)
        );
        assert_eq!(poll_interval(Duration::ZERO), Duration::from_millis(100));
    }
}
