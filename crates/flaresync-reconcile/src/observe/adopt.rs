//! A Worker that `wrangler deploy` put live before flaresync was adopted: the version serving
//! it was not made by flaresync (no commit stamp), yet it may run exactly what Git holds. When
//! its content provably equals the desired state, it counts as a version of the desired
//! commit, so the plan is "in sync" instead of a needless deploy.
//!
//! Provably equal means, as Cloudflare reports them: every module (name, content type, bytes,
//! read from `content/v2`), the bindings (as a set; secrets, which Git never holds, left out),
//! the compatibility date and flags, and the Durable Object migration tag. What the API does
//! not show back is never assumed equal: a Worker with static assets (Cloudflare does not list
//! a version's files), `limits`, `placement` or `exports` is not adopted and gets a deploy as
//! before. Non-versioned settings are not part of this: the plan still compares and applies
//! them (routes, consumers and crons from live values; the others read before any write).

use flaresync_cloudflare::ContentPart;
use flaresync_config::{Binding, BindingKind, WorkerSpec};
use flaresync_plan::{DesiredWorker, KnownVersion, LiveVersion, LiveWorker};

/// Whether the content of `worker`'s only active version may be read through `content/v2`
/// and compared: one version at 100% that is also the newest listed (the script's content),
/// no version flaresync made of the desired content, and a desired state with nothing the API
/// cannot show back.
pub(super) fn candidate<'a>(
    worker: &'a LiveWorker,
    known: &[KnownVersion],
    desired: &DesiredWorker,
) -> Option<&'a LiveVersion> {
    let active = worker.active.as_ref()?;
    let [only] = active.versions.as_slice() else {
        return None;
    };
    let newest = worker.versions.first()?;
    let spec = &desired.spec;
    let unreadable = spec.assets.is_some()
        || spec.limits.is_some()
        || spec.placement.is_some()
        || spec.exports.is_some();
    // A version flaresync made of this content is found by the planner itself (a wrangler
    // redeploy of flaresync's Worker is recognised by etag against it, settings included).
    let made_by_flaresync = known
        .iter()
        .any(|k| k.version_id == newest.id || k.version_digest == desired.version_digest);
    (only.version_id == newest.id && !unreadable && !made_by_flaresync)
        .then(|| worker.version(&newest.id))
        .flatten()
}

/// `version` (the script's content `parts`, migration tag `migration_tag`) runs exactly what
/// `spec` describes.
pub(super) fn same_content(
    spec: &WorkerSpec,
    version: &LiveVersion,
    migration_tag: Option<&str>,
    parts: &[ContentPart],
) -> bool {
    let mut live: Vec<(&str, &str, &[u8])> = parts
        .iter()
        .map(|p| {
            (
                p.name.as_str(),
                p.content_type.as_str(),
                p.content.as_slice(),
            )
        })
        .collect();
    let mut wanted: Vec<(&str, &str, &[u8])> = spec
        .modules
        .iter()
        .map(|m| (m.name.as_str(), m.content_type.as_str(), &m.content[..]))
        .collect();
    live.sort_unstable();
    wanted.sort_unstable();
    live == wanted
        && bindings(&version.bindings, true) == bindings(&spec.bindings, false)
        && version.compatibility_date == spec.compatibility_date
        && version.compatibility_flags == spec.compatibility_flags
        && migration_tag == spec.migrations.last().map(|step| step.tag.as_str())
}

/// Bindings as a sorted set; live secrets left out (Git declares none).
fn bindings(list: &[Binding], live: bool) -> Vec<&Binding> {
    let mut out: Vec<&Binding> = list
        .iter()
        .filter(|b| !(live && b.kind == BindingKind::SecretText))
        .collect();
    out.sort();
    out
}

/// The live version `version_id` as a version of the desired `commit`. Its `digest` is the
/// versioned one: nothing says the non-versioned settings were applied, so the plan still
/// checks them.
pub(super) fn adopted(version_id: &str, commit: &str, desired: &DesiredWorker) -> KnownVersion {
    KnownVersion {
        version_id: version_id.to_owned(),
        commit: commit.to_owned(),
        digest: desired.version_digest.clone(),
        version_digest: desired.version_digest.clone(),
        migrations: desired.spec.migrations.clone(),
        exports: desired.spec.exports.clone(),
        secrets_fingerprint: None,
        declared: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn spec() -> WorkerSpec {
        let mut spec = crate::pass::minimal_desired().spec;
        spec.modules = vec![flaresync_config::Module {
            name: "index.js".into(),
            content_type: "application/javascript+module".into(),
            sha256: String::new(),
            size: 3,
            content: Arc::from(&b"abc"[..]),
        }];
        spec.compatibility_date = Some("2025-06-01".into());
        spec.bindings = vec![Binding {
            name: "MODE".into(),
            kind: BindingKind::PlainText { text: "on".into() },
        }];
        spec
    }

    fn live() -> (LiveVersion, Vec<ContentPart>) {
        let version = LiveVersion {
            id: "v1".into(),
            compatibility_date: Some("2025-06-01".into()),
            bindings: vec![
                Binding {
                    name: "TOKEN".into(),
                    kind: BindingKind::SecretText,
                },
                Binding {
                    name: "MODE".into(),
                    kind: BindingKind::PlainText { text: "on".into() },
                },
            ],
            ..LiveVersion::default()
        };
        let parts = vec![ContentPart {
            name: "index.js".into(),
            content_type: "application/javascript+module".into(),
            content: b"abc".to_vec(),
        }];
        (version, parts)
    }

    #[test]
    fn equal_modules_bindings_and_runtime_are_the_same_content() {
        let (version, parts) = live();
        assert!(same_content(&spec(), &version, None, &parts));
    }

    #[test]
    fn any_difference_is_not_the_same_content() {
        let (version, parts) = live();
        let mut other = parts.clone();
        other[0].content = b"abd".to_vec();
        assert!(!same_content(&spec(), &version, None, &other));
        let mut other = parts.clone();
        other[0].content_type = "text/plain".into();
        assert!(!same_content(&spec(), &version, None, &other));
        assert!(!same_content(&spec(), &version, None, &[]));
        let mut changed = version.clone();
        changed.bindings.pop();
        assert!(!same_content(&spec(), &changed, None, &parts));
        let mut changed = version.clone();
        changed.compatibility_flags = vec!["nodejs_compat".into()];
        assert!(!same_content(&spec(), &changed, None, &parts));
        assert!(!same_content(&spec(), &version, Some("v1"), &parts));
    }
}
