//! The `flaresync` binary: argument parsing, logging, and dispatch to the library crates.
//!
//! Errors are `anyhow` here and only here; they are printed as a chain (each cause once, `error_chain`) with a `hint:`
//! line when a fix is known. Exit codes follow ripgrep: 0 ok / no changes, 1 changes, 2 error.

mod cli;
mod color;
mod commands;
mod error_chain;
mod fleet;
mod lease;
mod lock;
mod memory;
mod progress;
mod settings;
mod source;
mod standby;

use std::process::ExitCode;

use clap::{CommandFactory as _, FromArgMatches as _};
use tracing_subscriber::{EnvFilter, fmt};

use crate::cli::{Cli, Command, LogFormat};

fn main() -> ExitCode {
    reset_sigpipe();
    memory::single_arena();
    memory::bound_git_cache();
    memory::skip_read_hash_checks();
    let matches = Cli::command()
        .color(color::clap_choice(std::env::args_os()))
        .get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|error| error.exit());
    // The demo narrates on stdout; its logs would only repeat it.
    let default_filter = match cli.command {
        Command::Demo(_) => "off",
        _ => "warn,flaresync=info,flaresync_reconcile=info",
    };
    init_logging(
        cli.log_format,
        default_filter,
        color::stderr_colored(cli.color),
    );

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(commands::dispatch(cli.command));
    match result {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("error: {}", error_chain::chain_text(&error));
            if let Some(hint) = commands::hint_for(&error) {
                eprintln!("\nhint: {hint}");
            }
            ExitCode::from(2)
        }
    }
}

fn init_logging(format: LogFormat, default_filter: &str, colored: bool) {
    let filter =
        EnvFilter::try_from_env("FLARESYNC_LOG").unwrap_or_else(|_| EnvFilter::new(default_filter));
    let builder = fmt()
        .with_env_filter(filter)
        .with_writer(progress::LogWriter)
        .with_ansi(colored);
    match format {
        LogFormat::Text => builder.with_target(false).init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Restores the default SIGPIPE action so `flaresync ... | head` ends quietly, as other Unix
/// tools do, instead of panicking on a closed stdout (Rust ignores SIGPIPE by default).
#[cfg(unix)]
fn reset_sigpipe() {
    // SAFETY: called first thing in main, before any thread exists; setting a signal
    // disposition to SIG_DFL has no other precondition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

#[cfg(not(unix))]
fn reset_sigpipe() {}
