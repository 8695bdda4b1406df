//! One Worker's card on the status page (pure): what runs, from which commit, what is wrong
//! with it and what happened to it. Every string from the status is escaped here.

use std::fmt::Write as _;

use super::{
    html::{commit, escape, percent, time, version},
    state::State,
    timeline::{Actor, timeline},
};
use crate::{
    rollout::RolloutReport,
    status::{ConditionType, WorkerStatus},
};

/// The card of `worker`.
pub fn card(worker: &WorkerStatus) -> String {
    let state = State::of(worker);
    let mut out = String::new();
    let _ = write!(
        out,
        "<article class=\"worker {class}\" id=\"worker-{name}\" data-state=\"{label}\">\
         <h2><span class=\"name\">{name}</span> <span class=\"badge {class}\">{label}</span></h2>",
        name = escape(&worker.worker),
        class = state.class(),
        label = state.label(),
    );
    out.push_str(&facts(worker));
    out.push_str(&split(worker));
    out.push_str(&problems(worker));
    if let Some(rollout) = &worker.rollout {
        out.push_str(&rollout_section(rollout));
    }
    out.push_str(&history(worker));
    out.push_str("</article>");
    out
}

fn facts(worker: &WorkerStatus) -> String {
    let mut out = String::from("<dl class=\"facts\">");
    let mut fact = |term: &str, value: String| {
        let _ = write!(out, "<div><dt>{term}</dt><dd>{value}</dd></div>");
    };
    let commit_or = |id: &Option<String>| id.as_deref().map(commit).unwrap_or_else(|| "—".into());
    fact("Live commit", commit_or(&worker.live_commit));
    fact("Last applied", commit_or(&worker.last_applied_commit));
    fact("Git head", commit_or(&worker.desired_commit));
    if let Some(result) = &worker.last_result {
        fact(
            "Last pass",
            format!("{} · {}", escape(&result.result), time(&result.at)),
        );
    }
    out.push_str("</dl>");
    out
}

/// The versions serving traffic now, with share, commit and message (subject and author).
fn split(worker: &WorkerStatus) -> String {
    if worker.live_split.is_empty() {
        return match &worker.live_version {
            Some(id) => format!("<p class=\"live\">Live version {}</p>", version(id)),
            None => "<p class=\"live none\">Nothing deployed yet.</p>".into(),
        };
    }
    let mut out = String::from(
        "<div class=\"scroll\"><table class=\"split\"><thead><tr><th>Share</th><th>Version</th>\
         <th>Commit</th><th>Message (author)</th></tr></thead><tbody>",
    );
    for share in &worker.live_split {
        let number = share
            .number
            .map(|n| format!(" <small>#{n}</small>"))
            .unwrap_or_default();
        let _ = write!(
            out,
            "<tr><td class=\"share\"><span class=\"bar\"><span style=\"width:{width}%\"></span>\
             </span>{pct}</td><td>{version}{number}</td><td>{commit}</td><td class=\"msg\">{msg}</td></tr>",
            width = share.percentage.clamp(0.0, 100.0).round(),
            pct = percent(share.percentage),
            version = version(&share.version),
            commit = share
                .commit
                .as_deref()
                .map(commit)
                .unwrap_or_else(|| "<em>not from this repository</em>".into()),
            msg = share.message.as_deref().map(escape).unwrap_or_default(),
        );
    }
    out.push_str("</tbody></table></div>");
    out
}

