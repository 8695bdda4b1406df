//! Worker names Cloudflare rejects (empty, leading dash, invalid characters, too long) are
//! refused locally, with the rule and `file:line:col`, by `validate` and by `plan`: nothing is
//! uploaded to learn it from a 400.

mod common;

use common::{Output, commit_all, flaresync, git, run, worker};

const RULE: &str = "Worker names are lowercase letters, digits, '-' and '_', not starting with '-', at most 63 characters";

/// `(name as written, why it is refused)`.
fn bad_names() -> Vec<(String, &'static str)> {
    vec![
        (String::new(), "is empty"),
        ("-api".into(), "starts with '-'"),
        ("My.Api".into(), "contains 'M'"),
        ("a".repeat(64), "is 64 characters long"),
    ]
}

fn repo_with(bad_name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path();
    git(repo, &["init", "-q", "-b", "main"]);
    worker(repo, "workers/api", "api", "ok");
    worker(repo, "workers/bad", bad_name, "bad");
    commit_all(repo, "a good and a badly named Worker");
    dir
}

/// `flaresync <command> --repo` on a repository with each bad name, which must exit 2:
/// `(name, why it is refused, output)`.
fn refusals(command: &str) -> Vec<(String, &'static str, Output)> {
    let mut refusals = Vec::new();
    for (name, why) in bad_names() {
        let repo = repo_with(&name);
        let out = run(flaresync().args([command, "--repo"]).arg(repo.path()));
        assert_eq!(out.code, 2, "{command} {name:?}: {}", out.all());
        refusals.push((name, why, out));
    }
    refusals
}

#[test]
fn validate_refuses_names_cloudflare_rejects() {
    for (name, why, out) in refusals("validate") {
        let expected = format!(
            "workers/bad/wrangler.toml:1:1: script name {name:?} {why}: Cloudflare rejects it ({RULE})"
        );
        assert!(out.stdout.contains(&expected), "{name:?}: {}", out.all());
        assert!(out.stdout.contains("ok    api"), "{}", out.all());
    }
}

#[test]
fn plan_blocks_names_cloudflare_rejects() {
    for (name, why, out) in refusals("plan") {
        assert!(
            out.stdout.contains(&format!("script name {name:?} {why}"))
                && out.stdout.contains(RULE),
            "{name:?}: {}",
            out.all()
        );
        assert!(
            out.stdout
                .lines()
                .any(|line| line.starts_with("workers/bad ") && line.contains("blocked")),
            "{}",
            out.all()
        );
    }
}
