//! Renderings of a [`Plan`]: Markdown for PR comments, JSON for tools, plain text for terminals.
//!
//! All three are deterministic functions of the plan. None uses colour. Secret values never
//! reach a plan, so they cannot reach a rendering; `secret_text` bindings show as
//! "value hidden".

use std::fmt::Write as _;

use serde::Serialize;

use crate::diff::{BindingChange, DiffBase, ListChange, WorkerDiff};
use crate::migrations::describe_step;
use crate::model::{
    Action, DeployTarget, Finding, MigrationsPayload, Plan, Step, UploadMode, WorkerPlan, exit_code,
};
use crate::rules::short;

/// Version of the JSON layout; bumped on incompatible changes.
pub const JSON_FORMAT_VERSION: u32 = 1;

#[derive(Serialize)]
struct JsonPlan<'a> {
    format_version: u32,
    exit_code: i32,
    #[serde(flatten)]
    plan: &'a Plan,
}

/// The plan as pretty JSON (stable snake_case field names, `format_version` and `exit_code`
/// added at the top level), ending in a newline.
pub fn render_json(plan: &Plan) -> String {
    let wrapper = JsonPlan {
        format_version: JSON_FORMAT_VERSION,
        exit_code: exit_code(plan),
        plan,
    };
    // Serializing plain data with string keys cannot fail.
    let mut text = serde_json::to_string_pretty(&wrapper).unwrap_or_default();
    text.push('\n');
    text
}

