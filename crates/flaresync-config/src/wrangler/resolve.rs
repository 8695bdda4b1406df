//! One config document, resolved for one environment: reads each group of keys in a fixed
//! order (which decides the error a config with several problems gets) into a
//! [`ParsedConfig`].

use super::ParsedConfig;
use super::bindings::{read_declared, unique_bindings};
use super::durable_object_classes::{check_durable_object_classes, refuse_exports_with_migrations};
use super::env::Layer;
use super::identity::{check_script_name, read_identity};
use super::migrations::read_migrations;
use super::module_settings::read_module_settings;
use super::settings::{json_table, read_compatibility, read_runtime, read_script_settings};
use super::triggers::read_triggers;
use super::unknown_keys::{refuse_unsupported, report_unread_keys};
use crate::error::ConfigError;
use crate::model::{ScriptSettings, WorkerSpec};
use crate::reader::Cx;
use crate::source::{ConfigFormat, Node};

pub(super) fn resolve(
    cx: &mut Cx<'_>,
    root: &Node,
    env: Option<&str>,
) -> Result<ParsedConfig, ConfigError> {
    let mut layer = Layer::select(cx, root, env)?;
    let mut parsed = empty(env);
    read_identity(cx, &mut layer, &mut parsed)?;
    let spec = &mut parsed.spec;
    read_compatibility(cx, &mut layer, spec)?;
    parsed.module_settings = read_module_settings(cx, &mut layer)?;
    read_runtime(cx, &mut layer, spec)?;
    read_triggers(cx, &mut layer, spec)?;
    spec.settings = read_script_settings(cx, &mut layer)?;
    spec.migrations = read_migrations(cx, layer.inh("migrations"))?;
    spec.exports = json_table(cx, layer.inh("exports"), "exports")?;
    refuse_exports_with_migrations(cx, &mut layer, spec)?;
    let (bindings, assets_location) = read_declared(cx, &mut layer, spec)?;
    check_durable_object_classes(cx, &bindings, spec, parsed.name.as_deref());
    spec.bindings = unique_bindings(cx, bindings)?;
    // `keep_vars` is a top-level-only key in wrangler.
    spec.keep_vars = layer.top.bool(cx, "keep_vars")?.unwrap_or(false);
    parsed.assets_location = assets_location;
    refuse_unsupported(cx, &layer)?;
    report_unread_keys(cx, &mut layer);
    if let Some(name) = &parsed.name {
        check_script_name(cx, &layer, name)?;
    }
    Ok(parsed)
}

/// A config with nothing read yet. `path`, `format`, `warnings` and the spec's `name`, `dir`,
/// `config_path`, `main_module` and `modules` are filled in by the callers.
fn empty(env: Option<&str>) -> ParsedConfig {
    let spec = WorkerSpec {
        name: String::new(),
        dir: String::new(),
        config_path: String::new(),
        main_module: String::new(),
        modules: Vec::new(),
        compatibility_date: None,
        compatibility_flags: Vec::new(),
        bindings: Vec::new(),
        migrations: Vec::new(),
        exports: None,
        usage_model: None,
        limits: None,
        placement: None,
        routes: Vec::new(),
        crons: Vec::new(),
        workers_dev: None,
        queue_consumers: Vec::new(),
        settings: ScriptSettings::default(),
        secrets_required: Vec::new(),
        keep_vars: false,
        assets: None,
    };
    ParsedConfig {
        path: String::new(),
        format: ConfigFormat::Toml,
        env: env.map(str::to_owned),
        name: None,
        account_id: None,
        main: None,
        main_location: None,
        assets_location: None,
        module_settings: Default::default(),
        spec,
        warnings: Vec::new(),
    }
}
