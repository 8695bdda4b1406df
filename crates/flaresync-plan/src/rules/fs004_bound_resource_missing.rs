//! `FS004` bound-resource-missing: its check and tests (the doc it shows is `docs/FS004.md`).

use flaresync_config::BindingKind;

use crate::live::R2Bucket;
use crate::model::{Finding, Severity};

use super::{Context, Subject};

rule! {
    /// the target binds a KV namespace, R2 bucket, D1 database or queue that no longer exists
    BoundResourceMissing, "FS004", "bound-resource-missing"
}

fn check(ctx: &Context<'_>) -> Vec<Finding> {
    let Some(bindings) = ctx.subject.running_bindings() else {
        return Vec::new();
    };
    let resources = ctx.resources;
    let mut findings = Vec::new();
    for binding in bindings {
        let missing = match &binding.kind {
            BindingKind::KvNamespace { namespace_id } => resources
                .kv
                .as_ref()
                .filter(|set| !set.contains(namespace_id))
                .map(|_| format!("KV namespace `{namespace_id}`")),
            BindingKind::R2Bucket {
                bucket_name,
                jurisdiction,
            } => resources
                .r2
                .as_ref()
                .filter(|set| {
                    !set.contains(&R2Bucket {
                        name: bucket_name.clone(),
                        jurisdiction: jurisdiction.clone(),
                    })
                })
                .map(|_| match jurisdiction {
                    Some(j) => format!("R2 bucket `{bucket_name}` (jurisdiction {j})"),
                    None => format!("R2 bucket `{bucket_name}`"),
                }),
            BindingKind::D1 { id } => resources
                .d1
                .as_ref()
                .filter(|set| !set.contains(id))
                .map(|_| format!("D1 database `{id}`")),
            BindingKind::Queue { queue_name, .. } => resources
                .queues
                .as_ref()
                .filter(|set| !set.contains(queue_name))
                .map(|_| format!("queue `{queue_name}`")),
            _ => None,
        };
        if let Some(what) = missing {
            let (verb, consequence) = match ctx.subject {
                Subject::Rollback { .. } => (
                    "the rollback target binds",
                    "Cloudflare refuses to deploy a version bound to a deleted resource",
                ),
                _ => (
                    "the desired state binds",
                    "Cloudflare rejects an upload that binds it",
                ),
            };
            findings.push(
                Finding::new(
                    ID,
                    Severity::Error,
                    format!(
                        "{verb} `{}` to {what}, which does not exist; {consequence}",
                        binding.name
                    ),
                )
                .with_hint("create the resource, or point the binding at an existing one in Git and deploy forward"),
            );
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::LiveResources;
    use crate::rules::Rule;
    use crate::rules::test_context::{binding, context};
    use crate::test_support::spec;

    #[test]
    fn a_binding_to_a_missing_resource_is_refused_only_when_resources_were_listed() {
        let mut spec = spec("api");
        let kv = BindingKind::KvNamespace {
            namespace_id: "gone".into(),
        };
        spec.bindings.push(binding("CACHE", kv));
        let ctx = context(Subject::Forward { spec: &spec });
        assert!(
            BoundResourceMissing.check(&ctx).is_empty(),
            "resources unknown"
        );
        let listed = LiveResources {
            kv: Some(Default::default()),
            ..LiveResources::default()
        };
        let findings = BoundResourceMissing.check(&Context {
            resources: &listed,
            ..ctx
        });
        assert!(findings[0].is_blocking(), "{findings:?}");
        assert!(
            findings[0]
                .message
                .contains("`CACHE` to KV namespace `gone`")
        );
    }
}
