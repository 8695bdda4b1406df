//! Module changes: which modules were added, removed or changed, with a capped unified diff for
//! text modules whose contents are known on both sides.

use std::collections::{BTreeMap, BTreeSet};

use flaresync_config::Module;

use super::model::{ChangeKind, ModuleChange};

/// Largest module (bytes, either side) that gets a line diff; bigger ones show sizes only.
pub const MAX_TEXT_DIFF_BYTES: u64 = 256 * 1024;

/// Most lines kept of one module's unified diff (the rest is summarized in a final line).
pub const MAX_DIFF_LINES: usize = 400;
fn is_text_module(module: &Module) -> bool {
    let ct = module.content_type.as_str();
    ct.starts_with("text/")
        || ct.starts_with("application/javascript")
        || ct.starts_with("application/json")
        || ct == "application/source-map"
}

pub(super) fn module_changes(before: Option<&[Module]>, after: &[Module]) -> Vec<ModuleChange> {
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
}