/// Blocked rules with their fix, drift, held changes, failed health checks and errors.
fn problems(worker: &WorkerStatus) -> String {
    let mut out = String::new();
    if !worker.blocked.is_empty() {
        out.push_str("<div class=\"alert bad\"><strong>Blocked</strong><ul>");
        for rule in &worker.blocked {
            let _ = write!(
                out,
                "<li><code class=\"rule\">{}</code> {}{}</li>",
                escape(&rule.rule),
                escape(&rule.message),
                rule.fix
                    .as_deref()
                    .map(|fix| format!("<div class=\"fix\"><b>Fix:</b> {}</div>", escape(fix)))
                    .unwrap_or_default()
            );
        }
        out.push_str("</ul></div>");
    }
    if let Some(drift) = &worker.drift {
        let ids = |ids: &[String]| {
            ids.iter()
                .map(|id| version(id))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = write!(
            out,
            "<div class=\"alert warn\"><strong>Drift</strong> serving {} instead of {} \
             (changed outside flaresync; drift_policy = {}{})</div>",
            ids(&drift.actual_versions),
            ids(&drift.expected_versions),
            escape(&drift.policy),
            if drift.healed { ", healed" } else { "" }
        );
    }
    let ready = worker.condition(ConditionType::Ready);
    if let Some(ready) = ready.filter(|c| !c.status && worker.blocked.is_empty()) {
        let _ = write!(
            out,
            "<div class=\"alert {}\"><strong>Held</strong> <code>{}</code> {}</div>",
            if ready.reason == "Progressing" {
                "busy"
            } else {
                "warn"
            },
            escape(&ready.reason),
            escape(&ready.message)
        );
    }
    if let Some(health) = worker.health.as_ref().filter(|h| !h.passed) {
        let _ = write!(
            out,
            "<div class=\"alert bad\"><strong>Health check failed</strong> {} — {}{}</div>",
            escape(&health.url),
            escape(&health.message),
            health
                .rejected_commit
                .as_deref()
                .map(|c| format!(" (commit {} rolled back)", commit(c)))
                .unwrap_or_default()
        );
    }
    out
}

/// Phase, step, weight and the last analysis with its numbers.
fn rollout_section(rollout: &RolloutReport) -> String {
    use crate::rollout::Phase;
    let mut out = String::from("<section class=\"rollout\"><h3>Rollout</h3>");
    let step = match &rollout.phase {
        Phase::Progressing { step, of, .. }
        | Phase::Baking { step, of }
        | Phase::Paused { step, of, .. } => format!(" · step {step} of {of}"),
        _ => String::new(),
    };
    let reason = match &rollout.phase {
        Phase::Paused { reason, .. } | Phase::Aborted { reason } => {
            format!(" — {}", escape(reason))
        }
        _ => String::new(),
    };
    let _ = write!(
        out,
        "<p><span class=\"phase\">{}</span>{step} · commit {} · canary {}{}{reason}</p>",
        rollout.phase.name(),
        commit(&rollout.commit),
        version(&rollout.canary_version),
        rollout
            .stable_version
            .as_deref()
            .map(|v| format!(" · stable {}", version(v)))
            .unwrap_or_default(),
    );
    if let Some(weight) = rollout.weight {
        let _ = write!(
            out,
            "<p class=\"weight\"><span class=\"bar wide\"><span style=\"width:{weight}%\"></span></span>\
             canary {weight}%</p>"
        );
    }
    if let Some(analysis) = &rollout.last_analysis {
        let _ = write!(
            out,
            "<p>Last analysis: <span class=\"verdict {0}\">{0}</span></p><ul class=\"checks\">",
            analysis.verdict.as_str()
        );
        for check in &analysis.checks {
            let _ = write!(
                out,
                "<li><span class=\"verdict {}\">{}</span> <code>{}</code> {}</li>",
                check.result.as_str(),
                check.result.as_str(),
                escape(&check.name),
                escape(&check.detail)
            );
        }
        out.push_str("</ul>");
    }
    if let Some(next) = &rollout.next_check_at {
        let _ = write!(out, "<p class=\"next\">Next check {}</p>", time(next));
    }
    out.push_str("</section>");
    out
}

/// The deployment timeline, flaresync's and hand-made.
fn history(worker: &WorkerStatus) -> String {
    let rows = timeline(worker);
    if rows.is_empty() {
        return String::new();
    }
    let mut out =
        String::from("<details class=\"timeline\" open><summary>Deployments</summary><ol>");
    for row in rows {
        let versions = row
            .versions
            .iter()
            .map(|(id, share, commit_id)| {
                format!(
                    "{}{}{}",
                    share
                        .map(|s| format!("{} ", percent(s)))
                        .unwrap_or_default(),
                    version(id),
                    commit_id
                        .map(|c| format!(" ({})", commit(c)))
                        .unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let (actor_class, actor) = match row.actor {
            Actor::Flaresync => ("flaresync", "flaresync"),
            Actor::ByHand => ("by-hand", "by hand"),
        };
        let detail = [row.what, row.result, row.author, row.message]
            .into_iter()
            .flatten()
            .map(|text| escape(text).into_owned())
            .collect::<Vec<_>>()
            .join(" · ");
        let _ = write!(
            out,
            "<li class=\"{actor_class}\">{at} <span class=\"actor\">{actor}</span> {versions}\
             <div class=\"detail\">{detail} <small>({source})</small></div></li>",
            at = time(row.at),
            source = row.source,
        );
    }
    out.push_str("</ol></details>");
    out
}
