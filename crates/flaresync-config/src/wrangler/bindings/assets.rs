//! `assets`: static assets. Unlike the other binding kinds, `assets` is inheritable. Reads the
//! directory (as written; the loader resolves and walks it), the optional binding and the
//! asset configuration, with wrangler's checks (SPEC-2 §1.5).

use super::BindingReader;
use crate::assets::{Assets, AssetsConfig, RunWorkerFirst, rule_problems};
use crate::error::{ConfigError, Location};
use crate::model::{Binding, BindingKind};
use crate::reader::{Cx, Tbl, str_list};
use crate::source::{Node, Val};

const HTML_HANDLING: [&str; 4] = [
    "auto-trailing-slash",
    "force-trailing-slash",
    "drop-trailing-slash",
    "none",
];
const NOT_FOUND_HANDLING: [&str; 3] = ["single-page-application", "404-page", "none"];

impl BindingReader<'_, '_, '_> {
    /// The assets of the config (files not read yet) and where `assets.directory` is written.
    pub(super) fn read_assets(&mut self) -> Result<Option<(Assets, Location)>, ConfigError> {
        let cx = &mut *self.cx;
        let table = self.layer.inh("assets");
        if let Some(
            node @ Node {
                value: Val::Str(dir),
                ..
            },
        ) = table.get("assets")
        {
            return Err(cx.err(
                node,
                format!(
                    "`{}` is a string, the wrangler 2 form that wrangler no longer accepts; \
                     write assets = {{ directory = {dir:?} }}",
                    table.key_path("assets")
                ),
            ));
        }
        let Some(mut assets) = table.table(cx, "assets")? else {
            return Ok(None);
        };
        if let Some(binding) = assets.str(cx, "binding")? {
            self.out.push((
                Binding {
                    name: binding,
                    kind: BindingKind::Assets,
                },
                assets.node.span.start,
            ));
        }
        let directory = assets.req_nonempty(
            cx,
            "directory",
            "wrangler requires the directory holding the static assets, e.g. \
             assets = { directory = \"public\" }",
        )?;
        let location = cx.loc(assets.get("directory").unwrap_or(assets.node).span.start);
        let config = AssetsConfig {
            html_handling: one_of(cx, &mut assets, "html_handling", &HTML_HANDLING)?,
            not_found_handling: one_of(cx, &mut assets, "not_found_handling", &NOT_FOUND_HANDLING)?,
            run_worker_first: run_worker_first(cx, &mut assets)?,
            redirects: None,
            headers: None,
        };
        if let Some(offset) = assets.key_offset("experimental_serve_directly") {
            assets.mark("experimental_serve_directly");
            cx.warn(
                offset,
                format!(
                    "`{}` is deprecated and not sent by wrangler 4.86; it is ignored (use \
                     `run_worker_first`)",
                    assets.key_path("experimental_serve_directly")
                ),
            );
        }
        assets.finish(cx, &[]);
        let assets = Assets {
            directory,
            config,
            files: Vec::new(),
        };
        Ok(Some((assets, location)))
    }
}

