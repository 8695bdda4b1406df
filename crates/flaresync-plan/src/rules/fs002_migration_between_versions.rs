//! `FS002` migration-between-versions: its check and tests (the doc it shows is `docs/FS002.md`).

use crate::model::{Finding, Severity};

use super::{Context, version_label};

rule! {
    /// a Durable Object migration lies between the active version and the rollback target
    MigrationBetweenVersions, "FS002", "migration-between-versions"
}

fn check(ctx: &Context<'_>) -> Option<Finding> {
    let target = ctx.subject.rollback_target()?;
    if !ctx.live_observed {
        return None;
    }
    let target_tag = match target.live {
        Some(live) => live.migration_tag.as_deref(),
        // Not listed live: fall back to the tag its commit declared.
        None => target.known.migrations.last().map(|s| s.tag.as_str()),
    };
    if target_tag == ctx.migration_tag {
        return None;
    }
    let label = version_label(target.known, target.live);
    let message = format!(
        "{label} was deployed with migration tag {} but the script is now at {}; Cloudflare refuses rollbacks across a Durable Object migration",
        tag_text(target_tag),
        tag_text(ctx.migration_tag)
    );
    Some(Finding::new(ID, Severity::Error, message).with_hint(
        "roll forward instead: keep the applied [[migrations]] steps and commit the code change you want",
    ))
}

fn tag_text(tag: Option<&str>) -> String {
    match tag {
        Some(tag) => format!("`{tag}`"),
        None => "(none)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::LiveVersion;
    use crate::rules::Rule;
    use crate::rules::test_context::{context, rollback};
    use crate::test_support::{known, spec};

    #[test]
    fn a_rollback_across_a_migration_is_refused() {
        let (spec, known) = (spec("api"), known("v1", "d1"));
        let target = LiveVersion {
            id: "v1".into(),
            number: 1,
            migration_tag: Some("m1".into()),
            ..LiveVersion::default()
        };
        let ctx = context(rollback(&spec, &known, Some(&target)));
        let across = MigrationBetweenVersions.check(&Context {
            migration_tag: Some("m2"),
            ..ctx.clone()
        });
        assert!(across[0].is_blocking(), "{across:?}");
        assert!(
            across[0]
                .message
                .contains("tag `m1` but the script is now at `m2`")
        );
        let same = Context {
            migration_tag: Some("m1"),
            ..ctx
        };
        assert!(MigrationBetweenVersions.check(&same).is_empty());
    }
}
