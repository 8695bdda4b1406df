//! `flaresync run --fleet fleet.toml`: one process serving many (repository, account) entries,
//! sharing them with the other replicas of the same PostgreSQL journal.
//!
//! Every round (a third of the lease TTL) the coordinator writes this replica's heartbeat,
//! reads the live replicas and every lease ([`flaresync_journal::Fleet`]), asks [`claims`]
//! which entries to take or give up, renews the leases it holds, and starts or stops each
//! entry's reconcile loop ([`entry`]) accordingly. A loop runs only while its lease is held;
//! its Cloudflare writes pass the lease's fencing check. The status server ([`status`]) runs
//! from the start, on standby replicas too.

pub mod claims;
pub mod entry;
pub mod file;
pub mod status;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use flaresync_journal::lease::{LeaseRow, scope_name};
use flaresync_journal::{Acquired, Fleet, FleetView, Journal, JournalLocation, Lease};
use flaresync_reconcile::status::{ConditionType, StatusBoard};
use tokio::task::JoinHandle;

use crate::cli::RunArgs;
use claims::{Claim, EntryLease};
use entry::Resolved;

/// How long a loop that failed to start waits before it is started again.
const RESTART_AFTER: Duration = Duration::from_secs(30);

/// One entry on this replica.
struct Slot {
    resolved: Resolved,
    key: String,
    lease: Arc<Lease>,
    running: Option<Running>,
    /// A loop told to stop, not yet finished; `true`: give the lease up once it has.
    stopping: Option<(Running, bool)>,
    error: Option<String>,
    restart_at: Option<tokio::time::Instant>,
}

/// A loop this replica runs for a slot.
struct Running {
    stop: tokio::sync::watch::Sender<bool>,
    task: JoinHandle<anyhow::Result<()>>,
    board: Arc<Mutex<Option<Arc<StatusBoard>>>>,
}

pub async fn run(args: RunArgs, path: PathBuf) -> anyhow::Result<u8> {
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read the fleet file {}", path.display()))?;
    let entries = file::parse(&path, &text)?;
    let journal = open_journal(&args)?;
    let replica = crate::lease::holder_id();
    let ttl = Duration::from_secs(args.lease.lease_ttl.max(1));
    let fleet = Arc::new(journal.fleet(&replica)?);
    let state_root = args.repo.state_dir.clone();
    let mut slots = Vec::new();
    for entry in entries {
        let resolved = Resolved::new(entry, &path, &args, state_root.as_ref());
        let lease = journal.lease(
            &resolved.lease_name,
            &resolved.entry.account_id,
            &replica,
            ttl,
        )?;
        slots.push(Slot {
            key: scope_name(&resolved.lease_name, &resolved.entry.account_id),
            resolved,
            lease: Arc::new(lease),
            running: None,
            stopping: None,
            error: None,
            restart_at: None,
        });
    }
    // Who this replica is, from the first answer on (before the first round's view).
    let shared: status::Shared = Arc::new(std::sync::RwLock::new(status::FleetStatus {
        replica: replica.clone(),
        lease_ttl_seconds: ttl.as_secs(),
        ..Default::default()
    }));
    let listener = crate::commands::run::bind(&args.status_listen).await?;
    eprintln!(
        "flaresync: fleet of {} entries from {} as replica {replica} (lease ttl {}s, journal {}); \
         /healthz and /status on http://{}",
        slots.len(),
        path.display(),
        ttl.as_secs(),
        journal.display(),
        listener.local_addr()?
    );
    let server = tokio::spawn(status::serve(listener, shared.clone()));
    let args = Arc::new(args);
    let shutdown = flaresync_reconcile::shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        round(&fleet, &mut slots, &args, ttl, &shared).await;
        tokio::select! {
            () = &mut shutdown => break,
            () = tokio::time::sleep(crate::lease::poll_interval(ttl)) => {}
        }
    }
    for slot in &mut slots {
        stop(slot, true);
    }
    for slot in &mut slots {
        finish(slot, true).await;
    }
    if let Err(error) = blocking(move || fleet.leave()).await {
        tracing::warn!("cannot remove this replica's heartbeat: {error:#}");
    }
    server.abort();
    Ok(0)
}

