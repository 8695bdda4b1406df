//! End-to-end checks of issue 11's security items against the `flaresync` binary: credentials
//! in a repository URL never appear in output, `--help` or the clone's config on disk.

mod common;

use common::{flaresync, run};

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
