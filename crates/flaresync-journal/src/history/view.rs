//! Building the history view: one row per version (listed by Cloudflare, or only named by a
//! deployment or the journal), with its journal entries, deployments and origin attached.

use std::collections::{BTreeMap, BTreeSet};

use flaresync_config::stamp::parse_version_tag;

use super::{
    DeploymentRecord, DeploymentRef, HistoryRow, HistoryView, VersionOrigin, VersionRecord,
};
use crate::entry::{Action, Outcome, Recorded};

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

    let listed: BTreeSet<&str> = versions.iter().map(|v| v.id.as_str()).collect();
    let mut rows = listed_rows(versions);
    rows.extend(unlisted_rows(&listed, &deployments, &journal));
    let index: BTreeMap<String, usize> = rows
        .iter()
        .enumerate()
        .map(|(i, row)| (row.version_id.clone(), i))
        .collect();
    let other_events = attach_journal(&mut rows, &index, &journal);
    attach_deployments(&mut rows, &index, &deployments);

    let tags: BTreeMap<&str, Option<&str>> = versions
        .iter()
        .map(|v| (v.id.as_str(), v.tag.as_deref()))
        .collect();
    for row in &mut rows {
        let tag = tags.get(row.version_id.as_str()).copied().flatten();
        let listed = listed.contains(row.version_id.as_str());
        attribute(row, tag, listed);
    }
    sort_newest_first(&mut rows);
    HistoryView {
        worker: worker.to_owned(),
        rows,
        other_events,
    }
}

/// A row for `version_id` with nothing known about it yet.
fn empty_row(version_id: String) -> HistoryRow {
    HistoryRow {
        version_id,
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
    }
}

/// One row per listed version, in list order; a version listed twice keeps its first record.
fn listed_rows(versions: &[VersionRecord]) -> Vec<HistoryRow> {
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    versions
        .iter()
        .filter(|version| seen.insert(version.id.as_str()))
        .map(|version| HistoryRow {
            number: version.number,
            created_on: version.created_on,
            message: version.message.clone(),
            source: version.source.clone(),
            triggered_by: version.triggered_by.clone(),
            ..empty_row(version.id.clone())
        })
        .collect()
}

/// Rows for versions only known from deployments or the journal (older than the listed
/// window), in id order.
fn unlisted_rows(
    listed: &BTreeSet<&str>,
    deployments: &[&DeploymentRecord],
    journal: &[&Recorded],
) -> Vec<HistoryRow> {
    let unlisted: BTreeSet<String> = deployments
        .iter()
        .flat_map(|d| d.versions.iter().map(|(id, _)| id.clone()))
        .chain(journal.iter().filter_map(|r| r.entry.version_id.clone()))
        .filter(|id| !listed.contains(id.as_str()))
        .collect();
    unlisted.into_iter().map(empty_row).collect()
}

/// Puts each journal entry on the row of the version it names, in journal order, and returns
/// the entries that name no version.
fn attach_journal(
    rows: &mut [HistoryRow],
    index: &BTreeMap<String, usize>,
    journal: &[&Recorded],
) -> Vec<Recorded> {
    let mut other_events = Vec::new();
    for recorded in journal {
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
    other_events
}

/// Adds every deployment (newest first) to the rows of the versions it serves; the newest
/// deployment also sets their live percentage.
fn attach_deployments(
    rows: &mut [HistoryRow],
    index: &BTreeMap<String, usize>,
    deployments: &[&DeploymentRecord],
) {
    let newest_deployment = deployments.first().map(|d| d.id.clone());
    for deployment in deployments {
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
                author: deployment.author_email.clone(),
                message: deployment.message.clone(),
            });
            if newest_deployment.as_deref() == Some(deployment.id.as_str()) {
                rows[i].active_percentage = Some(*percentage);
            }
        }
    }
}

/// Sets the row's digest (the newest one its journal entries recorded) and its origin, from
/// its journal entries and `tag`, the version's `workers/tag`.
fn attribute(row: &mut HistoryRow, tag: Option<&str>, listed: bool) {
    row.digest = row
        .journal
        .iter()
        .rev()
        .find_map(|r| r.entry.digest.clone());
    let tagged_commit = tag.and_then(parse_version_tag).map(|c| c.to_string());
    let uploaded_from = creating_entry(&row.journal, &row.version_id, tagged_commit.as_deref())
        .map(|upload| upload.entry.commit.clone());
    row.origin = origin(uploaded_from, tag, tagged_commit, listed);
}

/// The newest journal entry saying flaresync created the version: a successful upload, or a
/// successful deploy of that very version and commit (a script upload creates and deploys in
/// one call). A rollback deploys an existing version at a later head commit, so it never
/// matches here.
fn creating_entry<'a>(
    journal: &'a [Recorded],
    version_id: &str,
    tagged_commit: Option<&str>,
) -> Option<&'a Recorded> {
    journal.iter().rev().find(|r| {
        r.entry.outcome == Outcome::Success
            && (r.entry.action == Action::Upload
                || (r.entry.action == Action::Deploy
                    && r.entry.version_id.as_deref() == Some(version_id)
                    && same_commit(r.entry.commit.as_deref(), tagged_commit)))
    })
}

/// True when both commit ids are known and one is a prefix of the other.
fn same_commit(entry: Option<&str>, tagged: Option<&str>) -> bool {
    match (entry, tagged) {
        (Some(entry), Some(tagged)) => entry.starts_with(tagged) || tagged.starts_with(entry),
        _ => false,
    }
}

/// Who produced a version. `uploaded_from` is `Some(commit of the entry)` when the journal says
/// flaresync created it; `tagged_commit` is the commit its tag names, if any; `listed` says
/// whether Cloudflare's version list holds it.
fn origin(
    uploaded_from: Option<Option<String>>,
    tag: Option<&str>,
    tagged_commit: Option<String>,
    listed: bool,
) -> VersionOrigin {
    match (uploaded_from, tag, tagged_commit) {
        (Some(commit), _, tagged) => VersionOrigin::Flaresync {
            commit: commit.or(tagged),
        },
        (None, _, Some(commit)) => VersionOrigin::CommitTag { commit },
        (None, Some(tag), None) if !tag.trim().is_empty() => VersionOrigin::ForeignTag {
            tag: tag.to_owned(),
        },
        (None, _, None) if listed => VersionOrigin::Untagged,
        (None, _, None) => VersionOrigin::NotListed,
    }
}

/// Newest first: by version number, then creation time, then id.
fn sort_newest_first(rows: &mut [HistoryRow]) {
    rows.sort_by(|a, b| {
        b.number
            .cmp(&a.number)
            .then_with(|| b.created_on.cmp(&a.created_on))
            .then_with(|| a.version_id.cmp(&b.version_id))
    });
}
