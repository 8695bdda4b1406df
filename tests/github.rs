//! `flaresync github comment` and the GitHub Action's steps (`scripts/github-action`, which
//! `action.yml` runs) against a fake GitHub REST API that records what it receives.

mod common;
#[path = "github/fake_github.rs"]
mod fake_github;

use std::{path::Path, process::Command};

use common::{Output, fixture_repo, flaresync, git, run};
use fake_github::{FakeGithub, REPOSITORY, TOKEN};

const PR: u64 = 42;

/// `flaresync github comment` for pull request [`PR`] with `body` (and extra arguments).
fn comment(github: &FakeGithub, body: &str, extra: &[&str]) -> Output {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("body.md");
    std::fs::write(&file, body).expect("write body");
    let mut command = flaresync();
    command
        .args(["github", "comment", "--pr", "42", "--body-file"])
        .arg(&file)
        .args(extra)
        .env("GITHUB_API_URL", &github.url)
        .env("GITHUB_REPOSITORY", REPOSITORY)
        .env("GITHUB_TOKEN", TOKEN)
        .env_remove("GITHUB_EVENT_PATH");
    let out = run(&mut command);
    assert!(
        !out.all().contains(TOKEN),
        "the GitHub token leaked:\n{}",
        out.all()
    );
    out
}

fn ours(github: &FakeGithub) -> Vec<(u64, String)> {
    github.with(|g| {
        g.bodies(PR)
            .into_iter()
            .filter(|(_, body)| body.starts_with("<!-- flaresync:plan part="))
            .collect()
    })
}

