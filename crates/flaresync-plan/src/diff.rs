//! Human-oriented differences between what runs (or ran at the base commit) and what Git wants.
//!
//! Inputs are already canonical ([`WorkerSpec`] sorts bindings, canonicalizes JSON), so reordered
//! keys or comments in a wrangler file never produce a diff here. Secret values are never part of
//! any input; `secret_text` bindings appear by name only.

use std::collections::{BTreeMap, BTreeSet};

use flaresync_config::{Binding, BindingKind, MigrationStep, Module, Route, WorkerSpec};
use serde::{Deserialize, Serialize};

use crate::live::LiveVersion;
use crate::migrations::describe_step;

/// Largest module (bytes, either side) that gets a line diff; bigger ones show sizes only.
pub const MAX_TEXT_DIFF_BYTES: u64 = 256 * 1024;

/// Most lines kept of one module's unified diff (the rest is summarized in a final line).
pub const MAX_DIFF_LINES: usize = 400;

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

/// Compute the diff of one Worker.
pub fn worker_diff(before: Before<'_>, after: After<'_>) -> WorkerDiff {
    let against = match (before.live_version, before.base) {
        (Some(version), base) => DiffBase::LiveVersion {
            version_id: version.id.clone(),
            base_commit: base.map(|(commit, _)| commit.to_owned()),
        },
        (None, Some((commit, _))) => DiffBase::BaseCommit {
            commit: commit.to_owned(),
        },
        (None, None) => DiffBase::Nothing,
    };
    let base_spec = before.base.map(|(_, spec)| spec);
    let mut diff = WorkerDiff::empty(against);

    // Bindings and compatibility: live version first, else base spec.
    let after_bindings: &[Binding] = after
        .target_version
        .map_or(&after.spec.bindings, |t| &t.bindings);
    // A live version carries secret_text bindings that Git never has (values are inherited on
    // upload), so they only take part when both sides come from Cloudflare.
    let include_secrets = after.target_version.is_some();
    let before_bindings: Option<&[Binding]> = before
        .live_version
        .map(|v| v.bindings.as_slice())
        .or(base_spec.map(|s| s.bindings.as_slice()));
    let (bindings, vars) = binding_changes(
        before_bindings.unwrap_or(&[]),
        after_bindings,
        include_secrets,
    );
    diff.bindings = bindings;
    diff.vars = vars;

    let (after_date, after_flags) = match after.target_version {
        Some(t) => (t.compatibility_date.clone(), t.compatibility_flags.clone()),
        None => (
            after.spec.compatibility_date.clone(),
            after.spec.compatibility_flags.clone(),
        ),
    };
    let before_compat = before
        .live_version
        .map(|v| (v.compatibility_date.clone(), v.compatibility_flags.clone()))
        .or(base_spec.map(|s| (s.compatibility_date.clone(), s.compatibility_flags.clone())));
    if let Some((before_date, before_flags)) = before_compat {
        if before_date != after_date {
            diff.compatibility_date = Some(ValueChange {
                before: before_date,
                after: after_date,
            });
        }
        diff.compatibility_flags = ListChange::between(&before_flags, &after_flags);
    } else {
        if after_date.is_some() {
            diff.compatibility_date = Some(ValueChange {
                before: None,
                after: after_date,
            });
        }
        diff.compatibility_flags = ListChange::between(&[], &after_flags);
    }

    // Migrations: base list, else the list believed applied.
    let before_migrations = base_spec
        .map(|s| s.migrations.as_slice())
        .or(before.applied_migrations)
        .unwrap_or(&[]);
    diff.migrations = MigrationsDiff::between(before_migrations, &after.spec.migrations);

    // Triggers: live when fetched, else base.
    let route_text = |r: &Route| route_summary(r);
    let after_routes: Vec<String> = after.spec.routes.iter().map(route_text).collect();
    let before_routes: Vec<String> = match (before.live_routes, base_spec) {
        (Some(routes), _) => routes.iter().map(route_text).collect(),
        (None, Some(spec)) => spec.routes.iter().map(route_text).collect(),
        (None, None) => Vec::new(),
    };
    diff.routes = ListChange::between(&before_routes, &after_routes);
    let before_crons: &[String] = before
        .live_crons
        .or(base_spec.map(|s| s.crons.as_slice()))
        .unwrap_or(&[]);
    diff.crons = ListChange::between(before_crons, &after.spec.crons);

    diff.settings = setting_changes(base_spec, after.spec);
    if base_spec.is_none()
        && let Some(running) = before.running_exports
        && running != after.spec.exports.as_deref()
    {
        diff.settings.push(SettingChange {
            field: "exports".to_owned(),
            before: running.map(str::to_owned),
            after: after.spec.exports.clone(),
        });
    }

    // Modules: only the base spec has contents. Without a base commit, a deployed Worker's
    // modules are unknown (Cloudflare's version API does not return them): list modules and
    // sizes only for a brand-new Worker.
    if base_spec.is_some() || before.live_version.is_none() {
        let after_size: u64 = after.spec.modules.iter().map(|m| m.size).sum();
        let before_size = base_spec.map(|s| s.modules.iter().map(|m| m.size).sum());
        diff.bundle = Some(BundleChange {
            before: before_size,
            after: after_size,
        });
        diff.modules = module_changes(base_spec.map(|s| s.modules.as_slice()), &after.spec.modules);
    }
    diff
}

