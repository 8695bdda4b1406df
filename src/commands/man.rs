//! `flaresync man [SUBCOMMAND]`: man pages (roff) generated from the clap definition.
//!
//! One page per command, as git does: `flaresync.1` lists the subcommands, `flaresync-plan.1`
//! documents `flaresync plan`. `--dir` writes them all (for packagers); otherwise one page goes
//! to stdout (`flaresync man plan | man -l -`).

use anyhow::{Context as _, anyhow};
use clap::CommandFactory as _;

use crate::cli::{Cli, ManArgs};

pub fn run(args: ManArgs) -> anyhow::Result<u8> {
    // As clap_mangen's `generate_to`: `help` is a flag here, not a page.
    let command = Cli::command().disable_help_subcommand(true);
    if let Some(dir) = &args.dir {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        clap_mangen::generate_to(command, dir)
            .with_context(|| format!("cannot write the man pages into {}", dir.display()))?;
        return Ok(0);
    }
    let page = match &args.subcommand {
        None => command,
        Some(name) => page_of(command, name)?,
    };
    let mut out = std::io::stdout().lock();
    clap_mangen::Man::new(page)
        .render(&mut out)
        .context("cannot write the man page")?;
    Ok(0)
}

/// The page of subcommand `name`, titled `flaresync-<name>` as `generate_to` names it.
fn page_of(mut command: clap::Command, name: &str) -> anyhow::Result<clap::Command> {
    // Gives the subcommands their `bin_name` (`flaresync plan`, for the synopsis) and display
    // name (`flaresync-plan`, the page title).
    command.build();
    let known: Vec<String> = command
        .get_subcommands()
        .map(|sub| sub.get_name().to_owned())
        .collect();
    command.find_subcommand(name).cloned().ok_or_else(|| {
        anyhow!(
            "no subcommand {name:?}; man pages exist for: {}",
            known.join(", ")
        )
    })
}
