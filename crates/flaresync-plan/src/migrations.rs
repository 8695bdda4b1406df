//! Durable Object migration arithmetic: which steps a script upload must carry, and how a
//! desired migration list relates to what Cloudflare already applied.
//!
//! Mirrors wrangler's `getMigrationsToUpload` (tags are opaque strings compared in list order)
//! with one deliberate difference: when the live tag is missing from the desired list, wrangler
//! warns and re-sends every step; flaresync refuses ([`PendingMigrations::LiveTagMissing`]),
//! because that list no longer describes what is applied (DO-MIGRATIONS.md, implication 2).

use std::collections::BTreeSet;

use flaresync_config::MigrationStep;

use crate::model::MigrationsPayload;

/// What a script upload has to do about migrations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PendingMigrations {
    /// Nothing to send: the live tag is the last desired tag (or neither side has migrations).
    None,
    /// Send these steps.
    Pending(MigrationsPayload),
    /// The live tag is not in the desired list: an applied migration was dropped from Git.
    LiveTagMissing { live_tag: String },
}

/// Compute the `migrations` field for a script upload, from the desired list and the script's
/// live migration tag.
pub fn pending(desired: &[MigrationStep], live_tag: Option<&str>) -> PendingMigrations {
    let Some(last) = desired.last() else {
        return match live_tag {
            Some(tag) => PendingMigrations::LiveTagMissing {
                live_tag: tag.to_owned(),
            },
            None => PendingMigrations::None,
        };
    };
    match live_tag {
        None => PendingMigrations::Pending(MigrationsPayload {
            old_tag: None,
            new_tag: last.tag.clone(),
            steps: desired.to_vec(),
        }),
        Some(tag) => match desired.iter().position(|s| s.tag == tag) {
            None => PendingMigrations::LiveTagMissing {
                live_tag: tag.to_owned(),
            },
            Some(index) if index + 1 == desired.len() => PendingMigrations::None,
            Some(index) => PendingMigrations::Pending(MigrationsPayload {
                old_tag: Some(tag.to_owned()),
                new_tag: last.tag.clone(),
                steps: desired[index + 1..].to_vec(),
            }),
        },
    }
}

/// Problems with the shape of a migration list (DO-MIGRATIONS.md pattern 8).
pub fn shape_problems(steps: &[MigrationStep]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for (index, step) in steps.iter().enumerate() {
        if step.tag.trim().is_empty() {
            problems.push(format!("migration step #{} has no tag", index + 1));
        } else if !seen.insert(step.tag.as_str()) {
            problems.push(format!(
                "migration tag `{}` appears more than once",
                step.tag
            ));
        }
        if is_empty_step(step) {
            problems.push(format!(
                "migration step `{}` has no operations",
                display_tag(&step.tag)
            ));
        }
    }
    problems
}

fn display_tag(tag: &str) -> &str {
    if tag.is_empty() { "<untagged>" } else { tag }
}

fn is_empty_step(step: &MigrationStep) -> bool {
    step.new_classes.is_empty()
        && step.new_sqlite_classes.is_empty()
        && step.renamed_classes.is_empty()
        && step.deleted_classes.is_empty()
        && step.transferred_classes.is_empty()
}

/// The steps of `list` up to and including `tag` (the applied prefix), or `None` when `tag` is
/// not in the list.
pub fn applied_prefix<'a>(list: &'a [MigrationStep], tag: &str) -> Option<&'a [MigrationStep]> {
    list.iter()
        .position(|s| s.tag == tag)
        .map(|index| &list[..=index])
}

/// Applied steps whose content differs in `desired` (same tag, different operations).
pub fn edited_steps<'a>(
    applied: &'a [MigrationStep],
    desired: &'a [MigrationStep],
) -> Vec<(&'a MigrationStep, &'a MigrationStep)> {
    applied
        .iter()
        .filter_map(|old| {
            desired
                .iter()
                .find(|new| new.tag == old.tag)
                .filter(|new| *new != old)
                .map(|new| (old, new))
        })
        .collect()
}

/// Classes created again by `steps` after an earlier step of `all` deleted them: the new
/// namespace starts empty (DO-MIGRATIONS.md implication 4). Returns (class, deleting tag).
pub fn recreated_classes(all: &[MigrationStep], steps: &[MigrationStep]) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for step in steps {
        let created = step.new_classes.iter().chain(&step.new_sqlite_classes);
        for class in created {
            let earlier = all.iter().take_while(|s| s.tag != step.tag);
            if let Some(deleter) = earlier
                .filter(|s| s.deleted_classes.iter().any(|d| d == class))
                .last()
            {
                found.push((class.clone(), deleter.tag.clone()));
            }
        }
    }
    found
}

/// A one-line summary of a step's operations, e.g. `new_sqlite_classes: Room; deleted_classes: Old`.
pub fn describe_step(step: &MigrationStep) -> String {
    let renames = step
        .renamed_classes
        .iter()
        .map(|r| format!("{} -> {}", r.from, r.to));
    let transfers = step
        .transferred_classes
        .iter()
        .map(|t| format!("{} from {}:{}", t.to, t.from_script, t.from));
    let operations: [(&str, Vec<String>); 5] = [
        ("new_classes", step.new_classes.clone()),
        ("new_sqlite_classes", step.new_sqlite_classes.clone()),
        ("renamed_classes", renames.collect()),
        ("deleted_classes", step.deleted_classes.clone()),
        ("transferred_classes", transfers.collect()),
    ];
    let parts: Vec<String> = operations
        .iter()
        .filter(|(_, items)| !items.is_empty())
        .map(|(label, items)| format!("{label}: {}", items.join(", ")))
        .collect();
    if parts.is_empty() {
        "(no operations)".to_owned()
    } else {
        parts.join("; ")
    }
}