/// Counts per action, for summaries.
fn summary(plan: &Plan) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for worker in &plan.workers {
        let key = match worker.action {
            Action::InSync => "in sync",
            Action::UpdateSettings { .. } => "settings update",
            Action::DeployForward { .. } => "deploy",
            Action::Rollback { .. } => "rollback",
            Action::Blocked { .. } => "blocked",
            Action::Removed => "removed",
        };
        match counts.iter_mut().find(|(k, _)| *k == key) {
            Some((_, n)) => *n += 1,
            None => counts.push((key, 1)),
        }
    }
    let order = [
        "deploy",
        "rollback",
        "settings update",
        "blocked",
        "removed",
        "in sync",
    ];
    counts.sort_by_key(|(k, _)| order.iter().position(|o| o == k));
    if counts.is_empty() {
        return "no Workers".to_owned();
    }
    counts
        .iter()
        .map(|(k, n)| format!("{n} {k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn verdict(plan: &Plan) -> &'static str {
    match exit_code(plan) {
        0 => "no changes",
        1 => "changes to apply",
        _ => "blocked: nothing is applied for blocked Workers until fixed",
    }
}

fn describe_step_line(step: &Step) -> String {
    match step {
        Step::ScriptUpload { worker, migrations } => match migrations {
            Some(payload) => format!(
                "{worker}: script upload (PUT) with migrations {}",
                payload_summary(payload)
            ),
            None => format!("{worker}: script upload (PUT), deployed at 100%"),
        },
        Step::UploadVersion { worker } => format!("{worker}: upload new version"),
        Step::Deploy {
            worker,
            version,
            force,
        } => {
            let what = match version {
                DeployTarget::Uploaded => "the uploaded version".to_owned(),
                DeployTarget::Existing(v) => match v.number {
                    Some(n) => format!(
                        "existing version {n} ({}, commit {})",
                        short(&v.version_id),
                        short(&v.commit)
                    ),
                    None => format!(
                        "existing version {} (commit {})",
                        short(&v.version_id),
                        short(&v.commit)
                    ),
                },
            };
            format!(
                "{worker}: deploy {what} at 100%{}",
                if *force { " with force=true" } else { "" }
            )
        }
        Step::SyncSettings { worker, fields } => {
            format!(
                "{worker}: apply non-versioned settings ({})",
                fields.join(", ")
            )
        }
    }
}

fn payload_summary(payload: &MigrationsPayload) -> String {
    format!(
        "old_tag={} new_tag={} steps=[{}]",
        payload.old_tag.as_deref().unwrap_or("(none)"),
        payload.new_tag,
        payload
            .steps
            .iter()
            .map(|s| s.tag.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn against_text(diff: &WorkerDiff) -> String {
    match &diff.against {
        DiffBase::Nothing => "nothing (new)".to_owned(),
        DiffBase::LiveVersion {
            version_id,
            base_commit: Some(commit),
        } => format!(
            "live version {} (modules/settings: base commit {})",
            short(version_id),
            short(commit)
        ),
        DiffBase::LiveVersion {
            version_id,
            base_commit: None,
        } => format!("live version {}", short(version_id)),
        DiffBase::BaseCommit { commit } => format!("base commit {}", short(commit)),
    }
}

/// Whether module contents could not be compared (live state but no base commit: Cloudflare
/// does not return module contents).
fn modules_unknown(diff: &WorkerDiff) -> bool {
    matches!(
        diff.against,
        DiffBase::LiveVersion {
            base_commit: None,
            ..
        }
    ) && diff.bundle.is_none()
}

const MODULES_UNKNOWN: &str = "module contents are not compared without a base commit";

fn bytes(n: u64) -> String {
    if n < 1024 {
        format!("{n} B")
    } else {
        format!("{:.1} KiB", n as f64 / 1024.0)
    }
}

fn has_details(worker: &WorkerPlan) -> bool {
    !matches!(worker.action, Action::InSync) || !worker.findings.is_empty()
}

// === Markdown ===

/// Text from configs and error messages must not open HTML tags inside the comment (a stray
/// `</details>` would break the layout).
fn html_text(text: &str) -> String {
    text.replace('<', "&lt;")
}

fn cell(text: &str) -> String {
    html_text(text).replace('|', "\\|").replace('\n', " ")
}

fn code(text: &str) -> String {
    if text.contains('`') {
        format!("``{text}``")
    } else {
        format!("`{text}`")
    }
}

/// Longest Markdown rendering kept with module diffs; GitHub refuses comments over 65,536
/// characters.
pub const MARKDOWN_LIMIT: usize = 60_000;

/// The plan as Markdown for a pull-request comment: a summary table first, then one
/// `<details>` block per Worker that has something to show.
///
/// When the result would exceed [`MARKDOWN_LIMIT`], module line diffs are left out (the module
/// list stays) and a note says so; use `render_text` or `render_json` for the full diff.
pub fn render_markdown(plan: &Plan) -> String {
    let full = markdown(plan, true);
    if full.chars().count() <= MARKDOWN_LIMIT {
        return full;
    }
    let mut short = markdown(plan, false);
    short.push_str(
        "\n_Module diffs were left out to fit a pull-request comment; run `flaresync plan --format text` for them._\n",
    );
    short
}

fn markdown(plan: &Plan, module_diffs: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### flaresync plan for `{}`", short(&plan.commit));
    out.push('\n');
    let mut context = Vec::new();
    if let Some(base) = &plan.base_commit {
        context.push(format!("base `{}`", short(base)));
    }
    context.push(if let Some(note) = &plan.live_note {
        format!("live state: {note}")
    } else if plan.live_observed {
        "live state: observed".to_owned()
    } else {
        "live state: not fetched (the base commit stands in for it)".to_owned()
    });
    let _ = writeln!(out, "{}", context.join(" · "));
    out.push('\n');
    let _ = writeln!(out, "**{}**: {}.", verdict(plan), summary(plan));
    out.push('\n');
    out.push_str("| Worker | Action | Reason |\n|---|---|---|\n");
    for worker in &plan.workers {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} |",
            worker.name,
            worker.action.label(),
            cell(&worker.reason)
        );
    }
    if !plan.steps.is_empty() {
        out.push_str("\n#### Steps\n\n");
        for (index, step) in plan.steps.iter().enumerate() {
            let _ = writeln!(out, "{}. {}", index + 1, describe_step_line(step));
        }
    }
    if plan.workers.len() > 1 {
        out.push('\n');
        let _ = writeln!(
            out,
            "Order: deploy {}; rollback {}.",
            plan.order
                .deploy
                .iter()
                .map(|n| code(n))
                .collect::<Vec<_>>()
                .join(" → "),
            plan.order
                .rollback
                .iter()
                .map(|n| code(n))
                .collect::<Vec<_>>()
                .join(" → ")
        );
        for cycle in &plan.order.cycles {
            let _ = writeln!(
                out,
                "\n> [!WARNING]\n> Dependency cycle {}: name order is used.",
                cycle.join(" → ")
            );
        }
    }
    for worker in plan.workers.iter().filter(|w| has_details(w)) {
        out.push('\n');
        let _ = writeln!(
            out,
            "<details><summary><b>{}</b>: {}</summary>\n",
            worker.name,
            worker.action.label()
        );
        markdown_worker(&mut out, worker, module_diffs);
        while out.ends_with("\n\n") {
            out.pop();
        }
        out.push_str("\n\n</details>\n");
    }
    out
}

fn markdown_findings(out: &mut String, findings: &[Finding]) {
    if findings.is_empty() {
        return;
    }
    out.push_str("**Findings**\n\n");
    for finding in findings {
        let overridden = if finding.overridden {
            " (overridden)"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "- **{} {}**{}: {}",
            finding.severity.label(),
            finding.rule,
            overridden,
            html_text(&finding.message)
        );
        if let Some(hint) = &finding.hint {
            let _ = writeln!(out, "  - hint: {}", html_text(hint));
        }
    }
    out.push_str("\nRun `flaresync explain <rule>` for details.\n\n");
}

fn markdown_binding_table(out: &mut String, title: &str, changes: &[BindingChange]) {
    if changes.is_empty() {
        return;
    }
    let _ = writeln!(out, "**{title}**\n");
    out.push_str("| Name | Change | Before | After |\n|---|---|---|---|\n");
    for change in changes {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} |",
            change.name,
            change.change.label(),
            change
                .before
                .as_deref()
                .map(|t| code(&cell(t)))
                .unwrap_or_default(),
            change
                .after
                .as_deref()
                .map(|t| code(&cell(t)))
                .unwrap_or_default()
        );
    }
    out.push('\n');
}

