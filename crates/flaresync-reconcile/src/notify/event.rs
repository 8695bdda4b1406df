//! What a pass tells the outside world: events derived from its report, with no I/O.
//!
//! One-shot happenings (a deploy, a rollback, a failed health check, an abort) are in the
//! report exactly once, in the pass that wrote. Standing states (a blocked Worker, drift held
//! under `report`) are in every report until someone acts: they are announced on the
//! transition only, by comparing each event's key with the keys of the previous pass.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::{
    health::HealthOutcome,
    pass::{SyncReport, WorkerOutcome, WorkerReport},
    rollout::{Phase, RolloutReport, Verdict},
};

/// What happened to a Worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A new version (or settings) went live, or a rollout step / completion.
    Deploy,
    /// An existing, older version went live again (a `git revert`).
    Rollback,
    /// The plan refused the change (a rollback rule, a broken config, a rejected commit).
    Blocked,
    /// The active deployment is not what flaresync applied (a hand change).
    Drift,
    /// The health check after a deploy failed; the previous version serves again.
    HealthFailed,
    /// A rollout's analysis failed without aborting it (yet).
    AnalysisFailed,
    /// A rollout was aborted: its Workers went back to their previous versions.
    RolloutAborted,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Deploy => "deploy",
            EventKind::Rollback => "rollback",
            EventKind::Blocked => "blocked",
            EventKind::Drift => "drift",
            EventKind::HealthFailed => "health_failed",
            EventKind::AnalysisFailed => "analysis_failed",
            EventKind::RolloutAborted => "rollout_aborted",
        }
    }
}

/// Where the Worker stands after the event (GitHub's deployment states).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventState {
    Success,
    InProgress,
    Failure,
}

/// The documented payload of a notification (the generic webhook's JSON body).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// `deploy`, `rollback`, `blocked`, `drift`, `health_failed`, `analysis_failed`,
    /// `rollout_aborted`.
    pub kind: EventKind,
    pub state: EventState,
    /// Cloudflare script name.
    pub worker: String,
    pub account: String,
    /// The wrangler environment (`flaresync.toml` `env`), `None` for the top level.
    pub env: Option<String>,
    /// `<account>/<env>` (`<account>/default` for the top level): GitHub's environment.
    pub environment: String,
    pub branch: String,
    /// The commit the event is about (the head the pass reconciled, or the aborted commit).
    pub commit: String,
    /// The versions serving the Worker after the event.
    pub version_ids: Vec<String>,
    /// The Cloudflare deployment flaresync created, when it created one.
    pub deployment_id: Option<String>,
    /// One line saying why (the error, the rule's message, the rollout step).
    pub reason: Option<String>,
    /// Rule ids behind a block (`FS002`, ...).
    pub rules: Vec<String>,
    /// Who is behind the change (commit author; CLI operator; webhook pusher).
    pub actor: Option<String>,
    /// RFC 3339.
    pub timestamp: String,
    /// Identity for transition detection; not part of the payload.
    #[serde(skip)]
    pub key: String,
}

/// Facts of the account a pass ran on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub account: String,
    pub env: Option<String>,
}

impl Origin {
    /// GitHub's environment name for this account and wrangler environment.
    pub fn environment(&self) -> String {
        format!(
            "{}/{}",
            self.account,
            self.env.as_deref().unwrap_or("default")
        )
    }
}

/// The events of `report` that `previous` (the keys of the last pass) has not announced, and
/// the keys to compare the next pass with. Workers out of the pass's scope keep their keys.
pub fn derive(
    report: &SyncReport,
    origin: &Origin,
    now: &str,
    previous: &BTreeSet<String>,
) -> (Vec<Event>, BTreeSet<String>) {
    if report.dry_run {
        return (Vec::new(), previous.clone());
    }
    let mut keys = BTreeSet::new();
    let mut events = Vec::new();
    for worker in &report.workers {
        if worker.outcome == WorkerOutcome::Skipped && worker.error.is_none() {
            let prefix = format!("{}\n", worker.worker);
            keys.extend(previous.iter().filter(|k| k.starts_with(&prefix)).cloned());
            continue;
        }
        for draft in drafts(report, worker) {
            let key = format!("{}\n{}\n{}", worker.worker, draft.kind.as_str(), draft.key);
            if !previous.contains(&key) {
                events.push(draft.into_event(report, worker, origin, now, key.clone()));
            }
            keys.insert(key);
        }
    }
    (events, keys)
}

