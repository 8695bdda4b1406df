//! Whether output to a stream is coloured (and may carry terminal escape codes at all).
//!
//! Only stderr is ever coloured today (the log lines; clap colours `--help` by the same
//! variables through anstream). Data on stdout (plans, reports, JSON) never is. The rules
//! follow no-color.org and the CLICOLOR convention, in anstream's order:
//! `--color always|never` wins; else `NO_COLOR` (set, not empty) turns colour off; else
//! `CLICOLOR_FORCE` (set, not `0`) turns it on even into a pipe; else `CLICOLOR=0` or
//! `TERM=dumb` turn it off; else colour only on a terminal.

use std::io::IsTerminal as _;

use crate::cli::ColorWhen;

/// clap's colour choice for `--help` and usage errors, from `--color` as typed (clap renders
/// those while parsing, before the parsed flag exists). `auto` leaves it to clap, which applies
/// the same conventions per stream.
pub fn clap_choice(args: impl IntoIterator<Item = std::ffi::OsString>) -> clap::ColorChoice {
    let mut value = std::env::var("FLARESYNC_COLOR").ok();
    let mut args = args
        .into_iter()
        .map(|arg| arg.to_string_lossy().into_owned());
    while let Some(arg) = args.next() {
        if arg == "--" {
            break;
        } else if arg == "--color" {
            value = args.next();
        } else if let Some(given) = arg.strip_prefix("--color=") {
            value = Some(given.to_owned());
        }
    }
    match value.as_deref() {
        Some("always") => clap::ColorChoice::Always,
        Some("never") => clap::ColorChoice::Never,
        _ => clap::ColorChoice::Auto,
    }
}

/// Whether stderr gets colour.
pub fn stderr_colored(when: ColorWhen) -> bool {
    colored(
        when,
        |name| std::env::var(name).ok(),
        std::io::stderr().is_terminal(),
    )
}

/// Whether a terminal line on stderr may be redrawn in place (progress): a terminal that is
/// not `TERM=dumb`. Independent of colour: `NO_COLOR` asks for no colour, not no progress.
pub fn stderr_redraws() -> bool {
    std::io::stderr().is_terminal() && std::env::var("TERM").map_or(true, |term| term != "dumb")
}

/// The decision, from the flag, the environment (`var`) and whether the stream is a terminal.
pub fn colored(when: ColorWhen, var: impl Fn(&str) -> Option<String>, terminal: bool) -> bool {
    let set = |name: &str| var(name).is_some_and(|value| !value.is_empty());
    match when {
        ColorWhen::Always => true,
        ColorWhen::Never => false,
        ColorWhen::Auto if set("NO_COLOR") => false,
        ColorWhen::Auto if var("CLICOLOR_FORCE").is_some_and(|v| !v.is_empty() && v != "0") => true,
        ColorWhen::Auto if var("CLICOLOR").as_deref() == Some("0") => false,
        ColorWhen::Auto if var("TERM").as_deref() == Some("dumb") => false,
        ColorWhen::Auto => terminal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decide(when: ColorWhen, vars: &[(&str, &str)], terminal: bool) -> bool {
        colored(
            when,
            |name| {
                vars.iter()
                    .find(|(key, _)| *key == name)
                    .map(|(_, value)| (*value).to_owned())
            },
            terminal,
        )
    }

    /// Flag, environment, stream is a terminal, expected.
    type Case = (
        ColorWhen,
        &'static [(&'static str, &'static str)],
        bool,
        bool,
    );

    #[test]
    fn clap_gets_the_color_flag_as_typed() {
        let choice = |args: &[&str]| clap_choice(args.iter().map(std::ffi::OsString::from));
        assert_eq!(
            choice(&["flaresync", "--color", "never", "--help"]),
            clap::ColorChoice::Never
        );
        assert_eq!(
            choice(&["flaresync", "plan", "--color=always"]),
            clap::ColorChoice::Always
        );
        assert_eq!(
            choice(&["flaresync", "history", "--", "--color=never"]),
            clap::ColorChoice::Auto
        );
    }

    #[test]
    fn colour_follows_the_terminal_the_flag_and_the_conventions() {
        use ColorWhen::*;
        let cases: &[Case] = &[
            (Auto, &[], true, true),
            (Auto, &[], false, false),
            (Auto, &[("NO_COLOR", "1")], true, false),
            (Auto, &[("NO_COLOR", "")], true, true), // set but empty: not set (no-color.org)
            (Auto, &[("CLICOLOR_FORCE", "1")], false, true),
            (Auto, &[("CLICOLOR_FORCE", "0")], false, false),
            (
                Auto,
                &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")],
                false,
                false,
            ),
            (Auto, &[("CLICOLOR", "0")], true, false),
            (Auto, &[("TERM", "dumb")], true, false),
            (Always, &[("NO_COLOR", "1")], false, true),
            (Never, &[("CLICOLOR_FORCE", "1")], true, false),
        ];
        for (when, vars, terminal, expected) in cases {
            assert_eq!(
                decide(*when, vars, *terminal),
                *expected,
                "{when:?} {vars:?} terminal={terminal}"
            );
        }
    }
}
