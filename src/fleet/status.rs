//! The fleet's `/status` (who owns which entry) and `/healthz`, served by every replica, the
//! standby ones too. The view is built by [`view`] (pure) from the coordinator's last round;
//! the server only reads it.

use std::sync::{Arc, RwLock};

use axum::{Json, Router, extract::State, routing::get};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// `GET /status` of a fleet replica (the shape is documented in README "Running as replicas").
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct FleetStatus {
    /// This replica's name (its name as a lease holder).
    pub replica: String,
    /// Replicas whose heartbeat is live, sorted (this one included).
    pub replicas: Vec<String>,
    pub lease_ttl_seconds: u64,
    /// How many entries this replica should hold (the fair share).
    pub share: usize,
    pub entries: Vec<EntryStatus>,
}

/// One entry: who owns it and, on its owner, how its loop is doing.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct EntryStatus {
    pub name: String,
    /// The lease's repository name (a URL without credentials, or a path).
    pub repository: String,
    pub account: String,
    /// The lease holder (a replica), while its lease is live.
    pub owner: Option<String>,
    /// The fencing token of the last lease taken on the entry.
    pub token: Option<i64>,
    /// When the owner's lease runs out unless renewed (RFC 3339).
    pub expires_at: Option<String>,
    /// Whether this replica owns it.
    pub mine: bool,
    /// On this replica: `running`, `starting`, `stopping` (given up or lost, its pass
    /// finishing), `failed` (see `error`) or `standby` (another replica owns it, or nobody yet).
    pub state: String,
    /// Why its loop is not running here (`failed`), without secrets.
    pub error: Option<String>,
    /// On the owner: Workers the loop knows and how many of them are in sync.
    pub workers: Option<usize>,
    pub in_sync: Option<usize>,
}

/// One entry as the coordinator knows it, for [`view`].
#[derive(Debug, Clone)]
pub struct EntryFacts {
    pub name: String,
    pub repository: String,
    pub account: String,
    pub lease: Option<flaresync_journal::lease::LeaseRow>,
    pub state: &'static str,
    pub error: Option<String>,
    /// (workers, in sync) from the entry's status board, on the owner.
    pub workers: Option<(usize, usize)>,
}

/// The status of `replica` from its last look at the fleet (pure).
pub fn view(
    replica: &str,
    replicas: &[String],
    ttl_seconds: u64,
    share: usize,
    entries: &[EntryFacts],
    now: DateTime<Utc>,
) -> FleetStatus {
    let entries = entries
        .iter()
        .map(|facts| {
            let live = facts.lease.as_ref().filter(|row| row.expires_at > now);
            EntryStatus {
                name: facts.name.clone(),
                repository: facts.repository.clone(),
                account: facts.account.clone(),
                owner: live.map(|row| row.holder.clone()),
                token: facts.lease.as_ref().map(|row| row.token),
                expires_at: live.map(|row| {
                    row.expires_at
                        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                }),
                mine: live.is_some_and(|row| row.holder == replica),
                state: facts.state.to_owned(),
                error: facts.error.clone(),
                workers: facts.workers.map(|(all, _)| all),
                in_sync: facts.workers.map(|(_, in_sync)| in_sync),
            }
        })
        .collect();
    FleetStatus {
        replica: replica.to_owned(),
        replicas: replicas.to_vec(),
        lease_ttl_seconds: ttl_seconds,
        share,
        entries,
    }
}

/// What the server reads.
pub type Shared = Arc<RwLock<FleetStatus>>;

/// Serves `/healthz` and `/status` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, shared: Shared) -> std::io::Result<()> {
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/status", get(status))
        .with_state(shared);
    axum::serve(listener, app).await
}

async fn status(State(shared): State<Shared>) -> Json<FleetStatus> {
    Json(
        shared
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone(),
    )
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;
    use flaresync_journal::lease::LeaseRow;

    use super::*;

    fn at(second: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 3, 20, 0, second)
            .single()
            .expect("time")
    }

    fn facts(name: &str, lease: Option<LeaseRow>, state: &'static str) -> EntryFacts {
        EntryFacts {
            name: name.into(),
            repository: format!("/srv/{name}"),
            account: "f1a2".into(),
            lease,
            state,
            error: None,
            workers: None,
        }
    }

    #[test]
    fn the_owner_token_and_expiry_show_while_the_lease_is_live() {
        let row = |holder: &str, expires| LeaseRow {
            holder: holder.into(),
            token: 7,
            expires_at: at(expires),
        };
        let entries = [
            facts("shop", Some(row("r1", 20)), "running"),
            facts("blog", Some(row("r2", 20)), "standby"),
            facts("docs", Some(row("r3", 5)), "standby"),
            facts("wiki", None, "standby"),
        ];
        let status = view("r1", &["r1".into(), "r2".into()], 3, 2, &entries, at(10));
        let shop = &status.entries[0];
        assert_eq!(shop.owner.as_deref(), Some("r1"));
        assert!(shop.mine);
        assert_eq!(shop.token, Some(7));
        assert_eq!(shop.expires_at.as_deref(), Some("2026-12-03T20:00:20.000Z"));
        assert!(!status.entries[1].mine);
        // An expired lease has no owner, but its token is still the last one given.
        assert_eq!(status.entries[2].owner, None);
        assert_eq!(status.entries[2].token, Some(7));
        assert_eq!(status.entries[3].token, None);
        let json = serde_json::to_value(&status).expect("json");
        assert_eq!(json["entries"][0]["owner"], "r1");
        assert_eq!(json["lease_ttl_seconds"], 3);
    }
}
