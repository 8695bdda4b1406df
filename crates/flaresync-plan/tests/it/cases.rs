//! One snapshot set per folder under `tests/cases/` (see `support.rs` for the layout).
//!
//! Besides the snapshots, each case's `expect.json` pins the verdict (exit code, action per
//! Worker, rule ids per Worker, steps), so a wrong plan fails even when snapshots are
//! re-accepted carelessly.

use std::collections::{BTreeMap, BTreeSet};

use flaresync_plan::{
    Action, Plan, Step, exit_code, plan, render_json, render_markdown, render_text,
};
use serde_json::Value;

use crate::support::{Case, all_cases};

fn action_kind(action: &Action) -> &'static str {
    match action {
        Action::InSync => "in_sync",
        Action::UpdateSettings { .. } => "update_settings",
        Action::DeployForward {
            redeploy_of: Some(_),
            ..
        } => "redeploy",
        Action::DeployForward { .. } => "deploy_forward",
        Action::Rollback { .. } => "rollback",
        Action::Blocked { .. } => "blocked",
        Action::Removed => "removed",
    }
}

fn step_text(step: &Step) -> String {
    let kind = match step {
        Step::ScriptUpload { .. } => "script_upload",
        Step::UploadVersion { .. } => "upload_version",
        Step::Deploy { force: true, .. } => "deploy_forced",
        Step::Deploy { .. } => "deploy",
        Step::SyncSettings { .. } => "sync_settings",
    };
    format!("{kind}:{}", step.worker())
}

fn run(case: &Case) -> Plan {
    plan(
        &case.head,
        case.base.as_ref(),
        &case.live,
        &case.history,
        &case.policies,
    )
}

fn check_expectations(case: &Case, plan: &Plan) {
    let expect = &case.expect;
    let name = &case.name;
    assert_eq!(
        Some(i64::from(exit_code(plan))),
        expect["exit_code"].as_i64(),
        "{name}: exit code"
    );
    let actions: BTreeMap<String, String> = plan
        .workers
        .iter()
        .map(|w| (w.name.clone(), action_kind(&w.action).to_owned()))
        .collect();
    let expected_actions: BTreeMap<String, String> =
        serde_json::from_value(expect["actions"].clone()).expect("actions map");
    assert_eq!(actions, expected_actions, "{name}: actions");
    let rules: BTreeMap<String, BTreeSet<String>> = plan
        .workers
        .iter()
        .map(|w| {
            (
                w.name.clone(),
                w.findings.iter().map(|f| f.rule.clone()).collect(),
            )
        })
        .filter(|(_, r): &(String, BTreeSet<String>)| !r.is_empty())
        .collect();
    let expected_rules: BTreeMap<String, BTreeSet<String>> = expect
        .get("rules")
        .map(|r| serde_json::from_value(r.clone()).expect("rules map"))
        .unwrap_or_default();
    assert_eq!(rules, expected_rules, "{name}: rules");
    if let Some(steps) = expect.get("steps") {
        let expected: Vec<String> = serde_json::from_value(steps.clone()).expect("steps list");
        let got: Vec<String> = plan.steps.iter().map(step_text).collect();
        assert_eq!(got, expected, "{name}: steps");
    }
    if let Some(order) = expect.get("deploy_order") {
        let expected: Vec<String> = serde_json::from_value(order.clone()).expect("order");
        assert_eq!(plan.order.deploy, expected, "{name}: deploy order");
    }
}

#[test]
fn plan_cases_match_expectations_and_snapshots() {
    let cases = all_cases();
    assert!(cases.len() >= 15, "expected the full case set");
    for case in &cases {
        let plan = run(case);
        check_expectations(case, &plan);
        let markdown = render_markdown(&plan);
        let json = render_json(&plan);
        let text = render_text(&plan);
        // The JSON rendering round-trips into the same plan (stable field names).
        let value: Value = serde_json::from_str(&json).expect("valid json");
        assert_eq!(
            value["exit_code"].as_i64(),
            Some(i64::from(exit_code(&plan)))
        );
        let back: Plan = serde_json::from_value(value).expect("json deserializes into Plan");
        assert_eq!(back, plan, "{}: json round trip", case.name);
        insta::with_settings!({
            snapshot_path => case.dir.clone(),
            prepend_module_to_snapshot => false,
            omit_expression => true,
            description => case.about.clone(),
        }, {
            insta::assert_snapshot!("markdown", markdown);
            insta::assert_snapshot!("json", json);
            insta::assert_snapshot!("text", text);
        });
    }
}

#[test]
fn every_rule_is_exercised_by_some_case() {
    let mut seen = BTreeSet::new();
    for case in all_cases() {
        for worker in run(&case).workers {
            seen.extend(worker.findings.into_iter().map(|f| f.rule));
        }
    }
    let all: BTreeSet<String> = flaresync_plan::rules()
        .iter()
        .map(|r| r.id().to_owned())
        .collect();
    let missing: Vec<&String> = all.difference(&seen).collect();
    assert!(missing.is_empty(), "rules without a case: {missing:?}");
}

#[test]
fn huge_markdown_drops_module_diffs_but_keeps_the_summary() {
    let dir = crate::support::cases_dir().join("03-forward-deploy-diff");
    let mut case = crate::support::load_case(&dir);
    // Twelve large modules, different on every line: each diff is capped, but together they
    // still exceed what a PR comment can hold.
    let module = |name: String, prefix: &str| {
        let text: String = (0..3000)
            .map(|i| format!("const {prefix}{i} = {i};\n"))
            .collect();
        flaresync_config::Module {
            name,
            content_type: "application/javascript+module".into(),
            sha256: format!("{prefix}-{}", text.len()),
            size: text.len() as u64,
            content: std::sync::Arc::from(text.into_bytes().into_boxed_slice()),
        }
    };
    let base = case.base.as_mut().expect("case has a base");
    for (desired, prefix) in [(&mut case.head, "b"), (base, "a")] {
        if let Some(flaresync_plan::DesiredEntry::Ok(worker)) = desired.workers.get_mut("api") {
            worker.spec.modules = (0..12)
                .map(|i| module(format!("m{i:02}.js"), prefix))
                .collect();
        }
    }
    let plan = run(&case);
    let markdown = render_markdown(&plan);
    assert!(markdown.chars().count() <= flaresync_plan::render::MARKDOWN_LIMIT + 200);
    assert!(markdown.contains("| `api` | deploy |"));
    assert!(markdown.contains("Module diffs were left out"));
    assert!(!markdown.contains("```diff"));
    // The text rendering keeps the (capped) diff.
    assert!(render_text(&plan).contains("more diff lines not shown"));
}
