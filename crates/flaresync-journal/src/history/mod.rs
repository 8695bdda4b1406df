//! The `history` view of one worker: commits ↔ versions ↔ deployments, built from the
//! journal plus what Cloudflare reports (its version list and deployments). Pure.
//!
//! A version is attributed to flaresync when the journal recorded its upload, or when its
//! `workers/tag` is a commit id (flaresync's stamp; the journal may have been lost). Versions
//! with no tag or another tool's tag are marked as uploaded outside flaresync.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::entry::Recorded;

mod render;
mod view;

pub use render::render_history;
pub use view::history_view;

/// One version as Cloudflare lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionRecord {
    pub id: String,
    pub number: Option<u64>,
    /// `annotations["workers/tag"]`.
    pub tag: Option<String>,
    /// `annotations["workers/message"]`.
    pub message: Option<String>,
    pub created_on: Option<DateTime<Utc>>,
    /// `metadata.source` (`wrangler`, `api`, `dash`, ...).
    pub source: Option<String>,
    /// `annotations["workers/triggered_by"]` (`upload`, `secret`, `rollback`, ...).
    pub triggered_by: Option<String>,
}

/// One deployment as Cloudflare lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentRecord {
    pub id: String,
    pub created_on: Option<DateTime<Utc>>,
    pub source: Option<String>,
    /// `(version_id, percentage)`.
    pub versions: Vec<(String, f64)>,
    pub message: Option<String>,
    pub triggered_by: Option<String>,
    pub author_email: Option<String>,
}

/// Who produced a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum VersionOrigin {
    /// The journal recorded flaresync uploading it from `commit`.
    Flaresync { commit: Option<String> },
    /// Not in the journal, but its tag names a commit (flaresync with lost state, or CI that
    /// stamps commit ids).
    CommitTag { commit: String },
    /// Uploaded outside flaresync with another tool's tag.
    ForeignTag { tag: String },
    /// Uploaded outside flaresync without a tag.
    Untagged,
    /// Only known from a deployment or the journal: not in the version list given.
    NotListed,
}

impl VersionOrigin {
    /// True if flaresync did not produce this version.
    pub fn is_outside_flaresync(&self) -> bool {
        matches!(
            self,
            VersionOrigin::ForeignTag { .. } | VersionOrigin::Untagged
        )
    }

    /// The commit the version was built from, when known.
    pub fn commit(&self) -> Option<&str> {
        match self {
            VersionOrigin::Flaresync { commit } => commit.as_deref(),
            VersionOrigin::CommitTag { commit } => Some(commit),
            _ => None,
        }
    }
}

/// A deployment that sent traffic to a version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentRef {
    pub id: String,
    pub created_on: Option<DateTime<Utc>>,
    pub percentage: f64,
    pub triggered_by: Option<String>,
    pub source: Option<String>,
    /// Who created the deployment (`author_email`), flaresync's or a hand-made one.
    #[serde(default)]
    pub author: Option<String>,
    /// Its `workers/message`.
    #[serde(default)]
    pub message: Option<String>,
}

/// One version with its commit, deployments and journal entries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryRow {
    pub version_id: String,
    pub number: Option<u64>,
    pub created_on: Option<DateTime<Utc>>,
    pub origin: VersionOrigin,
    pub message: Option<String>,
    pub source: Option<String>,
    pub triggered_by: Option<String>,
    /// Subject of the source commit, when filled in by [`HistoryView::with_commit_subjects`].
    pub commit_subject: Option<String>,
    /// Digest recorded with the upload in the journal.
    pub digest: Option<flaresync_config::Digest>,
    /// Deployments including this version, newest first.
    pub deployments: Vec<DeploymentRef>,
    /// Share of traffic in the newest deployment, if any.
    pub active_percentage: Option<f64>,
    /// Journal entries naming this version, oldest first.
    pub journal: Vec<Recorded>,
}

/// The history of one worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryView {
    pub worker: String,
    /// Newest first (by version number, then creation time).
    pub rows: Vec<HistoryRow>,
    /// Journal entries naming no version (blocked, drift, noop, rewritten history), oldest first.
    pub other_events: Vec<Recorded>,
}

impl HistoryView {
    /// Fills each row's commit subject from `subject_of(commit_id)` (e.g. a lookup in the
    /// config repository); commits it does not know keep `None`.
    pub fn with_commit_subjects(mut self, subject_of: impl Fn(&str) -> Option<String>) -> Self {
        for row in &mut self.rows {
            row.commit_subject = row.origin.commit().and_then(&subject_of);
        }
        self
    }
}
