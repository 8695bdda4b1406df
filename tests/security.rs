//! End-to-end checks of issue 11's security items against the `flaresync` binary: credentials
//! in a repository URL never appear in output, `--help` or the clone's config on disk; the
//! state directory is private to its owner whatever the umask.

mod common;

use common::{Emulator, Remote, commit_all, flaresync, run, worker};

const PASSWORD: &str = "s3cr/et@pa:ss%word";

fn url_with_password(host: &str) -> String {
    format!("https://bob:{PASSWORD}@{host}/acme/config.git")
}

fn assert_no_password(out: &common::Output) {
    for part in ["s3cr", "pa:ss", "ss%word"] {
        assert!(!out.all().contains(part), "{part:?} leaked:\n{}", out.all());
    }
}

#[test]
fn validate_refuses_a_url_without_printing_its_password() {
    let out = run(flaresync()
        .args(["validate", "--repo"])
        .arg(url_with_password("example.invalid")));
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(
        out.stderr.contains("[redacted]@example.invalid"),
        "{}",
        out.all()
    );
    assert!(out.stderr.contains("is a URL"), "{}", out.all());
    assert_no_password(&out);
}

#[test]
fn help_does_not_echo_environment_values_that_may_hold_credentials() {
    for command in ["sync", "plan", "run", "history"] {
        let out = run(flaresync()
            .args([command, "--help"])
            .env("FLARESYNC_REPO", url_with_password("example.invalid"))
            .env(
                "CLOUDFLARE_API_BASE_URL",
                format!("https://bob:{PASSWORD}@api.example.invalid/client/v4"),
            ));
        assert_eq!(out.code, 0, "{}", out.all());
        assert!(out.stdout.contains("FLARESYNC_REPO"), "{}", out.all());
        assert_no_password(&out);
    }
}

#[test]
fn a_password_with_a_slash_never_reaches_the_clone_config_or_the_output() {
    let state = tempfile::tempdir().expect("tempdir");
    // Nothing listens on port 1: the fetch fails fast, after the clone cache was set up.
    let out = run(flaresync()
        .args(["sync", "--repo"])
        .arg(url_with_password("127.0.0.1:1"))
        .arg("--state-dir")
        .arg(state.path())
        .env("CLOUDFLARE_API_TOKEN", "unused-token")
        .env("CLOUDFLARE_ACCOUNT_ID", common::ACCOUNT));
    assert_eq!(out.code, 2, "{}", out.all());
    assert_no_password(&out);
    let config = std::fs::read_to_string(state.path().join("clone/config")).expect("clone config");
    assert!(!config.contains("s3cr"), "{config}");
    assert!(
        config.contains("https://127.0.0.1:1/acme/config.git"),
        "{config}"
    );
}

/// Runs `command` with a umask of 000, as a careless service manager would start it.
#[cfg(unix)]
fn with_umask_000(command: &mut std::process::Command) -> &mut std::process::Command {
    use std::os::unix::process::CommandExt as _;
    // SAFETY: umask is async-signal-safe and touches only the child's own process state.
    unsafe {
        command.pre_exec(|| {
            libc::umask(0);
            Ok(())
        })
    }
}

#[cfg(unix)]
#[test]
fn the_state_directory_is_private_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = |path: &std::path::Path| {
        std::fs::metadata(path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .permissions()
            .mode()
            & 0o777
    };
    let remote = Remote::new();
    let emulator = Emulator::start(&remote.state.with_file_name("emulator"));
    worker(&remote.work, "workers/api", "private-api", "v1");
    commit_all(&remote.work, "initial");
    remote.push(false);
    let state = remote.state.join("nested/state");
    let mut command = flaresync();
    command
        .args(["sync", "--repo", &remote.url(), "--state-dir"])
        .arg(&state);
    emulator.env(&mut command);
    let out = run(with_umask_000(&mut command));
    assert_eq!(out.code, 0, "{}", out.all());

    for dir in [
        remote.state.join("nested"),
        state.clone(),
        state.join("clone"),
    ] {
        assert_eq!(mode(&dir), 0o700, "{}", dir.display());
    }
    for file in ["journal.sqlite3", "flaresync.lock"] {
        assert_eq!(mode(&state.join(file)), 0o600, "{file}");
    }
}