/// The fleet's journal: `--journal` / `FLARESYNC_JOURNAL_URL`, which must be PostgreSQL.
fn open_journal(args: &RunArgs) -> anyhow::Result<Journal> {
    let url = args.repo.journal.as_deref().unwrap_or("");
    let location = JournalLocation::postgres(url).ok_or_else(|| {
        anyhow!(
            "--fleet needs a PostgreSQL journal: set FLARESYNC_JOURNAL_URL (or --journal) to \
             postgres://…; replicas share their leases there"
        )
    })?;
    Journal::open_location(&location)
        .with_context(|| format!("cannot open the journal {}", location.display()))
}

/// One round: heartbeat, decide, renew, start and stop loops, publish the status.
async fn round(
    fleet: &Arc<Fleet>,
    slots: &mut [Slot],
    args: &Arc<RunArgs>,
    ttl: Duration,
    shared: &status::Shared,
) {
    reap(slots).await;
    let heartbeat = fleet.clone();
    let view = match blocking(move || heartbeat.heartbeat(ttl)).await {
        Ok(view) => view,
        Err(error) => {
            tracing::warn!("cannot reach the fleet's journal this round: {error:#}");
            return;
        }
    };
    let rows = rows_by_key(&view);
    let entries: Vec<EntryLease> = slots
        .iter()
        .map(|slot| EntryLease {
            key: slot.key.clone(),
            row: rows.get(&slot.key).cloned(),
        })
        .collect();
    let me = fleet.replica();
    let decided = claims::decide(me, &view.replicas, &entries, view.now);
    for (slot, entry) in slots.iter_mut().zip(&entries) {
        if slot.stopping.is_some() {
            continue;
        }
        let release = decided.contains(&Claim::Release(slot.key.clone()));
        let take = decided.contains(&Claim::Take(slot.key.clone()));
        if release {
            eprintln!(
                "flaresync: giving {} to another replica (fair share)",
                slot.resolved.entry.name
            );
            stop(slot, true);
        } else if take || claims::held_by(entry, me) || slot.running.is_some() {
            keep(slot, args).await;
        }
    }
    publish(shared, me, &view, ttl, slots, &rows);
}

/// The lease rows by their entry key.
fn rows_by_key(view: &FleetView) -> BTreeMap<String, LeaseRow> {
    view.leases
        .iter()
        .map(|pair| {
            (
                scope_name(&pair.repository, &pair.account),
                pair.row.clone(),
            )
        })
        .collect()
}

/// Takes or renews the slot's lease; starts its loop when held, stops it when lost.
async fn keep(slot: &mut Slot, args: &Arc<RunArgs>) {
    let lease = slot.lease.clone();
    match blocking(move || lease.acquire()).await {
        Ok(Acquired::Held { token }) => {
            let due = slot
                .restart_at
                .is_none_or(|at| at <= tokio::time::Instant::now());
            if slot.running.is_none() && slot.stopping.is_none() && due {
                eprintln!(
                    "flaresync: holding {} (fencing token {token}); starting its loop",
                    slot.resolved.entry.name
                );
                start(slot, args);
            }
        }
        Ok(Acquired::Busy { holder, .. }) => {
            if slot.running.is_some() {
                eprintln!(
                    "flaresync: lost {} to {holder}; stopping its loop",
                    slot.resolved.entry.name
                );
                stop(slot, false);
            }
        }
        // Unknown: the loop goes on; its writes are fenced if the lease is gone.
        Err(error) => tracing::warn!(
            "cannot renew the lease of {}: {error:#}",
            slot.resolved.entry.name
        ),
    }
}

fn start(slot: &mut Slot, args: &Arc<RunArgs>) {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let board = Arc::new(Mutex::new(None));
    let task = tokio::spawn(entry::serve(
        slot.resolved.clone(),
        args.clone(),
        slot.lease.clone(),
        board.clone(),
        stopped,
    ));
    slot.error = None;
    slot.running = Some(Running { stop, task, board });
}

