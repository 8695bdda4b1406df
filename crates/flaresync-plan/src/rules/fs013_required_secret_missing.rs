//! `FS013` required-secret-missing: its check and tests (the doc it shows is `docs/FS013.md`).

use crate::model::{Finding, Severity};

use super::Context;

rule! {
    /// a secret listed in `secrets.required` is not set on the live script
    RequiredSecretMissing, "FS013", "required-secret-missing"
}

fn check(ctx: &Context<'_>) -> Option<Finding> {
    let spec = ctx.subject.forward_spec()?;
    if !ctx.live_observed {
        return None;
    }
    // A Worker missing from the live map does not exist and has no secrets.
    let (exists, secrets) = match ctx.live {
        Some(live) => (live.exists, live.secrets.as_slice()),
        None => (false, &[][..]),
    };
    let missing: Vec<&str> = spec
        .secrets_required
        .iter()
        .filter(|name| !secrets.contains(name))
        .map(String::as_str)
        .collect();
    if missing.is_empty() {
        return None;
    }
    let severity = if exists {
        Severity::Error
    } else {
        Severity::Warning
    };
    Some(
        Finding::new(
            ID,
            severity,
            format!(
                "required secrets not set on the live script: {}",
                missing.join(", ")
            ),
        )
        .with_hint(format!(
            "set them first, e.g. `wrangler secret put {} --name {}`",
            missing[0], ctx.worker
        )),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_context::context;
    use crate::rules::{Rule, Subject};
    use crate::test_support::{live_worker, spec};

    #[test]
    fn a_missing_required_secret_blocks_an_existing_worker_and_warns_for_a_new_one() {
        let mut spec = spec("api");
        spec.secrets_required = vec!["TOKEN".into()];
        let live = live_worker("api", &["v1"]);
        let ctx = context(Subject::Forward { spec: &spec });
        let new_worker = RequiredSecretMissing.check(&ctx);
        assert_eq!(new_worker[0].severity, Severity::Warning, "{new_worker:?}");
        let existing = RequiredSecretMissing.check(&Context {
            live: Some(&live),
            ..ctx.clone()
        });
        assert!(existing[0].is_blocking(), "{existing:?}");
        assert!(existing[0].message.ends_with("live script: TOKEN"));
        let unobserved = Context {
            live_observed: false,
            ..ctx
        };
        assert!(RequiredSecretMissing.check(&unobserved).is_empty());
    }
}
