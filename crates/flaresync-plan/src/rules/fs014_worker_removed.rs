//! `FS014` worker-removed: its check and tests (the doc it shows is `docs/FS014.md`).

use crate::model::{Finding, Severity};

use super::{Context, Subject};

rule! {
    /// the Worker is gone from Git; flaresync never deletes it
    WorkerRemoved, "FS014", "worker-removed"
}

fn check(ctx: &Context<'_>) -> Option<Finding> {
    let Subject::Removed = ctx.subject else {
        return None;
    };
    let still_live = ctx.live.is_some_and(|l| l.exists);
    let message = if still_live {
        format!(
            "`{}` is no longer in Git; it keeps running its current version because flaresync never deletes Workers",
            ctx.worker
        )
    } else {
        format!(
            "`{}` is no longer in Git; flaresync never deletes Workers",
            ctx.worker
        )
    };
    Some(Finding::new(ID, Severity::Note, message).with_hint(format!(
        "delete it by hand if intended: `wrangler delete --name {}`",
        ctx.worker
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Rule;
    use crate::rules::test_context::context;
    use crate::test_support::live_worker;

    #[test]
    fn a_removed_worker_is_a_note_never_a_delete() {
        let gone = WorkerRemoved.check(&context(Subject::Removed));
        assert_eq!(gone[0].severity, Severity::Note);
        assert!(!gone[0].message.contains("keeps running"), "{gone:?}");
        let live = live_worker("api", &["v1"]);
        let running = WorkerRemoved.check(&Context {
            live: Some(&live),
            ..context(Subject::Removed)
        });
        assert!(running[0].message.contains("keeps running"), "{running:?}");
    }
}
