//! `FS005` d1-rollback: its check and tests (the doc it shows is `docs/FS005.md`).

use flaresync_config::BindingKind;

use crate::model::{Finding, Severity};

use super::Context;

rule! {
    /// rollback target binds a D1 database
    D1Rollback, "FS005", "d1-rollback"
}

fn check(ctx: &Context<'_>) -> Option<Finding> {
    ctx.rollback_to_older()?;
    let names: Vec<&str> = ctx
        .subject
        .running_bindings()
        .into_iter()
        .flatten()
        .filter(|b| matches!(b.kind, BindingKind::D1 { .. }))
        .map(|b| b.name.as_str())
        .collect();
    if names.is_empty() {
        return None;
    }
    let message = format!(
        "the rollback target binds D1 ({}); a rollback does not roll back the database schema or data",
        names.join(", ")
    );
    if ctx.policy.d1_blocks_rollback {
        Some(Finding::new(ID, Severity::Error, message).with_hint(
            "set d1_blocks_rollback = false for this Worker in flaresync.toml if the schema is compatible",
        ))
    } else {
        let mut finding = Finding::new(ID, Severity::Warning, message);
        finding.overridden = true;
        Some(finding)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::Policy;
    use crate::live::LiveVersion;
    use crate::rules::Rule;
    use crate::rules::test_context::{binding, context, rollback};
    use crate::test_support::{known, spec};

    #[test]
    fn a_rollback_to_a_d1_version_is_refused_unless_the_policy_allows_it() {
        let (spec, known) = (spec("api"), known("v1", "d1"));
        let target = LiveVersion {
            id: "v1".into(),
            bindings: vec![binding("DB", BindingKind::D1 { id: "db".into() })],
            ..LiveVersion::default()
        };
        let ctx = context(rollback(&spec, &known, Some(&target)));
        let refused = D1Rollback.check(&ctx);
        assert!(refused[0].is_blocking(), "{refused:?}");
        assert!(refused[0].message.contains("binds D1 (DB)"));
        let lenient = Policy {
            d1_blocks_rollback: false,
            ..Policy::default()
        };
        let allowed = D1Rollback.check(&Context {
            policy: &lenient,
            ..ctx
        });
        assert!(
            allowed[0].overridden && !allowed[0].is_blocking(),
            "{allowed:?}"
        );
        assert!(
            D1Rollback
                .check(&context(rollback(&spec, &known, None)))
                .is_empty()
        );
    }
}
