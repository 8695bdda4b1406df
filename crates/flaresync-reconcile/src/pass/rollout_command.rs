//! Operator commands on rollouts (`flaresync rollout promote|abort|pause|resume [worker]`, or
//! `POST /rollout/<command>` of a running loop): each is a journal entry the next pass acts on,
//! so the loop, the CLI alone and a restart all see the same thing.

use chrono::Utc;
use flaresync_journal::{Action as JournalAction, Entry, Outcome, Trigger, TriggerKind};

use super::Context;
use crate::{
    error::Error,
    rollout::{
        Command,
        record::{self, Record},
    },
};

impl Context {
    /// Records `command` for the open rollout of `worker` (every Worker with an open rollout
    /// when `None`), as `actor`. Returns the Workers it applies to (empty: no rollout open).
    ///
    /// # Errors
    ///
    /// Journal failures.
    pub fn rollout_command(
        &self,
        command: Command,
        worker: Option<&str>,
        actor: &str,
    ) -> Result<Vec<String>, Error> {
        let mut affected = Vec::new();
        for (name, found) in self.rollouts(worker)? {
            if found.observed.finished.is_some() {
                continue;
            }
            let why = match command {
                Command::Pause => format!("paused by {actor}"),
                Command::Resume => format!("resumed by {actor}"),
                Command::Promote => format!("promoted by {actor}"),
                Command::Abort => format!("aborted by operator {actor}"),
            };
            let entry = Entry::new(
                &name,
                JournalAction::Other(record::COMMAND.into()),
                Outcome::Success,
                Trigger::new(TriggerKind::Manual, Some(actor)),
            )
            .commit(&found.commit)
            .version(&found.canary)
            .message(command.message(&why));
            self.journal.record(&entry)?;
            affected.push(name);
        }
        if command == Command::Abort {
            // A set rollback: a pass in flight stops at its next Worker so that it goes first.
            self.note_rollout_aborts(&affected);
        }
        Ok(affected)
    }

    /// The latest rollout of `worker` (of every Worker when `None`) as the journal records it.
    ///
    /// # Errors
    ///
    /// Journal failures.
    pub fn rollouts(&self, worker: Option<&str>) -> Result<Vec<(String, Record)>, Error> {
        let names = match worker {
            Some(worker) => vec![worker.to_owned()],
            None => self.journal.workers()?,
        };
        let mut found = Vec::new();
        for name in names {
            let entries = self.journal.history(&name)?;
            if let Some(record) = record::read(&entries, &|_| None, Utc::now()) {
                found.push((name, record));
            }
        }
        Ok(found)
    }
}