/// An event before the pass-wide facts are added.
struct Draft {
    kind: EventKind,
    state: EventState,
    commit: Option<String>,
    reason: Option<String>,
    rules: Vec<String>,
    /// Unique per occurrence (a deployment id) or per standing state (a blocked commit).
    key: String,
}

impl Draft {
    fn new(kind: EventKind, state: EventState, key: String) -> Self {
        Draft {
            kind,
            state,
            commit: None,
            reason: None,
            rules: Vec::new(),
            key,
        }
    }

    fn into_event(
        self,
        report: &SyncReport,
        worker: &WorkerReport,
        origin: &Origin,
        now: &str,
        key: String,
    ) -> Event {
        let (version_ids, deployment_id) = match &worker.outcome {
            WorkerOutcome::Applied {
                version_id,
                deployment_id,
            } => (version_id.iter().cloned().collect(), deployment_id.clone()),
            _ => (worker.live_version.iter().cloned().collect(), None),
        };
        Event {
            kind: self.kind,
            state: self.state,
            worker: worker.worker.clone(),
            account: origin.account.clone(),
            env: origin.env.clone(),
            environment: origin.environment(),
            branch: report.branch.clone(),
            commit: self.commit.unwrap_or_else(|| {
                worker
                    .desired_commit
                    .clone()
                    .unwrap_or_else(|| report.commit.clone())
            }),
            version_ids,
            deployment_id,
            reason: self.reason,
            rules: self.rules,
            actor: report.actor.clone(),
            timestamp: now.to_owned(),
            key,
        }
    }
}

/// The events one Worker's report carries, in the order they happened.
fn drafts(report: &SyncReport, worker: &WorkerReport) -> Vec<Draft> {
    let mut drafts = Vec::new();
    if let Some(drift) = &worker.drift {
        let mut draft = Draft::new(
            EventKind::Drift,
            EventState::Failure,
            format!("{}:{}", drift.actual_versions.join(","), drift.healed),
        );
        draft.reason = Some(format!(
            "active deployment {} is not what flaresync applied ({}); drift_policy = {}{}",
            list_or_none(&drift.actual_versions),
            list_or_none(&drift.expected_versions),
            drift.policy,
            if drift.healed {
                ", Git's version was restored"
            } else {
                ", held until Git or the policy changes"
            }
        ));
        drafts.push(draft);
    }
    if let WorkerOutcome::Applied {
        version_id,
        deployment_id,
    } = &worker.outcome
    {
        drafts.push(applied(worker, version_id, deployment_id));
    }
    if let Some(HealthOutcome::Failed { message }) = &worker.health {
        let mut draft = Draft::new(
            EventKind::HealthFailed,
            EventState::Failure,
            worker.desired_commit.clone().unwrap_or_default(),
        );
        draft.reason = Some(format!(
            "health check {} failed: {message}",
            worker.health_url.as_deref().unwrap_or("")
        ));
        drafts.push(draft);
    }
    if let Some(rollout) = &worker.rollout {
        drafts.extend(rollout_draft(rollout));
    }
    if worker.outcome == WorkerOutcome::Blocked {
        drafts.push(blocked(report, worker));
    }
    drafts
}

fn applied(
    worker: &WorkerReport,
    version_id: &Option<String>,
    deployment_id: &Option<String>,
) -> Draft {
    let key = format!(
        "{}:{}:{}",
        worker.desired_commit.as_deref().unwrap_or(""),
        version_id.as_deref().unwrap_or(""),
        deployment_id.as_deref().unwrap_or("")
    );
    if worker.action.starts_with("rollback") {
        let mut draft = Draft::new(EventKind::Rollback, EventState::Success, key);
        draft.reason = Some(format!(
            "rolled back to version {}{}",
            version_id.as_deref().unwrap_or("?"),
            worker
                .live_commit
                .as_deref()
                .map(|c| format!(" of commit {}", crate::pass::short(c)))
                .unwrap_or_default()
        ));
        return draft;
    }
    let step = worker
        .rollout
        .as_ref()
        .and_then(|rollout| match rollout.phase {
            Phase::Progressing { step, of, weight }
            | Phase::Paused {
                step, of, weight, ..
            } => Some(format!("rollout step {step}/{of} at {weight}%")),
            Phase::Baking { step, of } => Some(format!("rollout step {step}/{of} at 100%, baking")),
            _ => None,
        });
    let mut draft = Draft::new(
        EventKind::Deploy,
        if step.is_some() {
            EventState::InProgress
        } else {
            EventState::Success
        },
        key,
    );
    draft.reason = Some(step.unwrap_or_else(|| worker.action.clone()));
    draft
}