#[test]
fn the_plan_comment_is_created_once_then_updated_in_place() {
    let github = FakeGithub::start();
    github.with(|g| {
        g.add(PR, "LGTM, but let's see the plan");
        g.add(
            7,
            "<!-- flaresync:plan part=1/1 -->\nanother pull request's plan",
        );
    });

    let out = comment(
        &github,
        "### flaresync plan for `abc`\n\n1 to deploy.\n",
        &["--commit", "abc1234def5678"],
    );
    assert_eq!(out.code, 0, "{}", out.all());
    let comments = ours(&github);
    assert_eq!(comments.len(), 1, "{comments:?}");
    let (id, body) = &comments[0];
    assert!(
        body.starts_with("<!-- flaresync:plan part=1/1 -->\n### flaresync plan for `abc`"),
        "{body}"
    );
    assert!(body.contains("for commit `abc1234def56`"), "{body}");

    // The requests have GitHub's shapes: list (paged by 100), then create.
    let log = github.with(|g| g.log.clone());
    assert_eq!(log[0].method, "GET");
    assert_eq!(
        log[0].path,
        format!("/repos/{REPOSITORY}/issues/{PR}/comments")
    );
    assert_eq!(log[0].query, "per_page=100");
    assert_eq!(log[1].method, "POST");
    assert_eq!(
        log[1].path,
        format!("/repos/{REPOSITORY}/issues/{PR}/comments")
    );
    let sent = log[1].body.as_ref().expect("a JSON body");
    assert_eq!(
        sent.as_object().map(|o| o.len()),
        Some(1),
        "only `body`: {sent}"
    );
    for request in &log {
        assert_eq!(
            request.authorization.as_deref(),
            Some(format!("Bearer {TOKEN}").as_str())
        );
        assert_eq!(
            request.accept.as_deref(),
            Some("application/vnd.github+json")
        );
        assert_eq!(request.api_version.as_deref(), Some("2022-11-28"));
        assert!(
            request
                .user_agent
                .as_deref()
                .is_some_and(|ua| ua.starts_with("flaresync/"))
        );
    }

    // A new push: the same comment is edited, nothing is added.
    let out = comment(
        &github,
        "### flaresync plan for `def`\n\nnothing to do.\n",
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.all());
    let comments = ours(&github);
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert_eq!(comments[0].0, *id);
    assert!(comments[0].1.contains("nothing to do"), "{}", comments[0].1);
    assert_eq!(
        github.with(|g| g.writes()),
        vec![
            (
                "POST".to_owned(),
                format!("/repos/{REPOSITORY}/issues/{PR}/comments")
            ),
            (
                "PATCH".to_owned(),
                format!("/repos/{REPOSITORY}/issues/comments/{id}")
            ),
        ]
    );

    // The same plan again: nothing to write at all.
    let out = comment(
        &github,
        "### flaresync plan for `def`\n\nnothing to do.\n",
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(github.with(|g| g.writes()).len(), 2);
    // Comments of other pull requests and of people are untouched.
    assert_eq!(github.with(|g| g.comments.len()), 3);
}

/// A plan body of `workers` Workers with a `lines`-line diff each (about 60 bytes a line).
fn long_plan(workers: usize, lines: usize) -> String {
    let mut body = String::from("### flaresync plan for `abc`\n\n");
    for w in 0..workers {
        body.push_str(&format!(
            "<details><summary><b>worker-{w}</b>: deploy</summary>\n\n```diff\n"
        ));
        for line in 0..lines {
            body.push_str(&format!(
                "+ export const value{line} = \"worker {w} line {line}\";\n"
            ));
        }
        body.push_str("```\n\n</details>\n\n");
    }
    body
}

#[test]
fn a_plan_over_githubs_limit_is_split_and_a_shorter_one_removes_the_extra_parts() {
    let github = FakeGithub::start();
    let body = long_plan(3, 1_500); // ~200 KB
    let out = comment(&github, &body, &[]);
    assert_eq!(out.code, 0, "{}", out.all());
    let comments = ours(&github);
    assert!(comments.len() >= 4, "{} parts", comments.len());
    for (index, (_, part)) in comments.iter().enumerate() {
        // The fake refuses bodies over 65,536 characters, as GitHub does; check it anyway.
        assert!(
            part.chars().count() <= 65_536,
            "part {index}: {}",
            part.len()
        );
        assert!(
            part.starts_with(&format!(
                "<!-- flaresync:plan part={}/{} -->",
                index + 1,
                comments.len()
            )),
            "{}",
            &part[..80]
        );
        let fences = part.lines().filter(|l| l.starts_with("```")).count();
        assert_eq!(fences % 2, 0, "part {index} leaves a code fence open");
        assert_eq!(
            part.matches("<details>").count(),
            part.matches("</details>").count()
        );
    }
    // Every line of the plan is in the comments.
    let all: String = comments.iter().map(|(_, part)| part.as_str()).collect();
    for w in 0..3 {
        for line in [0, 777, 1_499] {
            assert!(
                all.contains(&format!("\"worker {w} line {line}\"")),
                "worker {w} line {line}"
            );
        }
    }

    // The next push makes the plan short: part 1 is updated, the other parts are deleted.
    let first = comments[0].0;
    let out = comment(
        &github,
        "### flaresync plan for `def`\n\nnothing to do.\n",
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.all());
    let now = ours(&github);
    assert_eq!(now.len(), 1, "{now:?}");
    assert_eq!(now[0].0, first);
    let deletes = github.with(|g| g.writes().iter().filter(|(m, _)| m == "DELETE").count());
    assert_eq!(deletes, comments.len() - 1);
}

#[test]
fn the_comment_is_found_on_a_later_page_of_a_long_conversation() {
    let github = FakeGithub::start();
    let id = github.with(|g| {
        for i in 0..120 {
            g.add(PR, &format!("review comment {i}"));
        }
        let id = g.add(PR, "<!-- flaresync:plan part=1/1 -->\nold plan");
        for i in 0..40 {
            g.add(PR, &format!("later comment {i}"));
        }
        id
    });
    let out = comment(&github, "new plan\n", &[]);
    assert_eq!(out.code, 0, "{}", out.all());
    let lists = github.with(|g| g.log.iter().filter(|r| r.method == "GET").count());
    assert_eq!(lists, 2, "two pages of 100");
    assert_eq!(
        github.with(|g| g.writes()),
        vec![(
            "PATCH".to_owned(),
            format!("/repos/{REPOSITORY}/issues/comments/{id}")
        )]
    );
}

#[test]
fn a_failed_plan_replaces_the_comment_instead_of_leaving_an_outdated_plan() {
    let github = FakeGithub::start();
    github.with(|g| {
        g.add(
            PR,
            "<!-- flaresync:plan part=1/1 -->\n### flaresync plan\n\n1 to deploy",
        )
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("plan.log");
    std::fs::write(
        &log,
        "error: unknown revision \"feature\" in the config repository\n",
    )
    .expect("write");
    let log = log.to_string_lossy().into_owned();
    let out = comment(&github, "", &["--exit-code", "2", "--log-file", &log]);
    assert_eq!(out.code, 0, "{}", out.all());
    let comments = ours(&github);
    assert_eq!(comments.len(), 1);
    assert!(
        comments[0].1.contains("### flaresync failed"),
        "{}",
        comments[0].1
    );
    assert!(
        comments[0].1.contains("unknown revision \"feature\""),
        "{}",
        comments[0].1
    );
    assert!(!comments[0].1.contains("1 to deploy"));

    // An empty body from a command that succeeded is a mistake, not a comment.
    let out = comment(&github, "", &[]);
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains("nothing to post"), "{}", out.stderr);
}

#[test]
fn a_read_only_token_is_explained_with_the_permission_to_add() {
    let github = FakeGithub::start();
    github.with(|g| g.refuse_with = Some(403));
    let out = comment(&github, "plan\n", &[]);
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains("403"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("Resource not accessible by integration"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("pull-requests: write"),
        "{}",
        out.stderr
    );

    let mut command = flaresync();
    command
        .args([
            "github",
            "comment",
            "--pr",
            "1",
            "--repository",
            REPOSITORY,
            "--api-url",
            &github.url,
        ])
        .env_remove("GITHUB_TOKEN")
        .env_remove("FLARESYNC_GITHUB_TOKEN");
    let out = run(&mut command);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("FLARESYNC_GITHUB_TOKEN (or GITHUB_TOKEN) is not set"),
        "{}",
        out.stderr
    );
}

/// Runs `scripts/github-action run` as the action's step does, with Actions' variables.
fn action_run(
    github: &FakeGithub,
    repo: &Path,
    base: &str,
    head: &str,
    dir: &Path,
) -> (Output, String, String) {
    let binary = assert_cmd::cargo::cargo_bin("flaresync");
    let bin_dir = binary.parent().expect("a directory");
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let outputs = dir.join("github_output");
    let summary = dir.join("step_summary");
    let _ = std::fs::remove_file(&outputs);
    let _ = std::fs::remove_file(&summary);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/github-action");
    let mut command = Command::new("bash");
    command
        .arg(&script)
        .arg("run")
        .env("PATH", path)
        .env("RUNNER_TEMP", dir)
        .env("GITHUB_OUTPUT", &outputs)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env("GITHUB_API_URL", &github.url)
        .env("GITHUB_REPOSITORY", REPOSITORY)
        .env("GITHUB_TOKEN", TOKEN)
        .env("INPUT_COMMAND", "plan")
        .env("INPUT_REPO", repo)
        .env("INPUT_LIVE", "false")
        .env("PR_NUMBER", PR.to_string())
        .env("PR_BASE_SHA", git(repo, &["rev-parse", base]))
        .env("PR_HEAD_SHA", git(repo, &["rev-parse", head]))
        .env("FLARESYNC_LOG", "warn");
    for name in [
        "CLOUDFLARE_API_TOKEN",
        "CLOUDFLARE_ACCOUNT_ID",
        "CLOUDFLARE_API_BASE_URL",
        "GITHUB_EVENT_PATH",
    ] {
        command.env_remove(name);
    }
    let out = run(&mut command);
    let read = |path: &Path| std::fs::read_to_string(path).unwrap_or_default();
    (out, read(&outputs), read(&summary))
}

#[test]
fn the_action_comments_the_plan_and_fails_the_check_only_when_a_worker_is_blocked() {
    let github = FakeGithub::start();
    let (dir, repo) = fixture_repo();

    // c4 -> c5 reverts across a Durable Object migration: blocked.
    let (out, outputs, summary) = action_run(&github, &repo, "c4", "c5", dir.path());
    assert_eq!(out.code, 1, "the check fails:\n{}", out.all());
    assert!(
        outputs.contains("exit-code=2") && outputs.contains("blocked=true"),
        "{outputs}"
    );
    assert!(
        out.stdout.contains("::error::flaresync plan"),
        "{}",
        out.stdout
    );
    assert!(summary.contains("| `edge-api` | blocked |"), "{summary}");
    let comments = ours(&github);
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(
        comments[0].1.contains("| `edge-api` | blocked |"),
        "{}",
        comments[0].1
    );
    assert!(comments[0].1.contains("FS002"), "{}", comments[0].1);

    // The PR is changed to c2 -> c3 (a revert that is a legal rollback): the check passes and
    // the same comment now shows the rollback.
    let (out, outputs, _) = action_run(&github, &repo, "c2", "c3", dir.path());
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        outputs.contains("exit-code=1") && outputs.contains("blocked=false"),
        "{outputs}"
    );
    let now = ours(&github);
    assert_eq!(now.len(), 1, "{now:?}");
    assert_eq!(
        now[0].0, comments[0].0,
        "the comment is updated, not replaced"
    );
    assert!(now[0].1.contains("rollback"), "{}", now[0].1);
    assert!(!now[0].1.contains("FS002"), "{}", now[0].1);
}

#[test]
fn the_action_yml_passes_every_input_it_declares_and_the_example_workflow_uses_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let action = std::fs::read_to_string(root.join("action.yml")).expect("action.yml");
    let script = std::fs::read_to_string(root.join("scripts/github-action")).expect("script");
    let inputs: Vec<&str> = action
        .split("\ninputs:\n")
        .nth(1)
        .and_then(|rest| rest.split("\noutputs:").next())
        .expect("an inputs section")
        .lines()
        .filter(|line| line.starts_with("  ") && !line.starts_with("   ") && line.ends_with(':'))
        .map(|line| line.trim().trim_end_matches(':'))
        .collect();
    for input in ["command", "base", "head", "live"] {
        assert!(inputs.contains(&input), "input {input} missing: {inputs:?}");
    }
    for input in &inputs {
        let used = action
            .match_indices(&format!("inputs.{input}"))
            .any(|(at, text)| {
                action[at + text.len()..]
                    .chars()
                    .next()
                    .is_some_and(|c| !(c.is_ascii_alphanumeric() || c == '-'))
            });
        assert!(used, "input {input} is declared but never used");
    }
    // Each INPUT_ variable the script reads is set by the action.
    for variable in script.split("INPUT_").skip(1) {
        let name: String = variable
            .chars()
            .take_while(|c| c.is_ascii_uppercase() || *c == '_')
            .collect();
        if name.is_empty() {
            continue;
        }
        assert!(
            action.contains(&format!("INPUT_{name}:")),
            "INPUT_{name} is read but never set"
        );
    }
    let example =
        std::fs::read_to_string(root.join("examples/github-actions-plan.yml")).expect("example");
    assert!(example.contains("uses: flaresync/flaresync@"), "{example}");
    assert!(example.contains("pull-requests: write"), "{example}");
}
