//! Worker names Cloudflare rejects (empty, leading dash, invalid characters, too long) are
//! refused locally, with the rule and `file:line:col`, by `validate` and by `plan`: nothing is
//! uploaded to learn it from a 400.

mod common;

use common::{commit_all, flaresync, git, run, worker};

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

#[test]
fn validate_refuses_names_cloudflare_rejects() {
    for (name, why) in bad_names() {
        let repo = repo_with(&name);
        let out = run(flaresync().args(["validate", "--repo"]).arg(repo.path()));
        assert_eq!(out.code, 2, "{name:?}: {}", out.all());
        let expected = format!(
            "workers/bad/wrangler.toml:1:1: script name {name:?} {why}: Cloudflare rejects it ({RULE})"
        );
        assert!(out.stdout.contains(&expected), "{name:?}: {}", out.all());
        assert!(out.stdout.contains("ok    api"), "{}", out.all());
    }
}

#[test]
fn plan_blocks_names_cloudflare_rejects() {
    for (name, why) in bad_names() {
        let repo = repo_with(&name);
        let out = run(flaresync().args(["plan", "--repo"]).arg(repo.path()));
        assert_eq!(out.code, 2, "{name:?}: {}", out.all());
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
