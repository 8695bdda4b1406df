use super::*;
use crate::{
    live_view::{LiveShare, ObservedDeployment},
    rollout::{Analysed, Phase, RolloutReport, Verdict, verdict::Check},
    status::{BlockedRule, ConditionType, DriftStatus, HistoryEntry, LastResult, WorkerStatus},
};

const EVIL: &str = r#"api: <script>document.title='pwned'</script><img src=x onerror="alert(1)"> (Mallory <m@x.test>)"#;

fn share(version: &str, percentage: f64, commit: &str, message: &str) -> LiveShare {
    LiveShare {
        version: version.into(),
        percentage,
        number: Some(3),
        commit: Some(commit.into()),
        message: Some(message.into()),
    }
}

fn snapshot() -> StatusSnapshot {
    let mut api = WorkerStatus::new("demo-api");
    api.set_condition(
        ConditionType::Ready,
        false,
        "RollbackBlocked",
        "blocked",
        "t",
    );
    api.live_split = vec![share("0a1b2c3d-live", 100.0, "c0ffee1234567890", EVIL)];
    api.live_commit = Some("c0ffee1234567890".into());
    api.blocked = vec![BlockedRule {
        rule: "FS002".into(),
        message: "the revert drops Durable Object migration v2".into(),
        fix: Some("append a [[migrations]] step with deleted_classes = [\"Counter\"]".into()),
    }];
    api.history.push_front(HistoryEntry {
        commit: Some("c0ffee1234567890".into()),
        version: Some("0a1b2c3d-live".into()),
        action: "deploy".into(),
        result: "applied".into(),
        at: "2026-01-01T00:00:00Z".into(),
        message: None,
    });
    let mut jobs = WorkerStatus::new("demo-jobs");
    jobs.set_condition(
        ConditionType::Ready,
        false,
        "DriftDetected",
        "held by drift_policy = report",
        "t",
    );
    jobs.drift = Some(DriftStatus {
        expected_versions: vec!["11111111-git".into()],
        actual_versions: vec!["22222222-hand".into()],
        actual_commits: vec![None],
        policy: "report".into(),
        healed: false,
    });
    jobs.deployments = vec![ObservedDeployment {
        id: "d-hand".into(),
        created_on: "2026-01-02T10:00:00Z".into(),
        by_flaresync: false,
        author: Some("oncall@example.com".into()),
        message: Some("hotfix from laptop".into()),
        trigger: Some("deployment".into()),
        versions: vec![share("22222222-hand", 100.0, "beef000000", "m")],
    }];
    let mut auth = WorkerStatus::new("demo-auth");
    auth.live_split = vec![
        share("33333333-stable", 90.0, "aaaa000000", "stable"),
        share("44444444-canary", 10.0, "bbbb000000", "canary"),
    ];
    auth.rollout = Some(RolloutReport {
        commit: "bbbb000000".into(),
        canary_version: "44444444-canary".into(),
        stable_version: Some("33333333-stable".into()),
        phase: Phase::Progressing {
            step: 1,
            of: 3,
            weight: 10,
        },
        weight: Some(10),
        next_check_at: Some("2026-01-02T10:05:00Z".into()),
        last_analysis: Some(Analysed {
            verdict: Verdict::Failed,
            checks: vec![Check::new(
                "error_rate",
                Verdict::Failed,
                "canary error rate 0.2 > 0.05",
            )],
        }),
    });
    StatusSnapshot {
        branch: Some("main".into()),
        head_commit: Some("bbbb000000".into()),
        last_pass_at: Some("2026-01-02T10:00:00Z".into()),
        passes: 7,
        last_error: Some(LastResult {
            result: "error".into(),
            reason: Some("GitFetchFailed".into()),
            message: "<remote> unreachable".into(),
            at: "t".into(),
        }),
        workers: vec![auth, api, jobs],
        notifications: Vec::new(),
    }
}

#[test]
fn every_string_of_the_model_is_escaped() {
    let page = render(&snapshot(), PageOptions::default());
    assert!(!page.contains("<script"), "an injected script survived");
    assert!(!page.contains("<img"), "an injected element survived");
    assert!(page.contains("&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;"));
    assert!(page.contains("(Mallory &lt;m@x.test&gt;)"));
    assert!(page.contains("&lt;remote&gt; unreachable"));
}

#[test]
fn shows_versions_commits_blocked_rules_drift_and_rollouts() {
    let page = render(&snapshot(), PageOptions::default());
    for expected in [
        "demo-api",
        "demo-auth",
        "demo-jobs",
        ">0a1b2c3d<",
        ">c0ffee1<",
        "FS002",
        "<b>Fix:</b> append a [[migrations]] step with deleted_classes = [&quot;Counter&quot;]",
        "serving <code class=\"version\" title=\"22222222-hand\">",
        "held by drift_policy = report",
        "step 1 of 3",
        "canary 10%",
        "canary error rate 0.2 &gt; 0.05",
        "90%",
        "by hand",
        "oncall@example.com",
        "hotfix from laptop",
        "The last pass failed",
    ] {
        assert!(page.contains(expected), "missing {expected:?}");
    }
    // The most urgent Worker comes first.
    let api = page.find("id=\"worker-demo-api\"");
    let auth = page.find("id=\"worker-demo-auth\"");
    assert!(api < auth && api.is_some());
}

#[test]
fn is_self_contained_and_fit_for_a_phone() {
    let mut snapshot = snapshot();
    for worker in &mut snapshot.workers {
        for share in &mut worker.live_split {
            share.message = Some("subject (author)".into());
        }
    }
    let page = render(&snapshot, PageOptions { refresh_secs: 5 });
    assert!(page.starts_with("<!doctype html>"));
    assert!(
        page.contains("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
    );
    assert!(page.contains("<meta http-equiv=\"refresh\" content=\"5\">"));
    for external in ["src=", "href=\"http", "@import", "url("] {
        assert!(!page.contains(external), "external asset: {external}");
    }
}

#[test]
fn an_empty_board_says_no_pass_finished() {
    let page = render(&StatusSnapshot::default(), PageOptions::default());
    assert!(page.contains("no pass finished yet"));
    assert!(page.contains("No Worker yet"));
}
