//! The flaresync journal: a crash-safe, append-only record of every action (upload, deploy,
//! rollback, drift, blocked, ...), with who/what triggered it, and the `history` view joining
//! it with Cloudflare's versions and deployments. SQLite by default; PostgreSQL
//! (`postgres://…`) for replicas, with leases and fencing tokens ([`lease`]).

pub mod entry;
mod error;
pub mod history;
pub mod journal;
pub mod lease;
pub mod location;
pub mod postgres;
pub mod private;
mod queries;
mod sqlite;
mod store;
#[cfg(unix)]
pub mod test_postgres;

pub use entry::{Action, Entry, Outcome, Recorded, Trigger, TriggerKind};
pub use history::{
    DeploymentRecord, DeploymentRef, HistoryRow, HistoryView, VersionOrigin, VersionRecord,
    history_view, render_history,
};
pub use journal::{Journal, JournalError};
pub use location::JournalLocation;
pub use postgres::fleet::{Fleet, FleetView, PairLease};
pub use postgres::lease::{Acquired, Lease, LeaseError};
