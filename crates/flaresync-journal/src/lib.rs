//! The flaresync journal: a crash-safe, append-only SQLite record of every action (upload,
//! deploy, rollback, drift, blocked, ...), with who/what triggered it, and the `history` view
//! joining it with Cloudflare's versions and deployments.

pub mod entry;
pub mod history;
pub mod journal;
pub mod private;

pub use entry::{Action, Entry, Outcome, Recorded, Trigger, TriggerKind};
pub use history::{
    DeploymentRecord, DeploymentRef, HistoryRow, HistoryView, VersionOrigin, VersionRecord,
    history_view, render_history,
};
pub use journal::{Journal, JournalError};
