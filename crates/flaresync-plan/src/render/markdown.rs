//! The plan as Markdown for a pull-request comment.

use std::fmt::Write as _;

use crate::diff::{
    AssetsDiff, BindingChange, ModuleChange, SettingChange, ValueChange, WorkerDiff,
};
use crate::migrations::describe_step;
use crate::model::{Action, Finding, MigrationsPayload, Plan, UploadMode, WorkerPlan};
use crate::rules::short;

use super::sections::{
    ListItems, MAX_ASSET_LINES, Section, WorkerStyle, against, asset_sizes, assets_summary, bytes,
    ensure_newline, modules_unknown, write_worker,
};
use super::summary::{has_details, live_state, plan_step_line, summary, verdict};

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
    header(&mut out, plan);
    table_and_steps(&mut out, plan);
    if plan.workers.len() > 1 {
        order(&mut out, plan);
    }
    for worker in plan.workers.iter().filter(|w| has_details(w)) {
        details(&mut out, worker, module_diffs);
    }
    out
}

/// Title, base commit and live state, verdict.
fn header(out: &mut String, plan: &Plan) {
    let _ = writeln!(out, "### flaresync plan for `{}`", short(&plan.commit));
    out.push('\n');
    let mut context = Vec::new();
    if let Some(base) = &plan.base_commit {
        context.push(format!("base `{}`", short(base)));
    }
    context.push(format!("live state: {}", live_state(plan)));
    let _ = writeln!(out, "{}", context.join(" · "));
    out.push('\n');
    let _ = writeln!(out, "**{}**: {}.", verdict(plan), summary(plan));
    out.push('\n');
}

/// One table row per Worker, then the numbered steps.
fn table_and_steps(out: &mut String, plan: &Plan) {
    let rows = plan.workers.iter().map(|worker| {
        [
            format!("`{}`", worker.name),
            worker.action.label().to_string(),
            cell(&worker.reason),
        ]
    });
    table(out, ["Worker", "Action", "Reason"], rows);
    if !plan.steps.is_empty() {
        out.push_str("\n#### Steps\n\n");
        for (index, step) in plan.steps.iter().enumerate() {
            let _ = writeln!(out, "{}. {}", index + 1, plan_step_line(plan, step));
        }
    }
}

/// Deploy and rollback order, and any dependency cycle.
fn order(out: &mut String, plan: &Plan) {
    let chain = |names: &[String]| {
        names
            .iter()
            .map(|n| code(n))
            .collect::<Vec<_>>()
            .join(" → ")
    };
    out.push('\n');
    let _ = writeln!(
        out,
        "Order: deploy {}; rollback {}.",
        chain(&plan.order.deploy),
        chain(&plan.order.rollback)
    );
    for cycle in &plan.order.cycles {
        let _ = writeln!(
            out,
            "\n> [!WARNING]\n> Dependency cycle {}: name order is used.",
            cycle.join(" → ")
        );
    }
}

/// One Worker's `<details>` block.
fn details(out: &mut String, worker: &WorkerPlan, module_diffs: bool) {
    out.push('\n');
    let _ = writeln!(
        out,
        "<details><summary><b>{}</b>: {}</summary>\n",
        worker.name,
        worker.action.label()
    );
    write_worker(&mut MarkdownWorker { out, module_diffs }, worker);
    while out.ends_with("\n\n") {
        out.pop();
    }
    out.push_str("\n\n</details>\n");
}

/// Text from configs and error messages must not open HTML tags inside the comment (a stray
/// `</details>` would break the layout).
fn html_text(text: &str) -> String {
    text.replace('<', "&lt;")
}

/// A Markdown table: the `header`, its separator, then a row per item of `rows` (cells already
/// escaped or in code spans).
fn table<const N: usize>(
    out: &mut String,
    header: [&str; N],
    rows: impl IntoIterator<Item = [String; N]>,
) {
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(N));
    for row in rows {
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
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

/// A table cell holding an optional value as code.
fn code_cell(text: Option<&str>) -> String {
    text.map(|t| code(&cell(t))).unwrap_or_default()
}

/// One Worker's details as Markdown.
struct MarkdownWorker<'o> {
    out: &'o mut String,
    /// Whether module line diffs are included.
    module_diffs: bool,
}