/// Tells the slot's loop to stop (it finishes its pass first); [`finish`] gives the lease up
/// once it has, when `release` (a lost lease is not ours to release). Rounds never wait for
/// a loop: the other leases must be renewed meanwhile.
fn stop(slot: &mut Slot, release: bool) {
    if let Some(running) = slot.running.take() {
        let _ = running.stop.send(true);
        slot.stopping = Some((running, release));
    }
}

/// Waits for a stopping loop (bounded by the loop's own shutdown grace), then releases.
async fn finish(slot: &mut Slot, wait: bool) {
    let done = slot
        .stopping
        .as_ref()
        .is_some_and(|(running, _)| wait || running.task.is_finished());
    if !done {
        return;
    }
    let Some((running, release)) = slot.stopping.take() else {
        return;
    };
    match running.task.await {
        Ok(Err(error)) => slot.error = Some(format!("{error:#}")),
        Err(error) => slot.error = Some(format!("the loop's task failed: {error}")),
        Ok(Ok(())) => {}
    }
    if release && slot.lease.token().is_some() {
        let lease = slot.lease.clone();
        if let Err(error) = blocking(move || lease.release()).await {
            tracing::warn!(
                "cannot release the lease of {}: {error:#}",
                slot.resolved.entry.name
            );
        }
    }
}

/// Notes loops that ended on their own (a repository that cannot be opened, a missing
/// token): the lease is kept and the loop started again after [`RESTART_AFTER`].
async fn reap(slots: &mut [Slot]) {
    for slot in slots.iter_mut() {
        finish(slot, false).await;
        if slot
            .running
            .as_ref()
            .is_some_and(|running| running.task.is_finished())
            && let Some(running) = slot.running.take()
        {
            // Finished: the await returns at once.
            let error = match running.task.await {
                Ok(Err(error)) => format!("{error:#}"),
                Err(error) => format!("the loop's task failed: {error}"),
                Ok(Ok(())) => "the loop ended".to_owned(),
            };
            eprintln!(
                "flaresync: {}: {error}; trying again in {}s",
                slot.resolved.entry.name,
                RESTART_AFTER.as_secs()
            );
            slot.error = Some(error);
            slot.restart_at = Some(tokio::time::Instant::now() + RESTART_AFTER);
        }
    }
}

fn publish(
    shared: &status::Shared,
    me: &str,
    view: &FleetView,
    ttl: Duration,
    slots: &[Slot],
    rows: &BTreeMap<String, LeaseRow>,
) {
    let facts: Vec<status::EntryFacts> = slots
        .iter()
        .map(|slot| {
            let board = slot.running.as_ref().and_then(|running| {
                running
                    .board
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .clone()
            });
            let workers = board.map(|board| {
                let snapshot = board.snapshot();
                let in_sync = snapshot
                    .workers
                    .iter()
                    .filter(|w| w.condition(ConditionType::Ready).is_some_and(|c| c.status))
                    .count();
                (snapshot.workers.len(), in_sync)
            });
            let state = match &slot.running {
                None if slot.stopping.is_some() => "stopping",
                Some(_) if workers.is_some() => "running",
                Some(_) => "starting",
                None if slot.error.is_some() && claims_mine(rows, &slot.key, me) => "failed",
                None => "standby",
            };
            status::EntryFacts {
                name: slot.resolved.entry.name.clone(),
                repository: slot.resolved.lease_name.clone(),
                account: slot.resolved.entry.account_id.clone(),
                lease: rows.get(&slot.key).cloned(),
                state,
                error: slot.error.clone(),
                workers,
            }
        })
        .collect();
    let share = claims::share(me, &view.replicas, slots.len());
    let fresh = status::view(me, &view.replicas, ttl.as_secs(), share, &facts, view.now);
    *shared
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = fresh;
}

fn claims_mine(rows: &BTreeMap<String, LeaseRow>, key: &str, me: &str) -> bool {
    rows.get(key).is_some_and(|row| row.holder == me)
}

async fn blocking<T: Send + 'static>(
    job: impl FnOnce() -> Result<T, flaresync_journal::JournalError> + Send + 'static,
) -> anyhow::Result<T> {
    Ok(tokio::task::spawn_blocking(job).await??)
}