fn markdown_list_change(out: &mut String, title: &str, change: &ListChange) {
    if change.is_empty() {
        return;
    }
    let _ = writeln!(out, "**{title}**\n");
    for item in &change.added {
        let _ = writeln!(out, "- added {}", code(item));
    }
    for item in &change.removed {
        let _ = writeln!(out, "- removed {}", code(item));
    }
    out.push('\n');
}

fn markdown_worker(out: &mut String, worker: &WorkerPlan, module_diffs: bool) {
    let _ = writeln!(out, "{}\n", html_text(&worker.reason));
    if !worker.depends_on.is_empty() {
        let _ = writeln!(
            out,
            "Depends on: {}\n",
            worker
                .depends_on
                .iter()
                .map(|n| code(n))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    markdown_findings(out, &worker.findings);
    if let Action::DeployForward {
        migrations: Some(payload),
        ..
    } = &worker.action
    {
        out.push_str("**Durable Object migrations to apply**\n\n");
        let _ = writeln!(
            out,
            "`old_tag` = {}, `new_tag` = `{}`\n",
            payload
                .old_tag
                .as_deref()
                .map(code)
                .unwrap_or_else(|| "(none)".to_owned()),
            payload.new_tag
        );
        for step in &payload.steps {
            let _ = writeln!(out, "- `{}`: {}", step.tag, describe_step(step));
        }
        out.push('\n');
    }
    if matches!(worker.action, Action::Removed) {
        return;
    }
    let diff = &worker.diff;
    if diff.is_empty() {
        if !matches!(worker.action, Action::Blocked { target: None }) {
            if modules_unknown(diff) {
                let _ = writeln!(
                    out,
                    "No binding or setting differences against {} ({MODULES_UNKNOWN}).",
                    against_text(diff)
                );
            } else {
                let _ = writeln!(out, "No differences against {}.", against_text(diff));
            }
        }
        return;
    }
    if modules_unknown(diff) {
        let _ = writeln!(
            out,
            "Compared with {} ({MODULES_UNKNOWN}).\n",
            against_text(diff)
        );
    } else {
        let _ = writeln!(out, "Compared with {}.\n", against_text(diff));
    }
    markdown_binding_table(out, "Bindings", &diff.bindings);
    markdown_binding_table(out, "Vars (secret values are never shown)", &diff.vars);
    if let Some(change) = &diff.compatibility_date {
        let _ = writeln!(
            out,
            "**Compatibility date**: {} → {}\n",
            change.before.as_deref().unwrap_or("(none)"),
            change.after.as_deref().unwrap_or("(none)")
        );
    }
    markdown_list_change(out, "Compatibility flags", &diff.compatibility_flags);
    let migrations = &diff.migrations;
    if !migrations.is_empty() {
        out.push_str("**Migration list**\n\n");
        for step in &migrations.added {
            let _ = writeln!(out, "- added {step}");
        }
        for step in &migrations.removed {
            let _ = writeln!(out, "- removed {step}");
        }
        for edit in &migrations.edited {
            let _ = writeln!(
                out,
                "- edited `{}`: {} → {}",
                edit.field,
                edit.before.as_deref().unwrap_or(""),
                edit.after.as_deref().unwrap_or("")
            );
        }
        out.push('\n');
    }
    markdown_list_change(out, "Routes (not versioned)", &diff.routes);
    markdown_list_change(out, "Crons (not versioned)", &diff.crons);
    if !diff.settings.is_empty() {
        out.push_str("**Settings**\n\n| Setting | Before | After |\n|---|---|---|\n");
        for change in &diff.settings {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} |",
                change.field,
                change
                    .before
                    .as_deref()
                    .map(|t| code(&cell(t)))
                    .unwrap_or_default(),
                change
                    .after
                    .as_deref()
                    .map(|t| code(&cell(t)))
                    .unwrap_or_default()
            );
        }
        out.push('\n');
    }
    if let Some(bundle) = &diff.bundle
        && bundle.before != Some(bundle.after)
    {
        let _ = writeln!(
            out,
            "**Bundle size** (uncompressed): {} → {}\n",
            bundle
                .before
                .map(bytes)
                .unwrap_or_else(|| "unknown".to_owned()),
            bytes(bundle.after)
        );
    }
    if !diff.modules.is_empty() {
        out.push_str("**Modules**\n\n");
        for module in &diff.modules {
            let sizes = match (module.before_size, module.after_size) {
                (Some(a), Some(b)) => format!("{} → {}", bytes(a), bytes(b)),
                (None, Some(b)) => bytes(b),
                (Some(a), None) => bytes(a),
                (None, None) => String::new(),
            };
            let _ = writeln!(
                out,
                "- {} `{}` ({sizes})",
                module.change.label(),
                module.name
            );
        }
        out.push('\n');
        for module in diff.modules.iter().filter(|_| module_diffs) {
            if let Some(text) = &module.unified_diff {
                let fence = if text.contains("```") { "````" } else { "```" };
                let _ = writeln!(out, "{fence}diff\n{}{fence}\n", ensure_newline(text));
            }
        }
    }
}

