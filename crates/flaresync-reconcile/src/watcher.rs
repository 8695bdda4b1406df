//! File-system trigger for a local repository (notify).
//!
//! The watcher only *sends* [`ReconcileRequest`]s, it never reconciles (Vector's config
//! watcher). It runs on its own thread because notify delivers events synchronously:
//!
//! 1. wait for a relevant event;
//! 2. keep collecting until the tree has been quiet for the debounce window (one request per
//!    burst, e.g. a `git commit` touching objects, index and refs), at most ten windows;
//! 3. send one request, then re-add the watch, because ref updates are atomic renames and the
//!    watched inodes may have changed;
//! 4. if notify reports an error or its channel breaks, rebuild the watcher and assume a change
//!    happened meanwhile ("speculating that the repository changed").
//!
//! Paths that can never change the branch head (`.git/objects`, lock files, the journal, build
//! output) are filtered out by the pure [`is_relevant`], so writes by flaresync itself (the
//! journal) cannot trigger a loop.

use std::{
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
        mpsc,
    },
    thread,
    time::Duration,
};

use notify::{RecursiveMode, Watcher as _};
use tracing::{debug, info, warn};

use crate::scheduler::BURST_CAP_FACTOR;
use crate::trigger::{ReconcileRequest, TriggerSender, TriggerSource};

/// How often the watcher thread checks the stop flag while idle.
const STOP_POLL: Duration = Duration::from_millis(100);

/// Errors starting the watcher.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// notify could not watch the repository directory.
    #[error("cannot watch {path} for changes: {source}")]
    Watch {
        path: PathBuf,
        #[source]
        source: notify::Error,
    },
    /// The OS refused to start the watcher thread.
    #[error("cannot start the file watcher thread: {0}")]
    Thread(#[source] std::io::Error),
}

#[derive(Debug, Clone)]
pub struct WatchConfig {
    /// The repository working directory (or the git dir of a bare repository).
    pub root: PathBuf,
    /// Quiet period that ends a burst (a burst is capped at
    /// [`BURST_CAP_FACTOR`] quiet periods).
    pub debounce: Duration,
    /// Extra path prefixes to ignore (absolute or relative to `root`), e.g. the journal file.
    pub ignore: Vec<PathBuf>,
}

