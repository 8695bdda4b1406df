//! The status page at `GET /`: the `/status` model as one self-contained HTML document for a
//! person (pure: [`render`] is a function of the snapshot). No script, no external asset: the
//! CSS is inlined and the page reloads itself with a meta refresh; it works offline and on a
//! phone. Every string of the model is escaped (worker names, commit messages and authors are
//! user input).

mod html;
mod state;
mod timeline;
mod worker;

use std::fmt::Write as _;

use crate::status::StatusSnapshot;

pub use state::State;

/// The inlined stylesheet.
const STYLE: &str = include_str!("style.css");

/// How the page is rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageOptions {
    /// Seconds between reloads.
    pub refresh_secs: u32,
}

impl Default for PageOptions {
    fn default() -> Self {
        PageOptions { refresh_secs: 10 }
    }
}

/// The Content-Security-Policy the page is served with: inline styles only, no script.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The whole document.
pub fn render(snapshot: &StatusSnapshot, options: PageOptions) -> String {
    let mut out = String::with_capacity(8 * 1024 + snapshot.workers.len() * 2048);
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta http-equiv=\"refresh\" content=\"{refresh}\">\
         <title>flaresync status</title><style>{STYLE}</style></head><body>",
        refresh = options.refresh_secs.max(1),
    );
    out.push_str(&header(snapshot, options));
    if let Some(error) = &snapshot.last_error {
        let _ = write!(
            out,
            "<div class=\"banner\"><div class=\"alert bad\"><strong>The last pass failed</strong> \
             <code>{}</code> {} ({})</div></div>",
            html::escape(error.reason.as_deref().unwrap_or("error")),
            html::escape(&error.message),
            html::time(&error.at)
        );
    }
    out.push_str("<main>");
    if snapshot.workers.is_empty() {
        out.push_str("<p>No Worker yet: the first pass has not finished.</p>");
    }
    let mut workers: Vec<_> = snapshot.workers.iter().collect();
    // The most urgent first, then by name.
    workers.sort_by(|a, b| (State::of(a), &a.worker).cmp(&(State::of(b), &b.worker)));
    for status in workers {
        out.push_str(&worker::card(status));
    }
    out.push_str(
        "</main><footer>Machine-readable: <a href=\"/status\">/status</a> (JSON) · \
         <a href=\"/metrics\">/metrics</a> (Prometheus)</footer></body></html>",
    );
    out
}

fn header(snapshot: &StatusSnapshot, options: PageOptions) -> String {
    let mut out = String::from("<header><h1>flaresync</h1><p class=\"meta\">");
    let mut parts = Vec::new();
    if let Some(branch) = &snapshot.branch {
        parts.push(format!("branch <code>{}</code>", html::escape(branch)));
    }
    if let Some(head) = &snapshot.head_commit {
        parts.push(format!("head {}", html::commit(head)));
    }
    match &snapshot.last_pass_at {
        Some(at) => parts.push(format!("last pass {}", html::time(at))),
        None => parts.push("no pass finished yet".into()),
    }
    parts.push(format!("{} passes", snapshot.passes));
    parts.push(format!("reloads every {} s", options.refresh_secs.max(1)));
    out.push_str(&parts.join(" · "));
    out.push_str("</p><ul class=\"counts\">");
    let mut counts: std::collections::BTreeMap<State, usize> = std::collections::BTreeMap::new();
    for worker in &snapshot.workers {
        *counts.entry(State::of(worker)).or_default() += 1;
    }
    let _ = write!(out, "<li>{} Workers</li>", snapshot.workers.len());
    for (state, count) in counts {
        let _ = write!(
            out,
            "<li class=\"{}\">{count} {}</li>",
            state.class(),
            state.label()
        );
    }
    out.push_str("</ul></header>");
    out
}

#[cfg(test)]
mod tests;
