//! A throwaway PostgreSQL server for tests and benchmarks: Debian's `initdb` and `postgres`
//! (installed by `scripts/install-postgres.sh`) in a temporary directory, on a free loopback
//! port, trust authentication, as the `postgres` user when running as root (PostgreSQL refuses
//! to run as root). One server per test process, stopped when the process ends (the kernel
//! sends it SIGQUIT when the thread that started it dies); each test gets its own database.
//!
//! `FLARESYNC_TEST_POSTGRES_URL` (an admin URL, e.g. `postgres://me@127.0.0.1:5432/postgres`)
//! uses a running server instead. `FLARESYNC_SKIP_POSTGRES=1` is the only way to skip
//! PostgreSQL tests ([`skip`]); without it a missing PostgreSQL fails them.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Set to `1` to skip the PostgreSQL tests (say why where you set it).
pub const SKIP_VAR: &str = "FLARESYNC_SKIP_POSTGRES";
/// An admin URL of a running server to use instead of starting one.
pub const URL_VAR: &str = "FLARESYNC_TEST_POSTGRES_URL";

/// Whether PostgreSQL tests are to be skipped (prints a line saying so when they are).
pub fn skip(test: &str) -> bool {
    let skipped = std::env::var(SKIP_VAR).is_ok_and(|v| v == "1");
    if skipped {
        eprintln!("{test}: skipped ({SKIP_VAR}=1)");
    }
    skipped
}

/// A server tests can create databases on.
#[derive(Debug)]
pub struct TestServer {
    /// `postgres://user@127.0.0.1:port` (no database).
    base: String,
    admin_database: String,
}

static SERVER: OnceLock<Result<TestServer, String>> = OnceLock::new();
static NEXT_DATABASE: AtomicU32 = AtomicU32::new(0);

/// The process's server, started on first use.
pub fn server() -> Result<&'static TestServer, String> {
    SERVER
        .get_or_init(|| match std::env::var(URL_VAR) {
            Ok(url) => from_url(&url),
            Err(_) => start(),
        })
        .as_ref()
        .map_err(Clone::clone)
}

impl TestServer {
    /// A new, empty database; returns its URL.
    pub fn database(&self, label: &str) -> Result<String, String> {
        let name = format!(
            "fs_{}_{}_{}",
            label
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .take(20)
                .collect::<String>()
                .to_ascii_lowercase(),
            std::process::id(),
            NEXT_DATABASE.fetch_add(1, Ordering::SeqCst)
        );
        let admin = format!("{}/{}", self.base, self.admin_database);
        let mut client = connect(&admin)?;
        client
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .map_err(|e| format!("CREATE DATABASE {name}: {}", describe(&e)))?;
        Ok(format!("{}/{name}", self.base))
    }

    /// Runs `sql` on the database at `url` (for tests that tamper with the tables).
    pub fn execute(&self, url: &str, sql: &str) -> Result<u64, String> {
        connect(url)?.execute(sql, &[]).map_err(|e| describe(&e))
    }
}

/// The error with its cause (`db error` alone says nothing).
fn describe(error: &postgres::Error) -> String {
    match std::error::Error::source(error) {
        Some(cause) => format!("{error}: {cause}"),
        None => error.to_string(),
    }
}

fn connect(url: &str) -> Result<postgres::Client, String> {
    postgres::Client::connect(url, postgres::NoTls)
        .map_err(|e| format!("cannot connect to the test PostgreSQL: {}", describe(&e)))
}

fn from_url(url: &str) -> Result<TestServer, String> {
    let (base, database) = url
        .rsplit_once('/')
        .filter(|(base, _)| base.contains("://") && !base.ends_with('/'))
        .ok_or_else(|| format!("{URL_VAR} must end in /<database>"))?;
    Ok(TestServer {
        base: base.to_owned(),
        admin_database: database.split('?').next().unwrap_or(database).to_owned(),
    })
}

/// Where Debian keeps the server programs (newest version), else `PATH`.
fn bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin)| bin.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn program(name: &str) -> PathBuf {
    bin_dir().map_or_else(|| PathBuf::from(name), |bin| bin.join(name))
}

