//! The history view as plain text (no colour), newest first.

use chrono::{DateTime, Utc};

use super::{HistoryView, VersionOrigin};
use crate::entry::{Action, Outcome, Recorded};

fn time(at: Option<DateTime<Utc>>) -> String {
    at.map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| "????-??-?? ??:??".into())
}

fn short(id: &str) -> &str {
    let mut end = id.len().min(8);
    while !id.is_char_boundary(end) {
        end -= 1;
    }
    &id[..end]
}

fn percentage(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}%")
    } else {
        format!("{value}%")
    }
}

fn origin_text(origin: &VersionOrigin, source: Option<&str>) -> String {
    let via = source.map(|s| format!(" via {s}")).unwrap_or_default();
    match origin {
        VersionOrigin::Flaresync {
            commit: Some(commit),
        } => format!("commit {} (flaresync)", short_commit(commit)),
        VersionOrigin::Flaresync { commit: None } => "flaresync (commit unknown)".into(),
        VersionOrigin::CommitTag { commit } => {
            format!("commit {} (tag; not in journal)", short_commit(commit))
        }
        VersionOrigin::ForeignTag { tag } => {
            format!("outside flaresync{via}, tag {tag:?}")
        }
        VersionOrigin::Untagged => format!("outside flaresync{via}, untagged"),
        VersionOrigin::NotListed => "not in the version list".into(),
    }
}

fn short_commit(commit: &str) -> &str {
    &commit[..commit.len().min(7)]
}

fn event_line(recorded: &Recorded) -> String {
    let entry = &recorded.entry;
    // "blocked skipped" reads oddly: a block is recorded with outcome `skipped`.
    let what = match (&entry.action, &entry.outcome) {
        (Action::Blocked, Outcome::Skipped) => "blocked (nothing applied)".to_owned(),
        (action, outcome) => format!("{} {}", action.as_str(), outcome.as_str()),
    };
    let mut line = format!("{}  {what} by {}", time(Some(entry.at)), entry.trigger);
    if let Some(commit) = &entry.commit {
        line.push_str(&format!(" at {}", short_commit(commit)));
    }
    if let Some(deployment) = &entry.deployment_id {
        line.push_str(&format!(" (deployment {})", short(deployment)));
    }
    if !entry.message.is_empty() {
        line.push_str(&format!(
            ": {}",
            entry.message.lines().next().unwrap_or_default()
        ));
    }
    line
}

/// Renders the view as plain text (no colour), newest first.
pub fn render_history(view: &HistoryView) -> String {
    let mut out = String::new();
    let outside = view
        .rows
        .iter()
        .filter(|r| r.origin.is_outside_flaresync())
        .count();
    out.push_str(&format!(
        "history of {}: {} version(s), {} uploaded outside flaresync\n",
        view.worker,
        view.rows.len(),
        outside
    ));
    for row in &view.rows {
        out.push('\n');
        let number = row
            .number
            .map(|n| format!("#{n}"))
            .unwrap_or_else(|| "#?".into());
        let active = row
            .active_percentage
            .map(|p| format!("  [live {}]", percentage(p)))
            .unwrap_or_default();
        out.push_str(&format!(
            "{number:<5} {}  {}  {}{active}\n",
            short(&row.version_id),
            time(row.created_on),
            origin_text(&row.origin, row.source.as_deref()),
        ));
        if let Some(subject) = &row.commit_subject {
            out.push_str(&format!("      commit    {subject}\n"));
        }
        if let Some(message) = row.message.as_deref().filter(|m| !m.is_empty()) {
            out.push_str(&format!("      message   {message}\n"));
        }
        if let Some(triggered_by) = row.triggered_by.as_deref().filter(|t| *t != "upload") {
            out.push_str(&format!("      created by {triggered_by}\n"));
        }
        for deployment in &row.deployments {
            let by = deployment
                .triggered_by
                .as_deref()
                .map(|t| format!(" ({t})"))
                .unwrap_or_default();
            let author = deployment
                .author
                .as_deref()
                .map(|a| format!(" by {a}"))
                .unwrap_or_default();
            let message = deployment
                .message
                .as_deref()
                .filter(|m| !m.is_empty())
                .map(|m| format!(": {m}"))
                .unwrap_or_default();
            out.push_str(&format!(
                "      deployed  {}  {} in deployment {}{by}{author}{message}\n",
                time(deployment.created_on),
                percentage(deployment.percentage),
                short(&deployment.id),
            ));
        }
        for recorded in &row.journal {
            out.push_str(&format!("      journal   {}\n", event_line(recorded)));
        }
    }
    if !view.other_events.is_empty() {
        out.push_str("\nother events\n");
        for recorded in &view.other_events {
            out.push_str(&format!("      {}\n", event_line(recorded)));
        }
    }
    out
}
