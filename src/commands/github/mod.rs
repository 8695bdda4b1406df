//! `flaresync github comment`: the plan as ONE comment per pull request, updated in place.
//!
//! The shell reads the body and the pull request, asks GitHub for the comments already there
//! and carries out the calls [`comment::ops`] decides. The GitHub Action (`action.yml`) runs
//! it after `flaresync plan --format markdown`.

mod comment;
mod rest;
mod split;

use anyhow::{Context as _, anyhow, bail};
use flaresync_cloudflare::Secret;

use self::{
    comment::{GITHUB_COMMENT_LIMIT, Op},
    rest::Github,
};
use crate::{
    cli::{GithubCommand, GithubCommentArgs},
    settings::{GITHUB_TOKEN_VAR, github_api_url, github_repository, github_token},
};

pub async fn run(command: GithubCommand) -> anyhow::Result<u8> {
    match command {
        GithubCommand::Comment(args) => post_comment(args).await,
    }
}

async fn post_comment(args: GithubCommentArgs) -> anyhow::Result<u8> {
    let repository = github_repository(args.repository.as_deref()).ok_or_else(|| {
        anyhow!(
            "no repository to comment on: pass --repository owner/name (or set \
             FLARESYNC_GITHUB_REPOSITORY; GitHub Actions sets GITHUB_REPOSITORY)"
        )
    })?;
    if !valid_repository(&repository) {
        bail!(
            "repository {repository:?} is not owner/name (--repository, or GITHUB_REPOSITORY in Actions)"
        );
    }
    if !valid_key(&args.key) {
        bail!(
            "--key {:?} must be letters, digits, '-', '_' or '.' (it goes into the comment's hidden marker)",
            args.key
        );
    }
    let token = github_token().ok_or_else(|| {
        anyhow!(
            "{GITHUB_TOKEN_VAR} is not set: flaresync needs it to write the pull request comment"
        )
    })?;
    let number = match args.pr {
        Some(number) => number,
        None => event_pull_request()?,
    };
    let body = comment_body(&args)?;
    let footer = footer(args.commit.as_deref());
    let parts = comment::parts(&args.key, &body, &footer, GITHUB_COMMENT_LIMIT);
    let github = Github::new(
        &github_api_url(args.api_url.as_deref()),
        &repository,
        Secret::new(token),
    )?;
    let existing = github
        .list_comments(number)
        .await
        .with_context(|| format!("cannot list the comments of {repository}#{number}"))?;
    let ops = comment::ops(&args.key, &existing, &parts);
    let (mut created, mut updated, mut deleted) = (0, 0, 0);
    for op in &ops {
        match op {
            Op::Create { body } => {
                github.create_comment(number, body).await?;
                created += 1;
            }
            Op::Update { id, body } => {
                github.update_comment(*id, body).await?;
                updated += 1;
            }
            Op::Delete { id } => {
                github.delete_comment(*id).await?;
                deleted += 1;
            }
        }
    }
    println!(
        "{}#{number}: flaresync {} comment in {} part(s): {updated} updated, {created} created, {deleted} deleted, {} unchanged",
        repository,
        args.key,
        parts.len(),
        parts.len().saturating_sub(updated + created)
    );
    Ok(0)
}

/// The Markdown to post: the body file, or, when the command that should have written it
/// failed without output, what it printed on stderr.
fn comment_body(args: &GithubCommentArgs) -> anyhow::Result<String> {
    let body = if args.body_file.as_os_str() == "-" {
        use std::io::IsTerminal as _;
        if std::io::stdin().is_terminal() {
            bail!(
                "no body: pass --body-file plan.md or pipe it in (flaresync plan --format markdown | flaresync github comment ...)"
            );
        }
        std::io::read_to_string(std::io::stdin()).context("cannot read the body from stdin")?
    } else {
        std::fs::read_to_string(&args.body_file)
            .with_context(|| format!("cannot read the body file {}", args.body_file.display()))?
    };
    if !body.trim().is_empty() {
        return Ok(body);
    }
    if args.exit_code == 0 {
        bail!(
            "the body {} is empty and --exit-code is 0: nothing to post (did the plan write to another file?)",
            args.body_file.display()
        );
    }
    let log = match &args.log_file {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the log file {}", path.display()))?,
        None => String::new(),
    };
    Ok(comment::failure_body(args.exit_code, &log))
}

/// `<sub>` line under the last part: which flaresync wrote it, for which commit.
fn footer(commit: Option<&str>) -> String {
    let commit = commit
        .map(|commit| format!(" for commit `{}`", commit.get(..12).unwrap_or(commit)))
        .unwrap_or_default();
    format!(
        "<sub>Posted by `flaresync github comment` {}{commit}; updated in place on every push.</sub>",
        env!("CARGO_PKG_VERSION")
    )
}

fn valid_repository(repository: &str) -> bool {
    let mut parts = repository.split('/');
    let valid = |part: Option<&str>| {
        part.is_some_and(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        })
    };
    valid(parts.next()) && valid(parts.next()) && parts.next().is_none()
}

fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 64
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The pull request of the Actions event in `$GITHUB_EVENT_PATH`.
fn event_pull_request() -> anyhow::Result<u64> {
    let path = std::env::var_os("GITHUB_EVENT_PATH").ok_or_else(|| {
        anyhow!("no --pr and no GITHUB_EVENT_PATH: pass the pull request number with --pr")
    })?;
    let path = std::path::PathBuf::from(path);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read the event {}", path.display()))?;
    let event: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("the event {} is not JSON", path.display()))?;
    pull_request_number(&event).ok_or_else(|| {
        anyhow!(
            "the event {} names no pull request (run on `pull_request` events, or pass --pr)",
            path.display()
        )
    })
}

/// `pull_request.number` (pull_request events) or `issue.number` (comments on one).
fn pull_request_number(event: &serde_json::Value) -> Option<u64> {
    event
        .pointer("/pull_request/number")
        .or_else(|| event.pointer("/issue/number"))
        .and_then(serde_json::Value::as_u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pull_request_comes_from_the_event_payload() {
        let pr = serde_json::json!({"action": "synchronize", "number": 7, "pull_request": {"number": 7}});
        assert_eq!(pull_request_number(&pr), Some(7));
        let comment = serde_json::json!({"issue": {"number": 9, "pull_request": {}}});
        assert_eq!(pull_request_number(&comment), Some(9));
        assert_eq!(
            pull_request_number(&serde_json::json!({"ref": "refs/heads/main"})),
            None
        );
    }

    #[test]
    fn keys_cannot_break_the_hidden_marker() {
        assert!(valid_key("plan") && valid_key("staging.eu-1"));
        for bad in ["", "a b", "x-->", "plan part=1/1", &"k".repeat(65)] {
            assert!(!valid_key(bad), "{bad:?}");
        }
    }

    #[test]
    fn repositories_are_owner_slash_name() {
        assert!(valid_repository("flaresync/flaresync"));
        assert!(valid_repository("my-org/config.workers_2"));
        for bad in ["", "flaresync", "a/b/c", "a/", "/b", "a b/c", "a/b?x=1"] {
            assert!(!valid_repository(bad), "{bad:?}");
        }
    }
}