/// A rollout's ending or failed analysis (steps are deploys, above).
fn rollout_draft(rollout: &RolloutReport) -> Option<Draft> {
    let analysis = rollout.last_analysis.as_ref();
    let mut draft = match &rollout.phase {
        Phase::Aborted { reason } => {
            let mut draft = Draft::new(
                EventKind::RolloutAborted,
                EventState::Failure,
                rollout.commit.clone(),
            );
            draft.reason = Some(reason.clone());
            draft
        }
        Phase::Completed => {
            let mut draft = Draft::new(
                EventKind::Deploy,
                EventState::Success,
                format!("completed:{}", rollout.commit),
            );
            draft.reason = Some("rollout completed".into());
            draft
        }
        _ if analysis.is_some_and(|a| a.verdict == Verdict::Failed) => {
            let summary = analysis.map(|a| a.summary()).unwrap_or_default();
            let mut draft = Draft::new(
                EventKind::AnalysisFailed,
                EventState::Failure,
                format!("{}:{summary}", rollout.commit),
            );
            draft.reason = Some(summary);
            draft
        }
        _ => return None,
    };
    draft.commit = Some(rollout.commit.clone());
    Some(draft)
}

/// A blocked Worker: the plan's blocking rules and the error that says why and how to fix it.
fn blocked(report: &SyncReport, worker: &WorkerReport) -> Draft {
    let rules: Vec<String> = report
        .plan
        .workers
        .iter()
        .filter(|plan| plan.name == worker.worker)
        .flat_map(|plan| plan.findings.iter().filter(|f| f.is_blocking()))
        .map(|finding| finding.rule.clone())
        .collect();
    let reason = worker
        .error
        .as_ref()
        .map(|e| e.reason.as_str())
        .unwrap_or("");
    let mut draft = Draft::new(
        EventKind::Blocked,
        EventState::Failure,
        format!(
            "{}:{reason}:{}",
            worker.desired_commit.as_deref().unwrap_or(""),
            rules.join(",")
        ),
    );
    draft.reason = worker.error.as_ref().map(|e| e.message.clone());
    draft.rules = rules;
    draft
}

