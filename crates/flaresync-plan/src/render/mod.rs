//! Renderings of a [`Plan`](crate::model::Plan): Markdown for PR comments, JSON for tools, plain
//! text for terminals.
//!
//! All three are deterministic functions of the plan. None uses colour. Secret values never
//! reach a plan, so they cannot reach a rendering; `secret_text` bindings show as
//! "value hidden".
//!
//! - `json.rs`: [`render_json`].
//! - `markdown.rs` and `text.rs`: [`render_markdown`] and [`render_text`]; each Worker's
//!   details are written by `sections.rs`, which walks the sections both share in one order.
//! - `summary.rs`: what both say about the whole plan (counts, verdict, step lines).

mod json;
mod markdown;
mod sections;
mod summary;
mod text;

pub use json::{JSON_FORMAT_VERSION, render_json};
pub use markdown::{MARKDOWN_LIMIT, render_markdown};
pub use text::render_text;
