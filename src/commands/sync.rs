//! `flaresync sync`: one reconcile pass, and the report it prints.

use std::time::Duration;

use anyhow::Context as _;
use flaresync_reconcile::{SyncOptions, TriggerSource};

use crate::lease::{Busy, Wait};

/// Exit code of a `sync` that gave up waiting for the lease another flaresync holds.
pub const BUSY_EXIT: u8 = 3;

use crate::{
    cli::{Format, SyncArgs},
    lock::lock_state,
    settings::{ApiSettings, RepoSettings},
    source::Opened,
};

pub async fn run(args: SyncArgs) -> anyhow::Result<u8> {
    let repo = RepoSettings::resolve(&args.repo);
    let api = ApiSettings::resolve(&args.api);
    let _lock = lock_state(&repo.state_dir)?;
    let options = flaresync_reconcile::ContextOptions {
        notify: crate::settings::notify(&args.notify)?,
        ..Default::default()
    };
    let ctx = Opened::open(&repo)?.context_with(&api, options)?;
    // A dry run writes nothing and needs no lease.
    let _lease = if args.dry_run {
        None
    } else {
        let ttl = Duration::from_secs(args.lease.lease_ttl);
        let wait = Wait::Bounded(Duration::from_secs(args.lease_wait));
        match crate::lease::take(&ctx, &repo, ttl, wait).await {
            Ok(held) => held,
            Err(error) if error.is::<Busy>() => {
                eprintln!("flaresync: {error}");
                return Ok(BUSY_EXIT);
            }
            Err(error) => return Err(error),
        }
    };
    let progress = crate::progress::Display::start(ctx.progress(), ctx.client().clone());
    let report = flaresync_reconcile::sync_once(
        &ctx,
        SyncOptions {
            dry_run: args.dry_run,
            trigger: TriggerSource::Cli,
        },
    )
    .await
    .context("reconcile pass failed")?;
    drop(progress);
    print_report(&report, args.format)?;
    wait_for_notifications(&ctx).await;
    Ok(if args.dry_run {
        u8::try_from(flaresync_plan::exit_code(&report.plan)).unwrap_or(2)
    } else if report.converged() {
        0
    } else {
        2
    })
}

/// How long a one-shot pass waits for its notifications before the process exits.
const NOTIFY_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Notifications go out in the background; a one-shot pass gives them time to arrive.
async fn wait_for_notifications(ctx: &flaresync_reconcile::Context) {
    if !ctx.flush_notifications(NOTIFY_WAIT).await {
        eprintln!(
            "flaresync: some notifications were not delivered within {} s (see the log)",
            NOTIFY_WAIT.as_secs()
        );
    }
}

pub fn print_report(
    report: &flaresync_reconcile::SyncReport,
    format: Format,
) -> anyhow::Result<()> {
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(report)?),
        Format::Markdown => println!("{}", flaresync_plan::render_markdown(&report.plan)),
        Format::Text => {
            print!("{}", flaresync_plan::render_text(&report.plan));
            println!();
            for worker in &report.workers {
                println!("{}", worker_line(worker));
            }
        }
    }
    Ok(())
}

pub fn worker_line(worker: &flaresync_reconcile::WorkerReport) -> String {
    use flaresync_reconcile::WorkerOutcome;
    let outcome = match &worker.outcome {
        WorkerOutcome::InSync => "in sync".to_owned(),
        WorkerOutcome::Applied { version_id, .. } => match version_id {
            Some(version) => format!("applied, version {} live", short_id(version)),
            None => "applied".to_owned(),
        },
        WorkerOutcome::Planned => "planned (dry run)".to_owned(),
        WorkerOutcome::HeldForDrift => {
            "held: its deployment was changed outside flaresync (drift); \
             nothing was written. Set drift_policy = \"heal\" in flaresync.toml to restore Git's \
             version, or commit what is live"
                .to_owned()
        }
        // The plan's findings (printed above) explain a blocked rollback or a broken config; a
        // block for another cause (a commit that failed its health check) is explained here.
        WorkerOutcome::Blocked => blocked_text(worker.error.as_ref()),
        WorkerOutcome::Skipped => "skipped".to_owned(),
        WorkerOutcome::Failed => "failed".to_owned(),
        WorkerOutcome::Removed => "removed from Git (left in place)".to_owned(),
    };
    let mut line = format!("{:<16} {outcome}", worker.worker);
    if let Some(error) = &worker.error
        && worker.outcome != WorkerOutcome::Blocked
    {
        line.push_str(&format!(": {} [{}]", error.message, error.reason));
    }
    for note in &worker.notes {
        line.push_str(&format!("\n{:<16} note: {note}", ""));
    }
    line
}

/// Why a Worker is blocked, for the text report.
fn blocked_text(error: Option<&flaresync_reconcile::ReportedError>) -> String {
    match error {
        Some(error) if !plan_explains(&error.reason) => {
            format!("blocked: {} [{}]", error.message, error.reason)
        }
        _ => "blocked (see the findings above)".to_owned(),
    }
}

/// Whether a block for `reason` is one the plan's findings explain.
fn plan_explains(reason: &str) -> bool {
    use flaresync_reconcile::Reason;
    [Reason::RollbackBlocked, Reason::ConfigInvalid]
        .iter()
        .any(|known| known.as_str() == reason)
}

fn short_id(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(reason: &str, message: &str) -> flaresync_reconcile::ReportedError {
        flaresync_reconcile::ReportedError {
            kind: "Stalled".into(),
            reason: reason.into(),
            message: message.into(),
        }
    }

    #[test]
    fn a_block_the_plan_does_not_explain_says_why() {
        let health = error(
            "HealthCheckFailed",
            "commit abc1234 failed its health check before; push a new commit",
        );
        let text = blocked_text(Some(&health));
        assert!(text.contains("failed its health check"), "{text}");
        assert!(text.contains("[HealthCheckFailed]"), "{text}");
        let rule = error("RollbackBlocked", "FS002: ...");
        assert_eq!(
            blocked_text(Some(&rule)),
            "blocked (see the findings above)"
        );
    }
}
