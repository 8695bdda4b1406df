//! The `history` view of one worker: commits ↔ versions ↔ deployments, built from the
//! journal plus what Cloudflare reports (its version list and deployments). Pure.
//!
//! A version is attributed to flaresync when the journal recorded its upload, or when its
//! `workers/tag` is a commit id (flaresync's stamp; the journal may have been lost). Versions
//! with no tag or another tool's tag are marked as uploaded outside flaresync.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::entry::{Action, Outcome, Recorded};

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
    pub digest: Option<String>,
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

/// Builds the view. `journal` should be the worker's entries (`Journal::history`); entries for
/// other workers are ignored. `versions` and `deployments` come from Cloudflare, any order.
pub fn history_view(
    worker: &str,
    journal: &[Recorded],
    versions: &[VersionRecord],
    deployments: &[DeploymentRecord],
) -> HistoryView {
    let journal: Vec<&Recorded> = journal
        .iter()
        .filter(|r| r.entry.worker == worker)
        .collect();
    let mut deployments: Vec<&DeploymentRecord> = deployments.iter().collect();
    deployments.sort_by_key(|d| std::cmp::Reverse(d.created_on));
    let newest_deployment = deployments.first().map(|d| d.id.clone());

    let mut listed: BTreeSet<&str> = BTreeSet::new();
    let mut rows: Vec<HistoryRow> = Vec::new();
    for version in versions {
        if !listed.insert(version.id.as_str()) {
            continue;
        }
        rows.push(HistoryRow {
            version_id: version.id.clone(),
            number: version.number,
            created_on: version.created_on,
            origin: VersionOrigin::NotListed,
            message: version.message.clone(),
            source: version.source.clone(),
            triggered_by: version.triggered_by.clone(),
            commit_subject: None,
            digest: None,
            deployments: Vec::new(),
            active_percentage: None,
            journal: Vec::new(),
        });
    }
    // Versions only known from deployments or the journal (older than the listed window).
    let unlisted: BTreeSet<String> = deployments
        .iter()
        .flat_map(|d| d.versions.iter().map(|(id, _)| id.clone()))
        .chain(journal.iter().filter_map(|r| r.entry.version_id.clone()))
        .filter(|id| !listed.contains(id.as_str()))
        .collect();
    for id in unlisted {
        rows.push(HistoryRow {
            version_id: id,
            number: None,
            created_on: None,
            origin: VersionOrigin::NotListed,
            message: None,
            source: None,
            triggered_by: None,
            commit_subject: None,
            digest: None,
            deployments: Vec::new(),
            active_percentage: None,
            journal: Vec::new(),
        });
    }

    let mut other_events = Vec::new();
    let index: BTreeMap<String, usize> = rows
        .iter()
        .enumerate()
        .map(|(i, row)| (row.version_id.clone(), i))
        .collect();
    for recorded in &journal {
        match recorded
            .entry
            .version_id
            .as_ref()
            .and_then(|id| index.get(id))
        {
            Some(&i) => rows[i].journal.push((*recorded).clone()),
            None => other_events.push((*recorded).clone()),
        }
    }
    for deployment in &deployments {
        for (version_id, percentage) in &deployment.versions {
            let Some(&i) = index.get(version_id) else {
                continue;
            };
            rows[i].deployments.push(DeploymentRef {
                id: deployment.id.clone(),
                created_on: deployment.created_on,
                percentage: *percentage,
                triggered_by: deployment.triggered_by.clone(),
                source: deployment.source.clone(),
            });
            if newest_deployment.as_deref() == Some(deployment.id.as_str()) {
                rows[i].active_percentage = Some(*percentage);
            }
        }
    }

    let tags: BTreeMap<&str, Option<&str>> = versions
        .iter()
        .map(|v| (v.id.as_str(), v.tag.as_deref()))
        .collect();
    for row in &mut rows {
        row.digest = row
            .journal
            .iter()
            .rev()
            .find_map(|r| r.entry.digest.clone());
        let tag = tags.get(row.version_id.as_str()).copied().flatten();
        let tagged_commit = tag
            .and_then(flaresync_config::stamp::parse_version_tag)
            .map(|c| c.to_string());
        // flaresync created the version: a successful upload, or a successful deploy of that
        // very commit (a script upload creates and deploys in one call). A rollback deploys an
        // existing version at a later head commit, so it never matches here.
        let upload = row.journal.iter().rev().find(|r| {
            r.entry.outcome == Outcome::Success
                && (r.entry.action == Action::Upload
                    || (r.entry.action == Action::Deploy
                        && r.entry.version_id.as_deref() == Some(row.version_id.as_str())
                        && match (&r.entry.commit, &tagged_commit) {
                            (Some(entry), Some(tagged)) => {
                                entry.starts_with(tagged.as_str())
                                    || tagged.starts_with(entry.as_str())
                            }
                            _ => false,
                        }))
        });
        row.origin = match (upload, tag, tagged_commit) {
            (Some(upload), _, tagged) => VersionOrigin::Flaresync {
                commit: upload.entry.commit.clone().or(tagged),
            },
            (None, _, Some(commit)) => VersionOrigin::CommitTag { commit },
            (None, Some(tag), None) if !tag.trim().is_empty() => VersionOrigin::ForeignTag {
                tag: tag.to_owned(),
            },
            (None, _, None) if listed.contains(row.version_id.as_str()) => VersionOrigin::Untagged,
            (None, _, None) => VersionOrigin::NotListed,
        };
    }

    rows.sort_by(|a, b| {
        b.number
            .cmp(&a.number)
            .then_with(|| b.created_on.cmp(&a.created_on))
            .then_with(|| a.version_id.cmp(&b.version_id))
    });
    HistoryView {
        worker: worker.to_owned(),
        rows,
        other_events,
    }
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

fn time(at: Option<DateTime<Utc>>) -> String {
    at.map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| "????-??-?? ??:??".into())
}