fn ensure_newline(text: &str) -> String {
    if text.ends_with('\n') {
        text.to_owned()
    } else {
        format!("{text}\n")
    }
}

// === Text ===

/// The plan as plain text for terminals (no colour).
pub fn render_text(plan: &Plan) -> String {
    let mut out = String::new();
    let mut header = format!("flaresync plan for {}", short(&plan.commit));
    if let Some(base) = &plan.base_commit {
        header.push_str(&format!(" (base {})", short(base)));
    }
    let _ = writeln!(out, "{header}");
    let _ = writeln!(
        out,
        "live state: {}",
        if let Some(note) = &plan.live_note {
            note.as_str()
        } else if plan.live_observed {
            "observed"
        } else {
            "not fetched (the base commit stands in for it)"
        }
    );
    out.push('\n');
    let name_width = plan
        .workers
        .iter()
        .map(|w| w.name.chars().count())
        .chain(["WORKER".len()])
        .max()
        .unwrap_or(6);
    let action_width = plan
        .workers
        .iter()
        .map(|w| w.action.label().len())
        .chain(["ACTION".len()])
        .max()
        .unwrap_or(6);
    let _ = writeln!(
        out,
        "{:name_width$}  {:action_width$}  REASON",
        "WORKER", "ACTION"
    );
    for worker in &plan.workers {
        let _ = writeln!(
            out,
            "{:name_width$}  {:action_width$}  {}",
            worker.name,
            worker.action.label(),
            worker.reason
        );
    }
    if !plan.steps.is_empty() {
        out.push_str("\nsteps:\n");
        for (index, step) in plan.steps.iter().enumerate() {
            let _ = writeln!(out, "  {}. {}", index + 1, describe_step_line(step));
        }
    }
    if plan.workers.len() > 1 {
        let _ = writeln!(
            out,
            "\norder: deploy {}; rollback {}",
            plan.order.deploy.join(" -> "),
            plan.order.rollback.join(" -> ")
        );
        for cycle in &plan.order.cycles {
            let _ = writeln!(
                out,
                "warning: dependency cycle {}: name order is used",
                cycle.join(" -> ")
            );
        }
    }
    for worker in plan.workers.iter().filter(|w| has_details(w)) {
        out.push('\n');
        text_worker(&mut out, worker);
    }
    let _ = writeln!(out, "\n{}: {}", verdict(plan), summary(plan));
    out
}

