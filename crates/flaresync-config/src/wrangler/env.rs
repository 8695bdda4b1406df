//! Environments: which table each key is read from. With an env selected, inheritable keys fall
//! back to the top level and non-inheritable keys (bindings, vars, ...) come from the env only.

use crate::error::ConfigError;
use crate::reader::{Cx, Tbl};
use crate::source::{Node, Val};

/// The top-level table and, when an env is selected, the env table.
pub(super) struct Layer<'a> {
    pub top: Tbl<'a>,
    pub env: Option<(String, Tbl<'a>)>,
}

impl<'a> Layer<'a> {
    /// The root table with `env` (if any) selected from its `env` table.
    ///
    /// # Errors
    /// A root or `env` that is not a table, an env the file does not define, and
    /// `legacy_env = false` together with an env.
    pub fn select(cx: &mut Cx<'_>, root: &'a Node, env: Option<&str>) -> Result<Self, ConfigError> {
        let mut top = Tbl::new(cx, root, "")?;
        let env = match env {
            None => {
                // Parse nothing from envs, but accept the key.
                if let Some(envs) = top.get("env")
                    && !matches!(envs.value, Val::Table(_))
                {
                    return Err(cx.err(envs, "`env` must be a table of environments"));
                }
                None
            }
            Some(name) => Some(env_table(cx, &mut top, name)?),
        };
        let mut layer = Layer { top, env };
        layer.refuse_service_environments(cx)?;
        Ok(layer)
    }

    /// `legacy_env = false` selects wrangler's service environments, which flaresync does not
    /// deploy. Only checked when an env is selected.
    fn refuse_service_environments(&mut self, cx: &mut Cx<'_>) -> Result<(), ConfigError> {
        if let Some((name, _)) = &self.env
            && self.top.bool(cx, "legacy_env")? == Some(false)
        {
            let offset = self.top.key_offset("legacy_env").unwrap_or(0);
            return Err(ConfigError::invalid(
                cx.loc(offset),
                format!(
                    "`legacy_env = false` (service environments) is not supported: env {name:?} \
                     would not be a separate script; remove `legacy_env` to use standard \
                     environments"
                ),
            ));
        }
        Ok(())
    }

    /// Table to read an inheritable key from: the env's when it sets the key, else the top's.
    pub fn inh(&mut self, key: &str) -> &mut Tbl<'a> {
        self.top.mark(key);
        match &mut self.env {
            Some((_, env)) if env.has(key) => env,
            _ => &mut self.top,
        }
    }

    /// Table to read a non-inheritable key from: the env's when an env is selected.
    pub fn local(&mut self, cx: &mut Cx<'_>, key: &str) -> &mut Tbl<'a> {
        match &mut self.env {
            Some((name, env)) => {
                if !env.has(key)
                    && let Some(offset) = self.top.key_offset(key)
                {
                    cx.warn(
                        offset,
                        format!(
                            "`{key}` is set at the top level but not in [env.{name}]; it is not \
                             inherited, so env {name:?} gets none (copy it into [env.{name}] if \
                             it should)"
                        ),
                    );
                }
                self.top.mark(key);
                env
            }
            None => &mut self.top,
        }
    }
}

/// `[env.<name>]`, or [`ConfigError::UnknownEnv`] listing the envs the file defines.
fn env_table<'a>(
    cx: &mut Cx<'_>,
    top: &mut Tbl<'a>,
    name: &str,
) -> Result<(String, Tbl<'a>), ConfigError> {
    let envs = top.table(cx, "env")?;
    let node = envs
        .as_ref()
        .and_then(|t| t.entries.iter().find(|e| e.key == name).map(|e| &e.node));
    let Some(node) = node else {
        let available: Vec<String> = envs
            .map(|t| t.entries.iter().map(|e| e.key.clone()).collect())
            .unwrap_or_default();
        return Err(ConfigError::UnknownEnv {
            path: cx.src.path.clone(),
            env: name.to_owned(),
            available: if available.is_empty() {
                "none".into()
            } else {
                available.join(", ")
            },
        });
    };
    let table = Tbl::new(cx, node, &format!("env.{name}"))?;
    Ok((name.to_owned(), table))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{parse, wire};
    use serde_json::json;

    const ENV_TOML: &str = r#"
name = "api"
main = "dist/index.js"
compatibility_date = "2025-01-01"
compatibility_flags = ["nodejs_compat"]
routes = [{ pattern = "api.example.com/*", zone_name = "example.com" }]
kv_namespaces = [{ binding = "CACHE", id = "kv1" }]

[[migrations]]
tag = "v1"
new_sqlite_classes = ["Room"]

[vars]
MODE = "top"

[env.staging.vars]
MODE = "staging"

[env.prod]
name = "api-production"
workers_dev = false
kv_namespaces = [{ binding = "CACHE", id = "kv-prod" }]
"#;

    #[test]
    fn env_inherits_inheritable_keys_and_not_bindings() {
        let parsed = parse("w.toml", ENV_TOML, Some("staging")).expect("parses");
        assert_eq!(parsed.name.as_deref(), Some("api-staging"));
        assert_eq!(parsed.main.as_deref(), Some("dist/index.js"));
        assert_eq!(
            parsed.spec.compatibility_date.as_deref(),
            Some("2025-01-01")
        );
        assert_eq!(parsed.spec.compatibility_flags, ["nodejs_compat"]);
        assert_eq!(parsed.spec.routes.len(), 1);
        assert_eq!(parsed.spec.migrations.len(), 1);
        assert_eq!(
            wire(&parsed),
            json!([{"name": "MODE", "type": "plain_text", "text": "staging"}])
        );
        let warning = parsed
            .warnings
            .iter()
            .find(|w| w.message.contains("kv_namespaces"))
            .expect("non-inherited binding warning");
        assert_eq!(warning.line, Some(7));
    }

    #[test]
    fn env_with_own_name_keeps_it() {
        let parsed = parse("w.toml", ENV_TOML, Some("prod")).expect("parses");
        assert_eq!(parsed.name.as_deref(), Some("api-production"));
        assert_eq!(parsed.spec.workers_dev, Some(false));
        assert_eq!(
            wire(&parsed),
            json!([{"name": "CACHE", "type": "kv_namespace", "namespace_id": "kv-prod"}])
        );
    }

    #[test]
    fn top_level_has_everything_and_no_env_warnings() {
        let parsed = parse("w.toml", ENV_TOML, None).expect("parses");
        assert_eq!(parsed.name.as_deref(), Some("api"));
        assert_eq!(parsed.spec.bindings.len(), 2);
        assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
    }

    #[test]
    fn unknown_env_is_an_error_listing_available_envs() {
        let err = parse("w.toml", ENV_TOML, Some("qa")).expect_err("no such env");
        let text = err.to_string();
        assert!(text.contains("\"qa\" is not defined"), "{text}");
        assert!(text.contains("available: staging, prod") || text.contains("prod, staging"));
    }
}
