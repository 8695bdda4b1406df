//! CLI conventions (issue 15 item 4): completions and man pages generated from the clap
//! definition, stable JSON output, colour only where it belongs, progress only on a terminal.

mod common;

use std::{
    path::Path,
    process::{Command, Stdio},
};

use common::{Emulator, Output, fixture_repo, flaresync, git, run};
use serde_json::Value;

/// The subcommands `flaresync --help` lists (so a subcommand added later is covered too).
fn subcommands() -> Vec<String> {
    let help = run(flaresync().arg("--help"));
    assert_eq!(help.code, 0, "{}", help.all());
    let names: Vec<String> = help
        .stdout
        .split("Commands:")
        .nth(1)
        .expect("a Commands section")
        .lines()
        .skip(1) // the rest of the "Commands:" line
        .take_while(|line| !line.trim().is_empty())
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect();
    for known in ["plan", "sync", "history", "completions", "man", "github"] {
        assert!(
            names.iter().any(|n| n == known),
            "{known} missing: {names:?}"
        );
    }
    names
}

#[test]
fn completions_name_every_subcommand_in_each_shell() {
    let names = subcommands();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = run(flaresync().args(["completions", shell]));
        assert_eq!(out.code, 0, "{shell}: {}", out.all());
        for name in &names {
            assert!(
                out.stdout.contains(name.as_str()),
                "{shell} completion lacks {name}"
            );
        }
    }
    let out = run(flaresync().args(["completions", "tcsh"]));
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("possible values"), "{}", out.stderr);
}

