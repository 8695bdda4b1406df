//! `FS012` deleted-class-recreated: its check and tests (the doc it shows is `docs/FS012.md`).

use crate::migrations::{self, PendingMigrations};
use crate::model::{Finding, Severity};

use super::{Context, Subject};

rule! {
    /// a pending migration re-creates a deleted Durable Object class (empty storage)
    DeletedClassRecreated, "FS012", "deleted-class-recreated"
}

fn check(ctx: &Context<'_>) -> Vec<Finding> {
    let Subject::Forward { spec } = ctx.subject else {
        return Vec::new();
    };
    let PendingMigrations::Pending(payload) =
        migrations::pending(&spec.migrations, ctx.migration_tag)
    else {
        return Vec::new();
    };
    migrations::recreated_classes(&spec.migrations, &payload.steps)
        .into_iter()
        .map(|(class, deleter)| {
            Finding::new(
                ID,
                Severity::Warning,
                format!(
                    "Durable Object class `{class}` was deleted by `{deleter}` and is created again: it starts with empty storage, the old data is not restored"
                ),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Rule;
    use crate::rules::test_context::{context, step};
    use crate::test_support::spec;

    #[test]
    fn recreating_a_deleted_class_warns_of_empty_storage() {
        let mut spec = spec("api");
        spec.migrations = vec![
            step("v1", &["Counter"], &[]),
            step("v2", &[], &["Counter"]),
            step("v3", &["Counter"], &[]),
        ];
        let ctx = Context {
            migration_tag: Some("v1"),
            ..context(Subject::Forward { spec: &spec })
        };
        let findings = DeletedClassRecreated.check(&ctx);
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert!(
            findings[0]
                .message
                .contains("`Counter` was deleted by `v2`")
        );
        let applied = Context {
            migration_tag: Some("v3"),
            ..ctx
        };
        assert!(DeletedClassRecreated.check(&applied).is_empty());
    }
}
