//! A single-repository `run` waiting for its lease (a standby replica) still answers
//! `/healthz` and `/status` on its status address: the fleet's status server
//! ([`crate::fleet::status`]) shows the one entry and who owns it, read again every round, until
//! the lease is taken and the reconcile loop's own server takes the listener over.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use flaresync_reconcile::Context;
use tokio::net::TcpListener;

use crate::fleet::status::{self, EntryFacts};
use crate::lease::{Held, Wait};
use crate::settings::RepoSettings;

/// Takes the lease of `ctx`'s pair (waiting as long as it takes), serving the standby status on
/// `listener` meanwhile; returns the listener for the loop's server and the held lease.
pub async fn take_lease_serving(
    listener: TcpListener,
    ctx: &Context,
    repo: &RepoSettings,
    ttl: Duration,
) -> anyhow::Result<(TcpListener, Option<Held>)> {
    if !ctx.journal().has_leases() {
        return Ok((listener, None));
    }
    // The same socket twice: the standby server accepts on one handle until the lease is
    // held; the loop's server then accepts on the other (connections in between queue).
    let socket = listener.into_std()?;
    let serving = TcpListener::from_std(socket.try_clone()?)?;
    eprintln!(
        "flaresync: standby: /healthz and /status on http://{} while waiting for the lease",
        serving.local_addr()?
    );
    let lease_name = repo.lease_name();
    let account = ctx.client().account_id().to_owned();
    let observer = ctx
        .journal()
        .lease(&lease_name, &account, "standby-observer", ttl)?;
    let name = repo.display();
    let shared: status::Shared = Arc::new(RwLock::new(status::FleetStatus::default()));
    let server = tokio::spawn(status::serve(serving, shared.clone()));
    let observer = Arc::new(observer);
    let observe = tokio::spawn(async move {
        loop {
            let reader = observer.clone();
            if let Ok(Ok(row)) = tokio::task::spawn_blocking(move || reader.current()).await {
                let facts = EntryFacts {
                    name: name.clone(),
                    repository: lease_name.clone(),
                    account: account.clone(),
                    lease: row,
                    state: "standby",
                    error: None,
                    workers: None,
                };
                let view = status::view("", &[], ttl.as_secs(), 0, &[facts], chrono::Utc::now());
                *shared
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = view;
            }
            tokio::time::sleep(crate::lease::poll_interval(ttl)).await;
        }
    });
    let held = crate::lease::take(ctx, repo, ttl, Wait::Forever).await;
    observe.abort();
    server.abort();
    let _ = server.await;
    Ok((TcpListener::from_std(socket)?, held?))
}
