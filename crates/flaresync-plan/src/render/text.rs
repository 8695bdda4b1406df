//! The plan as plain text for terminals (no colour).

use std::fmt::Write as _;

use crate::diff::{
    AssetsDiff, BindingChange, ModuleChange, SettingChange, ValueChange, WorkerDiff,
};
use crate::migrations::describe_step;
use crate::model::{Finding, MigrationsPayload, Plan, UploadMode, WorkerPlan};
use crate::rules::short;

use super::sections::{
    ListItems, MAX_ASSET_LINES, Section, WorkerStyle, against, asset_sizes, assets_summary, bytes,
    ensure_newline, modules_unknown, write_worker,
};
use super::summary::{has_details, live_state, payload_summary, plan_step_line, summary, verdict};

/// The plan as plain text for terminals (no colour).
pub fn render_text(plan: &Plan) -> String {
    let mut out = String::new();
    let mut header = format!("flaresync plan for {}", short(&plan.commit));
    if let Some(base) = &plan.base_commit {
        header.push_str(&format!(" (base {})", short(base)));
    }
    let _ = writeln!(out, "{header}");
    let _ = writeln!(out, "live state: {}", live_state(plan));
    out.push('\n');
    table(&mut out, plan);
    if !plan.steps.is_empty() {
        out.push_str("\nsteps:\n");
        for (index, step) in plan.steps.iter().enumerate() {
            let _ = writeln!(out, "  {}. {}", index + 1, plan_step_line(plan, step));
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
        write_worker(&mut TextWorker { out: &mut out }, worker);
    }
    let _ = writeln!(out, "\n{}: {}", verdict(plan), summary(plan));
    out
}

/// One aligned row per Worker: name, action, reason.
fn table(out: &mut String, plan: &Plan) {
    let width = |header: &str, cell: fn(&WorkerPlan) -> usize| {
        plan.workers
            .iter()
            .map(cell)
            .chain([header.len()])
            .max()
            .unwrap_or(header.len())
    };
    let name_width = width("WORKER", |w| w.name.chars().count());
    let action_width = width("ACTION", |w| w.action.label().len());
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
}

/// One Worker's details as indented text.
struct TextWorker<'o> {
    out: &'o mut String,
}

impl TextWorker<'_> {
    /// `    ~ field: before -> after`, with `missing` for an absent side.
    fn edit(&mut self, change: &SettingChange, missing: &str) {
        let _ = writeln!(
            self.out,
            "    ~ {}: {} -> {}",
            change.field,
            change.before.as_deref().unwrap_or(missing),
            change.after.as_deref().unwrap_or(missing)
        );
    }
}

impl WorkerStyle for TextWorker<'_> {
    fn heading(&mut self, worker: &WorkerPlan) {
        let _ = writeln!(self.out, "== {}: {}", worker.name, worker.action.label());
        if !worker.depends_on.is_empty() {
            let _ = writeln!(self.out, "  depends on: {}", worker.depends_on.join(", "));
        }
    }

    fn rollout(&mut self, line: &str) {
        let _ = writeln!(self.out, "  {line}");
    }

    fn findings(&mut self, findings: &[Finding]) {
        for finding in findings {
            let _ = writeln!(
                self.out,
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
                let _ = writeln!(self.out, "    hint: {hint}");
            }
        }
    }

    fn migrations_to_apply(&mut self, mode: &UploadMode, payload: &MigrationsPayload) {
        let _ = writeln!(
            self.out,
            "  migrations ({}): {}",
            match mode {
                UploadMode::ScriptUpload { .. } => "script upload",
                UploadMode::VersionUpload => "version upload",
            },
            payload_summary(payload)
        );
        for step in &payload.steps {
            let _ = writeln!(self.out, "    {}: {}", step.tag, describe_step(step));
        }
    }

    fn no_differences(&mut self, worker: &WorkerPlan) {
        let diff = &worker.diff;
        if worker.action.mutates() && modules_unknown(diff) {
            let _ = writeln!(
                self.out,
                "  no binding or setting differences against {}",
                against(diff)
            );
        }
    }

    fn compared_with(&mut self, diff: &WorkerDiff) {
        let _ = writeln!(self.out, "  compared with {}", against(diff));
    }

    fn binding_changes(&mut self, section: Section, changes: &[BindingChange]) {
        let _ = writeln!(self.out, "  {}:", title(section));
        for change in changes {
            let line = match (&change.before, &change.after) {
                (None, Some(after)) => format!("+ {} = {after}", change.name),
                (Some(before), None) => format!("- {} = {before}", change.name),
                (Some(before), Some(after)) => format!("~ {}: {before} -> {after}", change.name),
                (None, None) => format!("? {}", change.name),
            };
            let _ = writeln!(self.out, "    {line}");
        }
    }

    fn compatibility_date(&mut self, change: &ValueChange) {
        let _ = writeln!(
            self.out,
            "  compatibility_date: {} -> {}",
            change.before.as_deref().unwrap_or("(none)"),
            change.after.as_deref().unwrap_or("(none)")
        );
    }

    fn list(&mut self, section: Section, items: ListItems<'_>) {
        let _ = writeln!(self.out, "  {}:", title(section));
        for added in items.added {
            let _ = writeln!(self.out, "    + {added}");
        }
        for removed in items.removed {
            let _ = writeln!(self.out, "    - {removed}");
        }
        for edit in items.edited {
            self.edit(edit, "");
        }
    }

    fn settings(&mut self, changes: &[SettingChange]) {
        let _ = writeln!(self.out, "  settings:");
        for change in changes {
            self.edit(change, "(none)");
        }
    }

    fn bundle(&mut self, before: Option<u64>, after: u64) {
        let _ = writeln!(
            self.out,
            "  bundle size: {} -> {}",
            before.map(bytes).unwrap_or_else(|| "unknown".to_owned()),
            bytes(after)
        );
    }

    fn modules(&mut self, modules: &[ModuleChange]) {
        let _ = writeln!(self.out, "  modules:");
        for module in modules {
            let _ = writeln!(self.out, "    {} {}", module.change.label(), module.name);
            if let Some(text) = &module.unified_diff {
                for line in ensure_newline(text).lines() {
                    let _ = writeln!(self.out, "      {line}");
                }
            }
        }
    }

    fn assets(&mut self, assets: &AssetsDiff) {
        let _ = writeln!(
            self.out,
            "  static assets: {}",
            assets_summary(assets, "->")
        );
        for file in assets.files.iter().take(MAX_ASSET_LINES) {
            let _ = writeln!(
                self.out,
                "    {} {} ({})",
                file.change.label(),
                file.path,
                asset_sizes(file, "->")
            );
        }
        if assets.files.len() > MAX_ASSET_LINES {
            let _ = writeln!(
                self.out,
                "    ... {} more files",
                assets.files.len() - MAX_ASSET_LINES
            );
        }
        for change in &assets.config {
            self.edit(change, "(none)");
        }
    }
}

/// Section titles in text.
fn title(section: Section) -> &'static str {
    match section {
        Section::Bindings => "bindings",
        Section::Vars => "vars",
        Section::CompatibilityFlags => "compatibility_flags",
        Section::MigrationList => "migration list",
        Section::Routes => "routes (not versioned)",
        Section::Crons => "crons (not versioned)",
    }
}