#[test]
fn bash_completion_is_valid_shell_and_completes_subcommands_and_flags() {
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("flaresync.bash");
    let out = run(flaresync().args(["completions", "bash"]));
    std::fs::write(&script, &out.stdout).expect("write");
    let syntax = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .expect("bash runs");
    assert!(
        syntax.status.success(),
        "{}",
        String::from_utf8_lossy(&syntax.stderr)
    );

    // Run the completion function as bash does for `flaresync pl<TAB>` and `flaresync plan --ba<TAB>`.
    let complete = |words: &str| -> String {
        let probe = format!(
            "source {script}; COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); \
             COMP_LINE=\"{words}\"; COMP_POINT=${{#COMP_LINE}}; \
             _flaresync flaresync \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; \
             printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script = script.display()
        );
        let out = Command::new("bash")
            .args(["-c", &probe])
            .output()
            .expect("bash runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let subcommands = complete("flaresync pl");
    assert_eq!(subcommands.trim(), "plan", "{subcommands}");
    let flags = complete("flaresync plan --ba");
    assert_eq!(flags.trim(), "--base", "{flags}");
}

#[test]
fn man_pages_cover_every_subcommand_and_render() {
    let names = subcommands();
    let page = run(flaresync().arg("man"));
    assert_eq!(page.code, 0, "{}", page.all());
    assert!(
        page.stdout.contains(".TH flaresync 1"),
        "{}",
        &page.stdout[..200]
    );
    for name in &names {
        assert!(
            page.stdout.contains(name.as_str()),
            "the man page lacks {name}"
        );
    }
    let plan = run(flaresync().args(["man", "plan"]));
    assert!(
        plan.stdout.contains(".TH flaresync-plan 1"),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("\\-\\-base"), "{}", plan.stdout);
    let unknown = run(flaresync().args(["man", "deploy"]));
    assert_eq!(unknown.code, 2);
    assert!(
        unknown.stderr.contains("man pages exist for: "),
        "{}",
        unknown.stderr
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(flaresync().args(["man", "--dir"]).arg(dir.path()));
    assert_eq!(out.code, 0, "{}", out.all());
    for name in &names {
        assert!(
            dir.path().join(format!("flaresync-{name}.1")).exists(),
            "no page for {name}"
        );
    }
    // man(1) renders it (groff warnings would mean broken roff).
    let rendered = Command::new("man")
        .arg("-l")
        .arg(dir.path().join("flaresync-plan.1"))
        .env("MANWIDTH", "100")
        .env("MAN_KEEP_FORMATTING", "0")
        .stdin(Stdio::null())
        .output()
        .expect("man(1) is installed (Debian package man-db)");
    // Off a terminal, man still makes bold text by overstriking (X backspace X): undo it.
    let mut text = String::new();
    for c in String::from_utf8_lossy(&rendered.stdout).chars() {
        if c == '\u{8}' {
            text.pop();
        } else {
            text.push(c);
        }
    }
    assert!(
        rendered.status.success(),
        "{}",
        String::from_utf8_lossy(&rendered.stderr)
    );
    assert!(
        text.contains("SYNOPSIS") && text.contains("flaresync plan"),
        "{text}"
    );
    assert!(
        rendered.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&rendered.stderr)
    );
}

#[test]
fn explain_json_lists_every_rule_with_its_doc() {
    let out = run(flaresync().args(["explain", "--format", "json"]));
    assert_eq!(out.code, 0, "{}", out.all());
    let json: Value = serde_json::from_str(&out.stdout).expect("JSON");
    let rules = json["rules"].as_array().expect("rules");
    let index: Vec<String> = rules
        .iter()
        .map(|rule| {
            assert!(
                rule["doc"]
                    .as_str()
                    .is_some_and(|doc| doc.contains("## What it checks")),
                "{rule}"
            );
            format!(
                "{} {}: {}",
                rule["id"].as_str().unwrap_or("?"),
                rule["name"].as_str().unwrap_or("?"),
                rule["summary"].as_str().unwrap_or("?")
            )
        })
        .collect();
    insta::assert_snapshot!("explain_json_index", index.join("\n"));

    // One rule: the same shape, one entry.
    let one = run(flaresync().args(["explain", "fs002", "--format", "json"]));
    let json: Value = serde_json::from_str(&one.stdout).expect("JSON");
    assert_eq!(json["rules"].as_array().map(Vec::len), Some(1));
    assert_eq!(json["rules"][0]["id"], "FS002");
}

#[test]
fn validate_json_is_one_document_without_prose() {
    let (_dir, repo) = fixture_repo();
    let out = run(flaresync()
        .args(["validate", "--rev", "c5", "--format", "json", "--repo"])
        .arg(&repo));
    assert_eq!(out.code, 0, "{}", out.all());
    let json: Value = serde_json::from_str(&out.stdout).expect("stdout is only JSON");
    insta::assert_snapshot!(
        "validate_json",
        serde_json::to_string_pretty(&json).expect("pretty")
    );
}

/// `value` with ids and times replaced, so a snapshot shows the shape and the stable values.
fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, field) in map.iter_mut() {
                let volatile = key == "id"
                    || key.ends_with("_id")
                    || key.ends_with("_on")
                    || key == "at"
                    || key == "version"
                    || key == "deployment"
                    || key == "digest"
                    || key == "actor"
                    || key == "commit"
                    || key == "tag";
                if volatile && !field.is_null() && !field.is_object() && !field.is_array() {
                    *field = Value::String(format!("[{key}]"));
                } else {
                    redact(field);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

/// `text` with every UUID (version and deployment ids inside messages) replaced by `[uuid]`.
fn scrub_uuids(text: &str) -> String {
    let is_uuid = |word: &str| {
        word.len() == 36
            && word.char_indices().all(|(i, c)| {
                if [8, 13, 18, 23].contains(&i) {
                    c == '-'
                } else {
                    c.is_ascii_hexdigit()
                }
            })
    };
    let mut out = String::new();
    let mut rest = text;
    while !rest.is_empty() {
        match rest.get(..36).filter(|word| is_uuid(word)) {
            Some(_) => {
                out.push_str("[uuid]");
                rest = &rest[36..];
            }
            None => {
                let c = rest.chars().next().unwrap_or(' ');
                out.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    out
}

fn sync(repo: &Path, state: &Path, emulator: &Emulator) -> Command {
    let mut command = flaresync();
    command
        .args(["sync", "--branch", "deploy", "--repo"])
        .arg(repo)
        .arg("--state-dir")
        .arg(state);
    emulator.env(&mut command);
    command
}

fn has_escape_codes(text: &str) -> bool {
    text.contains('\u{1b}') || text.contains('\r')
}

#[test]
fn piped_output_has_no_colour_or_progress_and_the_terminal_gets_both() {
    let (dir, repo) = fixture_repo();
    let emulator = Emulator::start(&dir.path().join("emulator"));
    let state = dir.path().join("state");
    git(&repo, &["branch", "deploy", "c1"]);

    // A first deploy into a pipe: logs, report, no escape code, no progress line.
    let out = run(&mut sync(&repo, &state, &emulator));
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stderr.contains("Reconcile pass done"),
        "logs are there: {}",
        out.stderr
    );
    assert!(
        !has_escape_codes(&out.stdout) && !has_escape_codes(&out.stderr),
        "{:?}",
        out.all()
    );
    assert!(!out.stderr.contains("deploying:"), "{}", out.stderr);

    // CLICOLOR_FORCE colours the logs even into a pipe; never the data on stdout; NO_COLOR wins.
    git(&repo, &["branch", "-f", "deploy", "c2"]);
    let forced = run(sync(&repo, &state, &emulator).env("CLICOLOR_FORCE", "1"));
    assert_eq!(forced.code, 0, "{}", forced.all());
    assert!(forced.stderr.contains("\u{1b}["), "{}", forced.stderr);
    assert!(!has_escape_codes(&forced.stdout), "{}", forced.stdout);
    assert!(
        !forced.stderr.contains("deploying:"),
        "a pipe never gets progress"
    );
    let neither = run(sync(&repo, &state, &emulator)
        .env("CLICOLOR_FORCE", "1")
        .env("NO_COLOR", "1"));
    assert!(!has_escape_codes(&neither.stderr), "{}", neither.stderr);
    let never = run(sync(&repo, &state, &emulator)
        .env("CLICOLOR_FORCE", "1")
        .args(["--color", "never"]));
    assert!(!has_escape_codes(&never.stderr), "{}", never.stderr);

    // On a terminal (script(1) gives it one), with slow uploads: the progress line is drawn.
    git(&repo, &["branch", "-f", "deploy", "c4"]);
    for method in ["POST", "PUT"] {
        emulator.admin(
            "POST",
            "/__emulator/faults",
            Some(serde_json::json!({"method": method, "path_regex": "/workers/scripts/", "kind": "latency", "latency_ms": 1000})),
        );
    }
    let terminal = on_a_terminal(sync(&repo, &state, &emulator));
    emulator.admin("DELETE", "/__emulator/faults", None);
    assert_eq!(terminal.code, 0, "{}", terminal.all());
    assert!(
        terminal.stdout.contains("deploying: 0/"),
        "{:?}",
        terminal.stdout
    );
    assert!(
        terminal.stdout.contains(" Workers done ("),
        "{:?}",
        terminal.stdout
    );
    // The line is wiped before the report, which starts on a clean line.
    assert!(
        terminal.stdout.contains("\r\u{1b}[2K"),
        "{:?}",
        terminal.stdout
    );

    // history --format json: the same view as the text, as one document.
    let mut history = flaresync();
    history
        .args(["history", "edge-api", "--format", "json", "--state-dir"])
        .arg(&state)
        .arg("--repo")
        .arg(&repo);
    emulator.env(&mut history);
    let out = run(&mut history);
    assert_eq!(out.code, 0, "{}", out.all());
    let mut json: Value = serde_json::from_str(&out.stdout).expect("stdout is only JSON");
    assert_eq!(json["worker"], "edge-api");
    assert!(
        json["rows"].as_array().is_some_and(|rows| rows.len() >= 2),
        "{json}"
    );
    redact(&mut json);
    let pretty = serde_json::to_string_pretty(&json).expect("pretty");
    insta::assert_snapshot!("history_json", scrub_uuids(&pretty));
}

/// Runs `command` under script(1), on a pseudo-terminal; its stdout is what the terminal got.
fn on_a_terminal(command: Command) -> Output {
    let mut line = shell_quote(&command.get_program().to_string_lossy());
    for arg in command.get_args() {
        line.push(' ');
        line.push_str(&shell_quote(&arg.to_string_lossy()));
    }
    let mut script = Command::new("script");
    script
        .args(["-qec", &line, "/dev/null"])
        .env("TERM", "xterm");
    for (name, value) in command.get_envs() {
        match value {
            Some(value) => script.env(name, value),
            None => script.env_remove(name),
        };
    }
    run(script.stdin(Stdio::null()))
}

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

#[test]
fn a_deploy_paced_by_cloudflares_rate_limit_says_it_waits_for_the_budget() {
    let (dir, repo) = fixture_repo();
    // 12 requests per 3 s, announced in `Ratelimit-Policy`: flaresync takes its share of that
    // (9 per window, a burst of 1, a quarter kept for other users of the token), so the first
    // deploy's 5 requests cannot all go at once and it must wait.
    let emulator = Emulator::start_with(
        &dir.path().join("emulator"),
        &["--rate-limit", "12", "--rate-limit-window-secs", "3"],
    );
    git(&repo, &["branch", "deploy", "c1"]);
    let state = dir.path().join("state");
    let terminal = on_a_terminal(sync(&repo, &state, &emulator));
    assert_eq!(terminal.code, 0, "{}", terminal.all());
    assert!(
        terminal.stdout.contains(" Workers done (edge-a"),
        "{:?}",
        terminal.stdout
    );
    assert!(
        terminal
            .stdout
            .contains("; waiting for the API request budget"),
        "{:?}",
        terminal.stdout
    );
}

#[test]
fn help_follows_the_same_colour_rules() {
    let forced = run(flaresync().arg("--help").env("CLICOLOR_FORCE", "1"));
    assert!(forced.stdout.contains('\u{1b}'), "{}", forced.stdout);
    for (flag, env) in [
        (None, ("NO_COLOR", "1")),
        (Some("--color=never"), ("CLICOLOR_FORCE", "1")),
        (None, ("FLARESYNC_COLOR", "never")),
    ] {
        let mut command = flaresync();
        command
            .args(flag)
            .arg("--help")
            .env("CLICOLOR_FORCE", "1")
            .env(env.0, env.1);
        let out = run(&mut command);
        assert_eq!(out.code, 0, "{}", out.all());
        assert!(
            !out.stdout.contains('\u{1b}'),
            "{flag:?} {env:?}: {}",
            out.stdout
        );
    }
    let piped = run(flaresync().arg("--help").env_remove("CLICOLOR_FORCE"));
    assert!(!piped.stdout.contains('\u{1b}'), "{}", piped.stdout);
}