/// Classes that exist after applying `steps` in order (created, renamed, transferred in; minus
/// deleted, renamed away).
pub fn classes_after(steps: &[MigrationStep]) -> BTreeSet<String> {
    let mut classes = BTreeSet::new();
    for step in steps {
        classes.extend(step.new_classes.iter().cloned());
        classes.extend(step.new_sqlite_classes.iter().cloned());
        for rename in &step.renamed_classes {
            classes.remove(&rename.from);
            classes.insert(rename.to.clone());
        }
        for transfer in &step.transferred_classes {
            classes.insert(transfer.to.clone());
        }
        for deleted in &step.deleted_classes {
            classes.remove(deleted);
        }
    }
    classes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(tag: &str, new: &[&str], deleted: &[&str]) -> MigrationStep {
        MigrationStep {
            tag: tag.into(),
            new_sqlite_classes: new.iter().map(|s| s.to_string()).collect(),
            deleted_classes: deleted.iter().map(|s| s.to_string()).collect(),
            ..MigrationStep::default()
        }
    }

    #[test]
    fn no_live_tag_sends_every_step_without_old_tag() {
        let list = [step("v1", &["A"], &[]), step("v2", &["B"], &[])];
        let PendingMigrations::Pending(payload) = pending(&list, None) else {
            panic!("expected pending");
        };
        assert_eq!(payload.old_tag, None);
        assert_eq!(payload.new_tag, "v2");
        assert_eq!(payload.steps.len(), 2);
    }

    #[test]
    fn live_tag_in_middle_sends_the_rest() {
        let list = [
            step("v1", &["A"], &[]),
            step("v3", &["B"], &[]),
            step("v5", &[], &["A"]),
        ];
        let PendingMigrations::Pending(payload) = pending(&list, Some("v1")) else {
            panic!("expected pending");
        };
        assert_eq!(payload.old_tag.as_deref(), Some("v1"));
        assert_eq!(payload.new_tag, "v5");
        assert_eq!(
            payload
                .steps
                .iter()
                .map(|s| s.tag.as_str())
                .collect::<Vec<_>>(),
            ["v3", "v5"]
        );
    }

    #[test]
    fn live_tag_last_means_nothing_pending() {
        let list = [step("v1", &["A"], &[])];
        assert_eq!(pending(&list, Some("v1")), PendingMigrations::None);
        assert_eq!(pending(&[], None), PendingMigrations::None);
    }

    #[test]
    fn live_tag_missing_from_list_is_refused_not_reapplied() {
        let list = [step("v1", &["A"], &[])];
        assert_eq!(
            pending(&list, Some("v2")),
            PendingMigrations::LiveTagMissing {
                live_tag: "v2".into()
            }
        );
        assert_eq!(
            pending(&[], Some("v1")),
            PendingMigrations::LiveTagMissing {
                live_tag: "v1".into()
            }
        );
    }

    #[test]
    fn shape_problems_catch_duplicates_untagged_and_empty_steps() {
        let list = [
            step("v1", &["A"], &[]),
            step("v1", &["B"], &[]),
            step("", &["C"], &[]),
            step("v4", &[], &[]),
        ];
        assert_eq!(
            shape_problems(&list),
            [
                "migration tag `v1` appears more than once",
                "migration step #3 has no tag",
                "migration step `v4` has no operations",
            ]
        );
        assert!(shape_problems(&list[..1]).is_empty());
    }

    #[test]
    fn edited_and_recreated_steps_are_found() {
        let applied = [step("v1", &["A"], &[]), step("v2", &[], &["A"])];
        let desired = [
            step("v1", &["A", "B"], &[]),
            step("v2", &[], &["A"]),
            step("v3", &["A"], &[]),
        ];
        let edited = edited_steps(&applied, &desired);
        assert_eq!(edited.len(), 1);
        assert_eq!(edited[0].0.tag, "v1");
        assert_eq!(
            recreated_classes(&desired, &desired[2..]),
            [("A".to_string(), "v2".to_string())]
        );
        assert_eq!(
            classes_after(&desired).into_iter().collect::<Vec<_>>(),
            ["A", "B"]
        );
    }

    #[test]
    fn a_step_is_described_operation_by_operation_in_a_fixed_order() {
        let full = MigrationStep {
            tag: "v1".into(),
            new_classes: vec!["A".into(), "B".into()],
            new_sqlite_classes: vec!["Room".into()],
            renamed_classes: vec![flaresync_config::RenamedClass {
                from: "Old".into(),
                to: "New".into(),
            }],
            deleted_classes: vec!["Gone".into()],
            transferred_classes: vec![flaresync_config::TransferredClass {
                from: "Theirs".into(),
                from_script: "other".into(),
                to: "Ours".into(),
            }],
        };
        assert_eq!(
            describe_step(&full),
            "new_classes: A, B; new_sqlite_classes: Room; renamed_classes: Old -> New; \
             deleted_classes: Gone; transferred_classes: Ours from other:Theirs"
        );
        assert_eq!(
            describe_step(&step("v2", &["Room"], &["Gone"])),
            "new_sqlite_classes: Room; deleted_classes: Gone"
        );
        assert_eq!(describe_step(&step("v3", &[], &[])), "(no operations)");
    }
}
