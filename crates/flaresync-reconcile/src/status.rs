//! The status the loop publishes per Worker (served as JSON on `/status`).
//!
//! Modeled on Flux: `last_attempted_commit` is set before applying, `last_applied_commit` only
//! after verification (and the health check) passed. Conditions `Ready`, `Reconciling` and
//! `Stalled` are always present; the negative-polarity conditions `Drifted`,
//! `RollbackBlocked` and `HealthCheckFailed` are present only while true. A condition keeps its
//! `last_transition_time` while its status does not change.

use std::{
    collections::{BTreeMap, VecDeque},
    sync::RwLock,
};

use serde::Serialize;

/// How many history entries are kept per Worker.
const HISTORY_LEN: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, PartialOrd, Ord)]
pub enum ConditionType {
    Ready,
    Reconciling,
    Stalled,
    Drifted,
    RollbackBlocked,
    HealthCheckFailed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Condition {
    #[serde(rename = "type")]
    pub kind: ConditionType,
    pub status: bool,
    /// A stable CamelCase reason (`Succeeded`, `Progressing`, a [`crate::Reason`] code).
    pub reason: String,
    pub message: String,
    /// RFC 3339.
    pub last_transition_time: String,
}

/// A deployment made outside flaresync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DriftStatus {
    /// Version ids flaresync last applied (from the journal).
    pub expected_versions: Vec<String>,
    /// Version ids of the active deployment.
    pub actual_versions: Vec<String>,
    /// Commits the actual versions were built from, when their tags say so.
    pub actual_commits: Vec<Option<String>>,
    /// `report` or `heal`.
    pub policy: String,
    pub healed: bool,
}

/// One rule that blocks a Worker's change (a rollback, mostly): its id, why and the fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlockedRule {
    /// Rule id, e.g. `FS002` (`flaresync explain FS002`).
    pub rule: String,
    pub message: String,
    /// What to do instead, when the rule knows.
    pub fix: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthStatus {
    pub url: String,
    pub passed: bool,
    pub message: String,
    /// The commit that failed the check and was rolled back, if any.
    pub rejected_commit: Option<String>,
    /// RFC 3339.
    pub checked_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastResult {
    /// `in_sync`, `applied`, `planned`, `skipped`, `error` (same words as the metric label).
    pub result: String,
    pub reason: Option<String>,
    pub message: String,
    /// RFC 3339.
    pub at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryEntry {
    pub commit: Option<String>,
    pub version: Option<String>,
    pub action: String,
    pub result: String,
    pub at: String,
    /// The journal's detail (why blocked, the error), for entries read from the journal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Everything `/status` shows about one Worker.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WorkerStatus {
    pub worker: String,
    /// The commit whose content Git wants live (the last commit that changed this Worker).
    pub desired_commit: Option<String>,
    pub last_attempted_commit: Option<String>,
    pub last_applied_commit: Option<String>,
    /// The version serving 100% (or the first of a split) right now.
    pub live_version: Option<String>,
    /// The commit `live_version` was built from (from its version tag), when known.
    pub live_commit: Option<String>,
    /// Every version the active deployment serves, largest share first, with its commit and
    /// `workers/message` (subject and author).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub live_split: Vec<crate::live_view::LiveShare>,
    /// Cloudflare's newest deployments, flaresync's and hand-made, as the last pass saw them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deployments: Vec<crate::live_view::ObservedDeployment>,
    pub drift: Option<DriftStatus>,
    /// The rules blocking the desired commit, while it is blocked.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blocked: Vec<BlockedRule>,
    pub health: Option<HealthStatus>,
    pub last_result: Option<LastResult>,
    pub conditions: Vec<Condition>,
    pub history: VecDeque<HistoryEntry>,
    /// The Worker's progressive rollout (phase, step, weight, last analysis), once it had one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollout: Option<crate::rollout::RolloutReport>,
}

impl WorkerStatus {
    pub fn new(worker: &str) -> Self {
        WorkerStatus {
            worker: worker.to_owned(),
            ..WorkerStatus::default()
        }
    }

    /// Sets a condition, keeping the transition time when the status is unchanged.
    pub fn set_condition(
        &mut self,
        kind: ConditionType,
        status: bool,
        reason: &str,
        message: &str,
        now: &str,
    ) {
        match self.conditions.iter_mut().find(|c| c.kind == kind) {
            Some(existing) => {
                if existing.status != status {
                    existing.last_transition_time = now.to_owned();
                }
                existing.status = status;
                existing.reason = reason.to_owned();
                existing.message = message.to_owned();
            }
            None => self.conditions.push(Condition {
                kind,
                status,
                reason: reason.to_owned(),
                message: message.to_owned(),
                last_transition_time: now.to_owned(),
            }),
        }
        self.conditions.sort_by_key(|c| c.kind);
    }

    /// Removes a negative-polarity condition (they are present only while true).
    pub fn clear_condition(&mut self, kind: ConditionType) {
        self.conditions.retain(|c| c.kind != kind);
    }

    pub fn condition(&self, kind: ConditionType) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.kind == kind)
    }

    pub fn push_history(&mut self, entry: HistoryEntry) {
        self.history.push_front(entry);
        self.history.truncate(HISTORY_LEN);
    }
}