/// `flaresync run` as started in production: the admin token guards `POST /reconcile`, and
/// `--webhook-listen` serves the webhook alone.
#[test]
fn run_guards_reconcile_with_the_admin_token_and_serves_the_webhook_alone() {
    use std::io::BufRead as _;

    let remote = Remote::new();
    let emulator = Emulator::start(&remote.state.with_file_name("emulator"));
    worker(&remote.work, "workers/api", "guarded-api", "v1");
    commit_all(&remote.work, "initial");
    let mut without_secret = flaresync();
    without_secret
        .args(["run", "--webhook-listen", "127.0.0.1:0", "--repo"])
        .arg(&remote.work)
        .arg("--state-dir")
        .arg(&remote.state)
        .env_remove("FLARESYNC_WEBHOOK_SECRET");
    emulator.env(&mut without_secret);
    let refused = run(&mut without_secret);
    assert_eq!(refused.code, 2, "{}", refused.all());
    assert!(
        refused
            .stderr
            .contains("--webhook-listen needs FLARESYNC_WEBHOOK_SECRET"),
        "{}",
        refused.all()
    );

    let mut command = flaresync();
    command
        .args(["run", "--status-listen", "127.0.0.1:0", "--webhook-listen"])
        .args(["127.0.0.1:0", "--repo"])
        .arg(&remote.work)
        .arg("--state-dir")
        .arg(&remote.state)
        .env("FLARESYNC_WEBHOOK_SECRET", "hook-s3cret")
        .env("FLARESYNC_ADMIN_TOKEN", "admin-s3cret")
        .stderr(std::process::Stdio::piped());
    emulator.env(&mut command);
    let mut child = Kill(command.spawn().expect("flaresync run starts"));
    let stderr = child.0.stderr.take().expect("piped");
    let mut lines = std::io::BufReader::new(stderr).lines();
    let mut address = |marker: &str| loop {
        let line = lines
            .next()
            .expect("run prints its addresses")
            .expect("utf-8");
        if let Some(rest) = line.split(marker).nth(1) {
            break rest.split('/').next().expect("host:port").to_owned();
        }
    };
    let status = address("status on http://");
    let hook = address("webhook on http://");

    let curl = |args: &[&str]| {
        let output = std::process::Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
            .args(args)
            .output()
            .expect("curl runs");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let reconcile = format!("http://{status}/reconcile");
    assert_eq!(curl(&["-X", "POST", &reconcile]), "401");
    let bearer = "Authorization: Bearer admin-s3cret";
    assert_eq!(curl(&["-X", "POST", "-H", bearer, &reconcile]), "202");
    assert_eq!(curl(&[&format!("http://{hook}/status")]), "404");
    assert_eq!(
        curl(&[&format!("http://{hook}/")]),
        "404",
        "no status page there"
    );
    assert_eq!(
        curl(&[&format!("http://{status}/")]),
        "200",
        "public on loopback"
    );
    assert_eq!(
        curl(&[
            "-X",
            "POST",
            "-H",
            bearer,
            &format!("http://{hook}/reconcile")
        ]),
        "404"
    );
    let body = r#"{"ref":"refs/heads/main","after":"0123abcd"}"#;
    let signature = flaresync_reconcile::webhook::sign(
        &flaresync_reconcile::webhook::WebhookSecret::new("hook-s3cret"),
        body.as_bytes(),
    );
    let webhook = [
        "-X",
        "POST",
        "-H",
        "x-github-event: push",
        "-H",
        &format!("x-hub-signature-256: {signature}"),
        "--data",
        body,
    ];
    let url = format!("http://{hook}/webhook");
    assert_eq!(curl(&[&webhook[..], &[url.as_str()]].concat()), "202");
}

struct Kill(std::process::Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
