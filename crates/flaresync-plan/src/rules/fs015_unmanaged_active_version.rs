//! `FS015` unmanaged-active-version: its check and tests (the doc it shows is `docs/FS015.md`).

use crate::model::{Finding, Severity};

use super::{Context, short};

rule! {
    /// the active version was not created by flaresync
    UnmanagedActiveVersion, "FS015", "unmanaged-active-version"
}

fn check(ctx: &Context<'_>) -> Option<Finding> {
    if ctx.subject.changing_spec().is_none() || !ctx.live_observed {
        return None;
    }
    let active = ctx.active.filter(|a| a.known.is_none())?;
    let source = active
        .live
        .and_then(|v| v.source.as_deref())
        .map(|s| format!(" (source: {s})"))
        .unwrap_or_default();
    let number = active
        .live
        .filter(|v| v.number > 0)
        .map(|v| format!("version {} ", v.number))
        .unwrap_or_default();
    Some(
        Finding::new(
            ID,
            Severity::Warning,
            format!(
                "the active {number}{}{source} was not created by flaresync; changes made outside Git will be replaced",
                short(active.version_id)
            ),
        )
        .with_hint("commit the change to Git if it should stay")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::LiveVersion;
    use crate::rules::ActiveVersion;
    use crate::rules::Rule;
    use crate::rules::Subject;
    use crate::rules::test_context::context;
    use crate::test_support::{known, spec};

    #[test]
    fn an_active_version_flaresync_did_not_make_is_reported() {
        let (spec, known) = (spec("api"), known("v7", "d7"));
        let live = LiveVersion {
            id: "v7".into(),
            number: 7,
            source: Some("dash".into()),
            ..LiveVersion::default()
        };
        let active = |known| ActiveVersion {
            version_id: "v7",
            live: Some(&live),
            known,
        };
        let outside = UnmanagedActiveVersion.check(&Context {
            active: Some(active(None)),
            ..context(Subject::Forward { spec: &spec })
        });
        assert_eq!(
            outside[0].message,
            "the active version 7 v7 (source: dash) was not created by flaresync; changes made outside Git will be replaced"
        );
        let ours = Context {
            active: Some(active(Some(&known))),
            ..context(Subject::Forward { spec: &spec })
        };
        assert!(UnmanagedActiveVersion.check(&ours).is_empty());
    }
}