/// The whole `/status` document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StatusSnapshot {
    pub branch: Option<String>,
    /// Branch head seen by the last pass.
    pub head_commit: Option<String>,
    pub last_pass_at: Option<String>,
    pub passes: u64,
    /// Why the last pass failed as a whole (repository or scripts listing unreadable); `None`
    /// after a pass that completed.
    pub last_error: Option<LastResult>,
    pub workers: Vec<WorkerStatus>,
    /// Notification sinks (see [`crate::notify`]), when any is configured.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notifications: Vec<SinkStatus>,
}

/// One notification sink's deliveries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SinkStatus {
    /// `webhook`, `slack` or `github`.
    pub sink: String,
    /// Where it sends, masked (scheme and host only: webhook URLs carry their secrets).
    pub target: String,
    pub delivered: u64,
    /// Events given up after their retries.
    pub failed: u64,
    /// Failed attempts that were retried.
    pub retries: u64,
    /// Events dropped because the sink's queue was full.
    pub dropped: u64,
    pub last_delivered_at: Option<String>,
    pub last_error: Option<SinkError>,
}

/// The last event a sink gave up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SinkError {
    /// What came back (status and message) or why nothing did, never the URL.
    pub message: String,
    pub event: String,
    pub worker: String,
    pub at: String,
}

/// Shared, concurrently readable status.
#[derive(Debug, Default)]
pub struct StatusBoard {
    inner: RwLock<(StatusSnapshot, BTreeMap<String, WorkerStatus>)>,
}

impl StatusBoard {
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies `update` to the status of `worker` (created on first use).
    pub fn update<R>(&self, worker: &str, update: impl FnOnce(&mut WorkerStatus) -> R) -> R {
        let mut guard = self
            .inner
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let status = guard
            .1
            .entry(worker.to_owned())
            .or_insert_with(|| WorkerStatus::new(worker));
        update(status)
    }

    /// Records the end of a pass.
    pub fn record_pass(&self, branch: &str, head_commit: Option<&str>, now: &str) {
        let mut guard = self
            .inner
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        guard.0.branch = Some(branch.to_owned());
        guard.0.head_commit = head_commit.map(str::to_owned);
        guard.0.last_pass_at = Some(now.to_owned());
        guard.0.passes += 1;
        guard.0.last_error = None;
    }

    /// Records a pass that failed as a whole.
    pub fn record_pass_error(&self, reason: &str, message: &str, now: &str) {
        let mut guard = self
            .inner
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        guard.0.last_error = Some(LastResult {
            result: "error".into(),
            reason: Some(reason.to_owned()),
            message: message.to_owned(),
            at: now.to_owned(),
        });
    }

