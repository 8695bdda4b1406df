//! `FS011` broken-config: its check and tests (the doc it shows is `docs/FS011.md`).

use crate::model::{Finding, Severity};

use super::{Context, Subject};

rule! {
    /// the Worker's config does not load at the desired commit
    BrokenConfig, "FS011", "broken-config"
}

fn check(ctx: &Context<'_>) -> Option<Finding> {
    let Subject::Broken { error } = ctx.subject else {
        return None;
    };
    Some(
        Finding::new(
            ID,
            Severity::Error,
            format!("config does not load: {error}"),
        )
        .with_hint("fix the config in a new commit; the live Worker is left untouched"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Rule;
    use crate::rules::test_context::context;
    use crate::test_support::spec;

    #[test]
    fn a_config_that_does_not_load_blocks() {
        let broken = BrokenConfig.check(&context(Subject::Broken { error: "bad toml" }));
        assert_eq!(broken[0].message, "config does not load: bad toml");
        assert!(broken[0].is_blocking());
        let spec = spec("api");
        assert!(
            BrokenConfig
                .check(&context(Subject::Forward { spec: &spec }))
                .is_empty()
        );
    }
}
