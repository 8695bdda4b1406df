//! `FS003` applied-migration-dropped: its check and tests (the doc it shows is `docs/FS003.md`).

use std::collections::BTreeSet;

use flaresync_config::{BindingKind, WorkerSpec};

use crate::migrations::{self, PendingMigrations};
use crate::model::{Finding, Severity};

use super::Context;

rule! {
    /// the desired migration list drops a step that is already applied
    AppliedMigrationDropped, "FS003", "applied-migration-dropped"
}

fn check(ctx: &Context<'_>) -> Option<Finding> {
    let spec = ctx.subject.changing_spec()?;
    let PendingMigrations::LiveTagMissing { live_tag } =
        migrations::pending(&spec.migrations, ctx.migration_tag)
    else {
        return None;
    };
    let desired_tags: Vec<&str> = spec.migrations.iter().map(|s| s.tag.as_str()).collect();
    let message = format!(
        "the script's applied migration tag `{live_tag}` is missing from the desired [[migrations]] list ({}); migrations are forward-only and a revert cannot un-apply them",
        if desired_tags.is_empty() {
            "now empty".to_owned()
        } else {
            format!("now {}", desired_tags.join(", "))
        }
    );
    Some(
        Finding::new(ID, Severity::Error, message)
            .with_hint(suggest_forward_fix(ctx, spec, &live_tag)),
    )
}

/// Say exactly what to write instead of dropping applied steps.
fn suggest_forward_fix(ctx: &Context<'_>, spec: &WorkerSpec, live_tag: &str) -> String {
    let new_tag = next_tag(live_tag);
    let Some(applied) = ctx.applied_steps.filter(|s| !s.is_empty()) else {
        return format!(
            "keep every applied step (up to `{live_tag}`) in [[migrations]] unchanged and append a new step, e.g. tag = \"{new_tag}\" with deleted_classes = [...] or renamed_classes = [{{ from = \"...\", to = \"...\" }}] for the classes you no longer want"
        );
    };
    let applied_tags: Vec<&str> = applied.iter().map(|s| s.tag.as_str()).collect();
    let live_classes = migrations::classes_after(applied);
    let bound: BTreeSet<&str> = spec
        .bindings
        .iter()
        .filter_map(|b| match &b.kind {
            BindingKind::DurableObjectNamespace {
                class_name,
                script_name: None,
                ..
            } => Some(class_name.as_str()),
            _ => None,
        })
        .collect();
    let wanted = migrations::classes_after(&spec.migrations);
    let to_delete: Vec<String> = live_classes
        .iter()
        .filter(|c| !wanted.contains(*c) && !bound.contains(c.as_str()))
        .map(|c| format!("\"{c}\""))
        .collect();
    let step = if to_delete.is_empty() {
        format!(
            "[[migrations]] tag = \"{new_tag}\" with the deleted_classes or renamed_classes you need"
        )
    } else {
        format!(
            "[[migrations]] tag = \"{new_tag}\", deleted_classes = [{}]",
            to_delete.join(", ")
        )
    };
    format!(
        "keep the applied steps {} exactly as applied and append a new step: {step} (deleting a class deletes its data; use renamed_classes to keep it)",
        applied_tags.join(", ")
    )
}

/// `v7` -> `v8`; anything else -> `<tag>-next`.
fn next_tag(tag: &str) -> String {
    let digits_start = tag
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_ascii_digit())
        .last()
        .map(|(i, _)| i);
    match digits_start.and_then(|i| tag[i..].parse::<u64>().ok().map(|n| (i, n))) {
        Some((index, number)) => format!("{}{}", &tag[..index], number.saturating_add(1)),
        None => format!("{tag}-next"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Rule;
    use crate::rules::Subject;
    use crate::rules::test_context::{context, step};
    use crate::test_support::spec;

    #[test]
    fn dropping_an_applied_step_is_refused_with_the_step_to_write_instead() {
        let spec = spec("api");
        let applied = [step("v1", &["Counter"], &[])];
        let ctx = Context {
            migration_tag: Some("v1"),
            ..context(Subject::Forward { spec: &spec })
        };
        let unknown_steps = AppliedMigrationDropped.check(&ctx);
        assert!(unknown_steps[0].is_blocking(), "{unknown_steps:?}");
        assert!(unknown_steps[0].message.contains("`v1` is missing"));
        let known_steps = AppliedMigrationDropped.check(&Context {
            applied_steps: Some(&applied),
            ..ctx
        });
        let hint = known_steps[0].hint.as_deref().unwrap_or_default();
        assert!(
            hint.contains(r#"tag = "v2", deleted_classes = ["Counter"]"#),
            "{hint}"
        );
        assert!(
            AppliedMigrationDropped
                .check(&context(Subject::Forward { spec: &spec }))
                .is_empty()
        );
    }

    #[test]
    fn next_tag_increments_trailing_number() {
        assert_eq!(next_tag("v7"), "v8");
        assert_eq!(next_tag("v09"), "v10");
        assert_eq!(next_tag("0.0.1"), "0.0.2");
        assert_eq!(next_tag("init"), "init-next");
    }
}
