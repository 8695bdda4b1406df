//! [`worker_diff`]: the differences between what runs (or ran at the base commit) and what Git
//! wants, section by section.

use flaresync_config::{Binding, MigrationStep, Route, WorkerSpec};

use crate::live::LiveVersion;

use super::assets::assets_diff;
use super::bindings::binding_changes;
use super::model::{
    AssetsDiff, BindingChange, BundleChange, DiffBase, ListChange, MigrationsDiff, ModuleChange,
    SettingChange, ValueChange, WorkerDiff,
};
use super::modules::module_changes;
use super::settings::{route_summary, setting_changes};

/// What is known about the "before" side.
#[derive(Debug, Clone, Copy, Default)]
pub struct Before<'a> {
    /// The live version currently serving traffic.
    pub live_version: Option<&'a LiveVersion>,
    /// The desired state at the base commit.
    pub base: Option<(&'a str, &'a WorkerSpec)>,
    pub live_routes: Option<&'a [Route]>,
    pub live_crons: Option<&'a [String]>,
    /// Migration list believed applied (from history), used when there is no base spec.
    pub applied_migrations: Option<&'a [MigrationStep]>,
    /// Declared `exports` of what runs (from history), used when there is no base spec.
    pub running_exports: Option<Option<&'a str>>,
}

/// What the "after" side is.
#[derive(Debug, Clone, Copy)]
pub struct After<'a> {
    pub spec: &'a WorkerSpec,
    /// For a rollback: the target version, whose bindings are what will actually run.
    pub target_version: Option<&'a LiveVersion>,
}

impl<'a> Before<'a> {
    fn base_spec(&self) -> Option<&'a WorkerSpec> {
        self.base.map(|(_, spec)| spec)
    }
}

/// Compute the diff of one Worker.
pub fn worker_diff(before: Before<'_>, after: After<'_>) -> WorkerDiff {
    let (bindings, vars) = bindings(&before, &after);
    let (compatibility_date, compatibility_flags) = compatibility(&before, &after);
    let (routes, crons) = triggers(&before, &after);
    let (bundle, modules) = modules(&before, &after);
    let assets = assets(&before, &after);
    WorkerDiff {
        against: against(&before),
        bindings,
        vars,
        compatibility_date,
        compatibility_flags,
        migrations: MigrationsDiff::between(before_migrations(&before), &after.spec.migrations),
        routes,
        crons,
        settings: settings(&before, &after),
        bundle,
        modules,
        assets,
    }
}

fn against(before: &Before<'_>) -> DiffBase {
    match (before.live_version, before.base) {
        (Some(version), base) => DiffBase::LiveVersion {
            version_id: version.id.clone(),
            base_commit: base.map(|(commit, _)| commit.to_owned()),
        },
        (None, Some((commit, _))) => DiffBase::BaseCommit {
            commit: commit.to_owned(),
        },
        (None, None) => DiffBase::Nothing,
    }
}

/// Bindings and vars: the live version first, else the base spec.
fn bindings(before: &Before<'_>, after: &After<'_>) -> (Vec<BindingChange>, Vec<BindingChange>) {
    let after_bindings: &[Binding] = after
        .target_version
        .map_or(&after.spec.bindings, |t| &t.bindings);
    // A live version carries secret_text bindings that Git never has (values are inherited on
    // upload), so they only take part when both sides come from Cloudflare.
    let include_secrets = after.target_version.is_some();
    let before_bindings: Option<&[Binding]> = before
        .live_version
        .map(|v| v.bindings.as_slice())
        .or(before.base_spec().map(|s| s.bindings.as_slice()));
    binding_changes(
        before_bindings.unwrap_or(&[]),
        after_bindings,
        include_secrets,
    )
}

/// Compatibility date and flags: the live version first, else the base spec, else nothing.
fn compatibility(before: &Before<'_>, after: &After<'_>) -> (Option<ValueChange>, ListChange) {
    let (after_date, after_flags) = match after.target_version {
        Some(t) => (t.compatibility_date.clone(), t.compatibility_flags.clone()),
        None => (
            after.spec.compatibility_date.clone(),
            after.spec.compatibility_flags.clone(),
        ),
    };
    let (before_date, before_flags) = before
        .live_version
        .map(|v| (v.compatibility_date.clone(), v.compatibility_flags.clone()))
        .or(before
            .base_spec()
            .map(|s| (s.compatibility_date.clone(), s.compatibility_flags.clone())))
        .unwrap_or_default();
    let flags = ListChange::between(&before_flags, &after_flags);
    let date = (before_date != after_date).then_some(ValueChange {
        before: before_date,
        after: after_date,
    });
    (date, flags)
}

/// The base list, else the list believed applied.
fn before_migrations<'a>(before: &Before<'a>) -> &'a [MigrationStep] {
    before
        .base_spec()
        .map(|s| s.migrations.as_slice())
        .or(before.applied_migrations)
        .unwrap_or(&[])
}

/// Routes and crons: live when fetched, else base.
fn triggers(before: &Before<'_>, after: &After<'_>) -> (ListChange, ListChange) {
    let route_texts = |routes: &[Route]| routes.iter().map(route_summary).collect::<Vec<_>>();
    let before_routes = before
        .live_routes
        .or(before.base_spec().map(|s| s.routes.as_slice()))
        .map(route_texts)
        .unwrap_or_default();
    let routes = ListChange::between(&before_routes, &route_texts(&after.spec.routes));
    let before_crons: &[String] = before
        .live_crons
        .or(before.base_spec().map(|s| s.crons.as_slice()))
        .unwrap_or(&[]);
    let crons = ListChange::between(before_crons, &after.spec.crons);
    (routes, crons)
}

/// Setting changes against the base spec; without one, a known change of the running `exports`.
fn settings(before: &Before<'_>, after: &After<'_>) -> Vec<SettingChange> {
    let base_spec = before.base_spec();
    let mut settings = setting_changes(base_spec, after.spec);
    if base_spec.is_none()
        && let Some(running) = before.running_exports
        && running != after.spec.exports.as_deref()
    {
        settings.push(SettingChange {
            field: "exports".to_owned(),
            before: running.map(str::to_owned),
            after: after.spec.exports.clone(),
        });
    }
    settings
}

/// Bundle size and modules. Only the base spec has contents. Without a base commit, a deployed
/// Worker's modules are unknown (Cloudflare's version API does not return them): list modules
/// and sizes only for a brand-new Worker.
fn modules(before: &Before<'_>, after: &After<'_>) -> (Option<BundleChange>, Vec<ModuleChange>) {
    let base_spec = before.base_spec();
    if base_spec.is_none() && before.live_version.is_some() {
        return (None, Vec::new());
    }
    let bundle = BundleChange {
        before: base_spec.map(|s| s.modules.iter().map(|m| m.size).sum()),
        after: after.spec.modules.iter().map(|m| m.size).sum(),
    };
    let modules = module_changes(base_spec.map(|s| s.modules.as_slice()), &after.spec.modules);
    (Some(bundle), modules)
}

/// Static assets, like modules: only a base spec has manifests (Cloudflare's version API does
/// not return them), so a deployed Worker without a base commit shows none.
fn assets(before: &Before<'_>, after: &After<'_>) -> Option<AssetsDiff> {
    let base_spec = before.base_spec();
    if base_spec.is_none() && before.live_version.is_some() {
        return None;
    }
    assets_diff(
        base_spec.and_then(|s| s.assets.as_ref()),
        after.spec.assets.as_ref(),
    )
}
