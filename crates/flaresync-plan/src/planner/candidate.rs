//! Decision 5's question: is there an existing version with the desired content to deploy
//! instead of uploading it again?

use crate::input::WorkerHistory;
use crate::live::LiveWorker;
use crate::migrations::PendingMigrations;
use crate::rules::Target;

use super::case::Case;

/// The version to roll back to, if any. `finishing_split`: a split deployment whose larger share
/// already runs the desired content.
pub(super) fn find<'a>(case: &Case<'a>, finishing_split: bool) -> Option<Target<'a>> {
    let live_worker = case
        .current
        .live_worker
        .filter(|_| case.input.live.observed);
    if matches!(case.pending, PendingMigrations::Pending(_)) || case.exports_changed {
        // A rollback cannot apply a migration or an `exports` change: only a script upload
        // can, so even content equal to an old version goes forward.
        None
    } else if finishing_split {
        // Deploy that version at 100% (no upload).
        case.current.active.and_then(|active| {
            Some(Target {
                known: active.known?,
                live: active.live,
                position: live_worker.and_then(|w| w.version_position(active.version_id)),
            })
        })
    } else {
        newest_live(case.input.history, live_worker, &case.worker.version_digest)
    }
}

/// Among the known versions with `version_digest`, the newest one still listed live (else any).
fn newest_live<'a>(
    history: &'a WorkerHistory,
    live_worker: Option<&'a LiveWorker>,
    version_digest: &str,
) -> Option<Target<'a>> {
    let live_worker = live_worker?;
    let mut best: Option<Target<'a>> = None;
    for known in history
        .versions
        .iter()
        .filter(|k| k.version_digest == version_digest)
    {
        let position = live_worker.version_position(&known.version_id);
        let candidate = Target {
            known,
            live: live_worker.version(&known.version_id),
            position,
        };
        best = match best {
            None => Some(candidate),
            Some(current) => match (current.position, position) {
                (Some(a), Some(b)) if b < a => Some(candidate),
                (None, Some(_)) => Some(candidate),
                _ => Some(current),
            },
        };
    }
    best
}
