//! Static assets changes: files added, removed or changed (by hash) with their sizes, the
//! totals on both sides, and the asset configuration (`html_handling`, `not_found_handling`,
//! `run_worker_first`, `_headers`, `_redirects`).

use std::collections::{BTreeMap, BTreeSet};

use flaresync_config::{AssetFile, Assets};

use super::model::{AssetChange, AssetsDiff, AssetsTotal, ChangeKind, SettingChange};

/// The assets diff between `before` and `after` (`None` on a side: no assets there); `None`
/// when nothing differs.
pub(super) fn assets_diff(before: Option<&Assets>, after: Option<&Assets>) -> Option<AssetsDiff> {
    let diff = AssetsDiff {
        before: before.map(total),
        after: after.map(total),
        files: file_changes(
            before.map_or(&[], |a| a.files.as_slice()),
            after.map_or(&[], |a| a.files.as_slice()),
        ),
        config: config_changes(before, after),
    };
    let unchanged = diff.files.is_empty() && diff.config.is_empty() && diff.before == diff.after;
    (!unchanged).then_some(diff)
}

fn total(assets: &Assets) -> AssetsTotal {
    AssetsTotal {
        files: assets.files.len(),
        bytes: assets.total_size(),
    }
}

fn file_changes(before: &[AssetFile], after: &[AssetFile]) -> Vec<AssetChange> {
    let old: BTreeMap<&str, &AssetFile> = before.iter().map(|f| (f.path.as_str(), f)).collect();
    let new: BTreeMap<&str, &AssetFile> = after.iter().map(|f| (f.path.as_str(), f)).collect();
    let paths: BTreeSet<&str> = old.keys().chain(new.keys()).copied().collect();
    paths
        .into_iter()
        .filter_map(|path| {
            let (o, n) = (old.get(path), new.get(path));
            let change = match (o, n) {
                (None, Some(_)) => ChangeKind::Added,
                (Some(_), None) => ChangeKind::Removed,
                (Some(o), Some(n)) if o.hash != n.hash => ChangeKind::Changed,
                _ => return None,
            };
            Some(AssetChange {
                path: path.to_owned(),
                change,
                before_size: o.map(|f| f.size),
                after_size: n.map(|f| f.size),
            })
        })
        .collect()
}

/// Configuration fields that differ, as canonical JSON text (`_headers`/`_redirects` as their
/// text on one line).
fn config_changes(before: Option<&Assets>, after: Option<&Assets>) -> Vec<SettingChange> {
    let fields = |assets: Option<&Assets>| -> BTreeMap<String, String> {
        let Some(value) = assets.and_then(|a| serde_json::to_value(&a.config).ok()) else {
            return BTreeMap::new();
        };
        let Some(object) = value.as_object() else {
            return BTreeMap::new();
        };
        object
            .iter()
            .map(|(key, value)| {
                // One line per value: `_headers` and `_redirects` keep their newlines as `\n`.
                let text = match value {
                    serde_json::Value::String(text) => text.replace('\n', "\\n"),
                    other => other.to_string(),
                };
                (key.clone(), text)
            })
            .collect()
    };
    let (old, new) = (fields(before), fields(after));
    let keys: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    keys.into_iter()
        .filter(|key| old.get(*key) != new.get(*key))
        .map(|key| SettingChange {
            field: key.clone(),
            before: old.get(key).cloned(),
            after: new.get(key).cloned(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use flaresync_config::AssetsConfig;

    use super::*;

    fn assets(files: &[(&str, &str, u64)], html: Option<&str>) -> Assets {
        Assets {
            directory: "public".into(),
            config: AssetsConfig {
                html_handling: html.map(str::to_owned),
                ..AssetsConfig::default()
            },
            files: files
                .iter()
                .map(|(path, hash, size)| AssetFile {
                    path: (*path).into(),
                    hash: (*hash).into(),
                    size: *size,
                    content: Arc::from(&b""[..]),
                })
                .collect(),
        }
    }

    #[test]
    fn files_are_added_removed_and_changed_by_hash_with_sizes() {
        let before = assets(
            &[
                ("/a.html", "h1", 10),
                ("/b.css", "h2", 20),
                ("/c.js", "h3", 5),
            ],
            None,
        );
        let after = assets(
            &[
                ("/a.html", "h1", 10),
                ("/b.css", "h9", 25),
                ("/d.png", "h4", 7),
            ],
            Some("none"),
        );
        let diff = assets_diff(Some(&before), Some(&after)).expect("differs");
        let files: Vec<(&str, ChangeKind, Option<u64>, Option<u64>)> = diff
            .files
            .iter()
            .map(|c| (c.path.as_str(), c.change, c.before_size, c.after_size))
            .collect();
        assert_eq!(
            files,
            [
                ("/b.css", ChangeKind::Changed, Some(20), Some(25)),
                ("/c.js", ChangeKind::Removed, Some(5), None),
                ("/d.png", ChangeKind::Added, None, Some(7)),
            ]
        );
        assert_eq!(
            diff.before,
            Some(AssetsTotal {
                files: 3,
                bytes: 35
            })
        );
        assert_eq!(
            diff.after,
            Some(AssetsTotal {
                files: 3,
                bytes: 42
            })
        );
        assert_eq!(diff.config.len(), 1);
        assert_eq!(diff.config[0].field, "html_handling");
    }

    #[test]
    fn equal_assets_or_none_on_both_sides_give_no_diff() {
        let same = assets(&[("/a.html", "h1", 10)], None);
        assert_eq!(assets_diff(Some(&same), Some(&same)), None);
        assert_eq!(assets_diff(None, None), None);
        let added = assets_diff(None, Some(&same)).expect("new assets");
        assert_eq!(added.before, None);
        assert_eq!(added.files[0].change, ChangeKind::Added);
    }
}