fn text_worker(out: &mut String, worker: &WorkerPlan) {
    let _ = writeln!(out, "== {}: {}", worker.name, worker.action.label());
    if !worker.depends_on.is_empty() {
        let _ = writeln!(out, "  depends on: {}", worker.depends_on.join(", "));
    }
    for finding in &worker.findings {
        let _ = writeln!(
            out,
            "  {}[{}]{}: {}",
            finding.severity.label(),
            finding.rule,
            if finding.overridden {
                " (overridden)"
            } else {
                ""
            },
            finding.message
        );
        if let Some(hint) = &finding.hint {
            let _ = writeln!(out, "    hint: {hint}");
        }
    }
    if let Action::DeployForward {
        migrations: Some(payload),
        mode,
        ..
    } = &worker.action
    {
        let _ = writeln!(
            out,
            "  migrations ({}): {}",
            match mode {
                UploadMode::ScriptUpload { .. } => "script upload",
                UploadMode::VersionUpload => "version upload",
            },
            payload_summary(payload)
        );
        for step in &payload.steps {
            let _ = writeln!(out, "    {}: {}", step.tag, describe_step(step));
        }
    }
    if matches!(worker.action, Action::Removed) {
        return;
    }
    let diff = &worker.diff;
    if diff.is_empty() {
        if worker.action.mutates() && modules_unknown(diff) {
            let _ = writeln!(
                out,
                "  no binding or setting differences against {} ({MODULES_UNKNOWN})",
                against_text(diff)
            );
        }
        return;
    }
    if modules_unknown(diff) {
        let _ = writeln!(
            out,
            "  compared with {} ({MODULES_UNKNOWN})",
            against_text(diff)
        );
    } else {
        let _ = writeln!(out, "  compared with {}", against_text(diff));
    }
    let bindings = |out: &mut String, title: &str, changes: &[BindingChange]| {
        if changes.is_empty() {
            return;
        }
        let _ = writeln!(out, "  {title}:");
        for change in changes {
            let line = match (&change.before, &change.after) {
                (None, Some(after)) => format!("+ {} = {after}", change.name),
                (Some(before), None) => format!("- {} = {before}", change.name),
                (Some(before), Some(after)) => format!("~ {}: {before} -> {after}", change.name),
                (None, None) => format!("? {}", change.name),
            };
            let _ = writeln!(out, "    {line}");
        }
    };
    bindings(out, "bindings", &diff.bindings);
    bindings(out, "vars", &diff.vars);
    if let Some(change) = &diff.compatibility_date {
        let _ = writeln!(
            out,
            "  compatibility_date: {} -> {}",
            change.before.as_deref().unwrap_or("(none)"),
            change.after.as_deref().unwrap_or("(none)")
        );
    }
    let list = |out: &mut String, title: &str, change: &ListChange| {
        if change.is_empty() {
            return;
        }
        let _ = writeln!(out, "  {title}:");
        for item in &change.added {
            let _ = writeln!(out, "    + {item}");
        }
        for item in &change.removed {
            let _ = writeln!(out, "    - {item}");
        }
    };
    list(out, "compatibility_flags", &diff.compatibility_flags);
    if !diff.migrations.is_empty() {
        let _ = writeln!(out, "  migration list:");
        for step in &diff.migrations.added {
            let _ = writeln!(out, "    + {step}");
        }
        for step in &diff.migrations.removed {
            let _ = writeln!(out, "    - {step}");
        }
        for edit in &diff.migrations.edited {
            let _ = writeln!(
                out,
                "    ~ {}: {} -> {}",
                edit.field,
                edit.before.as_deref().unwrap_or(""),
                edit.after.as_deref().unwrap_or("")
            );
        }
    }
    list(out, "routes (not versioned)", &diff.routes);
    list(out, "crons (not versioned)", &diff.crons);
    if !diff.settings.is_empty() {
        let _ = writeln!(out, "  settings:");
        for change in &diff.settings {
            let _ = writeln!(
                out,
                "    ~ {}: {} -> {}",
                change.field,
                change.before.as_deref().unwrap_or("(none)"),
                change.after.as_deref().unwrap_or("(none)")
            );
        }
    }
    if let Some(bundle) = &diff.bundle
        && bundle.before != Some(bundle.after)
    {
        let _ = writeln!(
            out,
            "  bundle size: {} -> {}",
            bundle
                .before
                .map(bytes)
                .unwrap_or_else(|| "unknown".to_owned()),
            bytes(bundle.after)
        );
    }
    if !diff.modules.is_empty() {
        let _ = writeln!(out, "  modules:");
        for module in &diff.modules {
            let _ = writeln!(out, "    {} {}", module.change.label(), module.name);
            if let Some(text) = &module.unified_diff {
                for line in ensure_newline(text).lines() {
                    let _ = writeln!(out, "      {line}");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_text_cannot_open_html_tags_or_break_tables() {
        assert_eq!(html_text("a </details> b -> c"), "a &lt;/details> b -> c");
        assert_eq!(cell("x | y\nz"), "x \\| y z");
        assert_eq!(code("a`b"), "``a`b``");
    }
}
