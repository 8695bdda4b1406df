//! `FS017` dependency-cycle: its check and tests (the doc it shows is `docs/FS017.md`).

use crate::model::{Finding, Severity};

use super::Context;

rule! {
    /// the Worker is part of a deploy-order cycle; name order is used instead
    DependencyCycle, "FS017", "dependency-cycle"
}

fn check(ctx: &Context<'_>) -> Option<Finding> {
    let cycle = ctx.cycle?;
    let mut path: Vec<&str> = cycle.iter().map(String::as_str).collect();
    if let Some(first) = cycle.first() {
        path.push(first);
    }
    Some(
        Finding::new(
            ID,
            Severity::Warning,
            format!(
                "deploy-order cycle {}; all Workers are ordered by name instead",
                path.join(" -> ")
            ),
        )
        .with_hint("break the cycle, or set an explicit `order` in flaresync.toml that does not contradict the bindings")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Rule;
    use crate::rules::Subject;
    use crate::rules::test_context::context;

    #[test]
    fn a_cycle_is_named_as_a_closed_path() {
        let cycle = ["api".to_owned(), "web".to_owned()];
        let findings = DependencyCycle.check(&Context {
            cycle: Some(&cycle),
            ..context(Subject::Removed)
        });
        assert!(findings[0].message.contains("cycle api -> web -> api"));
        assert!(DependencyCycle.check(&context(Subject::Removed)).is_empty());
    }
}