/// An optional string that must be one of `allowed`.
fn one_of(
    cx: &Cx<'_>,
    table: &mut Tbl<'_>,
    key: &str,
    allowed: &[&str],
) -> Result<Option<String>, ConfigError> {
    let Some(value) = table.str(cx, key)? else {
        return Ok(None);
    };
    if allowed.contains(&value.as_str()) {
        return Ok(Some(value));
    }
    let node = table.get(key).unwrap_or(table.node);
    Err(cx.err(
        node,
        format!(
            "`{}` must be one of {}, found {value:?}",
            table.key_path(key),
            allowed
                .iter()
                .map(|a| format!("{a:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    ))
}

/// `run_worker_first`: true/false or route rules, checked as wrangler checks them.
fn run_worker_first(
    cx: &Cx<'_>,
    table: &mut Tbl<'_>,
) -> Result<Option<RunWorkerFirst>, ConfigError> {
    let key = "run_worker_first";
    let Some(node) = table.get(key) else {
        return Ok(None);
    };
    let path = table.key_path(key);
    let rules = match &node.value {
        Val::Bool(always) => return Ok(Some(RunWorkerFirst::Always(*always))),
        Val::Array(_) => str_list(cx, node, &path)?,
        other => {
            return Err(cx.err(
                node,
                format!(
                    "`{path}` must be true, false or an array of route rules, found {}",
                    other.type_name()
                ),
            ));
        }
    };
    let problems = rule_problems(&rules);
    if !problems.is_empty() {
        return Err(cx.err(node, format!("invalid `{path}`: {}", problems.join("; "))));
    }
    Ok(Some(RunWorkerFirst::Rules(rules)))
}

#[cfg(test)]
mod tests {
    use super::super::super::test_support::{assert_refused, parse};
    use crate::assets::RunWorkerFirst;

    #[test]
    fn assets_table_gives_directory_config_and_binding() {
        let text = r#"
name = "site"
main = "index.js"
compatibility_date = "2025-01-01"
[assets]
directory = "./public"
binding = "ASSETS"
html_handling = "drop-trailing-slash"
not_found_handling = "single-page-application"
run_worker_first = ["/api/*", "!/api/docs"]
"#;
        let parsed = parse("w.toml", text, None).expect("parses");
        let assets = parsed.spec.assets.as_ref().expect("assets");
        assert_eq!(assets.directory, "./public");
        assert_eq!(
            assets.config.html_handling.as_deref(),
            Some("drop-trailing-slash")
        );
        assert_eq!(
            assets.config.run_worker_first,
            Some(RunWorkerFirst::Rules(vec![
                "/api/*".into(),
                "!/api/docs".into()
            ]))
        );
        assert!(parsed.spec.bindings.iter().any(|b| b.name == "ASSETS"));
        assert_eq!(parsed.assets_location.as_ref().map(|l| l.line), Some(6));
        assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
    }

    #[test]
    fn assets_are_inherited_by_an_env() {
        let text = "name = \"s\"\ncompatibility_date = \"2025-01-01\"\nassets = { directory = \"dist\" }\n[env.prod]\n";
        let parsed = parse("w.toml", text, Some("prod")).expect("parses");
        assert_eq!(
            parsed.spec.assets.as_ref().map(|a| a.directory.as_str()),
            Some("dist")
        );
    }

    #[test]
    fn wranglers_assets_refusals_say_what_to_write() {
        let head = "name = \"s\"\ncompatibility_date = \"2025-01-01\"\n";
        let cases = [
            (
                "assets = { binding = \"A\" }",
                "w.toml:3:10:",
                "`assets.directory` is required",
            ),
            (
                "assets = { directory = \"\" }",
                "w.toml:3:24:",
                "`assets.directory` is empty",
            ),
            (
                "assets = { directory = \"p\", html_handling = \"auto\" }",
                "w.toml:3:45:",
                "must be one of \"auto-trailing-slash\"",
            ),
            (
                "assets = { directory = \"p\", run_worker_first = [\"api\"] }",
                "w.toml:3:48:",
                "rules must start with '/' or '!/'",
            ),
            (
                "assets = { directory = \"p\", run_worker_first = \"yes\" }",
                "w.toml:3:48:",
                "must be true, false or an array",
            ),
            ("assets = \"public\"", "w.toml:3:10:", "wrangler 2 form"),
        ];
        for (line, at, says) in cases {
            assert_refused("w.toml", &format!("{head}{line}\n"), at, says);
        }
    }

    #[test]
    fn serve_directly_is_ignored_with_a_warning() {
        let text = "name = \"s\"\ncompatibility_date = \"2025-01-01\"\nassets = { directory = \"p\", experimental_serve_directly = true }\n";
        let parsed = parse("w.toml", text, None).expect("parses");
        assert_eq!(parsed.warnings.len(), 1, "{:?}", parsed.warnings);
        assert!(parsed.warnings[0].message.contains("deprecated"));
    }
}
