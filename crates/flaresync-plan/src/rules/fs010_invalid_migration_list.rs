//! `FS010` invalid-migration-list: its check and tests (the doc it shows is `docs/FS010.md`).

use crate::migrations;
use crate::model::{Finding, Severity};

use super::Context;

rule! {
    /// migration list has untagged, duplicate or empty steps
    InvalidMigrationList, "FS010", "invalid-migration-list"
}

fn check(ctx: &Context<'_>) -> Vec<Finding> {
    let Some(spec) = ctx.subject.changing_spec() else {
        return Vec::new();
    };
    migrations::shape_problems(&spec.migrations)
        .into_iter()
        .map(|problem| {
            Finding::new(
                ID,
                Severity::Error,
                format!("{}: {problem}", spec.config_path),
            )
            .with_hint("give every [[migrations]] step a unique tag and at least one operation")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Rule;
    use crate::rules::Subject;
    use crate::rules::test_context::{context, step};
    use crate::test_support::spec;

    #[test]
    fn duplicate_and_empty_steps_are_refused() {
        let mut spec = spec("api");
        spec.migrations = vec![step("v1", &["A"], &[]), step("v1", &[], &[])];
        let findings = InvalidMigrationList.check(&context(Subject::Forward { spec: &spec }));
        let messages: Vec<&str> = findings.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "api/wrangler.toml: migration tag `v1` appears more than once",
                "api/wrangler.toml: migration step `v1` has no operations"
            ]
        );
        assert!(findings.iter().all(Finding::is_blocking));
    }
}
