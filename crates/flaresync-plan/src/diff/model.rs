//! The diff values: what differs for one Worker, section by section.

use std::collections::BTreeSet;

use flaresync_config::MigrationStep;
use serde::{Deserialize, Serialize};

use crate::migrations::describe_step;

/// What the diff is taken against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DiffBase {
    /// Nothing deployed and no base commit: everything is new.
    Nothing,
    /// The live version serving traffic (bindings, compatibility) plus, when given, the base
    /// commit (modules, settings).
    LiveVersion {
        version_id: String,
        base_commit: Option<String>,
    },
    /// The base commit only (no live state).
    BaseCommit { commit: String },
}

/// All differences for one Worker. Empty lists mean "no change".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerDiff {
    pub against: DiffBase,
    /// Non-variable bindings (KV, R2, D1, DO, services, …).
    pub bindings: Vec<BindingChange>,
    /// `plain_text`, `json` and `secret_text` bindings; secret values are never shown.
    pub vars: Vec<BindingChange>,
    pub compatibility_date: Option<ValueChange>,
    pub compatibility_flags: ListChange,
    pub migrations: MigrationsDiff,
    /// Not versioned by Cloudflare.
    pub routes: ListChange,
    /// Not versioned by Cloudflare.
    pub crons: ListChange,
    /// Other settings (usage model, limits, placement, logpush, observability, …).
    pub settings: Vec<SettingChange>,
    pub bundle: Option<BundleChange>,
    pub modules: Vec<ModuleChange>,
    /// Static assets (files and configuration); absent when they did not change or cannot be
    /// compared (live state without a base commit: Cloudflare does not return manifests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assets: Option<AssetsDiff>,
}

impl WorkerDiff {
    /// A diff with no changes against `against`.
    pub fn empty(against: DiffBase) -> Self {
        WorkerDiff {
            against,
            bindings: Vec::new(),
            vars: Vec::new(),
            compatibility_date: None,
            compatibility_flags: ListChange::default(),
            migrations: MigrationsDiff::default(),
            routes: ListChange::default(),
            crons: ListChange::default(),
            settings: Vec::new(),
            bundle: None,
            modules: Vec::new(),
            assets: None,
        }
    }

    /// Whether nothing at all differs.
    pub fn is_empty(&self) -> bool {
        self.bindings.is_empty()
            && self.vars.is_empty()
            && self.compatibility_date.is_none()
            && self.compatibility_flags.is_empty()
            && self.migrations.is_empty()
            && self.routes.is_empty()
            && self.crons.is_empty()
            && self.settings.is_empty()
            && self
                .bundle
                .as_ref()
                .is_none_or(|b| b.before == Some(b.after))
            && self.modules.is_empty()
            && self.assets.is_none()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Added,
    Removed,
    Changed,
}

impl ChangeKind {
    pub fn label(self) -> &'static str {
        match self {
            ChangeKind::Added => "added",
            ChangeKind::Removed => "removed",
            ChangeKind::Changed => "changed",
        }
    }
}

/// One binding that differs. `before`/`after` are one-line summaries (`None` = absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindingChange {
    pub name: String,
    pub change: ChangeKind,
    pub before: Option<String>,
    pub after: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValueChange {
    pub before: Option<String>,
    pub after: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListChange {
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

impl ListChange {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }

    /// Set difference of two lists (result sorted, duplicates collapsed).
    pub fn between<T: AsRef<str>>(before: &[T], after: &[T]) -> Self {
        let before: BTreeSet<&str> = before.iter().map(AsRef::as_ref).collect();
        let after: BTreeSet<&str> = after.iter().map(AsRef::as_ref).collect();
        ListChange {
            added: after.difference(&before).map(|s| s.to_string()).collect(),
            removed: before.difference(&after).map(|s| s.to_string()).collect(),
        }
    }
}

/// Migration steps that differ between the before and after lists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigrationsDiff {
    /// `tag: operations` of steps only in the after list.
    pub added: Vec<String>,
    /// Steps only in the before list (dropping an applied step is never legal).
    pub removed: Vec<String>,
    /// Steps whose tag stayed but whose operations changed.
    pub edited: Vec<SettingChange>,
}

impl MigrationsDiff {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.edited.is_empty()
    }

    pub fn between(before: &[MigrationStep], after: &[MigrationStep]) -> Self {
        let describe = |s: &MigrationStep| format!("{}: {}", s.tag, describe_step(s));
        MigrationsDiff {
            added: after
                .iter()
                .filter(|s| !before.iter().any(|b| b.tag == s.tag))
                .map(describe)
                .collect(),
            removed: before
                .iter()
                .filter(|s| !after.iter().any(|a| a.tag == s.tag))
                .map(describe)
                .collect(),
            edited: before
                .iter()
                .filter_map(|b| {
                    let a = after.iter().find(|a| a.tag == b.tag && *a != b)?;
                    Some(SettingChange {
                        field: b.tag.clone(),
                        before: Some(describe_step(b)),
                        after: Some(describe_step(a)),
                    })
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingChange {
    pub field: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// Total module bytes (uncompressed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleChange {
    pub before: Option<u64>,
    pub after: u64,
}

/// One module that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleChange {
    pub name: String,
    pub change: ChangeKind,
    pub before_size: Option<u64>,
    pub after_size: Option<u64>,
    /// Unified diff for text modules whose contents are available on both sides.
    pub unified_diff: Option<String>,
}

/// A Worker's static assets diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetsDiff {
    /// Files and bytes before (`None`: no assets).
    pub before: Option<AssetsTotal>,
    /// Files and bytes after (`None`: assets removed).
    pub after: Option<AssetsTotal>,
    /// Files that differ, by path.
    pub files: Vec<AssetChange>,
    /// Asset configuration fields that differ (`_headers` and `_redirects` as their text).
    pub config: Vec<SettingChange>,
}

/// How many files and bytes a Worker's assets hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetsTotal {
    pub files: usize,
    pub bytes: u64,
}

/// One asset file that differs (by content hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetChange {
    /// Manifest path (`/css/site.css`).
    pub path: String,
    pub change: ChangeKind,
    pub before_size: Option<u64>,
    pub after_size: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_change_is_a_set_difference() {
        let change = ListChange::between(&["a", "b"], &["b", "c", "c"]);
        assert_eq!(change.added, ["c"]);
        assert_eq!(change.removed, ["a"]);
        assert!(ListChange::between(&["x"], &["x"]).is_empty());
    }
}
