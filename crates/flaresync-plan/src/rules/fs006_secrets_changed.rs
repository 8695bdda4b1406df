//! `FS006` secrets-changed: its check and tests (the doc it shows is `docs/FS006.md`).

use std::collections::BTreeSet;

use flaresync_config::BindingKind;

use crate::model::{Finding, Severity};

use super::{Context, version_label};

rule! {
    /// rollback target's secrets differ from the live secrets
    SecretsChanged, "FS006", "secrets-changed"
}

fn check(ctx: &Context<'_>) -> Option<Finding> {
    let target = ctx.rollback_to_older()?;
    let (Some(live), Some(target_live)) = (ctx.live, target.live) else {
        return None;
    };
    let target_names: BTreeSet<&str> = target_live
        .bindings
        .iter()
        // `secret_key` (CryptoKey) secrets have no typed variant; the secrets listing names
        // them alongside `secret_text`.
        .filter(|b| match &b.kind {
            BindingKind::SecretText => true,
            BindingKind::Other(other) => other.kind == "secret_key",
            _ => false,
        })
        .map(|b| b.name.as_str())
        .collect();
    let live_names: BTreeSet<&str> = live.secrets.iter().map(String::as_str).collect();
    let mut changed: Vec<String> = target_names
        .symmetric_difference(&live_names)
        .map(|s| s.to_string())
        .collect();
    let fingerprint_changed = matches!(
        (
            target.known.secrets_fingerprint.as_deref(),
            ctx.active.and_then(|a| a.known).and_then(|k| k.secrets_fingerprint.as_deref()),
        ),
        (Some(a), Some(b)) if a != b
    );
    // Values are never readable, but every secret change makes Cloudflare copy the latest
    // version (`triggered_by: secret`): one numbered after the target, up to the active version,
    // means the values in effect now may differ from the target's (Cloudflare compares values).
    let active_number = ctx.active.and_then(|a| a.live).map(|v| v.number);
    // Only a secret the target and the live script both have can differ in value.
    let shared_secret = target_names.intersection(&live_names).next().is_some();
    let secret_change_after = active_number
        .filter(|_| target_live.number > 0 && shared_secret)
        .and_then(|active| {
            live.versions.iter().find(|v| {
                v.triggered_by.as_deref() == Some("secret")
                    && v.number > target_live.number
                    && v.number <= active
            })
        });
    if changed.is_empty() && !fingerprint_changed && secret_change_after.is_none() {
        return None;
    }
    let detail = if let (true, false, Some(change)) =
        (changed.is_empty(), fingerprint_changed, secret_change_after)
    {
        format!(
            "a secret was set or changed after it was created (version {} was made by a secret change)",
            change.number
        )
    } else if changed.is_empty() {
        "secret values changed since it was created".to_owned()
    } else {
        changed.sort();
        format!("secrets differ from the live ones: {}", changed.join(", "))
    };
    let message = format!(
        "{}: {detail}; Cloudflare refuses this rollback (10220) without force",
        version_label(target.known, target.live)
    );
    if ctx.policy.allow_secret_change_rollback {
        let mut finding = Finding::new(ID, Severity::Warning, message)
            .with_hint("allow_secret_change_rollback = true: deploying with ?force=true; the target's own secret values go live");
        finding.overridden = true;
        Some(finding)
    } else {
        Some(Finding::new(ID, Severity::Error, message).with_hint(
            "either set rollback_policy = \"redeploy\" for this Worker in flaresync.toml (uploads the reverted code as a new version and keeps the current secret values), or allow_secret_change_rollback = true to deploy the old version with ?force=true (its own, older secret values go live)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::Policy;
    use crate::rules::ActiveVersion;
    use crate::rules::Rule;
    use crate::rules::test_context::{context, rollback};
    use crate::test_support::{known, live_worker, spec};

    #[test]
    fn a_rollback_to_other_secrets_needs_force() {
        let (spec, known) = (spec("api"), known("v1", "d1"));
        let mut live = live_worker("api", &["v2", "v1"]);
        live.secrets = vec!["TOKEN".into()];
        let target = live.versions[1].clone();
        let ctx = Context {
            live: Some(&live),
            ..context(rollback(&spec, &known, Some(&target)))
        };
        let refused = SecretsChanged.check(&ctx);
        assert!(refused[0].is_blocking(), "{refused:?}");
        assert!(
            refused[0]
                .message
                .contains("differ from the live ones: TOKEN")
        );
        let forcing = Policy {
            allow_secret_change_rollback: true,
            ..Policy::default()
        };
        let forced = SecretsChanged.check(&Context {
            policy: &forcing,
            ..ctx.clone()
        });
        assert!(
            forced[0].overridden && !forced[0].is_blocking(),
            "{forced:?}"
        );
    }

    #[test]
    fn a_roll_forward_to_a_newer_version_is_not_judged() {
        let (spec, known) = (spec("api"), known("v3", "d3"));
        let mut live = live_worker("api", &["v3", "v2"]);
        live.secrets = vec!["TOKEN".into()];
        let active = live.versions[1].clone();
        assert!(live.versions[0].number > active.number);
        let ctx = Context {
            live: Some(&live),
            active: Some(ActiveVersion {
                version_id: "v2",
                live: Some(&active),
                known: None,
            }),
            ..context(rollback(&spec, &known, live.version("v3")))
        };
        assert!(SecretsChanged.check(&ctx).is_empty());
    }
}
