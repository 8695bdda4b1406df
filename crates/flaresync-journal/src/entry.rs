//! The values the journal stores: who/what triggered an action, what was done, how it ended.

use chrono::{DateTime, Utc};
use flaresync_config::Digest;
use serde::{Deserialize, Serialize};

/// What started an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerKind {
    /// A push webhook.
    Webhook,
    /// The periodic poll of the repository.
    Poll,
    /// A file-system watch on a local repository.
    Watch,
    /// A manual "reconcile now" request (status server, API).
    Manual,
    /// A CLI command (`flaresync apply`, `flaresync rollback`).
    Cli,
    /// The first reconcile after the daemon started.
    Startup,
}

/// Who or what triggered an action: the kind plus an actor (user name, webhook sender,
/// pusher) when one is known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trigger {
    pub kind: TriggerKind,
    pub actor: Option<String>,
}

impl Trigger {
    pub fn new(kind: TriggerKind, actor: Option<&str>) -> Self {
        Trigger {
            kind,
            actor: actor.map(str::to_owned),
        }
    }
}

impl std::fmt::Display for Trigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.actor {
            Some(actor) => write!(f, "{} ({actor})", self.kind.as_str()),
            None => f.write_str(self.kind.as_str()),
        }
    }
}

/// What flaresync did (or decided not to do).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Uploaded a new version.
    Upload,
    /// Deployed a version (100% or split).
    Deploy,
    /// Rolled back to an existing version.
    Rollback,
    /// Updated non-versioned script settings (routes, crons, logpush, ...).
    Settings,
    /// Found live state differing from Git without flaresync having caused it.
    Drift,
    /// Refused to act (illegal rollback, invalid config); needs a commit.
    Blocked,
    /// The branch history was rewritten (force-push).
    HistoryRewritten,
    /// Nothing to do.
    Noop,
    /// An action name written by a newer flaresync.
    Other(String),
}

/// How an action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Recorded before the API call; a later entry says how it ended. A `Started` entry with no
    /// later outcome means flaresync stopped mid-action (see `Journal::in_flight`).
    Started,
    Success,
    Failure,
    Skipped,
}

macro_rules! string_enum {
    ($ty:ty { $($variant:ident => $text:literal),* $(,)? }) => {
        impl $ty {
            /// Every variant, in declaration order.
            #[cfg(test)]
            const ALL: &'static [Self] = &[$(Self::$variant),*];

            pub fn as_str(&self) -> &'static str {
                match self { $(Self::$variant => $text),* }
            }
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some(Self::$variant),)* _ => None }
            }
        }
    };
}

string_enum!(TriggerKind { Webhook => "webhook", Poll => "poll", Watch => "watch", Manual => "manual", Cli => "cli", Startup => "startup" });
string_enum!(Outcome { Started => "started", Success => "success", Failure => "failure", Skipped => "skipped" });

impl Action {
    pub fn as_str(&self) -> &str {
        match self {
            Action::Upload => "upload",
            Action::Deploy => "deploy",
            Action::Rollback => "rollback",
            Action::Settings => "settings",
            Action::Drift => "drift",
            Action::Blocked => "blocked",
            Action::HistoryRewritten => "history_rewritten",
            Action::Noop => "noop",
            Action::Other(other) => other,
        }
    }

    /// Never fails: unknown names become [`Action::Other`].
    pub fn parse(text: &str) -> Self {
        match text {
            "upload" => Action::Upload,
            "deploy" => Action::Deploy,
            "rollback" => Action::Rollback,
            "settings" => Action::Settings,
            "drift" => Action::Drift,
            "blocked" => Action::Blocked,
            "history_rewritten" => Action::HistoryRewritten,
            "noop" => Action::Noop,
            other => Action::Other(other.to_owned()),
        }
    }

    /// True for actions that change which version serves traffic.
    pub fn changes_traffic(&self) -> bool {
        matches!(self, Action::Deploy | Action::Rollback)
    }
}

/// One journal entry, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub at: DateTime<Utc>,
    /// Cloudflare script name.
    pub worker: String,
    /// Full commit id the action was about.
    pub commit: Option<String>,
    /// Digest of the worker's desired state at `commit`.
    pub digest: Option<Digest>,
    pub version_id: Option<String>,
    pub deployment_id: Option<String>,
    pub trigger: Trigger,
    pub action: Action,
    pub outcome: Outcome,
    /// Human-readable detail (why blocked, error text, explanation of a rollback).
    pub message: String,
}

impl Entry {
    /// An entry stamped now, with no commit/version/deployment yet; set them with the builders.
    pub fn new(worker: &str, action: Action, outcome: Outcome, trigger: Trigger) -> Self {
        Entry {
            at: Utc::now(),
            worker: worker.to_owned(),
            commit: None,
            digest: None,
            version_id: None,
            deployment_id: None,
            trigger,
            action,
            outcome,
            message: String::new(),
        }
    }

    pub fn at(mut self, at: DateTime<Utc>) -> Self {
        self.at = at;
        self
    }

    pub fn commit(mut self, commit: &str) -> Self {
        self.commit = Some(commit.to_owned());
        self
    }

    pub fn digest(mut self, digest: &Digest) -> Self {
        self.digest = Some(digest.clone());
        self
    }

    pub fn version(mut self, version_id: &str) -> Self {
        self.version_id = Some(version_id.to_owned());
        self
    }

    pub fn deployment(mut self, deployment_id: &str) -> Self {
        self.deployment_id = Some(deployment_id.to_owned());
        self
    }

    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }
}

/// An entry read back, with its position in the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorded {
    /// Monotonic sequence number (insertion order).
    pub seq: i64,
    #[serde(flatten)]
    pub entry: Entry,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for kind in TriggerKind::ALL {
            assert_eq!(TriggerKind::parse(kind.as_str()), Some(*kind));
        }
        for outcome in Outcome::ALL {
            assert_eq!(Outcome::parse(outcome.as_str()), Some(*outcome));
        }
        for action in [
            Action::Upload,
            Action::Deploy,
            Action::Rollback,
            Action::Settings,
            Action::Drift,
            Action::Blocked,
            Action::HistoryRewritten,
            Action::Noop,
            Action::Other("preview".into()),
        ] {
            assert_eq!(Action::parse(action.as_str()), action);
        }
        assert_eq!(TriggerKind::parse("carrier pigeon"), None);
    }

    #[test]
    fn trigger_display_names_the_actor() {
        assert_eq!(
            Trigger::new(TriggerKind::Webhook, Some("github:alice")).to_string(),
            "webhook (github:alice)"
        );
        assert_eq!(Trigger::new(TriggerKind::Poll, None).to_string(), "poll");
    }
}