/// A running watcher; dropping it (or calling [`RepoWatcher::stop`]) stops the thread.
#[derive(Debug)]
pub struct RepoWatcher {
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl RepoWatcher {
    /// Starts watching `config.root` and sends a request per burst of relevant changes.
    ///
    /// # Errors
    ///
    /// Fails when the directory cannot be watched at all (missing, permission denied).
    pub fn spawn(config: WatchConfig, triggers: TriggerSender) -> Result<Self, Error> {
        let root = config
            .root
            .canonicalize()
            .unwrap_or_else(|_| config.root.clone());
        let bare = root.join("HEAD").is_file() && root.join("objects").is_dir();
        let ignore: Vec<PathBuf> = config
            .ignore
            .iter()
            .map(|path| {
                let absolute = if path.is_absolute() {
                    path.clone()
                } else {
                    root.join(path)
                };
                // The journal may not exist yet: canonicalize its parent instead.
                match (absolute.parent(), absolute.file_name()) {
                    (Some(parent), Some(name)) => parent
                        .canonicalize()
                        .map(|parent| parent.join(name))
                        .unwrap_or(absolute),
                    _ => absolute,
                }
            })
            .collect();
        // Fail early and synchronously if the root cannot be watched.
        let (events_tx, events_rx) = mpsc::channel();
        let watcher = build(&root, events_tx)?;
        let stop = Arc::new(AtomicBool::new(false));
        let filter = Filter { root, bare, ignore };
        let thread_stop = stop.clone();
        let debounce = config.debounce;
        let thread = thread::Builder::new()
            .name("flaresync-watch".into())
            .spawn(move || watch_loop(watcher, events_rx, filter, debounce, triggers, thread_stop))
            .map_err(Error::Thread)?;
        Ok(RepoWatcher {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops the thread and waits for it.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            // A panic in the watcher thread is already reported by the panic hook.
            let _ = thread.join();
        }
    }
}

impl Drop for RepoWatcher {
    fn drop(&mut self) {
        self.shutdown();
    }
}

type EventResult = Result<notify::Event, notify::Error>;

fn build(
    root: &Path,
    events_tx: mpsc::Sender<EventResult>,
) -> Result<notify::RecommendedWatcher, Error> {
    let mut watcher = notify::recommended_watcher(move |event: EventResult| {
        // The receiver is gone only when the loop is exiting.
        let _ = events_tx.send(event);
    })
    .map_err(|source| Error::Watch {
        path: root.to_owned(),
        source,
    })?;
    watcher
        .watch(root, RecursiveMode::Recursive)
        .map_err(|source| Error::Watch {
            path: root.to_owned(),
            source,
        })?;
    Ok(watcher)
}

struct Filter {
    root: PathBuf,
    bare: bool,
    ignore: Vec<PathBuf>,
}

impl Filter {
    fn event_is_relevant(&self, event: &notify::Event) -> bool {
        if matches!(event.kind, notify::EventKind::Access(_)) {
            return false;
        }
        event.paths.iter().any(|path| {
            if self.ignore.iter().any(|ignored| {
                path.as_os_str()
                    .to_string_lossy()
                    .starts_with(ignored.as_os_str().to_string_lossy().as_ref())
            }) {
                return false;
            }
            match path.strip_prefix(&self.root) {
                Ok(relative) => is_relevant(relative, self.bare),
                // Outside the root (should not happen): be safe and treat it as a change.
                Err(_) => true,
            }
        })
    }
}

/// Whether a change at `relative` (to the repository root) can change what flaresync deploys.
///
/// Inside the git dir only refs matter (`HEAD`, `refs/**`, `packed-refs`, not `*.lock`); in the
/// working tree everything except build output, editor swap files and flaresync's own state.
pub fn is_relevant(relative: &Path, bare: bool) -> bool {
    let parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let Some(file_name) = parts.last() else {
        return false;
    };
    if file_name.ends_with(".lock") {
        return false;
    }
    let git_internal: Option<&[String]> = if bare {
        Some(&parts[..])
    } else if parts.first().map(String::as_str) == Some(".git") {
        Some(&parts[1..])
    } else {
        None
    };
    match git_internal {
        Some(inside) => matches!(
            inside.first().map(String::as_str),
            Some("HEAD" | "refs" | "packed-refs")
        ),
        None => {
            let ignored_dir = parts.iter().any(|part| {
                matches!(
                    part.as_str(),
                    "target" | "node_modules" | ".flaresync" | ".wrangler"
                )
            });
            let editor_noise = file_name.ends_with('~')
                || file_name.ends_with(".swp")
                || file_name.ends_with(".swx")
                || file_name.starts_with(".#");
            !ignored_dir && !editor_noise
        }
    }
}

/// How the rest of a burst of events ended.
enum Burst {
    /// Quiet for `debounce`, or the burst cap reached.
    Quiet,
    /// The watcher reported an error or went away: it must be rebuilt.
    Broken,
    /// The loop was asked to stop.
    Stopped,
}

/// Collects the rest of the burst until it has been quiet for `debounce`, for at most
/// `BURST_CAP_FACTOR` windows (a steady stream of writes still triggers a pass).
fn rest_of_burst(
    events: &mpsc::Receiver<EventResult>,
    debounce: Duration,
    stop: &AtomicBool,
) -> Burst {
    let burst_end = std::time::Instant::now() + debounce.saturating_mul(BURST_CAP_FACTOR);
    loop {
        let left = burst_end.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Burst::Quiet;
        }
        match events.recv_timeout(debounce.min(left)) {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => {
                warn!(error = %error, "File watcher reported an error; rebuilding it.");
                return Burst::Broken;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => return Burst::Quiet,
            Err(mpsc::RecvTimeoutError::Disconnected) => return Burst::Broken,
        }
        if stop.load(Ordering::SeqCst) {
            return Burst::Stopped;
        }
    }
}

fn watch_loop(
    mut watcher: notify::RecommendedWatcher,
    mut events: mpsc::Receiver<EventResult>,
    filter: Filter,
    debounce: Duration,
    triggers: TriggerSender,
    stop: Arc<AtomicBool>,
) {
    let mut speculate = false;
    while !stop.load(Ordering::SeqCst) {
        let mut changed = speculate;
        speculate = false;
        let mut broken = false;
        if !changed {
            match events.recv_timeout(STOP_POLL) {
                Ok(Ok(event)) => changed = filter.event_is_relevant(&event),
                Ok(Err(error)) => {
                    warn!(error = %error, "File watcher reported an error; rebuilding it.");
                    broken = true;
                }
                Err(mpsc::RecvTimeoutError::Timeout) => continue,
                Err(mpsc::RecvTimeoutError::Disconnected) => broken = true,
            }
        }
        if !broken && changed {
            match rest_of_burst(&events, debounce, &stop) {
                Burst::Quiet => {}
                Burst::Broken => broken = true,
                Burst::Stopped => return,
            }
            debug!(root = %filter.root.display(), "Repository changed on disk.");
            if triggers
                .send(ReconcileRequest::all(TriggerSource::FileSystem))
                .is_err()
            {
                return;
            }
            if !broken {
                // Re-add the watch (refs are replaced by rename, so inodes change), making the
                // new watch before dropping the old one: a change in between (the `git commit`
                // right after the files it commits were written) is then seen by one of them.
                // Re-watching a tree of a thousand directories takes long enough to miss one.
                let (events_tx, events_rx) = mpsc::channel();
                match build(&filter.root, events_tx) {
                    Ok(rebuilt) => {
                        drop(std::mem::replace(&mut watcher, rebuilt));
                        let old = std::mem::replace(&mut events, events_rx);
                        speculate = old
                            .try_iter()
                            .any(|event| event.map_or(true, |e| filter.event_is_relevant(&e)));
                    }
                    Err(error) => {
                        warn!(error = %error, "Cannot re-add the repository watch; rebuilding it.");
                        broken = true;
                    }
                }
            }
        }
        if broken {
            // Rebuild; retry with a pause until it works or we are asked to stop.
            loop {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let (events_tx, events_rx) = mpsc::channel();
                match build(&filter.root, events_tx) {
                    Ok(rebuilt) => {
                        watcher = rebuilt;
                        events = events_rx;
                        info!("File watcher rebuilt; speculating that the repository changed.");
                        speculate = true;
                        break;
                    }
                    Err(error) => {
                        warn!(error = %error, "Cannot rebuild the file watcher; retrying.");
                        thread::sleep(Duration::from_secs(1));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ref_changes_matter_inside_the_git_dir() {
        let relevant = |path: &str| is_relevant(Path::new(path), false);
        assert!(relevant(".git/refs/heads/main"));
        assert!(relevant(".git/HEAD"));
        assert!(relevant(".git/packed-refs"));
        assert!(!relevant(".git/refs/heads/main.lock"));
        assert!(!relevant(".git/objects/ab/cdef"));
        assert!(!relevant(".git/index"));
        assert!(!relevant(".git/logs/HEAD"));
        assert!(relevant("workers/api/wrangler.toml"));
        assert!(!relevant("workers/api/node_modules/x/index.js"));
        assert!(!relevant("target/debug/foo"));
        assert!(!relevant(".flaresync/journal.sqlite"));
        assert!(!relevant("workers/api/.wrangler.toml.swp"));
        assert!(!relevant(""));
    }

    #[test]
    fn bare_repositories_are_all_git_dir() {
        assert!(is_relevant(Path::new("refs/heads/main"), true));
        assert!(!is_relevant(Path::new("objects/pack/x.pack"), true));
    }
}
