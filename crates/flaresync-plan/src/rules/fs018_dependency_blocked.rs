//! `FS018` dependency-blocked: its check and tests (the doc it shows is `docs/FS018.md`).

use crate::model::{Finding, Severity};

use super::{Context, Subject};

rule! {
    /// a Worker this one depends on is blocked
    DependencyBlocked, "FS018", "dependency-blocked"
}

fn check(ctx: &Context<'_>) -> Option<Finding> {
    if ctx.blocked_dependencies.is_empty() {
        return None;
    }
    let names = ctx
        .blocked_dependencies
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ");
    // A move to a newer existing version (a revert of a revert) goes forward: like a deploy,
    // it waits for its dependencies.
    let forward = match ctx.subject {
        Subject::Forward { .. } => true,
        Subject::Rollback { .. } => ctx.rollback_to_older().is_none(),
        _ => false,
    };
    match ctx.subject {
        _ if forward => Some(
            Finding::new(
                ID,
                Severity::Error,
                format!("held back: it depends on {names}, which is blocked"),
            )
            .with_hint("fix the blocked dependency first; dependencies are always deployed before the Workers that use them")
        ),
        Subject::Rollback { .. } => Some(Finding::new(
            ID,
            Severity::Warning,
            format!(
                "it depends on {names}, which is blocked and keeps its newer version; this rollback still runs"
            ),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Rule;
    use crate::rules::test_context::{context, rollback};
    use crate::test_support::{known, spec};

    #[test]
    fn a_blocked_dependency_holds_a_deploy_back_but_not_a_rollback() {
        let (spec, known) = (spec("api"), known("v1", "d1"));
        let blocked = ["db".to_owned()];
        let with_blocked = |subject| Context {
            blocked_dependencies: &blocked,
            ..context(subject)
        };
        let forward = DependencyBlocked.check(&with_blocked(Subject::Forward { spec: &spec }));
        assert!(forward[0].is_blocking(), "{forward:?}");
        assert!(forward[0].message.contains("depends on `db`"));
        let back = DependencyBlocked.check(&with_blocked(rollback(&spec, &known, None)));
        assert_eq!(back[0].severity, Severity::Warning, "{back:?}");
        assert!(
            DependencyBlocked
                .check(&with_blocked(Subject::Removed))
                .is_empty()
        );
    }
}