impl WorkerStyle for MarkdownWorker<'_> {
    fn heading(&mut self, worker: &WorkerPlan) {
        let _ = writeln!(self.out, "{}\n", html_text(&worker.reason));
        if !worker.depends_on.is_empty() {
            let names: Vec<String> = worker.depends_on.iter().map(|n| code(n)).collect();
            let _ = writeln!(self.out, "Depends on: {}\n", names.join(", "));
        }
    }

    fn rollout(&mut self, line: &str) {
        let _ = writeln!(self.out, "**Rollout**: {}\n", html_text(line));
    }

    fn findings(&mut self, findings: &[Finding]) {
        self.out.push_str("**Findings**\n\n");
        for finding in findings {
            let overridden = if finding.overridden {
                " (overridden)"
            } else {
                ""
            };
            let _ = writeln!(
                self.out,
                "- **{} {}**{}: {}",
                finding.severity.label(),
                finding.rule,
                overridden,
                html_text(&finding.message)
            );
            if let Some(hint) = &finding.hint {
                let _ = writeln!(self.out, "  - hint: {}", html_text(hint));
            }
        }
        self.out
            .push_str("\nRun `flaresync explain <rule>` for details.\n\n");
    }

    fn migrations_to_apply(&mut self, _mode: &UploadMode, payload: &MigrationsPayload) {
        self.out
            .push_str("**Durable Object migrations to apply**\n\n");
        let _ = writeln!(
            self.out,
            "`old_tag` = {}, `new_tag` = `{}`\n",
            payload
                .old_tag
                .as_deref()
                .map(code)
                .unwrap_or_else(|| "(none)".to_owned()),
            payload.new_tag
        );
        for step in &payload.steps {
            let _ = writeln!(self.out, "- `{}`: {}", step.tag, describe_step(step));
        }
        self.out.push('\n');
    }

    fn no_differences(&mut self, worker: &WorkerPlan) {
        let diff = &worker.diff;
        if matches!(worker.action, Action::Blocked { target: None }) {
            return;
        }
        if modules_unknown(diff) {
            let _ = writeln!(
                self.out,
                "No binding or setting differences against {}.",
                against(diff)
            );
        } else {
            let _ = writeln!(self.out, "No differences against {}.", against(diff));
        }
    }

    fn compared_with(&mut self, diff: &WorkerDiff) {
        let _ = writeln!(self.out, "Compared with {}.\n", against(diff));
    }

    fn binding_changes(&mut self, section: Section, changes: &[BindingChange]) {
        let _ = writeln!(self.out, "**{}**\n", title(section));
        let rows = changes.iter().map(|change| {
            [
                format!("`{}`", change.name),
                change.change.label().to_string(),
                code_cell(change.before.as_deref()),
                code_cell(change.after.as_deref()),
            ]
        });
        table(self.out, ["Name", "Change", "Before", "After"], rows);
        self.out.push('\n');
    }

    fn compatibility_date(&mut self, change: &ValueChange) {
        let _ = writeln!(
            self.out,
            "**Compatibility date**: {} → {}\n",
            change.before.as_deref().unwrap_or("(none)"),
            change.after.as_deref().unwrap_or("(none)")
        );
    }

    fn list(&mut self, section: Section, items: ListItems<'_>) {
        let _ = writeln!(self.out, "**{}**\n", title(section));
        // Migration steps are prose (`v2: new classes …`); other items are names.
        let item = |text: &str| {
            if section == Section::MigrationList {
                text.to_owned()
            } else {
                code(text)
            }
        };
        for added in items.added {
            let _ = writeln!(self.out, "- added {}", item(added));
        }
        for removed in items.removed {
            let _ = writeln!(self.out, "- removed {}", item(removed));
        }
        for edit in items.edited {
            let _ = writeln!(
                self.out,
                "- edited `{}`: {} → {}",
                edit.field,
                edit.before.as_deref().unwrap_or(""),
                edit.after.as_deref().unwrap_or("")
            );
        }
        self.out.push('\n');
    }

    fn settings(&mut self, changes: &[SettingChange]) {
        self.out.push_str("**Settings**\n\n");
        settings_table(self.out, "Setting", changes);
    }

    fn bundle(&mut self, before: Option<u64>, after: u64) {
        let _ = writeln!(
            self.out,
            "**Bundle size** (uncompressed): {} → {}\n",
            before.map(bytes).unwrap_or_else(|| "unknown".to_owned()),
            bytes(after)
        );
    }

    fn modules(&mut self, modules: &[ModuleChange]) {
        self.out.push_str("**Modules**\n\n");
        for module in modules {
            let sizes = match (module.before_size, module.after_size) {
                (Some(a), Some(b)) => format!("{} → {}", bytes(a), bytes(b)),
                (None, Some(b)) => bytes(b),
                (Some(a), None) => bytes(a),
                (None, None) => String::new(),
            };
            let _ = writeln!(
                self.out,
                "- {} `{}` ({sizes})",
                module.change.label(),
                module.name
            );
        }
        self.out.push('\n');
        for module in modules.iter().filter(|_| self.module_diffs) {
            if let Some(text) = &module.unified_diff {
                let fence = if text.contains("```") { "````" } else { "```" };
                let _ = writeln!(self.out, "{fence}diff\n{}{fence}\n", ensure_newline(text));
            }
        }
    }

    fn assets(&mut self, assets: &AssetsDiff) {
        let _ = writeln!(
            self.out,
            "**Static assets**: {}\n",
            assets_summary(assets, "→")
        );
        if !assets.files.is_empty() {
            let rows = assets.files.iter().take(MAX_ASSET_LINES).map(|file| {
                [
                    format!("`{}`", file.path.replace('|', "\\|")),
                    file.change.label().to_string(),
                    asset_sizes(file, "→"),
                ]
            });
            table(self.out, ["File", "Change", "Size"], rows);
            if assets.files.len() > MAX_ASSET_LINES {
                let _ = writeln!(
                    self.out,
                    "| … | {} more files | |",
                    assets.files.len() - MAX_ASSET_LINES
                );
            }
            self.out.push('\n');
        }
        if !assets.config.is_empty() {
            settings_table(self.out, "Assets setting", &assets.config);
        }
    }
}

/// A `| <what> | Before | After |` table of setting changes.
fn settings_table(out: &mut String, what: &str, changes: &[SettingChange]) {
    let rows = changes.iter().map(|change| {
        [
            format!("`{}`", change.field),
            code_cell(change.before.as_deref()),
            code_cell(change.after.as_deref()),
        ]
    });
    table(out, [what, "Before", "After"], rows);
    out.push('\n');
}

/// Section titles in Markdown.
fn title(section: Section) -> &'static str {
    match section {
        Section::Bindings => "Bindings",
        Section::Vars => "Vars (secret values are never shown)",
        Section::CompatibilityFlags => "Compatibility flags",
        Section::MigrationList => "Migration list",
        Section::Routes => "Routes (not versioned)",
        Section::Crons => "Crons (not versioned)",
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
