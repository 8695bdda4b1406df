//! `FS007` unversioned-triggers: its check and tests (the doc it shows is `docs/FS007.md`).

use std::collections::BTreeSet;

use crate::model::{Finding, Severity};

use super::{Context, Subject};

rule! {
    /// routes, custom domains and crons are not rolled back with a version
    UnversionedTriggers, "FS007", "unversioned-triggers"
}

fn check(ctx: &Context<'_>) -> Option<Finding> {
    let Subject::Rollback { spec, .. } = ctx.subject else {
        return None;
    };
    let live_routes = ctx.live.and_then(|l| l.routes.as_ref());
    let live_crons = ctx.live.and_then(|l| l.crons.as_ref());
    let routes_differ = live_routes.is_some_and(|r| {
        let a: BTreeSet<_> = r.iter().collect();
        let b: BTreeSet<_> = spec.routes.iter().collect();
        a != b
    });
    let crons_differ = live_crons.is_some_and(|c| {
        let a: BTreeSet<_> = c.iter().collect();
        let b: BTreeSet<_> = spec.crons.iter().collect();
        a != b
    });
    let has_triggers = !spec.routes.is_empty() || !spec.crons.is_empty();
    if !has_triggers && !routes_differ && !crons_differ {
        return None;
    }
    let mut what = Vec::new();
    if !spec.routes.is_empty() || routes_differ {
        what.push("routes/custom domains");
    }
    if !spec.crons.is_empty() || crons_differ {
        what.push("cron triggers");
    }
    let mut message = format!(
        "{} are not versioned: the rollback does not change them",
        what.join(" and ")
    );
    if routes_differ || crons_differ {
        message.push_str("; they differ from Git and are applied by a separate settings step");
    }
    Some(Finding::new(ID, Severity::Warning, message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::LiveVersion;
    use crate::rules::Rule;
    use crate::rules::test_context::{context, rollback};
    use crate::test_support::{known, spec};

    #[test]
    fn a_rollback_warns_that_triggers_stay() {
        let (mut spec, known) = (spec("api"), known("v1", "d1"));
        let target = LiveVersion::default();
        assert!(
            UnversionedTriggers
                .check(&context(rollback(&spec, &known, Some(&target))))
                .is_empty()
        );
        spec.crons.push("0 * * * *".into());
        let findings = UnversionedTriggers.check(&context(rollback(&spec, &known, Some(&target))));
        assert_eq!(findings[0].severity, Severity::Warning);
        assert!(
            findings[0]
                .message
                .starts_with("cron triggers are not versioned")
        );
    }
}