/// The uid and gid of the `postgres` user, when running as root.
fn run_as() -> Result<Option<(u32, u32)>, String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    // SAFETY: a NUL-terminated name; the returned entry is read at once, before another call.
    let entry = unsafe { libc::getpwnam(c"postgres".as_ptr()) };
    if entry.is_null() {
        return Err(
            "running as root and there is no `postgres` user to run PostgreSQL as; \
                    run scripts/install-postgres.sh"
                .into(),
        );
    }
    // SAFETY: non-null entry from getpwnam.
    Ok(Some(unsafe { ((*entry).pw_uid, (*entry).pw_gid) }))
}

fn command(program: PathBuf, user: Option<(u32, u32)>) -> Command {
    use std::os::unix::process::CommandExt as _;
    let mut command = Command::new(program);
    if let Some((uid, gid)) = user {
        command.uid(uid).gid(gid);
    }
    command
}

/// Removes the directories of servers whose test process is gone.
fn remove_stale(root: &Path) {
    for entry in std::fs::read_dir(root).into_iter().flatten().flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("flaresync-pg-"))
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

fn start() -> Result<TestServer, String> {
    let user = run_as()?;
    let root = std::env::temp_dir();
    remove_stale(&root);
    let dir = root.join(format!("flaresync-pg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if let Some((uid, gid)) = user {
        std::os::unix::fs::chown(&dir, Some(uid), Some(gid))
            .map_err(|e| format!("chown {}: {e}", dir.display()))?;
    }
    let data = dir.join("data");
    let output = command(program("initdb"), user)
        .args([
            "-D",
            &data.to_string_lossy(),
            "-U",
            "flaresync",
            "-A",
            "trust",
        ])
        .args(["-E", "UTF8", "--no-sync", "--no-instructions"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            format!(
                "cannot run initdb ({e}); install PostgreSQL with scripts/install-postgres.sh \
                 or set {SKIP_VAR}=1"
            )
        })?;
    if !output.status.success() {
        return Err(format!(
            "initdb failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let port = free_port()?;
    spawn_server(&data, &dir, port, user)?;
    let server = TestServer {
        base: format!("postgres://flaresync@127.0.0.1:{port}"),
        admin_database: "postgres".into(),
    };
    wait_ready(&format!("{}/postgres", server.base))?;
    Ok(server)
}

/// Starts `postgres` from a thread that lives as long as the process, with the parent-death
/// signal set: when the test process ends, for whatever reason, the server gets SIGQUIT.
fn spawn_server(
    data: &Path,
    socket_dir: &Path,
    port: u16,
    user: Option<(u32, u32)>,
) -> Result<(), String> {
    use std::os::unix::process::CommandExt as _;
    let mut command = command(program("postgres"), user);
    command
        .args(["-D", &data.to_string_lossy(), "-p", &port.to_string()])
        .args(["-k", &socket_dir.to_string_lossy()])
        .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
        .args(["-c", "max_connections=200", "-c", "full_page_writes=off"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(
            std::fs::File::create(socket_dir.join("server.log")).map_or(Stdio::null(), Stdio::from),
        );
    // SAFETY: prctl is async-signal-safe; runs in the child between fork and exec (after the
    // uid change, which would clear the setting).
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGQUIT) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let (started, result) = std::sync::mpsc::channel::<Result<(), String>>();
    std::thread::Builder::new()
        .name("test-postgres".into())
        .spawn(move || {
            let child: Result<Child, _> = command.spawn();
            match child {
                Ok(_child) => {
                    let _ = started.send(Ok(()));
                    loop {
                        std::thread::park();
                    }
                }
                Err(e) => {
                    let _ = started.send(Err(format!("cannot start postgres: {e}")));
                }
            }
        })
        .map_err(|e| format!("cannot start a thread: {e}"))?;
    result
        .recv()
        .map_err(|_| "the postgres starter thread died".to_owned())?
}

/// Waits (bounded: 60 s) until the server takes connections.
fn wait_ready(url: &str) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match postgres::Client::connect(url, postgres::NoTls) {
            Ok(_) => return Ok(()),
            Err(e) if Instant::now() > deadline => {
                return Err(format!("the test PostgreSQL did not start: {e}"));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}
