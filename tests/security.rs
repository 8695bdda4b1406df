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
