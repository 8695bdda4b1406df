//! Decision 4: what runs already has the desired versioned content (and no migration or
//! `exports` change is pending): in sync, or only non-versioned settings to apply.

use crate::model::{Action, Step};
use crate::rules::{Subject, short};

use super::case::Case;
use super::outcome::Outcome;
use super::settings;

pub(super) fn decide(case: &Case<'_>) -> Outcome {
    let spec = case.spec();
    let name = case.name();
    let fields = settings::fields(case, true);
    let findings = case.findings(Subject::Unchanged { spec });
    let diff = case.diff(None);
    let active_text = match case.current.active {
        Some(active) => active
            .live
            .filter(|v| v.number > 0)
            .map(|v| format!("live version {}", v.number))
            .unwrap_or_else(|| format!("live version {}", short(active.version_id))),
        None => "the base commit".to_owned(),
    };
    if fields.is_empty() {
        let reason = format!("{active_text} already runs this content");
        return Outcome::new(name, Action::InSync, reason, findings, diff);
    }
    let reason = format!(
        "{active_text} runs this code; only non-versioned settings differ ({})",
        fields.join(", ")
    );
    let steps = vec![Step::SyncSettings {
        worker: name.to_owned(),
        fields: fields.clone(),
    }];
    let action = Action::UpdateSettings { fields };
    Outcome::new(name, action, reason, findings, diff).with_steps(steps)
}