fn is_var(kind: &BindingKind) -> bool {
    matches!(
        kind,
        BindingKind::PlainText { .. } | BindingKind::Json { .. } | BindingKind::SecretText
    )
}

fn binding_changes(
    before: &[Binding],
    after: &[Binding],
    include_secrets: bool,
) -> (Vec<BindingChange>, Vec<BindingChange>) {
    let keep = |b: &&Binding| include_secrets || b.kind != BindingKind::SecretText;
    let before: BTreeMap<&str, &Binding> = before
        .iter()
        .filter(keep)
        .map(|b| (b.name.as_str(), b))
        .collect();
    let after: BTreeMap<&str, &Binding> = after
        .iter()
        .filter(keep)
        .map(|b| (b.name.as_str(), b))
        .collect();
    let names: BTreeSet<&str> = before.keys().chain(after.keys()).copied().collect();
    let mut bindings = Vec::new();
    let mut vars = Vec::new();
    for name in names {
        let old = before.get(name);
        let new = after.get(name);
        let change = match (old, new) {
            (None, Some(_)) => ChangeKind::Added,
            (Some(_), None) => ChangeKind::Removed,
            (Some(o), Some(n)) if o.kind != n.kind => ChangeKind::Changed,
            _ => continue,
        };
        let var = old.or(new).is_some_and(|b| is_var(&b.kind));
        let entry = BindingChange {
            name: name.to_owned(),
            change,
            before: old.map(|b| binding_summary(&b.kind)),
            after: new.map(|b| binding_summary(&b.kind)),
        };
        if var {
            vars.push(entry)
        } else {
            bindings.push(entry)
        }
    }
    (bindings, vars)
}

/// Field names whose values are never shown for non-`plain_text` bindings.
const SENSITIVE_FIELDS: [&str; 8] = [
    "text",
    "key_base64",
    "key_jwk",
    "secret",
    "password",
    "token",
    "value",
    "private_key",
];

/// One-line description of a binding: `type field=value …`; secrets never show a value.
pub fn binding_summary(kind: &BindingKind) -> String {
    match kind {
        BindingKind::SecretText => "secret_text (value hidden)".to_owned(),
        BindingKind::PlainText { text } => {
            format!("plain_text {}", serde_json::Value::String(text.clone()))
        }
        BindingKind::Json { json } => format!("json {json}"),
        other => {
            let type_name = other.type_name();
            // Unmodelled kinds (`secret_key`, future ones) may carry key material inline.
            let secret_kind = type_name.contains("secret");
            let fields = serde_json::to_value(other)
                .ok()
                .and_then(|v| v.as_object().cloned())
                .unwrap_or_default();
            let mut text = type_name;
            for (key, value) in fields {
                if key == "type" || key == "name" {
                    continue;
                }
                let value = if secret_kind || SENSITIVE_FIELDS.contains(&key.as_str()) {
                    "(hidden)".to_owned()
                } else {
                    match value {
                        serde_json::Value::String(s) => s,
                        other => other.to_string(),
                    }
                };
                text.push_str(&format!(" {key}={value}"));
            }
            text
        }
    }
}

fn route_summary(route: &Route) -> String {
    let mut text = route.pattern.clone();
    if route.custom_domain {
        text.push_str(" (custom domain)");
    }
    if let Some(zone) = route.zone_name.as_ref().or(route.zone_id.as_ref()) {
        text.push_str(&format!(" [zone {zone}]"));
    }
    text
}