    /// Applies `update` to the status of notification sink `sink` (created on first use).
    pub fn update_notification(&self, sink: &str, update: impl FnOnce(&mut SinkStatus)) {
        let mut guard = self
            .inner
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let sinks = &mut guard.0.notifications;
        let index = match sinks.iter().position(|s| s.sink == sink) {
            Some(index) => index,
            None => {
                sinks.push(SinkStatus {
                    sink: sink.to_owned(),
                    ..SinkStatus::default()
                });
                sinks.len() - 1
            }
        };
        update(&mut sinks[index]);
    }

    /// Drops Workers that no longer exist in Git (and were not seen live).
    pub fn retain_workers(&self, keep: impl Fn(&str) -> bool) {
        let mut guard = self
            .inner
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        guard.1.retain(|name, _| keep(name));
    }

    pub fn worker(&self, worker: &str) -> Option<WorkerStatus> {
        let guard = self
            .inner
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        guard.1.get(worker).cloned()
    }

    pub fn snapshot(&self) -> StatusSnapshot {
        let guard = self
            .inner
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut snapshot = guard.0.clone();
        snapshot.workers = guard.1.values().cloned().collect();
        snapshot
    }
}

/// Current time as RFC 3339 (seconds precision, UTC).
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn condition_transition_time_changes_only_when_status_flips() {
        let mut status = WorkerStatus::new("api");
        status.set_condition(ConditionType::Ready, false, "Progressing", "", "t1");
        status.set_condition(ConditionType::Ready, false, "Progressing", "again", "t2");
        assert_eq!(
            status
                .condition(ConditionType::Ready)
                .map(|c| c.last_transition_time.as_str()),
            Some("t1")
        );
        status.set_condition(ConditionType::Ready, true, "Succeeded", "", "t3");
        let ready = status.condition(ConditionType::Ready).cloned();
        assert_eq!(
            ready.as_ref().map(|c| c.last_transition_time.as_str()),
            Some("t3")
        );
        assert_eq!(ready.map(|c| c.reason), Some("Succeeded".to_owned()));
        status.set_condition(ConditionType::Drifted, true, "DriftDetected", "", "t3");
        status.clear_condition(ConditionType::Drifted);
        assert!(status.condition(ConditionType::Drifted).is_none());
    }

    #[test]
    fn history_keeps_the_newest_entries() {
        let mut status = WorkerStatus::new("api");
        for index in 0..15 {
            status.push_history(HistoryEntry {
                commit: Some(format!("c{index}")),
                version: None,
                action: "deploy".into(),
                result: "applied".into(),
                at: String::new(),
                message: None,
            });
        }
        assert_eq!(status.history.len(), HISTORY_LEN);
        assert_eq!(status.history[0].commit.as_deref(), Some("c14"));
    }

    #[test]
    fn board_snapshot_lists_workers_sorted_with_pass_info() {
        let board = StatusBoard::new();
        board.update("web", |s| s.live_version = Some("v2".into()));
        board.update("api", |s| s.live_version = Some("v1".into()));
        board.record_pass("main", Some("abc"), "t");
        let snapshot = board.snapshot();
        let names: Vec<_> = snapshot.workers.iter().map(|w| w.worker.as_str()).collect();
        assert_eq!(names, ["api", "web"]);
        assert_eq!(snapshot.passes, 1);
        board.record_pass_error("GitFetchFailed", "remote unreachable", "t2");
        assert_eq!(
            board.snapshot().last_error.and_then(|e| e.reason),
            Some("GitFetchFailed".to_owned())
        );
        board.record_pass("main", Some("abc"), "t3");
        assert!(board.snapshot().last_error.is_none());
        board.retain_workers(|name| name == "api");
        assert_eq!(board.snapshot().workers.len(), 1);
        let json = serde_json::to_value(board.snapshot()).expect("serializes");
        assert_eq!(json["workers"][0]["live_version"], "v1");
    }
}