fn short(id: &str) -> &str {
    let mut end = id.len().min(8);
    while !id.is_char_boundary(end) {
        end -= 1;
    }
    &id[..end]
}

fn percentage(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}%")
    } else {
        format!("{value}%")
    }
}

fn origin_text(origin: &VersionOrigin, source: Option<&str>) -> String {
    let via = source.map(|s| format!(" via {s}")).unwrap_or_default();
    match origin {
        VersionOrigin::Flaresync {
            commit: Some(commit),
        } => format!("commit {} (flaresync)", short_commit(commit)),
        VersionOrigin::Flaresync { commit: None } => "flaresync (commit unknown)".into(),
        VersionOrigin::CommitTag { commit } => {
            format!("commit {} (tag; not in journal)", short_commit(commit))
        }
        VersionOrigin::ForeignTag { tag } => {
            format!("outside flaresync{via}, tag {tag:?}")
        }
        VersionOrigin::Untagged => format!("outside flaresync{via}, untagged"),
        VersionOrigin::NotListed => "not in the version list".into(),
    }
}

fn short_commit(commit: &str) -> &str {
    &commit[..commit.len().min(7)]
}

fn event_line(recorded: &Recorded) -> String {
    let entry = &recorded.entry;
    // "blocked skipped" reads oddly: a block is recorded with outcome `skipped`.
    let what = match (&entry.action, &entry.outcome) {
        (Action::Blocked, Outcome::Skipped) => "blocked (nothing applied)".to_owned(),
        (action, outcome) => format!("{} {}", action.as_str(), outcome.as_str()),
    };
    let mut line = format!("{}  {what} by {}", time(Some(entry.at)), entry.trigger);
    if let Some(commit) = &entry.commit {
        line.push_str(&format!(" at {}", short_commit(commit)));
    }
    if let Some(deployment) = &entry.deployment_id {
        line.push_str(&format!(" (deployment {})", short(deployment)));
    }
    if !entry.message.is_empty() {
        line.push_str(&format!(
            ": {}",
            entry.message.lines().next().unwrap_or_default()
        ));
    }
    line
}

/// Renders the view as plain text (no colour), newest first.
pub fn render_history(view: &HistoryView) -> String {
    let mut out = String::new();
    let outside = view
        .rows
        .iter()
        .filter(|r| r.origin.is_outside_flaresync())
        .count();
    out.push_str(&format!(
        "history of {}: {} version(s), {} uploaded outside flaresync\n",
        view.worker,
        view.rows.len(),
        outside
    ));
    for row in &view.rows {
        out.push('\n');
        let number = row
            .number
            .map(|n| format!("#{n}"))
            .unwrap_or_else(|| "#?".into());
        let active = row
            .active_percentage
            .map(|p| format!("  [live {}]", percentage(p)))
            .unwrap_or_default();
        out.push_str(&format!(
            "{number:<5} {}  {}  {}{active}\n",
            short(&row.version_id),
            time(row.created_on),
            origin_text(&row.origin, row.source.as_deref()),
        ));
        if let Some(subject) = &row.commit_subject {
            out.push_str(&format!("      commit    {subject}\n"));
        }
        if let Some(message) = row.message.as_deref().filter(|m| !m.is_empty()) {
            out.push_str(&format!("      message   {message}\n"));
        }
        if let Some(triggered_by) = row.triggered_by.as_deref().filter(|t| *t != "upload") {
            out.push_str(&format!("      created by {triggered_by}\n"));
        }
        for deployment in &row.deployments {
            let by = deployment
                .triggered_by
                .as_deref()
                .map(|t| format!(" ({t})"))
                .unwrap_or_default();
            out.push_str(&format!(
                "      deployed  {}  {} in deployment {}{by}\n",
                time(deployment.created_on),
                percentage(deployment.percentage),
                short(&deployment.id),
            ));
        }
        for recorded in &row.journal {
            out.push_str(&format!("      journal   {}\n", event_line(recorded)));
        }
    }
    if !view.other_events.is_empty() {
        out.push_str("\nother events\n");
        for recorded in &view.other_events {
            out.push_str(&format!("      {}\n", event_line(recorded)));
        }
    }
    out
}