fn setting_changes(base: Option<&WorkerSpec>, after: &WorkerSpec) -> Vec<SettingChange> {
    let Some(base) = base else {
        return Vec::new();
    };
    let mut changes = Vec::new();
    let mut field = |name: &str, before: Option<String>, after: Option<String>| {
        if before != after {
            changes.push(SettingChange {
                field: name.to_owned(),
                before,
                after,
            });
        }
    };
    field(
        "main_module",
        Some(base.main_module.clone()),
        Some(after.main_module.clone()),
    );
    field(
        "usage_model",
        base.usage_model.clone(),
        after.usage_model.clone(),
    );
    field("limits", base.limits.clone(), after.limits.clone());
    field("placement", base.placement.clone(), after.placement.clone());
    field("exports", base.exports.clone(), after.exports.clone());
    field(
        "workers_dev",
        base.workers_dev.map(|b| b.to_string()),
        after.workers_dev.map(|b| b.to_string()),
    );
    field(
        "logpush",
        base.settings.logpush.map(|b| b.to_string()),
        after.settings.logpush.map(|b| b.to_string()),
    );
    field(
        "observability",
        base.settings.observability.clone(),
        after.settings.observability.clone(),
    );
    let tails = |s: &WorkerSpec| {
        let names: Vec<String> = s
            .settings
            .tail_consumers
            .iter()
            .map(|t| match &t.environment {
                Some(env) => format!("{}@{env}", t.service),
                None => t.service.clone(),
            })
            .collect();
        (!names.is_empty()).then(|| names.join(", "))
    };
    field("tail_consumers", tails(base), tails(after));
    let consumers = |s: &WorkerSpec| {
        let names: Vec<String> = s
            .queue_consumers
            .iter()
            .map(|q| {
                if q.settings.is_empty() {
                    q.queue.clone()
                } else {
                    format!("{} {}", q.queue, q.settings)
                }
            })
            .collect();
        (!names.is_empty()).then(|| names.join(", "))
    };
    field("queue_consumers", consumers(base), consumers(after));
    let required =
        |s: &WorkerSpec| (!s.secrets_required.is_empty()).then(|| s.secrets_required.join(", "));
    field("secrets_required", required(base), required(after));
    changes
}

fn is_text_module(module: &Module) -> bool {
    let ct = module.content_type.as_str();
    ct.starts_with("text/")
        || ct.starts_with("application/javascript")
        || ct.starts_with("application/json")
        || ct == "application/source-map"
}

fn module_changes(before: Option<&[Module]>, after: &[Module]) -> Vec<ModuleChange> {
    let Some(before) = before else {
        return after
            .iter()
            .map(|m| ModuleChange {
                name: m.name.clone(),
                change: ChangeKind::Added,
                before_size: None,
                after_size: Some(m.size),
                unified_diff: None,
            })
            .collect();
    };
    let old: BTreeMap<&str, &Module> = before.iter().map(|m| (m.name.as_str(), m)).collect();
    let new: BTreeMap<&str, &Module> = after.iter().map(|m| (m.name.as_str(), m)).collect();
    let names: BTreeSet<&str> = old.keys().chain(new.keys()).copied().collect();
    let mut changes = Vec::new();
    for name in names {
        let (o, n) = (old.get(name), new.get(name));
        let change = match (o, n) {
            (None, Some(_)) => ChangeKind::Added,
            (Some(_), None) => ChangeKind::Removed,
            (Some(o), Some(n)) if o.sha256 != n.sha256 || o.content_type != n.content_type => {
                ChangeKind::Changed
            }
            _ => continue,
        };
        let unified_diff = match (o, n) {
            (Some(o), Some(n)) => text_diff(name, o, n),
            _ => None,
        };
        changes.push(ModuleChange {
            name: name.to_owned(),
            change,
            before_size: o.map(|m| m.size),
            after_size: n.map(|m| m.size),
            unified_diff,
        });
    }
    changes
}

