//! Legality rules: each has an id (`FS001`…), a name, a ruff-style doc (What it checks / Why /
//! Example / How to override) and a pure `check`.
//!
//! The planner builds one [`Context`] per Worker and candidate action and runs every rule; rules
//! ignore subjects they do not concern. A finding with [`Severity::Error`](crate::model::Severity::Error) that is not
//! `overridden` blocks the action. `flaresync explain FS003` prints [`Rule::doc`] via [`rule`].
//!
//! One file per rule (`fs001_version_outside_window.rs` …) holds its id, name, summary, doc
//! (`docs/FSxxx.md`), check and tests; this module holds what they share and the registry.

mod context;
mod labels;
#[cfg(test)]
mod test_context;

pub use context::{ActiveVersion, Context, Subject, Target};
use labels::version_label;
pub use labels::{numbered_version, short};

use crate::model::Finding;

/// A legality rule.
pub trait Rule: Sync {
    /// Stable id, e.g. `FS002`.
    fn id(&self) -> &'static str;
    /// Kebab-case name, e.g. `migration-between-versions`.
    fn name(&self) -> &'static str;
    /// One line.
    fn summary(&self) -> &'static str;
    /// Markdown doc: What it checks / Why / Example / How to override.
    fn doc(&self) -> &'static str;
    /// Findings for this context (empty when the rule does not apply or passes).
    fn check(&self, ctx: &Context<'_>) -> Vec<Finding>;
}

/// Declares a rule's unit struct and its [`Rule`] impl, in the rule's own file next to
/// `docs/FS001.md` and the rule's `check` function:
///
/// ```text
/// rule! {
///     /// rollback target is no longer a deployable version
///     VersionOutsideWindow, "FS001", "version-outside-window"
/// }
/// ```
///
/// The doc comment is the rule's one-line summary. `check` returns the findings as any
/// `IntoIterator` (an `Option` for rules that report at most one).
macro_rules! rule {
    (#[doc = $summary:literal] $ty:ident, $id:literal, $name:literal) => {
        #[doc = concat!("`", $id, "` ", $name, ":", $summary, "\n\n")]
        #[doc = include_str!(concat!("docs/", $id, ".md"))]
        #[derive(Debug, Clone, Copy, Default)]
        pub struct $ty;

        /// This rule's id, for its findings.
        const ID: &str = $id;

        impl $crate::rules::Rule for $ty {
            fn id(&self) -> &'static str {
                ID
            }
            fn name(&self) -> &'static str {
                $name
            }
            fn summary(&self) -> &'static str {
                // A doc comment's text starts after `///` and one space.
                $summary.trim_start()
            }
            fn doc(&self) -> &'static str {
                include_str!(concat!("docs/", $id, ".md"))
            }
            fn check(&self, ctx: &$crate::rules::Context<'_>) -> Vec<$crate::model::Finding> {
                check(ctx).into_iter().collect()
            }
        }
    };
}

mod fs001_version_outside_window;
mod fs002_migration_between_versions;
mod fs003_applied_migration_dropped;
mod fs004_bound_resource_missing;
mod fs005_d1_rollback;
mod fs006_secrets_changed;
mod fs007_unversioned_triggers;
mod fs008_applied_migration_edited;
mod fs009_exports_with_migrations;
mod fs010_invalid_migration_list;
mod fs011_broken_config;
mod fs012_deleted_class_recreated;
mod fs013_required_secret_missing;
mod fs014_worker_removed;
mod fs015_unmanaged_active_version;
mod fs016_split_deployment;
mod fs017_dependency_cycle;
mod fs018_dependency_blocked;
mod fs019_bound_worker_missing;

pub use fs001_version_outside_window::VersionOutsideWindow;
pub use fs002_migration_between_versions::MigrationBetweenVersions;
pub use fs003_applied_migration_dropped::AppliedMigrationDropped;
pub use fs004_bound_resource_missing::BoundResourceMissing;
pub use fs005_d1_rollback::D1Rollback;
pub use fs006_secrets_changed::SecretsChanged;
pub use fs007_unversioned_triggers::UnversionedTriggers;
pub use fs008_applied_migration_edited::AppliedMigrationEdited;
pub use fs009_exports_with_migrations::ExportsWithMigrations;
pub use fs010_invalid_migration_list::InvalidMigrationList;
pub use fs011_broken_config::BrokenConfig;
pub use fs012_deleted_class_recreated::DeletedClassRecreated;
pub use fs013_required_secret_missing::RequiredSecretMissing;
pub use fs014_worker_removed::WorkerRemoved;
pub use fs015_unmanaged_active_version::UnmanagedActiveVersion;
pub use fs016_split_deployment::SplitDeployment;
pub use fs017_dependency_cycle::DependencyCycle;
pub use fs018_dependency_blocked::DependencyBlocked;
pub use fs019_bound_worker_missing::BoundWorkerMissing;

/// The registry: every rule, in id order.
static RULES: [&dyn Rule; 19] = [
    &VersionOutsideWindow,
    &MigrationBetweenVersions,
    &AppliedMigrationDropped,
    &BoundResourceMissing,
    &D1Rollback,
    &SecretsChanged,
    &UnversionedTriggers,
    &AppliedMigrationEdited,
    &ExportsWithMigrations,
    &InvalidMigrationList,
    &BrokenConfig,
    &DeletedClassRecreated,
    &RequiredSecretMissing,
    &WorkerRemoved,
    &UnmanagedActiveVersion,
    &SplitDeployment,
    &DependencyCycle,
    &DependencyBlocked,
    &BoundWorkerMissing,
];

/// Every rule, in id order.
pub fn rules() -> &'static [&'static dyn Rule] {
    &RULES
}

/// Look a rule up by id (`FS003`, case-insensitive) or name (`applied-migration-dropped`).
pub fn rule(id_or_name: &str) -> Option<&'static dyn Rule> {
    rules()
        .iter()
        .copied()
        .find(|r| r.id().eq_ignore_ascii_case(id_or_name) || r.name() == id_or_name)
}

/// The full text `flaresync explain <rule>` prints: a heading line, then the doc.
pub fn explain(id_or_name: &str) -> Option<String> {
    let rule = rule(id_or_name)?;
    Some(format!(
        "{} {}: {}\n\n{}",
        rule.id(),
        rule.name(),
        rule.summary(),
        rule.doc()
    ))
}

/// Run every rule; findings sorted by rule id then message.
pub fn check_all(ctx: &Context<'_>) -> Vec<Finding> {
    let mut findings: Vec<Finding> = rules().iter().flat_map(|r| r.check(ctx)).collect();
    findings.sort_by(|a, b| (&a.rule, &a.message).cmp(&(&b.rule, &b.message)));
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_ids_are_unique_sequential_and_documented() {
        for (index, rule) in rules().iter().enumerate() {
            assert_eq!(rule.id(), format!("FS{:03}", index + 1));
            for heading in [
                "## What it checks",
                "## Why",
                "## Example",
                "## How to override",
            ] {
                assert!(
                    rule.doc().contains(heading),
                    "{} lacks {heading}",
                    rule.id()
                );
            }
        }
        assert_eq!(
            rule("fs003").map(|r| r.name()),
            Some("applied-migration-dropped")
        );
        assert_eq!(rule("split-deployment").map(|r| r.id()), Some("FS016"));
        assert!(rule("FS999").is_none());
        let text = explain("FS003").expect("known rule");
        assert!(text.starts_with("FS003 applied-migration-dropped: "));
        assert!(text.contains("deleted_classes"));
    }
}
