//! `flaresync plan` when the base revision cannot be read as a whole: a PR that fixes a broken
//! `flaresync.toml` must still get its preview.

mod common;

use common::{commit_all, flaresync, init_repo, run, worker, write};

#[test]
fn a_base_with_an_invalid_flaresync_toml_is_compared_with_the_last_commit_where_it_loads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = init_repo(dir.path());
    worker(&repo, "api", "api", "v1");
    worker(&repo, "jobs", "jobs", "v1");
    let good = commit_all(&repo, "api and jobs");
    write(&repo.join("flaresync.toml"), "journal = 5\n");
    worker(&repo, "api", "api", "v2");
    let broken = commit_all(&repo, "api v2 and a broken flaresync.toml");
    std::fs::remove_file(repo.join("flaresync.toml")).expect("rm");
    commit_all(&repo, "fix flaresync.toml");

    let out = run(flaresync()
        .args(["plan", "--format", "json", "--repo"])
        .arg(&repo)
        .args(["--base", "HEAD~1", "--head", "HEAD"]));
    assert_eq!(out.code, 1, "changes are planned\n{}", out.all());
    let plan: serde_json::Value = serde_json::from_str(&out.stdout).expect("json plan");
    let text = plan.to_string();
    assert!(
        text.contains(&format!("the base {}", &broken[..7]))
            && text.contains(&format!("compared with {}", &good[..7]))
            && text.contains("must be a string"),
        "the plan names the unreadable base, why, and what it compared with: {text}"
    );
    let action = |name: &str| {
        plan["workers"]
            .as_array()
            .expect("workers")
            .iter()
            .find(|worker| worker["name"] == name)
            .map(|worker| worker["action"]["kind"].clone())
            .unwrap_or_else(|| panic!("{name} in the plan: {text}"))
    };
    assert_eq!(action("jobs"), "in_sync", "{text}");
    assert_ne!(
        action("api"),
        "in_sync",
        "api changed since the last readable base: {text}"
    );
}