fn text_diff(name: &str, old: &Module, new: &Module) -> Option<String> {
    if !is_text_module(old) || !is_text_module(new) {
        return None;
    }
    if old.size > MAX_TEXT_DIFF_BYTES || new.size > MAX_TEXT_DIFF_BYTES {
        return None;
    }
    // Contents may be absent (deserialized specs carry no bytes) or not UTF-8.
    if (old.content.is_empty() && old.size > 0) || (new.content.is_empty() && new.size > 0) {
        return None;
    }
    let old_text = std::str::from_utf8(&old.content).ok()?;
    let new_text = std::str::from_utf8(&new.content).ok()?;
    let diff = similar::TextDiff::from_lines(old_text, new_text);
    let text = diff
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{name}"), &format!("b/{name}"))
        .to_string();
    if text.is_empty() {
        return None;
    }
    let total = text.lines().count();
    if total <= MAX_DIFF_LINES {
        return Some(text);
    }
    let mut kept: String = text
        .lines()
        .take(MAX_DIFF_LINES)
        .flat_map(|line| [line, "\n"])
        .collect();
    kept.push_str(&format!(
        "... {} more diff lines not shown\n",
        total - MAX_DIFF_LINES
    ));
    Some(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(name: &str, kind: BindingKind) -> Binding {
        Binding {
            name: name.into(),
            kind,
        }
    }

    #[test]
    fn secret_values_are_never_summarized() {
        assert_eq!(
            binding_summary(&BindingKind::SecretText),
            "secret_text (value hidden)"
        );
        assert_eq!(
            binding_summary(&BindingKind::R2Bucket {
                bucket_name: "b".into(),
                jurisdiction: Some("eu".into())
            }),
            "r2_bucket bucket_name=b jurisdiction=eu"
        );
    }

    #[test]
    fn bindings_split_into_vars_and_resources_and_ignore_git_less_secrets() {
        let before = [
            binding("API_KEY", BindingKind::SecretText),
            binding(
                "KV",
                BindingKind::KvNamespace {
                    namespace_id: "a".into(),
                },
            ),
            binding("MODE", BindingKind::PlainText { text: "dev".into() }),
        ];
        let after = [
            binding(
                "KV",
                BindingKind::KvNamespace {
                    namespace_id: "b".into(),
                },
            ),
            binding(
                "MODE",
                BindingKind::PlainText {
                    text: "prod".into(),
                },
            ),
        ];
        let (bindings, vars) = binding_changes(&before, &after, false);
        assert_eq!(bindings.len(), 1);
        assert_eq!(bindings[0].change, ChangeKind::Changed);
        assert_eq!(vars.len(), 1);
        assert_eq!(vars[0].after.as_deref(), Some("plain_text \"prod\""));
        let (_, vars) = binding_changes(&before, &after, true);
        assert_eq!(vars.len(), 2);
        assert_eq!(vars[0].name, "API_KEY");
        assert_eq!(vars[0].change, ChangeKind::Removed);
    }

    #[test]
    fn unmodelled_secret_kinds_and_sensitive_fields_are_hidden() {
        let wire = serde_json::json!([
            {"name": "SIGN", "type": "secret_key", "algorithm": "HMAC", "format": "raw", "key_base64": "c2VjcmV0"},
            {"name": "X", "type": "future_kind", "token": "abc", "region": "eu"}
        ]);
        let bindings: Vec<Binding> = serde_json::from_value(wire).expect("parses");
        let sign = binding_summary(&bindings[0].kind);
        assert!(!sign.contains("c2VjcmV0"), "{sign}");
        let other = binding_summary(&bindings[1].kind);
        assert_eq!(other, "future_kind region=eu token=(hidden)");
    }

    #[test]
    fn long_module_diffs_are_capped() {
        let old: String = (0..1000).map(|i| format!("line {i}\n")).collect();
        let new: String = (0..1000).map(|i| format!("line {}\n", i * 2)).collect();
        let module = |text: &str| Module {
            name: "a.js".into(),
            content_type: "application/javascript+module".into(),
            sha256: text.len().to_string(),
            size: text.len() as u64,
            content: std::sync::Arc::from(text.as_bytes()),
        };
        let diff = text_diff("a.js", &module(&old), &module(&new)).expect("text diff");
        assert_eq!(diff.lines().count(), MAX_DIFF_LINES + 1);
        assert!(diff.ends_with("more diff lines not shown\n"));
    }

    #[test]
    fn list_change_is_a_set_difference() {
        let change = ListChange::between(&["a", "b"], &["b", "c", "c"]);
        assert_eq!(change.added, ["c"]);
        assert_eq!(change.removed, ["a"]);
        assert!(ListChange::between(&["x"], &["x"]).is_empty());
    }
}
