//! Reconcile requests: what every trigger (file system, poll, webhook, manual, signal, requeue)
//! turns into. Triggers never reconcile themselves; they only send one of these.

use serde::Serialize;

/// Which Workers a request is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Target {
    /// The repository may have changed: look at every Worker.
    All,
    /// One Worker (a requeue after an error, a manual request for one Worker).
    Worker(String),
}

/// Where a request came from (for logs and status only; reconciles are idempotent and do not
/// depend on why they run).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TriggerSource {
    Startup,
    FileSystem,
    Poll,
    Webhook,
    Manual,
    Signal,
    Requeue,
    /// A one-shot CLI command (`flaresync apply`).
    Cli,
}

impl TriggerSource {
    pub fn as_str(self) -> &'static str {
        match self {
            TriggerSource::Startup => "startup",
            TriggerSource::FileSystem => "file_system",
            TriggerSource::Poll => "poll",
            TriggerSource::Webhook => "webhook",
            TriggerSource::Manual => "manual",
            TriggerSource::Signal => "signal",
            TriggerSource::Requeue => "requeue",
            TriggerSource::Cli => "cli",
        }
    }
}

impl TriggerSource {
    /// The journal's trigger kind for this source.
    pub fn journal_kind(self) -> flaresync_journal::TriggerKind {
        use flaresync_journal::TriggerKind;
        match self {
            TriggerSource::Startup => TriggerKind::Startup,
            TriggerSource::FileSystem => TriggerKind::Watch,
            TriggerSource::Poll | TriggerSource::Requeue => TriggerKind::Poll,
            TriggerSource::Webhook => TriggerKind::Webhook,
            TriggerSource::Manual | TriggerSource::Signal => TriggerKind::Manual,
            TriggerSource::Cli => TriggerKind::Cli,
        }
    }
}

impl std::fmt::Display for TriggerSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconcileRequest {
    pub target: Target,
    pub source: TriggerSource,
    /// Who asked, when the trigger knows (a webhook's pusher), for the journal.
    pub actor: Option<String>,
}

impl ReconcileRequest {
    pub fn all(source: TriggerSource) -> Self {
        ReconcileRequest {
            target: Target::All,
            source,
            actor: None,
        }
    }

    pub fn worker(name: impl Into<String>, source: TriggerSource) -> Self {
        ReconcileRequest {
            target: Target::Worker(name.into()),
            source,
            actor: None,
        }
    }

    /// The same request, naming who asked.
    pub fn by(mut self, actor: Option<String>) -> Self {
        self.actor = actor;
        self
    }
}

/// The sending side every trigger holds.
pub type TriggerSender = tokio::sync::mpsc::UnboundedSender<ReconcileRequest>;
pub type TriggerReceiver = tokio::sync::mpsc::UnboundedReceiver<ReconcileRequest>;

pub fn channel() -> (TriggerSender, TriggerReceiver) {
    tokio::sync::mpsc::unbounded_channel()
}
