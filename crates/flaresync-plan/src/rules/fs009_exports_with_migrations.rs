//! `FS009` exports-with-migrations: its check and tests (the doc it shows is `docs/FS009.md`).

use crate::model::{Finding, Severity};

use super::Context;

rule! {
    /// `exports` and `migrations` are both set
    ExportsWithMigrations, "FS009", "exports-with-migrations"
}

fn check(ctx: &Context<'_>) -> Option<Finding> {
    let spec = ctx.subject.changing_spec()?;
    if spec.exports.is_none() || spec.migrations.is_empty() {
        return None;
    }
    Some(
        Finding::new(
            ID,
            Severity::Error,
            format!(
                "{} sets both `exports` and `migrations`; they are mutually exclusive",
                spec.config_path
            ),
        )
        .with_hint("keep either the [[migrations]] list or the exports map"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Rule;
    use crate::rules::Subject;
    use crate::rules::test_context::{context, step};
    use crate::test_support::spec;

    #[test]
    fn exports_and_migrations_together_are_refused() {
        let mut spec = spec("api");
        spec.exports = Some("{}".into());
        assert!(
            ExportsWithMigrations
                .check(&context(Subject::Forward { spec: &spec }))
                .is_empty()
        );
        spec.migrations = vec![step("v1", &["Counter"], &[])];
        let findings = ExportsWithMigrations.check(&context(Subject::Forward { spec: &spec }));
        assert!(findings[0].is_blocking(), "{findings:?}");
    }
}
