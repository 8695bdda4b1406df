//! workerd processes: checking a version's bundle (`workerd test`), starting a generation (one
//! process serving a set of versions on fresh ports) and stopping it when the last request
//! that uses it is done (the process is killed when its [`Generation`] is dropped).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::cpu_meter::CpuMeter;
use super::error::DataPlaneError;
use super::workerd_config::Rendered;

/// How long a new process may take to listen on all its sockets.
const START_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a bundle check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(15);

/// The workerd binary, a directory for generated configs and one for the processes' unix
/// sockets (short: a socket path has at most 107 bytes).
#[derive(Debug, Clone)]
pub struct Runtime {
    pub binary: PathBuf,
    pub work_dir: PathBuf,
    pub socket_dir: PathBuf,
    /// `workerd test` runs so far (shared by the clones: the upload check's and the
    /// controller's).
    pub checks: Arc<AtomicU64>,
}

/// One running workerd process and the sockets of the versions it serves.
#[derive(Debug)]
pub struct Generation {
    pub number: u64,
    /// Version id -> its socket's file name in [`Runtime::socket_dir`] (also the host of the
    /// URIs the listener sends there).
    pub sockets: BTreeMap<String, Arc<str>>,
    /// [`Rendered::identity`] of what it runs.
    pub identity: String,
    /// The process's CPU clock (`None` where it cannot be read).
    pub cpu: Option<CpuMeter>,
    dir: PathBuf,
    socket_dir: PathBuf,
    child: Mutex<Child>,
    /// Why the controller stopped it (see [`Generation::stop`]).
    stopped: OnceLock<String>,
}

impl Generation {
    /// Whether the process still runs.
    pub fn alive(&self) -> bool {
        matches!(self.child().try_wait(), Ok(None))
    }

    /// Kills the process now, even with requests in flight; `why` is what those requests answer.
    pub fn stop(&self, why: String) {
        let _ = self.stopped.set(why);
        let _ = self.child().start_kill();
    }

    /// Why [`Generation::stop`] stopped it.
    pub fn stopped_because(&self) -> Option<&str> {
        self.stopped.get().map(String::as_str)
    }

    fn child(&self) -> std::sync::MutexGuard<'_, Child> {
        self.child.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Generation {
    fn drop(&mut self) {
        // kill_on_drop is set too; this makes the intent explicit and frees the files.
        let _ = self.child().start_kill();
        let _ = std::fs::remove_dir_all(&self.dir);
        for name in self.sockets.values() {
            let _ = std::fs::remove_file(self.socket_dir.join(&**name));
        }
    }
}

impl Runtime {
    /// Socket names for `versions` in generation `number`.
    pub fn socket_names(&self, number: u64, versions: &[&str]) -> BTreeMap<String, Arc<str>> {
        versions
            .iter()
            .enumerate()
            .map(|(i, id)| ((*id).to_owned(), Arc::from(format!("g{number}-s{i}"))))
            .collect()
    }

    /// The workerd.capnp addresses of `sockets` (version id -> `unix:<path>`).
    pub fn addresses(&self, sockets: &BTreeMap<String, Arc<str>>) -> BTreeMap<String, String> {
        sockets
            .iter()
            .map(|(id, name)| {
                let path = self.socket_dir.join(&**name);
                (id.clone(), format!("unix:{}", path.display()))
            })
            .collect()
    }

    /// Checks that workerd loads a config holding one version: `Ok` or workerd's own message
    /// (for instance `Uncaught SyntaxError: Unexpected end of input at index.js:2`).
    pub async fn check(&self, name: &str, rendered: &Rendered) -> Result<(), DataPlaneError> {
        self.checks.fetch_add(1, Ordering::Relaxed);
        let dir = self.work_dir.join(format!("check-{name}"));
        write_files(&dir, rendered)?;
        let run = self.command("test", &dir).output();
        let out = tokio::time::timeout(CHECK_TIMEOUT, run).await;
        let _ = std::fs::remove_dir_all(&dir);
        let out = out
            .map_err(|_| DataPlaneError::Rejected("workerd did not finish checking".into()))?
            .map_err(|source| DataPlaneError::Spawn {
                binary: self.binary.clone(),
                source,
            })?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        if stderr.contains("No tests found") && !stderr.contains("Uncaught") {
            return Ok(());
        }
        Err(DataPlaneError::Rejected(rejection_message(&stderr)))
    }

    /// `workerd <verb> --experimental <dir>/config.capnp`, output piped, killed when dropped.
    fn command(&self, verb: &str, dir: &Path) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .arg(verb)
            .arg("--experimental")
            .arg(dir.join("config.capnp"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }

    /// Starts a process for `rendered` (listening on `sockets`) and waits until it listens.
    pub async fn start(
        &self,
        number: u64,
        rendered: &Rendered,
        sockets: BTreeMap<String, Arc<str>>,
    ) -> Result<Generation, DataPlaneError> {
        let dir = self.work_dir.join(format!("gen-{number}"));
        write_files(&dir, rendered)?;
        let mut child =
            self.command("serve", &dir)
                .spawn()
                .map_err(|source| DataPlaneError::Spawn {
                    binary: self.binary.clone(),
                    source,
                })?;
        forward_output(&mut child, number);
        let generation = Generation {
            number,
            sockets,
            identity: rendered.identity(),
            cpu: child.id().and_then(CpuMeter::of_process),
            dir,
            socket_dir: self.socket_dir.clone(),
            child: Mutex::new(child),
            stopped: OnceLock::new(),
        };
        wait_listening(&generation).await?;
        Ok(generation)
    }
}

/// The useful lines of workerd's complaint (without its source-location noise).
fn rejection_message(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.contains("No tests found") && !l.contains("Tests failed"))
        .map(|l| match l.split_once(": ") {
            Some((service, rest)) if service.starts_with("service ") => rest,
            _ => l,
        })
        .take(6)
        .collect();
    if lines.is_empty() {
        "workerd refused the Worker".to_owned()
    } else {
        lines.join("\n")
    }
}

fn write_files(dir: &Path, rendered: &Rendered) -> Result<(), DataPlaneError> {
    let io = |source| DataPlaneError::Files {
        dir: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    for (relative, content) in &rendered.files {
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        std::fs::write(&path, content).map_err(io)?;
    }
    std::fs::write(dir.join("config.capnp"), &rendered.config).map_err(io)
}

/// Sends the process's stdout/stderr (Workers' `console.log`) to the emulator's log.
fn forward_output(child: &mut Child, number: u64) {
    if let Some(stdout) = child.stdout.take() {
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                tracing::info!(generation = number, "workerd: {line}");
            }
        });
    }
    if let Some(stderr) = child.stderr.take() {
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                tracing::warn!(generation = number, "workerd: {line}");
            }
        });
    }
}

async fn wait_listening(generation: &Generation) -> Result<(), DataPlaneError> {
    let deadline = tokio::time::Instant::now() + START_TIMEOUT;
    for name in generation.sockets.values() {
        let path = generation.socket_dir.join(&**name);
        loop {
            let exited = generation.child().try_wait();
            if let Ok(Some(status)) = exited {
                return Err(DataPlaneError::Exited(status.to_string()));
            }
            if tokio::net::UnixStream::connect(&path).await.is_ok() {
                break;
            }
            if tokio::time::Instant::now() > deadline {
                return Err(DataPlaneError::Exited(format!(
                    "not listening on {} after {} s",
                    path.display(),
                    START_TIMEOUT.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    Ok(())
}
