//! A Worker's deployment timeline (pure): Cloudflare's deployments as the last pass observed
//! them (flaresync's and hand-made) merged with flaresync's own journal entries, newest first.
//! A journal entry whose version a flaresync deployment on Cloudflare already shows is left
//! out; the others (writes Cloudflare no longer lists, failures) stay.

use crate::{live_view::LiveShare, status::WorkerStatus};

/// Who made a timeline entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    Flaresync,
    ByHand,
}

/// One row of the timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Row<'a> {
    pub at: &'a str,
    pub actor: Actor,
    /// `cloudflare` or `journal`: where the row was read.
    pub source: &'static str,
    /// The deployment's trigger (`upload`, `rollback`, `wrangler`, ...) or the journal action.
    pub what: Option<&'a str>,
    pub author: Option<&'a str>,
    pub message: Option<&'a str>,
    /// `(version, share, commit)`; the share is `None` for journal rows.
    pub versions: Vec<(&'a str, Option<f64>, Option<&'a str>)>,
    /// The journal's result (`applied`, `error`, ...).
    pub result: Option<&'a str>,
}

/// The timeline of `worker`, newest first.
pub fn timeline(worker: &WorkerStatus) -> Vec<Row<'_>> {
    let mut rows: Vec<Row<'_>> = worker
        .deployments
        .iter()
        .map(|deployment| Row {
            at: &deployment.created_on,
            actor: if deployment.by_flaresync {
                Actor::Flaresync
            } else {
                Actor::ByHand
            },
            source: "cloudflare",
            what: deployment.trigger.as_deref(),
            author: deployment.author.as_deref(),
            message: deployment.message.as_deref(),
            versions: deployment.versions.iter().map(share).collect(),
            result: None,
        })
        .collect();
    let shown = |version: &str| {
        worker
            .deployments
            .iter()
            .filter(|d| d.by_flaresync)
            .any(|d| d.versions.iter().any(|v| v.version == version))
    };
    for entry in &worker.history {
        if entry.version.as_deref().is_some_and(shown) {
            continue;
        }
        rows.push(Row {
            at: &entry.at,
            actor: Actor::Flaresync,
            source: "journal",
            what: Some(&entry.action),
            author: None,
            message: entry.message.as_deref(),
            versions: entry
                .version
                .as_deref()
                .map(|v| vec![(v, None, entry.commit.as_deref())])
                .unwrap_or_default(),
            result: Some(&entry.result),
        });
    }
    // Stable: rows at the same time keep Cloudflare's order, then the journal's.
    rows.sort_by_key(|row| std::cmp::Reverse(instant(row.at)));
    rows
}

fn share(share: &LiveShare) -> (&str, Option<f64>, Option<&str>) {
    (
        share.version.as_str(),
        Some(share.percentage),
        share.commit.as_deref(),
    )
}

/// Sort key: the instant, when the text is RFC 3339 (unparsable times sort last).
fn instant(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|at| at.with_timezone(&chrono::Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{live_view::ObservedDeployment, status::HistoryEntry};

    fn deployment(at: &str, by_flaresync: bool, version: &str) -> ObservedDeployment {
        ObservedDeployment {
            id: format!("d-{at}"),
            created_on: at.into(),
            by_flaresync,
            author: Some("ada@example.com".into()),
            message: None,
            trigger: Some("deployment".into()),
            versions: vec![LiveShare {
                version: version.into(),
                percentage: 100.0,
                number: None,
                commit: Some(format!("commit-of-{version}")),
                message: None,
            }],
        }
    }

    fn entry(at: &str, version: Option<&str>, result: &str) -> HistoryEntry {
        HistoryEntry {
            commit: Some("c".into()),
            version: version.map(str::to_owned),
            action: "deploy".into(),
            result: result.into(),
            at: at.into(),
            message: None,
        }
    }

    #[test]
    fn merges_cloudflare_and_the_journal_newest_first() {
        let mut worker = WorkerStatus::new("api");
        worker.deployments = vec![
            deployment("2026-01-03T00:00:00.250Z", false, "v1"),
            deployment("2026-01-02T00:00:00Z", true, "v2"),
            deployment("2026-01-01T00:00:00Z", true, "v1"),
        ];
        // v2's journal entry is shown by Cloudflare's row; v0 left Cloudflare's list.
        worker
            .history
            .push_back(entry("2026-01-02T00:00:01Z", Some("v2"), "applied"));
        worker
            .history
            .push_back(entry("2026-01-02T12:00:00+00:00", Some("v0"), "applied"));
        worker.history.push_back(entry("not a time", None, "error"));
        let rows = timeline(&worker);
        let summary: Vec<(&str, Actor, &str)> =
            rows.iter().map(|r| (r.at, r.actor, r.source)).collect();
        assert_eq!(
            summary,
            [
                ("2026-01-03T00:00:00.250Z", Actor::ByHand, "cloudflare"),
                ("2026-01-02T12:00:00+00:00", Actor::Flaresync, "journal"),
                ("2026-01-02T00:00:00Z", Actor::Flaresync, "cloudflare"),
                ("2026-01-01T00:00:00Z", Actor::Flaresync, "cloudflare"),
                ("not a time", Actor::Flaresync, "journal"),
            ]
        );
        assert_eq!(
            rows[0].versions,
            [("v1", Some(100.0), Some("commit-of-v1"))]
        );
        assert_eq!(rows[1].versions, [("v0", None, Some("c"))]);
        assert_eq!(rows[4].result, Some("error"));
    }

    #[test]
    fn a_worker_never_observed_has_an_empty_timeline() {
        assert!(timeline(&WorkerStatus::new("new")).is_empty());
    }
}
