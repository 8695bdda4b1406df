//! `FS019` bound-worker-missing: its check and tests (the doc it shows is `docs/FS019.md`).

use std::collections::BTreeSet;

use flaresync_config::BindingKind;

use crate::model::{Finding, Severity};

use super::{Context, Subject};

rule! {
    /// the target binds a Worker (service, Durable Object, workflow, tail consumer) that does not exist
    BoundWorkerMissing, "FS019", "bound-worker-missing"
}

fn check(ctx: &Context<'_>) -> Vec<Finding> {
    let Some(known) = ctx.known_scripts else {
        return Vec::new();
    };
    let Some(bindings) = ctx.subject.running_bindings() else {
        return Vec::new();
    };
    let verb = match ctx.subject {
        Subject::Forward { .. } => "binds",
        _ => "the rollback target binds",
    };
    let mut missing: BTreeSet<String> = BTreeSet::new();
    let mut note = |what: String, script: &str| {
        if script != ctx.worker && !known.contains(script) {
            missing.insert(what);
        }
    };
    for binding in bindings {
        match &binding.kind {
            BindingKind::Service {
                service,
                environment,
                ..
            } => {
                // Legacy environments are separate scripts named `service-env`.
                let script = match environment {
                    Some(env) if !known.contains(service.as_str()) => format!("{service}-{env}"),
                    _ => service.clone(),
                };
                note(
                    format!("service `{}` (binding `{}`)", script, binding.name),
                    &script,
                );
            }
            BindingKind::DurableObjectNamespace {
                script_name: Some(script),
                class_name,
                ..
            } => note(
                format!(
                    "Durable Object `{class_name}` in script `{script}` (binding `{}`)",
                    binding.name
                ),
                script,
            ),
            BindingKind::Workflow {
                script_name: Some(script),
                ..
            } => note(
                format!("workflow script `{script}` (binding `{}`)", binding.name),
                script,
            ),
            _ => {}
        }
    }
    if let Subject::Forward { spec } = ctx.subject {
        for tail in &spec.settings.tail_consumers {
            note(format!("tail consumer `{}`", tail.service), &tail.service);
        }
    }
    missing
        .into_iter()
        .map(|what| {
            Finding::new(
                ID,
                Severity::Warning,
                format!("{verb} {what}, which does not exist in the account or in Git"),
            )
            .with_hint(
                "deploy that Worker first (it can be added to this repository), or fix the name",
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Rule;
    use crate::rules::test_context::{binding, context};
    use crate::test_support::spec;

    #[test]
    fn a_binding_to_an_unknown_script_warns() {
        let mut spec = spec("api");
        let service = BindingKind::Service {
            service: "auth".into(),
            environment: None,
            entrypoint: None,
        };
        spec.bindings.push(binding("AUTH", service));
        let ctx = context(Subject::Forward { spec: &spec });
        assert!(
            BoundWorkerMissing.check(&ctx).is_empty(),
            "script list unknown"
        );
        let mut known = BTreeSet::new();
        let missing = BoundWorkerMissing.check(&Context {
            known_scripts: Some(&known),
            ..ctx.clone()
        });
        assert_eq!(
            missing[0].message,
            "binds service `auth` (binding `AUTH`), which does not exist in the account or in Git"
        );
        known.insert("auth".to_owned());
        let present = Context {
            known_scripts: Some(&known),
            ..ctx
        };
        assert!(BoundWorkerMissing.check(&present).is_empty());
    }
}
