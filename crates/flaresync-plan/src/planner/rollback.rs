//! Decision 5: a known version with the desired content is still deployable. Deploy it when
//! every rule passes; otherwise refuse, or redeploy its content under
//! `rollback_policy = "redeploy"`.

use crate::diff::WorkerDiff;
use crate::input::{KnownVersion, RollbackPolicy};
use crate::live::LiveVersion;
use crate::model::{Action, DeployTarget, Finding, Severity, Step, VersionRef};
use crate::rules::{Rule, SecretsChanged, Subject, Target};

use super::case::Case;
use super::forward::{self, Forward};
use super::outcome::Outcome;
use super::reasons::{blocking_ids, describe_ref};

pub(super) fn decide<'a>(case: &Case<'a>, target: Target<'a>) -> Outcome {
    let spec = case.spec();
    let findings = case.findings(Subject::Rollback { spec, target });
    let to = version_ref(target.known, target.live);
    let diff = case.diff(target.live);
    if !findings.iter().any(Finding::is_blocking) {
        return roll_back(case, target, to, findings, diff);
    }
    if case.input.policy.rollback_policy == RollbackPolicy::Redeploy {
        let refused = findings.into_iter().map(overridden_by_redeploy).collect();
        return forward::decide(case, Forward::Redeploy { to, refused });
    }
    let reason = format!(
        "rollback to {} refused ({})",
        describe_ref(&to),
        blocking_ids(&findings)
    );
    let action = Action::Blocked { target: Some(to) };
    Outcome::new(case.name(), action, reason, findings, diff)
}

/// The legal rollback: deploy the existing version (forced when FS006 was overridden).
fn roll_back(
    case: &Case<'_>,
    target: Target<'_>,
    to: VersionRef,
    findings: Vec<Finding>,
    diff: WorkerDiff,
) -> Outcome {
    let name = case.name();
    let force = findings
        .iter()
        .any(|f| f.rule == SecretsChanged.id() && f.overridden);
    let finishing_split = case
        .current
        .active
        .is_some_and(|active| active.version_id == target.known.version_id);
    let mut reason = if finishing_split {
        format!(
            "a gradual deployment is in progress and its larger share, {}, already runs this content: deploying it at 100% (no upload)",
            describe_ref(&to)
        )
    } else {
        format!(
            "desired content equals {}, still deployable: rollback without upload{}",
            describe_ref(&to),
            if force {
                " (forced: secrets differ)"
            } else {
                ""
            }
        )
    };
    let mut steps = vec![Step::Deploy {
        worker: name.to_owned(),
        version: DeployTarget::Existing(to.clone()),
        force,
    }];
    let fields = super::settings::rollback_fields(case);
    let settings = (!fields.is_empty()).then(|| Step::SyncSettings {
        worker: name.to_owned(),
        fields,
    });
    if let Some(Step::SyncSettings { fields, .. }) = &settings {
        let moved: Vec<&str> = fields
            .iter()
            .map(String::as_str)
            .filter(|f| matches!(*f, "routes" | "crons" | "queue_consumers"))
            .collect();
        if !moved.is_empty() {
            reason.push_str(&format!(
                "; then {} are re-applied from Git (not versioned: the rollback does not move them)",
                moved.join(", ")
            ));
        }
    }
    steps.extend(settings);
    let action = Action::Rollback { to, force };
    Outcome::new(name, action, reason, findings, diff).with_steps(steps)
}

/// A rollback finding as the redeploy reports it: blocking ones become overridden warnings.
fn overridden_by_redeploy(mut finding: Finding) -> Finding {
    if finding.is_blocking() {
        finding.severity = Severity::Warning;
        finding.overridden = true;
        finding.hint = Some(
            "rollback_policy = \"redeploy\": the content is uploaded as a new version instead"
                .to_owned(),
        );
    }
    finding
}

fn version_ref(known: &KnownVersion, live: Option<&LiveVersion>) -> VersionRef {
    VersionRef {
        version_id: known.version_id.clone(),
        number: live.map(|v| v.number).filter(|n| *n > 0),
        commit: known.commit.clone(),
    }
}
