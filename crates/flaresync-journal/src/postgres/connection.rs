//! One PostgreSQL connection on a thread of its own. The journal's API is synchronous and is
//! called from inside the tokio runtime (a reconcile pass records between awaits); the blocking
//! `postgres` client runs a runtime of its own and must not be driven from a runtime thread.
//! So the client lives here, and callers hand it jobs over a channel and wait for the answer,
//! exactly as they wait on SQLite's file lock today.
//!
//! A dropped connection (server restart, failover) is opened again before the next job. The
//! URL stays on this thread; only [`Connection::location`] (no credentials) is ever shown.

use std::sync::{Mutex, mpsc};

use postgres::{Client, NoTls};

use crate::error::JournalError;

type Job = Box<dyn FnOnce(&mut Client) + Send>;

/// A handle to the connection's thread. Cheap to share; jobs run one at a time, in order.
pub(crate) struct Connection {
    jobs: Mutex<mpsc::Sender<Job>>,
    location: String,
}

impl Connection {
    /// Connects to `url` (shown as `location`) and starts the connection's thread.
    pub(crate) fn open(url: &str, location: String) -> Result<Self, JournalError> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let (ready, connected) = mpsc::channel();
        let url = url.to_owned();
        std::thread::Builder::new()
            .name("flaresync-postgres".into())
            .spawn(move || serve(&url, &queue, &ready))
            .map_err(|_| JournalError::Disconnected {
                location: location.clone(),
            })?;
        match connected.recv() {
            Ok(Ok(())) => Ok(Connection {
                jobs: Mutex::new(jobs),
                location,
            }),
            Ok(Err(source)) => Err(JournalError::Connect { location, source }),
            Err(_) => Err(JournalError::Disconnected { location }),
        }
    }

    /// The database, for messages (no credentials).
    pub(crate) fn location(&self) -> &str {
        &self.location
    }

    /// Runs `job` on the connection and returns its answer.
    pub(crate) fn call<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Client) -> T + Send + 'static,
    ) -> Result<T, JournalError> {
        let (answer, answered) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |client| {
            let _ = answer.send(job(client));
        });
        let disconnected = || JournalError::Disconnected {
            location: self.location.clone(),
        };
        self.jobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .send(job)
            .map_err(|_| disconnected())?;
        answered.recv().map_err(|_| disconnected())
    }

    /// A `postgres::Error` of `operation` as a [`JournalError`].
    pub(crate) fn error(
        &self,
        operation: &'static str,
    ) -> impl FnOnce(postgres::Error) -> JournalError + use<> {
        let location = self.location.clone();
        move |source| JournalError::Postgres {
            operation,
            location,
            source,
        }
    }
}

/// Session settings of every connection. A process paused (SIGSTOP, a frozen VM) or cut off
/// in the middle of a lease transaction would otherwise hold that pair's lock for good and
/// block every other replica: the server ends such a session after a few seconds, and a
/// statement waits for a lock at most as long, then fails (the caller tries again).
const SESSION: &str = "SET idle_in_transaction_session_timeout = '5s'; SET lock_timeout = '5s'";

fn connect(url: &str) -> Result<Client, postgres::Error> {
    let mut client = Client::connect(url, NoTls)?;
    client.batch_execute(SESSION)?;
    Ok(client)
}

/// The connection's thread: connect, then run jobs until every handle is dropped.
fn serve(
    url: &str,
    queue: &mpsc::Receiver<Job>,
    ready: &mpsc::Sender<Result<(), postgres::Error>>,
) {
    let mut client = match connect(url) {
        Ok(client) => {
            let _ = ready.send(Ok(()));
            client
        }
        Err(error) => {
            let _ = ready.send(Err(error));
            return;
        }
    };
    for job in queue {
        if client.is_closed() {
            // Reconnect once; if that fails the job runs on the closed client and reports
            // the error, and the next job tries again.
            if let Ok(fresh) = connect(url) {
                client = fresh;
            }
        }
        job(&mut client);
    }
}