fn list_or_none(ids: &[String]) -> String {
    if ids.is_empty() {
        "none".into()
    } else {
        ids.join(", ")
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use flaresync_plan::{
        Action, Finding, Plan, Severity, WorkerPlan,
        diff::{DiffBase, WorkerDiff},
    };

    use super::*;
    use crate::{pass::ReportedError, status::DriftStatus};

    pub(crate) fn origin() -> Origin {
        Origin {
            account: "acct".into(),
            env: Some("production".into()),
        }
    }

    pub(crate) fn worker(name: &str, action: &str, outcome: WorkerOutcome) -> WorkerReport {
        let mut report = WorkerReport::new(name, action);
        report.outcome = outcome;
        report.desired_commit = Some("c0ffee0000".into());
        report
    }

    pub(crate) fn applied_outcome(version: &str) -> WorkerOutcome {
        WorkerOutcome::Applied {
            version_id: Some(version.into()),
            deployment_id: Some(format!("dep-{version}")),
        }
    }

    pub(crate) fn empty_plan() -> Plan {
        Plan {
            commit: "c0ffee0000".into(),
            base_commit: None,
            live_observed: true,
            live_note: None,
            workers: Vec::new(),
            steps: Vec::new(),
            order: Default::default(),
        }
    }

    pub(crate) fn report(workers: Vec<WorkerReport>, plan: Plan) -> SyncReport {
        SyncReport {
            branch: "main".into(),
            commit: "c0ffee0000".into(),
            head: "moved".into(),
            dry_run: false,
            plan,
            workers,
            api_requests: 0,
            actor: Some("Ada <ada@example.com>".into()),
        }
    }

    /// The events of a pass over `workers`, with nothing announced before.
    fn fresh(workers: Vec<WorkerReport>) -> Vec<Event> {
        derive(
            &report(workers, empty_plan()),
            &origin(),
            "t",
            &BTreeSet::new(),
        )
        .0
    }

    fn kinds(events: &[Event]) -> Vec<(&str, EventKind, EventState)> {
        events
            .iter()
            .map(|e| (e.worker.as_str(), e.kind, e.state))
            .collect()
    }

    #[test]
    fn a_deploy_and_a_rollback_become_events_with_the_pass_facts() {
        let mut back = worker("auth", "rollback", applied_outcome("v1"));
        back.live_commit = Some("0ld0000000".into());
        let report = report(
            vec![worker("api", "deploy", applied_outcome("v2")), back],
            empty_plan(),
        );
        let (events, _) = derive(&report, &origin(), "2026-01-01T00:00:00Z", &BTreeSet::new());
        assert_eq!(
            kinds(&events),
            vec![
                ("api", EventKind::Deploy, EventState::Success),
                ("auth", EventKind::Rollback, EventState::Success)
            ]
        );
        let deploy = &events[0];
        assert_eq!(deploy.version_ids, vec!["v2".to_owned()]);
        assert_eq!(deploy.deployment_id.as_deref(), Some("dep-v2"));
        assert_eq!(deploy.commit, "c0ffee0000");
        assert_eq!(deploy.environment, "acct/production");
        assert_eq!(deploy.actor.as_deref(), Some("Ada <ada@example.com>"));
        assert_eq!(deploy.timestamp, "2026-01-01T00:00:00Z");
        assert_eq!(
            events[1].reason.as_deref(),
            Some("rolled back to version v1 of commit 0ld0000")
        );
    }

    #[test]
    fn in_sync_workers_and_dry_runs_say_nothing() {
        let mut dry = report(
            vec![worker("api", "deploy", WorkerOutcome::Planned)],
            empty_plan(),
        );
        assert!(derive(&dry, &origin(), "t", &BTreeSet::new()).0.is_empty());
        dry.dry_run = true;
        dry.workers = vec![worker("api", "deploy", applied_outcome("v2"))];
        assert!(derive(&dry, &origin(), "t", &BTreeSet::new()).0.is_empty());
        let quiet = report(
            vec![worker("api", "in sync", WorkerOutcome::InSync)],
            empty_plan(),
        );
        assert!(
            derive(&quiet, &origin(), "t", &BTreeSet::new())
                .0
                .is_empty()
        );
    }

    fn blocked_report(commit: &str) -> SyncReport {
        let mut api = worker("api", "blocked", WorkerOutcome::Blocked);
        api.desired_commit = Some(commit.into());
        api.error = Some(ReportedError {
            kind: "Stalled".into(),
            reason: "RollbackBlocked".into(),
            message: "rollback blocked: FS002: migration crossed".into(),
        });
        let plan = Plan {
            workers: vec![WorkerPlan {
                name: "api".into(),
                action: Action::Blocked { target: None },
                reason: "rollback".into(),
                findings: vec![
                    Finding::new("FS002", Severity::Error, "migration crossed"),
                    Finding::new("FS007", Severity::Warning, "a warning"),
                ],
                diff: WorkerDiff::empty(DiffBase::Nothing),
                depends_on: Vec::new(),
                rollout: None,
            }],
            ..empty_plan()
        };
        report(vec![api], plan)
    }

    #[test]
    fn a_block_is_announced_once_with_its_rule_and_again_for_a_new_commit() {
        let (events, keys) = derive(&blocked_report("c1"), &origin(), "t", &BTreeSet::new());
        assert_eq!(
            kinds(&events),
            vec![("api", EventKind::Blocked, EventState::Failure)]
        );
        assert_eq!(events[0].rules, vec!["FS002".to_owned()]);
        assert!(
            events[0]
                .reason
                .as_deref()
                .is_some_and(|r| r.contains("FS002"))
        );
        let (again, keys) = derive(&blocked_report("c1"), &origin(), "t", &keys);
        assert!(again.is_empty(), "{again:?}");
        let (next, _) = derive(&blocked_report("c2"), &origin(), "t", &keys);
        assert_eq!(next.len(), 1);
    }

    #[test]
    fn a_worker_out_of_scope_keeps_its_standing_state() {
        let (_, keys) = derive(&blocked_report("c1"), &origin(), "t", &BTreeSet::new());
        let skipped = report(
            vec![worker("api", "blocked", WorkerOutcome::Skipped)],
            empty_plan(),
        );
        let (events, kept) = derive(&skipped, &origin(), "t", &keys);
        assert!(events.is_empty());
        assert_eq!(kept, keys);
        let (again, _) = derive(&blocked_report("c1"), &origin(), "t", &kept);
        assert!(again.is_empty(), "not announced again after a scoped pass");
    }

    #[test]
    fn drift_is_announced_when_it_appears_and_when_it_changes() {
        let drifted = |actual: &str| {
            let mut api = worker("api", "in sync", WorkerOutcome::HeldForDrift);
            api.drift = Some(DriftStatus {
                expected_versions: vec!["v1".into()],
                actual_versions: vec![actual.into()],
                actual_commits: vec![None],
                policy: "report".into(),
                healed: false,
            });
            report(vec![api], empty_plan())
        };
        let (events, keys) = derive(&drifted("v0"), &origin(), "t", &BTreeSet::new());
        assert_eq!(
            kinds(&events),
            vec![("api", EventKind::Drift, EventState::Failure)]
        );
        assert!(
            events[0]
                .reason
                .as_deref()
                .is_some_and(|r| r.contains("v0"))
        );
        assert!(derive(&drifted("v0"), &origin(), "t", &keys).0.is_empty());
        assert_eq!(derive(&drifted("v9"), &origin(), "t", &keys).0.len(), 1);
        let (_, cleared) = derive(
            &report(
                vec![worker("api", "in sync", WorkerOutcome::InSync)],
                empty_plan(),
            ),
            &origin(),
            "t",
            &keys,
        );
        assert_eq!(derive(&drifted("v0"), &origin(), "t", &cleared).0.len(), 1);
    }

    #[test]
    fn a_failed_health_check_is_an_event_of_its_own() {
        let mut api = worker("api", "deploy", WorkerOutcome::Failed);
        api.health = Some(HealthOutcome::Failed {
            message: "answered 500, expected 200".into(),
        });
        api.health_url = Some("https://api.example/health".into());
        let events = fresh(vec![api]);
        assert_eq!(
            kinds(&events),
            vec![("api", EventKind::HealthFailed, EventState::Failure)]
        );
        assert_eq!(
            events[0].reason.as_deref(),
            Some("health check https://api.example/health failed: answered 500, expected 200")
        );
    }

    fn rollout(phase: Phase, analysis: Option<crate::rollout::Analysed>) -> RolloutReport {
        RolloutReport {
            commit: "bad0000000".into(),
            canary_version: "v2".into(),
            stable_version: Some("v1".into()),
            phase,
            weight: None,
            next_check_at: None,
            last_analysis: analysis,
        }
    }

    #[test]
    fn rollout_steps_are_deploys_in_progress_and_the_ending_says_how_it_ended() {
        let mut step = worker("api", "deploy", applied_outcome("v2"));
        step.rollout = Some(rollout(
            Phase::Progressing {
                step: 1,
                of: 3,
                weight: 10,
            },
            None,
        ));
        let events = fresh(vec![step]);
        assert_eq!(
            kinds(&events),
            vec![("api", EventKind::Deploy, EventState::InProgress)]
        );
        assert_eq!(events[0].reason.as_deref(), Some("rollout step 1/3 at 10%"));

        let mut aborted = worker("api", "deploy", WorkerOutcome::Failed);
        aborted.rollout = Some(rollout(
            Phase::Aborted {
                reason: "canary error rate 20% above 5%".into(),
            },
            None,
        ));
        let events = fresh(vec![aborted]);
        assert_eq!(
            kinds(&events),
            vec![("api", EventKind::RolloutAborted, EventState::Failure)]
        );
        assert_eq!(events[0].commit, "bad0000000", "the aborted commit");

        let mut done = worker("api", "in sync", WorkerOutcome::InSync);
        done.rollout = Some(rollout(Phase::Completed, None));
        let (events, keys) = derive(
            &report(vec![done.clone()], empty_plan()),
            &origin(),
            "t",
            &BTreeSet::new(),
        );
        assert_eq!(
            kinds(&events),
            vec![("api", EventKind::Deploy, EventState::Success)]
        );
        assert!(
            derive(&report(vec![done], empty_plan()), &origin(), "t", &keys)
                .0
                .is_empty()
        );
    }

    #[test]
    fn a_failed_analysis_without_an_abort_is_announced() {
        use crate::rollout::{Analysed, verdict::Check};
        let failed = Analysed::from_checks(vec![Check::new(
            "error_rate",
            Verdict::Failed,
            "canary error rate 20.0% above 5.0%",
        )]);
        let mut api = worker("api", "in sync", WorkerOutcome::InSync);
        api.rollout = Some(rollout(
            Phase::Paused {
                step: 1,
                of: 2,
                weight: 10,
                reason: "operator".into(),
            },
            Some(failed),
        ));
        let events = fresh(vec![api]);
        assert_eq!(
            kinds(&events),
            vec![("api", EventKind::AnalysisFailed, EventState::Failure)]
        );
        assert!(
            events[0]
                .reason
                .as_deref()
                .is_some_and(|r| r.contains("20.0%"))
        );
    }
}
