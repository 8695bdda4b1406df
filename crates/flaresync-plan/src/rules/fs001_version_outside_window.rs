//! `FS001` version-outside-window: its check and tests (the doc it shows is `docs/FS001.md`).

use crate::model::{Finding, Severity};

use super::{Context, version_label};

rule! {
    /// rollback target is no longer a deployable version
    VersionOutsideWindow, "FS001", "version-outside-window"
}

fn check(ctx: &Context<'_>) -> Option<Finding> {
    let target = ctx.subject.rollback_target()?;
    let window = ctx.policy.version_window;
    let label = version_label(target.known, target.live);
    let listed = ctx.live.map_or(0, |live| live.versions.len());
    let message = match target.position {
        None if listed > 0 => format!(
            "{label} is not among the {listed} newest versions of `{}` that Cloudflare still lists as deployable: it fell out of the rollback window ({}) and can no longer be deployed",
            ctx.worker,
            applied_window(listed, window)
        ),
        None => format!(
            "{label} is not among the deployable versions of `{}` any more",
            ctx.worker
        ),
        Some(position) if position >= window => format!(
            "{label} is number {} in the deployable list (newest first); only the newest {window} may be deployed (version_window)",
            position + 1
        ),
        Some(_) => return None,
    };
    Some(Finding::new(ID, Severity::Error, message).with_hint(
        "set rollback_policy = \"redeploy\" to upload the reverted content as a new version",
    ))
}

/// The window that applied: Cloudflare's own, when it lists fewer versions than
/// `version_window` allows, else `version_window`.
fn applied_window(listed: usize, window: usize) -> String {
    if listed < window {
        format!("Cloudflare's window: it keeps {listed} deployable versions")
    } else {
        format!("version_window {window}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Target;
    use crate::rules::test_context::context;
    use crate::rules::{Rule, Subject};
    use crate::test_support::{known, live_worker, spec};

    #[test]
    fn a_target_outside_the_deployable_window_is_refused() {
        let (spec, known) = (spec("api"), known("v1", "d1"));
        let live = live_worker("api", &["v3", "v2"]);
        let at = |position| Subject::Rollback {
            spec: &spec,
            target: Target {
                known: &known,
                live: None,
                position,
            },
        };
        let aged_out = VersionOutsideWindow.check(&Context {
            live: Some(&live),
            ..context(at(None))
        });
        assert!(
            aged_out[0]
                .message
                .contains("Cloudflare's window: it keeps 2"),
            "the window that applied is named: {}",
            aged_out[0].message
        );
        assert!(aged_out[0].is_blocking(), "{aged_out:?}");
        assert!(
            aged_out[0]
                .message
                .contains("fell out of the rollback window")
        );
        let too_old = VersionOutsideWindow.check(&context(at(Some(100))));
        assert!(too_old[0].message.contains("number 101"), "{too_old:?}");
        assert!(
            VersionOutsideWindow
                .check(&context(at(Some(99))))
                .is_empty()
        );
    }
}
