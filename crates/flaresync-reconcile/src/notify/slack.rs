//! A Slack incoming-webhook message (`text` for notifications and clients without blocks, plus
//! Block Kit `blocks`), also understood by Mattermost and Rocket.Chat. See
//! <https://api.slack.com/messaging/webhooks> and <https://api.slack.com/reference/surfaces/formatting#escaping>.

use serde_json::{Value, json};

use super::{
    deliver::Request,
    event::{Event, EventKind, EventState},
};
use crate::pass::short;

/// The request for `event`.
pub fn request(url: &str, event: &Event) -> Request {
    Request {
        url: url.to_owned(),
        headers: vec![
            ("content-type", "application/json".to_owned()),
            ("user-agent", super::USER_AGENT.to_owned()),
        ],
        body: serde_json::to_vec(&message(event)).unwrap_or_default(),
    }
}

/// The message: one headline, the reason, and the facts in a context line.
pub fn message(event: &Event) -> Value {
    let headline = headline(event);
    let mut detail = escape(&headline);
    if let Some(reason) = &event.reason {
        detail.push_str(&format!("\n{}", escape(reason)));
    }
    if !event.rules.is_empty() {
        detail.push_str(&format!(
            "\nRules: {} (`flaresync explain {}`)",
            event.rules.join(", "),
            event.rules[0]
        ));
    }
    let mut facts = vec![
        format!("environment `{}`", escape(&event.environment)),
        format!("branch `{}`", escape(&event.branch)),
    ];
    if !event.version_ids.is_empty() {
        facts.push(format!(
            "version `{}`",
            escape(&event.version_ids.join(", "))
        ));
    }
    if let Some(actor) = &event.actor {
        facts.push(format!("by {}", escape(actor)));
    }
    facts.push(escape(&event.timestamp));
    json!({
        "text": headline,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": detail}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": facts.join(" · ")}]},
        ],
    })
}

/// One line: what happened to which Worker at which commit.
fn headline(event: &Event) -> String {
    let commit = short(&event.commit);
    let (icon, what) = match (event.kind, event.state) {
        (EventKind::Deploy, EventState::InProgress) => (":hourglass:", "rolling out"),
        (EventKind::Deploy, _) => (":white_check_mark:", "deployed"),
        (EventKind::Rollback, _) => (":rewind:", "rolled back at"),
        (EventKind::Blocked, _) => (":no_entry:", "blocked at"),
        (EventKind::Drift, _) => (":warning:", "drifted from"),
        (EventKind::HealthFailed, _) => (":x:", "failed its health check at"),
        (EventKind::AnalysisFailed, _) => (":x:", "failed its rollout analysis at"),
        (EventKind::RolloutAborted, _) => (":x:", "rollout aborted for"),
    };
    format!("{icon} {} {what} commit {commit}", event.worker)
}

/// Slack's three control characters in text.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blocked_rollback_names_the_rule_and_escapes_text() {
        let mut event = crate::notify::webhook::tests::event();
        event.kind = EventKind::Blocked;
        event.state = EventState::Failure;
        event.rules = vec!["FS002".into()];
        event.reason = Some("migration <v2> & more".into());
        event.actor = Some("Ada <ada@example.com>".into());
        let message = message(&event);
        assert_eq!(message["text"], ":no_entry: api blocked at commit c0ffee");
        let section = message["blocks"][0]["text"]["text"].as_str().expect("text");
        assert!(
            section.contains("migration &lt;v2&gt; &amp; more"),
            "{section}"
        );
        assert!(section.contains("FS002"), "{section}");
        let context = message["blocks"][1]["elements"][0]["text"]
            .as_str()
            .expect("context");
        assert!(context.contains("Ada &lt;ada@example.com&gt;"), "{context}");
        assert!(context.contains("acct/default"), "{context}");
    }
}
