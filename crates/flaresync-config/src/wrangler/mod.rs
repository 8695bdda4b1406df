//! Wrangler config file (TOML / JSON / JSONC) -> [`ParsedConfig`], with wrangler's semantics
//! for the keys that affect a deployment.
//!
//! Environments follow wrangler's rules (`workers-utils/src/config/environment.ts`): with an env
//! selected, *inheritable* keys (name, main, compatibility_*, migrations, routes, triggers,
//! usage_model, limits, placement, ...) fall back to the top level, *non-inheritable* keys
//! (vars, define, every binding kind, ...) are taken from the env only, and the script name is
//! `<name>-<env>` unless the env sets its own `name` (legacy environments).
//!
//! This module reads the config file only. Bundles and module files are read by the loader.
//!
//! Layout: `env` picks the tables a key is read from (inheritance), `resolve` reads the keys
//! in order, one file per group of keys (`identity`, `settings`, `module_settings`,
//! `triggers`, `migrations`, `bindings/`), `durable_object_classes` cross-checks Durable
//! Object classes and `unknown_keys` reports what was not read.

mod bindings;
mod durable_object_classes;
mod env;
mod identity;
mod migrations;
mod module_settings;
mod resolve;
mod settings;
mod triggers;
mod unknown_keys;

#[cfg(test)]
mod test_support;

use serde::Serialize;

use crate::error::{ConfigError, Location, Warning};
use crate::model::WorkerSpec;
use crate::reader::Cx;
use crate::source::{ConfigFormat, SourceFile, decode_utf8, parse_document};

pub use module_settings::ModuleSettings;

/// One wrangler config file, resolved for one environment. Everything but the bundle.
#[derive(Debug, Clone, Serialize)]
pub struct ParsedConfig {
    /// Repository-relative path of the config file.
    pub path: String,
    pub format: ConfigFormat,
    /// The environment applied (`None` = top level).
    pub env: Option<String>,
    /// Effective script name (legacy env naming applied), if the config has one.
    pub name: Option<String>,
    pub account_id: Option<String>,
    /// `main` as written (relative to the config's directory).
    pub main: Option<String>,
    #[serde(skip)]
    pub main_location: Option<Location>,
    /// Where `assets.directory` is written, when the config has assets.
    #[serde(skip)]
    pub assets_location: Option<Location>,
    pub module_settings: ModuleSettings,
    /// The resolved spec, except `name`, `dir`, `main_module`, `modules` and the files of
    /// `assets` (its directory is as written), which the loader fills in once it has read them.
    pub spec: WorkerSpec,
    pub warnings: Vec<Warning>,
}

/// Parses one wrangler config file and resolves it for `env` (`None` or `""` = top level).
///
/// # Errors
/// Syntax errors, wrong value types, missing required fields, duplicate binding names, invalid
/// `[[migrations]]` (duplicate or missing tags), `exports` together with `migrations`, and an
/// `env` that the file does not define. Every error carries `file:line:col`.
pub fn parse_config(
    path: &str,
    bytes: &[u8],
    env: Option<&str>,
) -> Result<ParsedConfig, ConfigError> {
    let format = ConfigFormat::from_path(path).ok_or_else(|| {
        ConfigError::invalid(
            Location {
                file: path.to_owned(),
                line: 1,
                col: 1,
            },
            "unsupported config file type; use wrangler.toml, wrangler.json or wrangler.jsonc",
        )
    })?;
    let text = decode_utf8(path, bytes)?;
    let source = SourceFile::new(path, text);
    let mut cx = Cx::new(&source);
    let root = parse_document(&source, format, &mut cx.warnings)?;
    let env = env.filter(|e| !e.is_empty());
    let mut resolved = resolve::resolve(&mut cx, &root, env)?;
    resolved.path = path.to_owned();
    resolved.format = format;
    resolved.spec.config_path = path.to_owned();
    resolved.warnings = cx.take_warnings();
    Ok(resolved)
}

#[cfg(test)]
mod tests {
    use super::test_support::{assert_refused, parse};
    use super::*;

    #[test]
    fn wrong_types_name_the_key_and_position() {
        let text = "{\n  \"name\": \"w\",\n  \"workers_dev\": \"yes\"\n}";
        let says = "`workers_dev` must be true or false";
        assert_refused("w.jsonc", text, "w.jsonc:3:18:", says);
    }

    #[test]
    fn toml_and_jsonc_with_same_content_give_the_same_spec() {
        let toml = r#"
# comment
name = "w"
main = "index.js"
compatibility_date = 2025-01-01
[vars]
A = "1"
B = { x = 1 }
[[kv_namespaces]]
binding = "KV"
id = "k"
"#;
        let jsonc = r#"{
  // same thing
  "kv_namespaces": [{ "id": "k", "binding": "KV", }],
  "vars": { "B": { "x": 1 }, "A": "1" },
  "compatibility_date": "2025-01-01",
  "main": "index.js",
  "name": "w",
}"#;
        let a = parse("w.toml", toml, None).expect("toml");
        let b = parse("w.jsonc", jsonc, None).expect("jsonc");
        let mut sa = a.spec.clone();
        let mut sb = b.spec.clone();
        sa.config_path.clear();
        sb.config_path.clear();
        assert_eq!(sa, sb);
        assert_eq!(a.spec.digest(), b.spec.digest());
    }

    #[test]
    fn non_utf8_config_is_reported() {
        let err = parse_config("w.toml", b"name = \"\xff\"\n", None).expect_err("bad utf-8");
        assert!(err.to_string().contains("not valid UTF-8"), "{err}");
    }
}
