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
    parsed.name = name;
    parsed.account_id = layer.inh("account_id").str(cx, "account_id")?;
    let main_table = layer.inh("main");
    parsed.main_location = main_table.get("main").map(|node| cx.loc(node.span.start));
    parsed.main = main_table.str(cx, "main")?;
    Ok(())
}

/// A script name Cloudflare would reject ([`crate::script_name`]) is refused at its `name` key.
/// Checked last (see `resolve`), so a template's placeholder name does not hide the file's other
/// errors.
pub(super) fn check_script_name(
    cx: &Cx<'_>,
    layer: &Layer<'_>,
    name: &str,
) -> Result<(), ConfigError> {
    let Err(reason) = crate::script_name::check_script_name(name) else {
        return Ok(());
    };
    let offset = layer
        .env
        .as_ref()
        .and_then(|(_, env)| env.key_offset("name"))
        .or_else(|| layer.top.key_offset("name"))
        .unwrap_or(0);
    Err(ConfigError::invalid(
        cx.loc(offset),
        format!(
            "script name {name:?} {reason}: Cloudflare rejects it (Worker names are {}); \
             change `name`",
            crate::script_name::SCRIPT_NAME_RULE
        ),
    ))
}
