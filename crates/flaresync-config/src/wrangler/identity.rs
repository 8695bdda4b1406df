//! Which script this is and where its code is: `name` (with legacy env naming), `account_id`
//! and `main`.

use super::ParsedConfig;
use super::env::Layer;
use crate::error::ConfigError;
use crate::reader::Cx;

/// Sets `name` (the env's own `name`, else `<name>-<env>`, else `name`), `account_id`, `main`
/// and `main_location`.
pub(super) fn read_identity(
    cx: &mut Cx<'_>,
    layer: &mut Layer<'_>,
    parsed: &mut ParsedConfig,
) -> Result<(), ConfigError> {
    let top_name = layer.top.str(cx, "name")?;
    let name = match &mut layer.env {
        Some((env_name, env_table)) => match env_table.str(cx, "name")? {
            Some(own) => Some(own),
            None => top_name.map(|n| format!("{n}-{env_name}")),
        },
        None => top_name,
    };
    if let Some(name) = &name {
        check_script_name(cx, layer, name);
    }
    parsed.name = name;
    parsed.account_id = layer.inh("account_id").str(cx, "account_id")?;
    let main_table = layer.inh("main");
    parsed.main_location = main_table.get("main").map(|node| cx.loc(node.span.start));
    parsed.main = main_table.str(cx, "main")?;
    Ok(())
}

/// Cloudflare script names: lowercase letters, digits, `-` and `_`, at most 63 characters.
fn check_script_name(cx: &mut Cx<'_>, layer: &Layer<'_>, name: &str) {
    let valid = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !valid {
        let offset = layer
            .env
            .as_ref()
            .and_then(|(_, env)| env.key_offset("name"))
            .or_else(|| layer.top.key_offset("name"))
            .unwrap_or(0);
        cx.warn(
            offset,
            format!(
                "script name {name:?} is not a valid Cloudflare Worker name (lowercase letters, \
                 digits, '-' and '_', at most 63 characters); Cloudflare will reject it"
            ),
        );
    }
}
