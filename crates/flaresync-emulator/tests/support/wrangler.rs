//! Runs the real wrangler CLI (installed by `scripts/install-wrangler.sh`) against an emulator,
//! for the tests that use it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

pub fn wrangler_entry() -> PathBuf {
    let cache = match std::env::var_os("FLARESYNC_CACHE") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache"),
    };
    cache.join("wrangler/node_modules/wrangler/bin/wrangler.js")
}

pub struct Wrangler {
    pub entry: PathBuf,
    pub project: PathBuf,
    pub home: PathBuf,
    pub output_file: PathBuf,
    pub base_url: String,
    pub token: String,
    pub account: String,
}

pub struct Run {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Wrangler {
    pub async fn run_with_stdin(&self, args: &[&str], stdin: Option<&str>) -> Run {
        let mut cmd = tokio::process::Command::new("node");
        cmd.arg(&self.entry)
            .args(args)
            .current_dir(&self.project)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", self.home.join(".config"))
            .env("CLOUDFLARE_API_BASE_URL", &self.base_url)
            .env("CLOUDFLARE_API_TOKEN", &self.token)
            .env("CLOUDFLARE_ACCOUNT_ID", &self.account)
            .env("CI", "true")
            .env("WRANGLER_SEND_METRICS", "false")
            .env("WRANGLER_SEND_ERROR_REPORTS", "false")
            .env("WRANGLER_HIDE_BANNER", "true")
            .env("npm_registry", "http://127.0.0.1:9/")
            .env("WRANGLER_OUTPUT_FILE_PATH", &self.output_file)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("node starts (is Node.js installed?)");
        if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(text.as_bytes()).await.expect("write stdin");
            drop(pipe);
        }
        let out = tokio::time::timeout(
            std::time::Duration::from_secs(120),
            child.wait_with_output(),
        )
        .await
        .expect("wrangler finished within 120 s")
        .expect("wrangler output");
        Run {
            status: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    pub async fn ok(&self, args: &[&str]) -> Run {
        self.ok_with_stdin(args, None).await
    }

    pub async fn ok_with_stdin(&self, args: &[&str], stdin: Option<&str>) -> Run {
        let run = self.run_with_stdin(args, stdin).await;
        assert_eq!(
            run.status, 0,
            "wrangler {args:?} failed\n--- stdout\n{}\n--- stderr\n{}",
            run.stdout, run.stderr
        );
        run
    }

    /// Parses the JSON that `--json` commands print (the whole stdout).
    pub async fn json(&self, args: &[&str]) -> Value {
        let run = self.ok(args).await;
        let start = run.stdout.find(['{', '[']).unwrap_or(0);
        serde_json::from_str(run.stdout[start..].trim())
            .unwrap_or_else(|e| panic!("wrangler {args:?} printed no JSON ({e}):\n{}", run.stdout))
    }

    /// Output-file records of `kind` so far.
    pub fn records(&self, kind: &str) -> Vec<Value> {
        std::fs::read_to_string(&self.output_file)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|r| r["type"] == json!(kind))
            .collect()
    }
}
