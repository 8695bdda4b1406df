//! How additional modules are collected: `rules`, `no_bundle`, `find_additional_modules` and
//! `base_dir`, and whether source maps go with them (`upload_source_maps`); all inheritable.

use serde::Serialize;

use super::env::Layer;
use crate::error::ConfigError;
use crate::modules::{ModuleRule, ModuleType};
use crate::reader::{Cx, Tbl};

/// How additional modules are collected (wrangler's `rules`, `no_bundle`,
/// `find_additional_modules`, `base_dir`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ModuleSettings {
    pub rules: Vec<ModuleRule>,
    pub no_bundle: Option<bool>,
    pub find_additional_modules: Option<bool>,
    /// Relative to the config's directory.
    pub base_dir: Option<String>,
    /// `upload_source_maps`: send each module's source map as an `application/source-map` part.
    pub upload_source_maps: Option<bool>,
}

impl ModuleSettings {
    /// Whether files beyond `main` are uploaded: `find_additional_modules` when set, otherwise
    /// whenever custom `rules` or `no_bundle` are present (flaresync never bundles, so a
    /// no-bundle config's imports must be uploaded as separate modules).
    pub fn collects_additional_modules(&self) -> bool {
        match self.find_additional_modules {
            Some(explicit) => explicit,
            None => !self.rules.is_empty() || self.no_bundle == Some(true),
        }
    }
}

pub(super) fn read_module_settings(
    cx: &mut Cx<'_>,
    layer: &mut Layer<'_>,
) -> Result<ModuleSettings, ConfigError> {
    Ok(ModuleSettings {
        rules: read_rules(cx, layer.inh("rules"))?,
        no_bundle: layer.inh("no_bundle").bool(cx, "no_bundle")?,
        find_additional_modules: layer
            .inh("find_additional_modules")
            .bool(cx, "find_additional_modules")?,
        base_dir: layer.inh("base_dir").str(cx, "base_dir")?,
        upload_source_maps: layer
            .inh("upload_source_maps")
            .bool(cx, "upload_source_maps")?,
    })
}

fn read_rules(cx: &mut Cx<'_>, table: &mut Tbl<'_>) -> Result<Vec<ModuleRule>, ConfigError> {
    let mut rules = Vec::new();
    for mut rule in table.tables(cx, "rules")? {
        let type_node = rule.get("type");
        let kind_name = rule.req_str(
            cx,
            "type",
            "set it to ESModule, CommonJS, CompiledWasm, Text, Data, PythonModule or \
             PythonRequirement",
        )?;
        let Some(kind) = ModuleType::parse(&kind_name) else {
            return Err(cx.err(
                type_node.unwrap_or(rule.node),
                format!(
                    "`{}` {kind_name:?} is not a module type; use ESModule, CommonJS, \
                     CompiledWasm, Text, Data, PythonModule or PythonRequirement",
                    rule.key_path("type")
                ),
            ));
        };
        let globs = rule
            .str_list(cx, "globs")?
            .ok_or_else(|| rule.missing(cx, "globs", "list the file globs this rule applies to"))?;
        let fallthrough = rule.bool(cx, "fallthrough")?;
        rule.finish(cx, &[]);
        rules.push(ModuleRule {
            kind,
            globs,
            fallthrough,
        });
    }
    Ok(rules)
}
