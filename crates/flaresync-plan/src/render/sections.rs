//! One Worker's details, section by section, in the order both renderings share: heading,
//! findings, migrations to apply, then the diff (bindings, vars, compatibility, migration list,
//! routes, crons, settings, bundle size, modules, static assets). [`WorkerStyle`] says how each section looks.

use crate::diff::ChangeKind;
use crate::diff::{
    AssetChange, AssetsDiff, AssetsTotal, BindingChange, DiffBase, ModuleChange, SettingChange,
    ValueChange, WorkerDiff,
};
use crate::model::{Action, Finding, MigrationsPayload, UploadMode, WorkerPlan};
use crate::rules::short;

/// A diff section with a title.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Section {
    Bindings,
    Vars,
    CompatibilityFlags,
    MigrationList,
    Routes,
    Crons,
}

/// How one rendering writes each section. The driver ([`write_worker`]) only calls a section's
/// method when the section has something to show.
pub(super) trait WorkerStyle {
    /// The Worker's heading lines (and its dependencies).
    fn heading(&mut self, worker: &WorkerPlan);
    /// A non-empty list of findings.
    fn findings(&mut self, findings: &[Finding]);
    /// How the change goes out in the commit's progressive rollout (one line).
    fn rollout(&mut self, line: &str);
    /// The Durable Object migrations a forward deploy applies.
    fn migrations_to_apply(&mut self, mode: &UploadMode, payload: &MigrationsPayload);
    /// The diff is empty (the Worker is not removed).
    fn no_differences(&mut self, worker: &WorkerPlan);
    /// What a non-empty diff is against.
    fn compared_with(&mut self, diff: &WorkerDiff);
    /// Non-empty binding or var changes.
    fn binding_changes(&mut self, section: Section, changes: &[BindingChange]);
    fn compatibility_date(&mut self, change: &ValueChange);
    /// A non-empty list of added, removed and (for the migration list) edited items.
    fn list(&mut self, section: Section, items: ListItems<'_>);
    /// Non-empty setting changes.
    fn settings(&mut self, changes: &[SettingChange]);
    /// A bundle size that changed (`before` unknown for a new Worker).
    fn bundle(&mut self, before: Option<u64>, after: u64);
    /// Non-empty module changes.
    fn modules(&mut self, modules: &[ModuleChange]);
    /// Static assets that changed (files, totals, configuration).
    fn assets(&mut self, assets: &AssetsDiff);
}

/// The items of a list section.
#[derive(Clone, Copy)]
pub(super) struct ListItems<'a> {
    pub added: &'a [String],
    pub removed: &'a [String],
    pub edited: &'a [SettingChange],
}

impl ListItems<'_> {
    fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.edited.is_empty()
    }
}

/// Write one Worker's details in `style`.
pub(super) fn write_worker(style: &mut impl WorkerStyle, worker: &WorkerPlan) {
    style.heading(worker);
    if let Some(rollout) = &worker.rollout {
        style.rollout(&crate::planner::describe_rollout(rollout));
    }
    if !worker.findings.is_empty() {
        style.findings(&worker.findings);
    }
    if let Action::DeployForward {
        migrations: Some(payload),
        mode,
        ..
    } = &worker.action
    {
        style.migrations_to_apply(mode, payload);
    }
    if matches!(worker.action, Action::Removed) {
        return;
    }
    if worker.diff.is_empty() {
        style.no_differences(worker);
    } else {
        style.compared_with(&worker.diff);
        write_diff(style, &worker.diff);
    }
}

fn write_diff(style: &mut impl WorkerStyle, diff: &WorkerDiff) {
    for (section, changes) in [
        (Section::Bindings, &diff.bindings),
        (Section::Vars, &diff.vars),
    ] {
        if !changes.is_empty() {
            style.binding_changes(section, changes);
        }
    }
    if let Some(change) = &diff.compatibility_date {
        style.compatibility_date(change);
    }
    let list = |added, removed, edited| ListItems {
        added,
        removed,
        edited,
    };
    let lists = [
        (
            Section::CompatibilityFlags,
            list(
                &diff.compatibility_flags.added,
                &diff.compatibility_flags.removed,
                &[],
            ),
        ),
        (
            Section::MigrationList,
            list(
                &diff.migrations.added,
                &diff.migrations.removed,
                &diff.migrations.edited,
            ),
        ),
        (
            Section::Routes,
            list(&diff.routes.added, &diff.routes.removed, &[]),
        ),
        (
            Section::Crons,
            list(&diff.crons.added, &diff.crons.removed, &[]),
        ),
    ];
    for (section, items) in lists {
        if !items.is_empty() {
            style.list(section, items);
        }
    }
    if !diff.settings.is_empty() {
        style.settings(&diff.settings);
    }
    if let Some(bundle) = &diff.bundle
        && bundle.before != Some(bundle.after)
    {
        style.bundle(bundle.before, bundle.after);
    }
    if !diff.modules.is_empty() {
        style.modules(&diff.modules);
    }
    if let Some(assets) = &diff.assets {
        style.assets(assets);
    }
}

/// Most asset files listed one by one; the rest are counted.
pub(super) const MAX_ASSET_LINES: usize = 50;

/// `3 files, 1.2 KiB -> 4 files, 1.5 KiB (1 added, 1 changed)`, `arrow` between the sides.
pub(super) fn assets_summary(assets: &AssetsDiff, arrow: &str) -> String {
    let side = |total: Option<AssetsTotal>| match total {
        None => "none".to_owned(),
        Some(t) => format!(
            "{} file{}, {}",
            t.files,
            if t.files == 1 { "" } else { "s" },
            bytes(t.bytes)
        ),
    };
    let counts: Vec<String> = [ChangeKind::Added, ChangeKind::Removed, ChangeKind::Changed]
        .into_iter()
        .filter_map(|kind| {
            let n = assets.files.iter().filter(|f| f.change == kind).count();
            (n > 0).then(|| format!("{n} {}", kind.label()))
        })
        .collect();
    let mut text = format!("{} {arrow} {}", side(assets.before), side(assets.after));
    if !counts.is_empty() {
        text.push_str(&format!(" ({})", counts.join(", ")));
    }
    text
}

/// One file's sizes: `6 B -> 15 B`, or the one side it has.
pub(super) fn asset_sizes(change: &AssetChange, arrow: &str) -> String {
    match (change.before_size, change.after_size) {
        (Some(a), Some(b)) => format!("{} {arrow} {}", bytes(a), bytes(b)),
        (None, Some(size)) | (Some(size), None) => bytes(size),
        (None, None) => String::new(),
    }
}

/// What the diff is against, with a note when module contents could not be compared.
pub(super) fn against(diff: &WorkerDiff) -> String {
    if modules_unknown(diff) {
        format!("{} ({MODULES_UNKNOWN})", against_text(diff))
    } else {
        against_text(diff)
    }
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
pub(super) fn modules_unknown(diff: &WorkerDiff) -> bool {
    matches!(
        diff.against,
        DiffBase::LiveVersion {
            base_commit: None,
            ..
        }
    ) && diff.bundle.is_none()
}

const MODULES_UNKNOWN: &str = "module contents are not compared without a base commit";

pub(super) fn bytes(n: u64) -> String {
    if n < 1024 {
        format!("{n} B")
    } else {
        format!("{:.1} KiB", n as f64 / 1024.0)
    }
}

pub(super) fn ensure_newline(text: &str) -> String {
    if text.ends_with('\n') {
        text.to_owned()
    } else {
        format!("{text}\n")
    }
}
