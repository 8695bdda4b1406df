//! The progress line of a long apply on a terminal: `deploying: 3/20 Workers done (edge-api);
//! waiting for the API request budget`, redrawn in place on stderr.
//!
//! Only when stderr is a terminal ([`crate::color::stderr_redraws`]): piped or redirected
//! output never gets a progress line or an escape code. Log lines share stderr; [`LogWriter`]
//! wipes the progress line before a log line is written, and the next tick draws it again
//! below it.

use std::{io::Write as _, sync::Mutex, time::Duration};

use flaresync_cloudflare::Client;
use flaresync_reconcile::Progress;
use tokio::{sync::watch, task::JoinHandle};

/// Moves to the start of the line and erases it.
const WIPE: &str = "\r\x1b[2K";

/// Whether a progress line is on the screen now (its end is where the cursor is).
static DRAWN: Mutex<bool> = Mutex::new(false);

/// The text of the line for `progress`, or `None` when nothing is being applied.
pub fn line(progress: &Progress, budget_waiting: usize) -> Option<String> {
    if !progress.active() {
        return None;
    }
    let mut text = format!(
        "deploying: {}/{} Workers done",
        progress.done, progress.total
    );
    if let Some(worker) = &progress.current {
        text.push_str(&format!(" ({worker})"));
    }
    match budget_waiting {
        0 => {}
        1 => text.push_str("; waiting for the API request budget"),
        n => text.push_str(&format!(
            "; waiting for the API request budget ({n} requests)"
        )),
    }
    Some(text)
}

/// Cuts `text` to `width` columns (counted as characters) so it never wraps: a wrapped line
/// cannot be redrawn in place.
fn fit(text: &str, width: usize) -> String {
    let width = width.max(10) - 1;
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(width - 1).collect();
    cut.push('…');
    cut
}

/// Draws the apply progress of a pass on stderr until dropped; does nothing unless stderr is
/// a terminal.
pub struct Display {
    task: Option<JoinHandle<()>>,
}

impl Display {
    pub fn start(progress: watch::Receiver<Progress>, client: Client) -> Display {
        if !crate::color::stderr_redraws() {
            return Display { task: None };
        }
        Display {
            task: Some(tokio::spawn(draw_until_aborted(progress, client))),
        }
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            wipe();
        }
    }
}

async fn draw_until_aborted(mut progress: watch::Receiver<Progress>, client: Client) {
    // Redrawn on each change, and every 250 ms for the budget wait (which is not an event).
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let mut last = String::new();
    loop {
        tokio::select! {
            changed = progress.changed() => if changed.is_err() { return },
            _ = tick.tick() => {}
        }
        let text = line(&progress.borrow_and_update(), client.budget_waiting());
        match text {
            Some(text) => draw(&fit(&text, terminal_width()), &mut last),
            None => wipe(),
        }
    }
}

/// Draws `text` unless it is on the screen already (`last`, and no log line wiped it).
fn draw(text: &str, last: &mut String) {
    let mut drawn = DRAWN
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if *drawn && last == text {
        return;
    }
    text.clone_into(last);
    let mut stderr = std::io::stderr().lock();
    let _ = write!(stderr, "{WIPE}{text}");
    let _ = stderr.flush();
    *drawn = true;
}

fn wipe() {
    let mut drawn = DRAWN
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if *drawn {
        let mut stderr = std::io::stderr().lock();
        let _ = write!(stderr, "{WIPE}");
        let _ = stderr.flush();
        *drawn = false;
    }
}

/// Columns of the terminal on stderr (80 when unknown).
#[cfg(unix)]
fn terminal_width() -> usize {
    // SAFETY: TIOCGWINSZ writes one `winsize` into the struct we own; on failure it writes
    // nothing and we fall back.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::ioctl(libc::STDERR_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
    if ok && size.ws_col > 0 {
        usize::from(size.ws_col)
    } else {
        80
    }
}

#[cfg(not(unix))]
fn terminal_width() -> usize {
    80
}

/// stderr for log lines: wipes a drawn progress line first, so a log line never starts in
/// the middle of it.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogWriter;

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogLine;

    fn make_writer(&'a self) -> LogLine {
        LogLine
    }
}

pub struct LogLine;

impl std::io::Write for LogLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut drawn = DRAWN
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut stderr = std::io::stderr().lock();
        if *drawn {
            stderr.write_all(WIPE.as_bytes())?;
            *drawn = false;
        }
        stderr.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(done: usize, total: usize, current: Option<&str>) -> Progress {
        Progress {
            total,
            done,
            current: current.map(str::to_owned),
        }
    }

    #[test]
    fn the_line_counts_workers_and_names_the_budget_wait() {
        assert_eq!(line(&Progress::default(), 3), None);
        assert_eq!(
            line(&progress(3, 20, Some("edge-api")), 0).as_deref(),
            Some("deploying: 3/20 Workers done (edge-api)")
        );
        assert_eq!(
            line(&progress(0, 2, None), 1).as_deref(),
            Some("deploying: 0/2 Workers done; waiting for the API request budget")
        );
        assert!(
            line(&progress(1, 2, None), 4)
                .is_some_and(|text| text.ends_with("budget (4 requests)"))
        );
    }

    #[test]
    fn a_line_wider_than_the_terminal_is_cut_so_it_never_wraps() {
        assert_eq!(fit("short", 80), "short");
        let cut = fit(&"é".repeat(200), 40);
        assert_eq!(cut.chars().count(), 39);
        assert!(cut.ends_with('…'));
    }
}
