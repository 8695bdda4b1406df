//! `flaresync completions <shell>`: shell completions generated from the clap definition, so
//! they never drift from the flags `--help` shows.

use clap::CommandFactory as _;

use crate::cli::{Cli, CompletionsArgs};

pub fn run(args: CompletionsArgs) -> anyhow::Result<u8> {
    let mut command = Cli::command();
    let name = command.get_name().to_owned();
    clap_complete::generate(args.shell, &mut command, name, &mut std::io::stdout());
    Ok(0)
}
