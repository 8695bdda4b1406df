//! A real headless Chromium (Debian's `chromium`, which scripts/test installs) loading pages of
//! the status server: the DOM after parsing, and screenshots.
//!
//! Missing Chromium fails the test, unless `FLARESYNC_SKIP_CHROMIUM=1` says to skip it (with a
//! message). `FLARESYNC_CHROMIUM` names another binary.

use std::{path::Path, time::Duration};

/// The Chromium binary, or `None` when skipping is allowed and none is installed.
pub fn binary() -> Option<String> {
    if let Ok(named) = std::env::var("FLARESYNC_CHROMIUM") {
        return Some(named);
    }
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|name| {
            std::process::Command::new(name)
                .arg("--version")
                .output()
                .is_ok_and(|out| out.status.success())
        });
    match found {
        Some(name) => Some(name.to_owned()),
        None if std::env::var("FLARESYNC_SKIP_CHROMIUM").as_deref() == Ok("1") => {
            eprintln!("SKIPPED: no Chromium installed and FLARESYNC_SKIP_CHROMIUM=1");
            None
        }
        None => panic!(
            "no Chromium found: install Debian's `chromium` (scripts/test does), name a binary \
             in FLARESYNC_CHROMIUM, or set FLARESYNC_SKIP_CHROMIUM=1 to skip this test"
        ),
    }
}

/// Runs headless Chromium on `url` with `extra` arguments; its standard output.
async fn run(binary: &str, url: &str, extra: &[&str]) -> String {
    let profile = tempfile::tempdir().expect("a profile directory");
    let mut command = tokio::process::Command::new(binary);
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(url)
        .kill_on_drop(true)
        .stdin(std::process::Stdio::null());
    let output = tokio::time::timeout(Duration::from_secs(120), command.output())
        .await
        .expect("Chromium finishes within 120 s")
        .expect("Chromium runs");
    assert!(
        output.status.success(),
        "Chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The DOM of `url` after Chromium parsed (and would have run) it.
pub async fn dump_dom(binary: &str, url: &str) -> String {
    run(binary, url, &["--dump-dom"]).await
}

/// A PNG of `url` at `width` x `height` CSS pixels, written to `path`.
pub async fn screenshot(binary: &str, url: &str, path: &Path, width: u32, height: u32) {
    let size = format!("--window-size={width},{height}");
    let target = format!("--screenshot={}", path.display());
    run(binary, url, &[&size, &target]).await;
    let bytes = std::fs::read(path).expect("Chromium wrote the screenshot");
    assert!(bytes.starts_with(b"\x89PNG"), "a PNG");
}
