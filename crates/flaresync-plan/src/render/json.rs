//! The plan as JSON for tools.

use serde::Serialize;

use crate::model::{Plan, exit_code};

/// Version of the JSON layout; bumped on incompatible changes.
pub const JSON_FORMAT_VERSION: u32 = 1;

#[derive(Serialize)]
struct JsonPlan<'a> {
    format_version: u32,
    exit_code: i32,
    #[serde(flatten)]
    plan: &'a Plan,
}

/// The plan as pretty JSON (stable snake_case field names, `format_version` and `exit_code`
/// added at the top level), ending in a newline.
pub fn render_json(plan: &Plan) -> String {
    let wrapper = JsonPlan {
        format_version: JSON_FORMAT_VERSION,
        exit_code: exit_code(plan),
        plan,
    };
    // Serializing plain data with string keys cannot fail.
    let mut text = serde_json::to_string_pretty(&wrapper).unwrap_or_default();
    text.push('\n');
    text
}
