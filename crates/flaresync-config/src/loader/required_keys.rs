//! Keys a deployable config must have although wrangler's parser accepts it without them:
//! `name` and `compatibility_date`.

use super::misspelling::misspelling_of;
use crate::error::{ConfigError, Location, Warning};
use crate::wrangler::ParsedConfig;

/// The script name. An error, at the config file, when `name` or `compatibility_date` is
/// missing; a misspelt `compatibility_date` (found in `warnings`) is pointed at.
pub(super) fn required_name(
    parsed: &ParsedConfig,
    warnings: &[Warning],
    config_path: &str,
) -> Result<String, ConfigError> {
    let at = |line: usize, col: usize| Location {
        file: config_path.to_owned(),
        line,
        col,
    };
    let Some(name) = parsed.name.clone() else {
        return Err(ConfigError::invalid(
            at(1, 1),
            "no `name`: Cloudflare needs a script name; add `name = \"my-worker\"` to the config",
        ));
    };
    if parsed.spec.compatibility_date.is_some() {
        return Ok(name);
    }
    // A misspelt key is the usual cause: point at it rather than at line 1.
    if let Some((warning, key)) = misspelling_of(warnings, "compatibility_date") {
        return Err(ConfigError::invalid(
            at(warning.line.unwrap_or(1), warning.col.unwrap_or(1)),
            format!(
                "no `compatibility_date`, but an unknown key `{key}`: did you mean \
                 `compatibility_date`?"
            ),
        ));
    }
    Err(ConfigError::invalid(
        at(1, 1),
        "no `compatibility_date`: wrangler refuses to deploy without one (Cloudflare would \
         silently use 2021-11-02); add compatibility_date = \"YYYY-MM-DD\" (the date you \
         last tested the Worker against)",
    ))
}
