//! `FS008` applied-migration-edited: its check and tests (the doc it shows is `docs/FS008.md`).

use crate::migrations;
use crate::model::{Finding, Severity};

use super::{Context, Subject};

rule! {
    /// an applied migration step was edited in place
    AppliedMigrationEdited, "FS008", "applied-migration-edited"
}

fn check(ctx: &Context<'_>) -> Vec<Finding> {
    // Also for unchanged code: an in-place edit alone never reaches Cloudflare.
    let spec = match ctx.subject {
        Subject::Unchanged { spec } => Some(spec),
        other => other.changing_spec(),
    };
    let (Some(spec), Some(applied)) = (spec, ctx.applied_steps) else {
        return Vec::new();
    };
    migrations::edited_steps(applied, &spec.migrations)
        .into_iter()
        .map(|(old, new)| {
            Finding::new(
                ID,
                Severity::Warning,
                format!(
                    "applied migration `{}` was edited in place (applied: {}; now: {}); Cloudflare never re-applies a step, so this edit has no effect",
                    old.tag,
                    migrations::describe_step(old),
                    migrations::describe_step(new)
                ),
            )
            .with_hint(format!(
                "restore `{}` as applied and put the change in a new step appended to [[migrations]]",
                old.tag
            ))
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
    fn an_applied_step_edited_in_place_is_reported_even_without_a_deploy() {
        let mut spec = spec("api");
        spec.migrations = vec![step("v1", &["Renamed"], &[])];
        let applied = [step("v1", &["Counter"], &[])];
        let findings = AppliedMigrationEdited.check(&Context {
            applied_steps: Some(&applied),
            ..context(Subject::Unchanged { spec: &spec })
        });
        assert_eq!(findings[0].severity, Severity::Warning, "{findings:?}");
        assert!(findings[0].message.contains("`v1` was edited in place"));
        let unknown = context(Subject::Unchanged { spec: &spec });
        assert!(AppliedMigrationEdited.check(&unknown).is_empty());
    }
}
