//! One file per subcommand: thin glue between the resolved settings and the library crates.

pub mod completions;
pub mod demo;
pub mod emulator;
pub mod explain;
pub mod github;
pub mod history;
pub mod man;
pub mod plan;
pub mod rollout;
pub mod rollout_table;
pub mod run;
pub mod sync;
pub mod validate;

use crate::cli::Command;

/// Runs one subcommand; the exit code follows ripgrep (0 ok / no changes, 1 changes, 2 error).
pub async fn dispatch(command: Command) -> anyhow::Result<u8> {
    match command {
        Command::Demo(args) => demo::run(args).await,
        Command::Emulator(args) => emulator::run(args).await,
        Command::Validate(args) => validate::run(args),
        Command::Plan(args) => plan::run(args).await,
        Command::Sync(args) => sync::run(args).await,
        Command::Run(args) => run::run(args).await,
        Command::History(args) => history::run(args).await,
        Command::Explain(args) => explain::run(args),
        Command::Rollout(command) => rollout::run(command).await,
        Command::Completions(args) => completions::run(args),
        Command::Man(args) => man::run(args),
        Command::Github(command) => github::run(command).await,
    }
}

/// A known fix for an error, printed after it as `hint: ...`.
pub fn hint_for(error: &anyhow::Error) -> Option<&'static str> {
    let text = format!("{error:#}");
    if text.contains("CLOUDFLARE_API_TOKEN") {
        Some(
            "export CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID (as for wrangler); to try flaresync without an account run `flaresync demo`, or start `flaresync emulator` and export the CLOUDFLARE_API_BASE_URL, token and account it prints",
        )
    } else if ["10000", "9103", "9106", "9109"]
        .iter()
        .any(|code| text.contains(&format!("[code: {code}]")))
    {
        Some(
            "Cloudflare refused the API token: check that CLOUDFLARE_API_TOKEN is current and grants Workers Scripts: Edit on this account (the permissions `wrangler deploy` needs); `wrangler whoami` shows what a token can reach",
        )
    } else if text.contains("CLOUDFLARE_ACCOUNT_ID") {
        Some("export CLOUDFLARE_ACCOUNT_ID or set account_id in flaresync.toml")
    } else if text.contains("another flaresync") {
        Some("wait for it to finish, or give this one its own --state-dir")
    } else if text.contains("unknown revision") {
        Some(
            "use a branch, tag or commit of the repository (`git branch -a` lists them); for a remote --repo, branches are origin/<name>",
        )
    } else if text.contains("cannot listen on") {
        Some("pick another address with --status-listen (or --listen for the emulator)")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_token_gets_a_hint_naming_the_variable_and_the_permission() {
        let error = anyhow::anyhow!(
            "cloudflare api GET /accounts/x/workers/scripts failed with http 403: Authentication error [code: 10000]"
        )
        .context("reconcile pass failed");
        let hint = hint_for(&error).expect("a hint");
        assert!(
            hint.contains("CLOUDFLARE_API_TOKEN") && hint.contains("Workers Scripts: Edit"),
            "{hint}"
        );
        assert_eq!(hint_for(&anyhow::anyhow!("something else")), None);
    }
}
