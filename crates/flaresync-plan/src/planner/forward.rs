//! Decision 6: upload the desired content as a new version (or by script upload when a
//! migration or an `exports` change is pending) and deploy it, unless a rule blocks it. Also the
//! redeploy of a refused rollback under `rollback_policy = "redeploy"`.

use crate::migrations::PendingMigrations;
use crate::model::{
    Action, DeployTarget, Finding, MigrationsPayload, ScriptUploadReason, Step, UploadMode,
    VersionRef,
};
use crate::rules::{Subject, short};

use super::case::Case;
use super::outcome::Outcome;
use super::reasons::{blocking_ids, describe_ref};

/// Why the content goes forward.
pub(super) enum Forward {
    /// No deployable version has the desired content; `hint` is added to the reason.
    Changed { hint: Option<&'static str> },
    /// The rollback to `to` was refused and `rollback_policy = "redeploy"` uploads the same
    /// content instead; `refused` are the rollback's findings, blocking ones overridden.
    Redeploy {
        to: VersionRef,
        refused: Vec<Finding>,
    },
}

pub(super) fn decide(case: &Case<'_>, why: Forward) -> Outcome {
    let spec = case.spec();
    let name = case.name();
    let (redeploy_of, earlier_findings, hint) = match why {
        Forward::Changed { hint } => (None, Vec::new(), hint),
        Forward::Redeploy { to, refused } => (Some(to), refused, None),
    };
    let findings = merge(case.findings(Subject::Forward { spec }), earlier_findings);
    let diff = case.diff(None);
    if findings.iter().any(Finding::is_blocking) {
        let reason = match &redeploy_of {
            Some(to) => format!(
                "rollback to {} refused and redeploying it is not legal either ({})",
                describe_ref(to),
                blocking_ids(&findings)
            ),
            None => format!("deploy refused ({})", blocking_ids(&findings)),
        };
        let action = Action::Blocked {
            target: redeploy_of,
        };
        return Outcome::new(name, action, reason, findings, diff);
    }
    let payload = match &case.pending {
        PendingMigrations::Pending(payload) => Some(payload.clone()),
        _ => None,
    };
    let mut findings = findings;
    if let (Some(payload), Some(_)) = (&payload, case.current.active) {
        findings.push(not_reversible(payload));
    }
    let mode = upload_mode(payload.is_some(), case.exports_changed);
    let opening = match &redeploy_of {
        Some(to) => format!(
            "rollback to {} refused; rollback_policy = \"redeploy\": uploading the same content as a new version",
            describe_ref(to)
        ),
        None => format!("content differs from {}", since(case)),
    };
    let reason = reason(opening, &mode, payload.as_ref(), hint);
    let mut steps = upload_steps(name, &mode, &payload);
    steps.extend(case.settings_step());
    let action = Action::DeployForward {
        mode,
        migrations: payload,
        redeploy_of,
    };
    Outcome::new(name, action, reason, findings, diff).with_steps(steps)
}

/// The forward findings plus the earlier (rollback) ones they do not repeat, sorted. The forward
/// verdict wins over an earlier (possibly overridden) finding with the same text: a rule that
/// blocks the rollback and the redeploy alike must still block.
fn merge(mut findings: Vec<Finding>, earlier: Vec<Finding>) -> Vec<Finding> {
    for finding in earlier {
        if !findings
            .iter()
            .any(|f| f.rule == finding.rule && f.message == finding.message)
        {
            findings.push(finding);
        }
    }
    findings.sort_by(|a, b| (&a.rule, &a.message).cmp(&(&b.rule, &b.message)));
    findings
}

/// Announced before a deploy that applies a Durable Object migration to a live Worker: once
/// applied, Cloudflare refuses every rollback across it (FS002), so nothing (a failed health
/// check, a revert) can put the previous version back automatically.
fn not_reversible(payload: &MigrationsPayload) -> Finding {
    Finding::new(
        "FS002",
        crate::model::Severity::Warning,
        format!(
            "not automatically reversible: this deploy applies Durable Object migration `{}`; Cloudflare refuses any rollback across it, so a failed health check cannot restore the previous version",
            payload.new_tag
        ),
    )
    .with_hint("check the change before it merges; to undo it later, roll forward with a fix (a revert will be blocked)")
}

fn upload_mode(migration_pending: bool, exports_changed: bool) -> UploadMode {
    if migration_pending {
        UploadMode::ScriptUpload {
            reason: ScriptUploadReason::MigrationPending,
        }
    } else if exports_changed {
        UploadMode::ScriptUpload {
            reason: ScriptUploadReason::ExportsChanged,
        }
    } else {
        UploadMode::VersionUpload
    }
}

/// What the desired content is compared with, for the reason.
fn since(case: &Case<'_>) -> String {
    match case.current.active {
        Some(active) => match (active.live.filter(|v| v.number > 0), active.known) {
            (Some(live), Some(known)) => format!(
                "live version {} (commit {})",
                live.number,
                short(&known.commit)
            ),
            (Some(live), None) => format!("live version {}", live.number),
            (None, Some(known)) => format!("commit {}", short(&known.commit)),
            (None, None) => format!("live version {}", short(active.version_id)),
        },
        None => match case.input.base {
            Some((commit, _)) => format!("base commit {}", short(commit)),
            None => "what is deployed".to_owned(),
        },
    }
}

/// `opening`, then why a script upload is needed, then the hint.
fn reason(
    mut reason: String,
    mode: &UploadMode,
    payload: Option<&MigrationsPayload>,
    hint: Option<&str>,
) -> String {
    match (mode, payload) {
        (UploadMode::ScriptUpload { .. }, Some(payload)) => reason.push_str(&format!(
            "; Durable Object migration {} pending, so a script upload is required",
            payload
                .steps
                .iter()
                .map(|s| format!("`{}`", s.tag))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        (UploadMode::ScriptUpload { .. }, None) => {
            reason.push_str("; `exports` changed, so a script upload is required")
        }
        _ => {}
    }
    if let Some(hint) = hint {
        reason.push_str(&format!(" ({hint})"));
    }
    reason
}

fn upload_steps(name: &str, mode: &UploadMode, payload: &Option<MigrationsPayload>) -> Vec<Step> {
    match mode {
        UploadMode::VersionUpload => vec![
            Step::UploadVersion {
                worker: name.to_owned(),
            },
            Step::Deploy {
                worker: name.to_owned(),
                version: DeployTarget::Uploaded,
                force: false,
            },
        ],
        UploadMode::ScriptUpload { .. } => vec![Step::ScriptUpload {
            worker: name.to_owned(),
            migrations: payload.clone(),
        }],
    }
}
