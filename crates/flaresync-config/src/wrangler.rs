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

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::{ConfigError, Location, Warning};
use crate::model::{
    Binding, BindingKind, MigrationStep, OtherBinding, QueueConsumer, RenamedClass, Route,
    ScriptSettings, TailConsumer, TransferredClass, WorkerSpec, canonical_json_text,
};
use crate::modules::{ModuleRule, ModuleType};
use crate::reader::{Cx, Tbl, tables};
use crate::source::{ConfigFormat, Node, SourceFile, Val, decode_utf8, parse_document};

/// How additional modules are collected (wrangler's `rules`, `no_bundle`,
/// `find_additional_modules`, `base_dir`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ModuleSettings {
    pub rules: Vec<ModuleRule>,
    pub no_bundle: Option<bool>,
    pub find_additional_modules: Option<bool>,
    /// Relative to the config's directory.
    pub base_dir: Option<String>,
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
    pub module_settings: ModuleSettings,
    /// The resolved spec, except `name`, `dir`, `main_module` and `modules`, which the loader
    /// fills in once the bundle is read.
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
    let mut resolved = resolve(&mut cx, &root, env)?;
    resolved.path = path.to_owned();
    resolved.format = format;
    resolved.spec.config_path = path.to_owned();
    resolved.warnings = cx.take_warnings();
    Ok(resolved)
}

/// Keys wrangler defines that do not change what flaresync uploads (bundling, local dev,
/// tooling). Accepted silently.
const SILENT: &[&str] = &[
    "$schema",
    "dev",
    "minify",
    "keep_names",
    "tsconfig",
    "jsx_factory",
    "jsx_fragment",
    "define",
    "alias",
    "send_metrics",
    "preview_urls",
    "preserve_file_names",
    "compliance_region",
    "first_party_worker",
    "legacy_env",
    "python_modules",
    "cloudchamber",
    "zone_id",
    "private",
    "webpack_config",
    "type",
    "dependencies_instrumentation",
    "previews",
    "unsafe_hello_world",
];

/// Keys that would change a deployment but that flaresync does not deploy: they produce a
/// warning saying so.
const UNSUPPORTED: &[(&str, &str)] = &[
    (
        "build",
        "flaresync never runs a build; commit the built bundle and point `main` at it",
    ),
    (
        "site",
        "Workers Sites (`site`) are not deployed by flaresync; migrate to `assets`",
    ),
    (
        "node_compat",
        "`node_compat` only affects bundling; flaresync uploads the committed bundle as is",
    ),
    (
        "containers",
        "containers are not deployed by flaresync; deploy them with wrangler",
    ),
    (
        "streaming_tail_consumers",
        "`streaming_tail_consumers` are not applied by flaresync",
    ),
    (
        "pages_build_output_dir",
        "this is a Cloudflare Pages config; flaresync deploys Workers only",
    ),
    ("cache", "`cache` settings are not applied by flaresync"),
    (
        "upload_source_maps",
        "flaresync uploads modules only, never source maps",
    ),
];

/// The top-level table and, when an env is selected, the env table.
struct Layer<'a> {
    top: Tbl<'a>,
    env: Option<(String, Tbl<'a>)>,
}

impl<'a> Layer<'a> {
    /// Table to read an inheritable key from: the env's when it sets the key, else the top's.
    fn inh(&mut self, key: &str) -> &mut Tbl<'a> {
        self.top.mark(key);
        match &mut self.env {
            Some((_, env)) if env.has(key) => env,
            _ => &mut self.top,
        }
    }

    /// Table to read a non-inheritable key from: the env's when an env is selected.
    fn local(&mut self, cx: &mut Cx<'_>, key: &str) -> &mut Tbl<'a> {
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

fn resolve(cx: &mut Cx<'_>, root: &Node, env: Option<&str>) -> Result<ParsedConfig, ConfigError> {
    let mut top = Tbl::new(cx, root, "")?;
    let env_layer = match env {
        None => {
            // Parse nothing from envs, but accept the key.
            if let Some(envs) = top.get("env")
                && !matches!(envs.value, Val::Table(_))
            {
                return Err(cx.err(envs, "`env` must be a table of environments"));
            }
            None
        }
        Some(name) => {
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
            Some((name.to_owned(), table))
        }
    };
    let mut layer = Layer {
        top,
        env: env_layer,
    };
    if let Some((name, _)) = &layer.env
        && layer.top.bool(cx, "legacy_env")? == Some(false)
    {
        let offset = layer.top.key_offset("legacy_env").unwrap_or(0);
        return Err(ConfigError::invalid(
            cx.loc(offset),
            format!(
                "`legacy_env = false` (service environments) is not supported: env {name:?} \
                 would not be a separate script; remove `legacy_env` to use standard \
                 environments"
            ),
        ));
    }

    // --- identity ---
    let top_name = layer.top.str(cx, "name")?;
    let name = match &mut layer.env {
        Some((env_name, env_table)) => match env_table.str(cx, "name")? {
            Some(own) => Some(own),
            None => top_name.map(|n| format!("{n}-{env_name}")),
        },
        None => top_name,
    };
    let account_id = layer.inh("account_id").str(cx, "account_id")?;
    let main_table = layer.inh("main");
    let main_location = main_table.get("main").map(|node| cx.loc(node.span.start));
    let main = main_table.str(cx, "main")?;

    // --- compatibility ---
    let compatibility_date = {
        let table = layer.inh("compatibility_date");
        match table.get("compatibility_date") {
            None => None,
            Some(node) => Some(compat_date(
                cx,
                node,
                &table.key_path("compatibility_date"),
            )?),
        }
    };
    let compatibility_flags = layer
        .inh("compatibility_flags")
        .str_list(cx, "compatibility_flags")?
        .unwrap_or_default();

    // --- module collection ---
    let module_settings = ModuleSettings {
        rules: read_rules(cx, layer.inh("rules"))?,
        no_bundle: layer.inh("no_bundle").bool(cx, "no_bundle")?,
        find_additional_modules: layer
            .inh("find_additional_modules")
            .bool(cx, "find_additional_modules")?,
        base_dir: layer.inh("base_dir").str(cx, "base_dir")?,
    };

    // --- runtime settings ---
    let usage_model = layer.inh("usage_model").str(cx, "usage_model")?;
    if let Some(model) = &usage_model
        && !matches!(model.as_str(), "bundled" | "unbound" | "standard")
    {
        let table = layer.inh("usage_model");
        let node = table.get("usage_model").unwrap_or(table.node);
        return Err(cx.err(
            node,
            format!(
                "`usage_model` must be \"standard\", \"bundled\" or \"unbound\", found {model:?}"
            ),
        ));
    }
    let limits = read_limits(cx, layer.inh("limits"))?;
    let placement = json_table(cx, layer.inh("placement"), "placement")?;

    // --- triggers ---
    let workers_dev = layer.inh("workers_dev").bool(cx, "workers_dev")?;
    let routes = read_routes(cx, &mut layer)?;
    let crons = {
        let table = layer.inh("triggers");
        match table.table(cx, "triggers")? {
            None => Vec::new(),
            Some(mut triggers) => {
                let crons = triggers.str_list(cx, "crons")?.unwrap_or_default();
                triggers.finish(cx, &[]);
                crons
            }
        }
    };

    // --- script settings ---
    let tail_consumers = {
        // Not inheritable (wrangler `@nonInheritable`), unlike logpush/observability.
        let table = layer.local(cx, "tail_consumers");
        read_tail_consumers(cx, table)?
    };
    let settings = ScriptSettings {
        logpush: layer.inh("logpush").bool(cx, "logpush")?,
        observability: json_table(cx, layer.inh("observability"), "observability")?,
        tail_consumers,
    };

    // --- migrations / exports ---
    let migrations = read_migrations(cx, layer.inh("migrations"))?;
    let exports = json_table(cx, layer.inh("exports"), "exports")?;
    let exports_declare_durable_objects = exports
        .as_deref()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(text).ok())
        .and_then(|v| v.as_object().cloned())
        .is_some_and(|map| {
            map.values()
                .any(|e| e.get("type").and_then(|t| t.as_str()) == Some("durable-object"))
        });
    if exports_declare_durable_objects && !migrations.is_empty() {
        let table = layer.inh("exports");
        let offset = table.key_offset("exports").unwrap_or(0);
        return Err(ConfigError::invalid(
            cx.loc(offset),
            "`exports` declares Durable Objects while `[[migrations]]` is also set (inherited \
             or not); the two cannot be combined (wrangler rejects it): declare Durable Objects \
             with one of them only",
        ));
    }

    // --- assets (inheritable; the binding part is read here too) ---
    let mut bindings: Vec<(Binding, usize)> = Vec::new();
    {
        let table = layer.inh("assets");
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
        if let Some(mut assets) = table.table(cx, "assets")? {
            if let Some(binding) = assets.str(cx, "binding")? {
                bindings.push((
                    Binding {
                        name: binding,
                        kind: BindingKind::Assets,
                    },
                    assets.node.span.start,
                ));
            }
            if assets.str(cx, "directory")?.is_some() {
                cx.warn(
                    assets.node.span.start,
                    "static assets (`assets.directory`) are not uploaded by flaresync; only the \
                     Worker code and bindings are deployed",
                );
            }
            assets.finish(
                cx,
                &[
                    "html_handling",
                    "not_found_handling",
                    "run_worker_first",
                    "experimental_serve_directly",
                ],
            );
        }
    }

    // --- bindings (not inheritable) ---
    read_bindings(cx, &mut layer, &mut bindings)?;
    let queue_consumers = read_queue_consumers(cx, &mut layer)?;
    let secrets_required = {
        let table = layer.local(cx, "secrets");
        match table.table(cx, "secrets")? {
            None => Vec::new(),
            Some(mut secrets) => {
                let mut required = secrets.str_list(cx, "required")?.unwrap_or_default();
                secrets.finish(cx, &[]);
                required.sort();
                required.dedup();
                required
            }
        }
    };
    check_durable_object_classes(
        cx,
        &bindings,
        &migrations,
        exports.as_deref(),
        name.as_deref(),
    );
    let bindings = unique_bindings(cx, bindings)?;
    // `keep_vars` is a top-level-only key in wrangler.
    let keep_vars = layer.top.bool(cx, "keep_vars")?.unwrap_or(false);

    // --- remaining keys: warnings ---
    for (key, message) in UNSUPPORTED {
        let env_has = layer.env.as_ref().is_some_and(|(_, env)| env.has(key));
        let top_offset = layer.top.key_offset(key);
        layer.top.mark(key);
        let mut offsets = Vec::new();
        if let Some((_, env)) = &mut layer.env
            && let Some(offset) = env.key_offset(key)
        {
            env.mark(key);
            offsets.push(offset);
        }
        // The top-level value matters when no env overrides it.
        if let Some(offset) = top_offset
            && !env_has
        {
            offsets.push(offset);
        }
        for offset in offsets {
            cx.warn(offset, format!("`{key}` is ignored: {message}"));
        }
    }
    if env.is_none() {
        warn_suspicious_top_level(cx, &mut layer.top);
    }
    layer.top.mark("env");
    layer.top.finish(cx, SILENT);
    if let Some((_, env_table)) = &layer.env {
        env_table.finish(cx, SILENT);
    }
    if let Some(name) = &name {
        check_script_name(cx, &layer, name)?;
    }

    let spec = WorkerSpec {
        name: String::new(),
        dir: String::new(),
        config_path: String::new(),
        main_module: String::new(),
        modules: Vec::new(),
        compatibility_date,
        compatibility_flags,
        bindings,
        migrations,
        exports,
        usage_model,
        limits,
        placement,
        routes,
        crons,
        workers_dev,
        queue_consumers,
        settings,
        secrets_required,
        keep_vars,
    };
    Ok(ParsedConfig {
        path: String::new(),
        format: ConfigFormat::Toml,
        env: env.map(str::to_owned),
        name,
        account_id,
        main,
        main_location,
        module_settings,
        spec,
        warnings: Vec::new(),
    })
}

/// Warns about Durable Object bindings to local classes that no migration (or `exports`
/// entry) creates: Cloudflare rejects such uploads with error 10061.
fn check_durable_object_classes(
    cx: &mut Cx<'_>,
    bindings: &[(Binding, usize)],
    migrations: &[MigrationStep],
    exports: Option<&str>,
    own_name: Option<&str>,
) {
    let mut live: Vec<&str> = Vec::new();
    for step in migrations {
        live.extend(step.new_classes.iter().map(String::as_str));
        live.extend(step.new_sqlite_classes.iter().map(String::as_str));
        for renamed in &step.renamed_classes {
            live.retain(|c| *c != renamed.from);
            live.push(&renamed.to);
        }
        live.extend(step.transferred_classes.iter().map(|t| t.to.as_str()));
        live.retain(|c| !step.deleted_classes.iter().any(|d| d == c));
    }
    let exported: Vec<String> = exports
        .and_then(|text| serde_json::from_str::<serde_json::Value>(text).ok())
        .and_then(|v| v.as_object().cloned())
        .map(|map| {
            map.into_iter()
                .filter(|(_, e)| {
                    e.get("type").and_then(|t| t.as_str()) == Some("durable-object")
                        && matches!(
                            e.get("state").and_then(|s| s.as_str()),
                            None | Some("created" | "expecting-transfer")
                        )
                })
                .map(|(k, _)| k)
                .collect()
        })
        .unwrap_or_default();
    for (binding, offset) in bindings {
        let BindingKind::DurableObjectNamespace {
            class_name,
            script_name,
            ..
        } = &binding.kind
        else {
            continue;
        };
        let local = match script_name {
            None => true,
            Some(script) => Some(script.as_str()) == own_name,
        };
        if local
            && !live.contains(&class_name.as_str())
            && !exported.iter().any(|e| e == class_name)
        {
            cx.warn(
                *offset,
                format!(
                    "Durable Object binding {:?} uses class {class_name:?}, which no \
                     [[migrations]] step (or `exports` entry) creates or keeps; Cloudflare \
                     rejects the upload (error 10061): add a migration step with \
                     new_sqlite_classes = [{class_name:?}]",
                    binding.name
                ),
            );
        }
    }
}

/// Hints for two common slips: `[env.vars]` (an environment named like a wrangler key) and
/// UPPER_CASE top-level keys (a `[vars]` header that was commented out).
fn warn_suspicious_top_level(cx: &mut Cx<'_>, top: &mut Tbl<'_>) {
    const KEY_LIKE_ENVS: &[&str] = &[
        "vars",
        "kv_namespaces",
        "r2_buckets",
        "d1_databases",
        "durable_objects",
        "services",
        "routes",
        "triggers",
        "queues",
        "migrations",
    ];
    if let Some(envs) = top.entries.iter().find(|e| e.key == "env")
        && let Some(entries) = envs.node.entries()
    {
        for entry in entries {
            if KEY_LIKE_ENVS.contains(&entry.key.as_str()) {
                cx.warn(
                    entry.key_span.start,
                    format!(
                        "[env.{0}] defines an environment named {0:?}, not top-level `{0}`; \
                         if you meant top-level {0}, write [{0}]",
                        entry.key
                    ),
                );
            }
        }
    }
    let entries = top.entries;
    for entry in entries {
        if top.is_used(&entry.key) {
            continue;
        }
        let looks_like_var = entry.key.len() > 1
            && entry.key.chars().any(|c| c.is_ascii_uppercase())
            && entry
                .key
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
        if looks_like_var {
            cx.warn(
                entry.key_span.start,
                format!(
                    "unknown top-level key `{}` looks like a variable and is ignored; if it \
                     belongs in [vars], check that the [vars] header is not commented out",
                    entry.key
                ),
            );
            top.mark(&entry.key);
        }
    }
}

/// A script name Cloudflare would reject ([`crate::script_name`]) is refused at its `name` key.
/// Checked last, so a template's placeholder name does not hide the file's other errors.
fn check_script_name(cx: &Cx<'_>, layer: &Layer<'_>, name: &str) -> Result<(), ConfigError> {
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

fn compat_date(cx: &Cx<'_>, node: &Node, path: &str) -> Result<String, ConfigError> {
    let text = match &node.value {
        Val::Str(s) | Val::Datetime(s) => s.clone(),
        other => {
            return Err(cx.err(
                node,
                format!(
                    "`{path}` must be a date string like \"2025-01-01\", found {}",
                    other.type_name()
                ),
            ));
        }
    };
    let bytes = text.as_bytes();
    let shape_ok = bytes.len() == 10
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        });
    if !shape_ok {
        return Err(cx.err(
            node,
            format!("`{path}` must have the form YYYY-MM-DD, found {text:?}"),
        ));
    }
    Ok(text)
}

fn json_table(cx: &Cx<'_>, table: &mut Tbl<'_>, key: &str) -> Result<Option<String>, ConfigError> {
    match table.get(key) {
        None => Ok(None),
        Some(node) => match &node.value {
            Val::Table(_) => Ok(Some(canonical_json_text(&node.to_json()))),
            other => Err(cx.err(
                node,
                format!(
                    "`{}` must be a table, found {}",
                    table.key_path(key),
                    other.type_name()
                ),
            )),
        },
    }
}

/// `limits = { cpu_ms, subrequests }`: non-negative integers; other keys warn.
fn read_limits(cx: &mut Cx<'_>, table: &mut Tbl<'_>) -> Result<Option<String>, ConfigError> {
    let Some(mut limits) = table.table(cx, "limits")? else {
        return Ok(None);
    };
    limits.u64(cx, "cpu_ms")?;
    limits.u64(cx, "subrequests")?;
    limits.finish(cx, &[]);
    Ok(Some(canonical_json_text(&limits.node.to_json())))
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

fn read_routes(cx: &mut Cx<'_>, layer: &mut Layer<'_>) -> Result<Vec<Route>, ConfigError> {
    // `route` and `routes` are inherited together: an env that sets either replaces both.
    let env_sets = layer
        .env
        .as_ref()
        .is_some_and(|(_, env)| env.has("route") || env.has("routes"));
    layer.top.mark("route");
    layer.top.mark("routes");
    let table = match &mut layer.env {
        Some((_, env)) if env_sets => env,
        _ => &mut layer.top,
    };
    let single = table.get("route");
    let many = table.get("routes");
    if let (Some(_), Some(node)) = (single, many) {
        return Err(cx.err(
            node,
            format!(
                "`{}` and `{}` are both set; wrangler expects exactly one of them, merge them \
                 into `routes`",
                table.key_path("route"),
                table.key_path("routes")
            ),
        ));
    }
    let mut routes = Vec::new();
    if let Some(node) = single {
        routes.push(read_route(cx, node, &table.key_path("route"))?);
    }
    if let Some(node) = many {
        let path = table.key_path("routes");
        let Val::Array(items) = &node.value else {
            return Err(cx.err(
                node,
                format!(
                    "`{path}` must be an array, found {}",
                    node.value.type_name()
                ),
            ));
        };
        for (i, item) in items.iter().enumerate() {
            routes.push(read_route(cx, item, &format!("{path}[{i}]"))?);
        }
    }
    routes.sort();
    routes.dedup();
    Ok(routes)
}

fn read_route(cx: &mut Cx<'_>, node: &Node, path: &str) -> Result<Route, ConfigError> {
    match &node.value {
        Val::Str(pattern) => Ok(Route {
            pattern: pattern.clone(),
            zone_id: None,
            zone_name: None,
            custom_domain: false,
        }),
        Val::Table(_) => {
            let mut table = Tbl::new(cx, node, path)?;
            let route = Route {
                pattern: table.req_nonempty(cx, "pattern", "set the route pattern")?,
                zone_id: table.str(cx, "zone_id")?,
                zone_name: table.str(cx, "zone_name")?,
                custom_domain: table.bool(cx, "custom_domain")?.unwrap_or(false),
            };
            table.finish(cx, &[]);
            Ok(route)
        }
        other => Err(cx.err(
            node,
            format!(
                "`{path}` must be a pattern string or a table {{ pattern, zone_name }}, found {}",
                other.type_name()
            ),
        )),
    }
}

fn read_tail_consumers(
    cx: &mut Cx<'_>,
    table: &mut Tbl<'_>,
) -> Result<Vec<TailConsumer>, ConfigError> {
    let mut out = Vec::new();
    for mut item in table.tables(cx, "tail_consumers")? {
        out.push(TailConsumer {
            service: item.req_nonempty(cx, "service", "name the Worker that receives the tail")?,
            environment: item.str(cx, "environment")?,
        });
        item.finish(cx, &[]);
    }
    out.sort();
    Ok(out)
}

const MIGRATION_KEYS: &[&str] = &[
    "tag",
    "new_classes",
    "new_sqlite_classes",
    "renamed_classes",
    "deleted_classes",
    "transferred_classes",
];

fn read_migrations(
    cx: &mut Cx<'_>,
    table: &mut Tbl<'_>,
) -> Result<Vec<MigrationStep>, ConfigError> {
    let mut steps: Vec<MigrationStep> = Vec::new();
    let mut tag_offsets: Vec<usize> = Vec::new();
    for mut step in table.tables(cx, "migrations")? {
        let tag_node = step.get("tag");
        let Some(tag) = step.str(cx, "tag")? else {
            let strays: Vec<String> = step
                .entries
                .iter()
                .filter(|e| !MIGRATION_KEYS.contains(&e.key.as_str()))
                .map(|e| format!("`{}`", e.key))
                .collect();
            let mut message = format!(
                "`{}` has no `tag`; every [[migrations]] step needs a unique tag such as tag = \
                 \"v{}\"",
                step.path,
                steps.len() + 1
            );
            if !strays.is_empty() {
                message.push_str(&format!(
                    ". It also holds {}, which are not migration keys: the [[migrations]] header \
                     probably captured the keys written after it; move them above the header",
                    strays.join(", ")
                ));
            }
            return Err(cx.err(step.node, message));
        };
        let tag_offset = tag_node
            .map(|n| n.span.start)
            .unwrap_or(step.node.span.start);
        if let Some(previous) = steps.iter().position(|s| s.tag == tag) {
            let (line, col) = cx.src.line_col(tag_offsets[previous]);
            return Err(ConfigError::invalid(
                cx.loc(tag_offset),
                format!(
                    "migration tag {tag:?} is used twice (`{}` and `{}[{previous}].tag` at \
                     line {line}, column {col}); tags must be unique: merge the steps or give \
                     the new one a new tag",
                    step.key_path("tag"),
                    step.path
                        .rsplit_once('[')
                        .map(|(head, _)| head)
                        .unwrap_or(&step.path)
                ),
            ));
        }
        let renamed = step
            .tables(cx, "renamed_classes")?
            .into_iter()
            .map(|mut t| {
                let r = RenamedClass {
                    from: t.req_nonempty(cx, "from", "name the old class")?,
                    to: t.req_nonempty(cx, "to", "name the new class")?,
                };
                t.finish(cx, &[]);
                Ok(r)
            })
            .collect::<Result<Vec<_>, ConfigError>>()?;
        let transferred = step
            .tables(cx, "transferred_classes")?
            .into_iter()
            .map(|mut t| {
                let r = TransferredClass {
                    from: t.req_nonempty(cx, "from", "name the class in the source Worker")?,
                    from_script: t.req_nonempty(cx, "from_script", "name the source Worker")?,
                    to: t.req_nonempty(cx, "to", "name the class in this Worker")?,
                };
                t.finish(cx, &[]);
                Ok(r)
            })
            .collect::<Result<Vec<_>, ConfigError>>()?;
        let migration = MigrationStep {
            tag,
            new_classes: step.str_list(cx, "new_classes")?.unwrap_or_default(),
            new_sqlite_classes: step.str_list(cx, "new_sqlite_classes")?.unwrap_or_default(),
            renamed_classes: renamed,
            deleted_classes: step.str_list(cx, "deleted_classes")?.unwrap_or_default(),
            transferred_classes: transferred,
        };
        if migration.new_classes.is_empty()
            && migration.new_sqlite_classes.is_empty()
            && migration.renamed_classes.is_empty()
            && migration.deleted_classes.is_empty()
            && migration.transferred_classes.is_empty()
        {
            cx.warn(
                step.node.span.start,
                format!(
                    "migration {:?} has no operations; it only moves the migration tag",
                    migration.tag
                ),
            );
        }
        step.finish(cx, &[]);
        tag_offsets.push(tag_offset);
        steps.push(migration);
    }
    Ok(steps)
}

fn other(kind: &str, fields: serde_json::Map<String, serde_json::Value>) -> BindingKind {
    BindingKind::Other(OtherBinding {
        kind: kind.to_owned(),
        fields: canonical_json_text(&serde_json::Value::Object(fields)),
    })
}

/// Reads every non-inheritable binding table into `out` (binding + offset for messages).
fn read_bindings(
    cx: &mut Cx<'_>,
    layer: &mut Layer<'_>,
    out: &mut Vec<(Binding, usize)>,
) -> Result<(), ConfigError> {
    let push = |out: &mut Vec<(Binding, usize)>, name: String, kind: BindingKind, at: usize| {
        out.push((Binding { name, kind }, at));
    };

    // vars: strings -> plain_text, anything else -> json (as wrangler does).
    {
        let table = layer.local(cx, "vars");
        if let Some(vars) = table.table(cx, "vars")? {
            for entry in vars.entries {
                let kind = match &entry.node.value {
                    Val::Str(s) => BindingKind::PlainText { text: s.clone() },
                    _ => BindingKind::Json {
                        json: canonical_json_text(&entry.node.to_json()),
                    },
                };
                push(out, entry.key.clone(), kind, entry.key_span.start);
            }
        }
    }

    for key in ["kv_namespaces", "kv-namespaces"] {
        let table = layer.local(cx, key);
        if key == "kv-namespaces"
            && let Some(offset) = table.key_offset(key)
        {
            cx.warn(
                offset,
                "`kv-namespaces` is the wrangler v1 spelling; rename it to `kv_namespaces`",
            );
        }
        for mut kv in table.tables(cx, key)? {
            let name = kv.req_nonempty(cx, "binding", "name the binding")?;
            let id = kv.req_nonempty(
                cx,
                "id",
                "flaresync does not create KV namespaces: set the namespace id",
            )?;
            kv.finish(cx, &["preview_id", "remote", "experimental_remote"]);
            push(
                out,
                name,
                BindingKind::KvNamespace { namespace_id: id },
                kv.node.span.start,
            );
        }
    }

    for mut r2 in layer.local(cx, "r2_buckets").tables(cx, "r2_buckets")? {
        let name = r2.req_nonempty(cx, "binding", "name the binding")?;
        let bucket_name = r2.req_nonempty(
            cx,
            "bucket_name",
            "flaresync does not create R2 buckets: set the bucket name",
        )?;
        let jurisdiction = r2.str(cx, "jurisdiction")?;
        r2.finish(
            cx,
            &["preview_bucket_name", "remote", "experimental_remote"],
        );
        push(
            out,
            name,
            BindingKind::R2Bucket {
                bucket_name,
                jurisdiction,
            },
            r2.node.span.start,
        );
    }

    for mut d1 in layer.local(cx, "d1_databases").tables(cx, "d1_databases")? {
        let name = d1.req_nonempty(cx, "binding", "name the binding")?;
        let id = d1.req_nonempty(
            cx,
            "database_id",
            "flaresync does not create D1 databases: set the database id (`wrangler d1 list`)",
        )?;
        d1.finish(
            cx,
            &[
                "database_name",
                "preview_database_id",
                "migrations_dir",
                "migrations_table",
                "remote",
                "experimental_remote",
            ],
        );
        push(out, name, BindingKind::D1 { id }, d1.node.span.start);
    }

    {
        let table = layer.local(cx, "durable_objects");
        if let Some(mut dobj) = table.table(cx, "durable_objects")? {
            for mut b in dobj.tables(cx, "bindings")? {
                let name = b.req_nonempty(cx, "name", "name the binding")?;
                let class_name =
                    b.req_nonempty(cx, "class_name", "name the Durable Object class")?;
                let kind = BindingKind::DurableObjectNamespace {
                    class_name,
                    script_name: b.str(cx, "script_name")?,
                    environment: b.str(cx, "environment")?,
                };
                b.finish(cx, &[]);
                push(out, name, kind, b.node.span.start);
            }
            dobj.finish(cx, &[]);
        }
    }

    {
        let table = layer.local(cx, "queues");
        if let Some(mut queues) = table.table(cx, "queues")? {
            for mut p in queues.tables(cx, "producers")? {
                let name = p.req_nonempty(cx, "binding", "name the binding")?;
                let queue_name = p.req_nonempty(cx, "queue", "name the queue")?;
                let kind = BindingKind::Queue {
                    queue_name,
                    delivery_delay: p.u64(cx, "delivery_delay")?,
                };
                p.finish(cx, &["remote", "experimental_remote"]);
                push(out, name, kind, p.node.span.start);
            }
            // consumers are read separately; mark them read here.
            queues.mark("consumers");
            queues.finish(cx, &[]);
        }
    }

    for mut s in layer.local(cx, "services").tables(cx, "services")? {
        let name = s.req_nonempty(cx, "binding", "name the binding")?;
        let service = s.req_nonempty(cx, "service", "name the Worker to bind")?;
        let environment = s.str(cx, "environment")?;
        let entrypoint = s.str(cx, "entrypoint")?;
        let kind = match s.get("props") {
            Some(props) => {
                let mut fields = serde_json::Map::new();
                fields.insert("service".into(), service.into());
                if let Some(e) = environment {
                    fields.insert("environment".into(), e.into());
                }
                if let Some(e) = entrypoint {
                    fields.insert("entrypoint".into(), e.into());
                }
                fields.insert("props".into(), props.to_json());
                other("service", fields)
            }
            None => BindingKind::Service {
                service,
                environment,
                entrypoint,
            },
        };
        s.finish(cx, &["remote", "experimental_remote"]);
        push(out, name, kind, s.node.span.start);
    }

    for mut a in layer
        .local(cx, "analytics_engine_datasets")
        .tables(cx, "analytics_engine_datasets")?
    {
        let name = a.req_nonempty(cx, "binding", "name the binding")?;
        // Cloudflare uses the binding name when no dataset is given.
        let dataset = a.str(cx, "dataset")?.unwrap_or_else(|| name.clone());
        a.finish(cx, &[]);
        push(
            out,
            name,
            BindingKind::AnalyticsEngine { dataset },
            a.node.span.start,
        );
    }

    // Single-binding tables: { binding = "X" }.
    for (key, kind) in [
        ("ai", BindingKind::Ai { staging: None }),
        ("browser", BindingKind::Browser),
        ("version_metadata", BindingKind::VersionMetadata),
        ("images", BindingKind::Images),
    ] {
        let table = layer.local(cx, key);
        if let Some(mut t) = table.table(cx, key)? {
            let name = t.req_nonempty(cx, "binding", "name the binding")?;
            let kind = match kind {
                BindingKind::Ai { .. } => BindingKind::Ai {
                    staging: t.bool(cx, "staging")?,
                },
                other => other,
            };
            t.finish(cx, &["remote", "experimental_remote"]);
            push(out, name, kind, t.node.span.start);
        }
    }

    for mut v in layer.local(cx, "vectorize").tables(cx, "vectorize")? {
        let name = v.req_nonempty(cx, "binding", "name the binding")?;
        let index_name = v.req_nonempty(cx, "index_name", "name the Vectorize index")?;
        v.finish(cx, &["remote", "experimental_remote"]);
        push(
            out,
            name,
            BindingKind::Vectorize { index_name },
            v.node.span.start,
        );
    }

    for mut h in layer.local(cx, "hyperdrive").tables(cx, "hyperdrive")? {
        let name = h.req_nonempty(cx, "binding", "name the binding")?;
        let id = h.req_nonempty(cx, "id", "set the Hyperdrive config id")?;
        h.finish(cx, &["localConnectionString"]);
        push(out, name, BindingKind::Hyperdrive { id }, h.node.span.start);
    }

    for mut m in layer
        .local(cx, "mtls_certificates")
        .tables(cx, "mtls_certificates")?
    {
        let name = m.req_nonempty(cx, "binding", "name the binding")?;
        let certificate_id = m.req_nonempty(cx, "certificate_id", "set the certificate id")?;
        m.finish(cx, &["remote", "experimental_remote"]);
        push(
            out,
            name,
            BindingKind::MtlsCertificate { certificate_id },
            m.node.span.start,
        );
    }

    for mut d in layer
        .local(cx, "dispatch_namespaces")
        .tables(cx, "dispatch_namespaces")?
    {
        let name = d.req_nonempty(cx, "binding", "name the binding")?;
        let namespace = d.req_nonempty(cx, "namespace", "name the dispatch namespace")?;
        let outbound = match d.table(cx, "outbound")? {
            None => None,
            Some(mut o) => {
                let mut worker = serde_json::Map::new();
                worker.insert(
                    "service".into(),
                    o.req_nonempty(cx, "service", "name the outbound Worker")?
                        .into(),
                );
                if let Some(env) = o.str(cx, "environment")? {
                    worker.insert("environment".into(), env.into());
                }
                let mut outbound = serde_json::Map::new();
                outbound.insert("worker".into(), serde_json::Value::Object(worker));
                if let Some(params) = o.str_list(cx, "parameters")? {
                    outbound.insert(
                        "params".into(),
                        params
                            .into_iter()
                            .map(|p| serde_json::json!({ "name": p }))
                            .collect(),
                    );
                }
                o.finish(cx, &[]);
                Some(canonical_json_text(&serde_json::Value::Object(outbound)))
            }
        };
        d.finish(cx, &["remote", "experimental_remote"]);
        push(
            out,
            name,
            BindingKind::DispatchNamespace {
                namespace,
                outbound,
            },
            d.node.span.start,
        );
    }

    for mut s in layer.local(cx, "send_email").tables(cx, "send_email")? {
        let name = s.req_nonempty(cx, "name", "name the binding")?;
        let destination_address = s.str(cx, "destination_address")?;
        let allowed_destination_addresses = s.str_list(cx, "allowed_destination_addresses")?;
        let kind = match s.str_list(cx, "allowed_sender_addresses")? {
            Some(senders) => {
                let mut fields = serde_json::Map::new();
                if let Some(d) = destination_address {
                    fields.insert("destination_address".into(), d.into());
                }
                if let Some(d) = allowed_destination_addresses {
                    fields.insert("allowed_destination_addresses".into(), d.into());
                }
                fields.insert("allowed_sender_addresses".into(), senders.into());
                other("send_email", fields)
            }
            None => BindingKind::SendEmail {
                destination_address,
                allowed_destination_addresses,
            },
        };
        s.finish(cx, &["remote", "experimental_remote"]);
        push(out, name, kind, s.node.span.start);
    }

    for mut w in layer.local(cx, "workflows").tables(cx, "workflows")? {
        let name = w.req_nonempty(cx, "binding", "name the binding")?;
        let workflow_name = w.req_nonempty(cx, "name", "name the workflow")?;
        let kind = BindingKind::Workflow {
            workflow_name,
            class_name: w.str(cx, "class_name")?,
            script_name: w.str(cx, "script_name")?,
        };
        w.finish(cx, &["remote", "experimental_remote", "limits"]);
        push(out, name, kind, w.node.span.start);
    }

    for mut s in layer
        .local(cx, "secrets_store_secrets")
        .tables(cx, "secrets_store_secrets")?
    {
        let name = s.req_nonempty(cx, "binding", "name the binding")?;
        let kind = BindingKind::SecretsStoreSecret {
            store_id: s.req_nonempty(cx, "store_id", "set the secrets store id")?,
            secret_name: s.req_nonempty(cx, "secret_name", "name the secret")?,
        };
        s.finish(cx, &[]);
        push(out, name, kind, s.node.span.start);
    }

    for mut w in layer
        .local(cx, "worker_loaders")
        .tables(cx, "worker_loaders")?
    {
        let name = w.req_nonempty(cx, "binding", "name the binding")?;
        w.finish(cx, &[]);
        push(out, name, BindingKind::WorkerLoader, w.node.span.start);
    }

    for mut p in layer.local(cx, "pipelines").tables(cx, "pipelines")? {
        let name = p.req_nonempty(cx, "binding", "name the binding")?;
        let pipeline = match p.str(cx, "pipeline")? {
            Some(pipeline) => pipeline,
            None => p.req_nonempty(cx, "stream", "name the pipeline (`pipeline = \"...\"`)")?,
        };
        p.finish(cx, &["remote", "experimental_remote"]);
        let mut fields = serde_json::Map::new();
        fields.insert("pipeline".into(), pipeline.into());
        push(out, name, other("pipelines", fields), p.node.span.start);
    }

    for mut r in layer.local(cx, "ratelimits").tables(cx, "ratelimits")? {
        let name = r.req_nonempty(cx, "name", "name the binding")?;
        let namespace_id = match r.get("namespace_id") {
            Some(Node {
                value: Val::Str(s), ..
            }) => s.clone(),
            Some(Node {
                value: Val::Int(i), ..
            }) => i.to_string(),
            Some(node) => {
                return Err(cx.err(
                    node,
                    format!("`{}` must be a string", r.key_path("namespace_id")),
                ));
            }
            None => {
                return Err(r.missing(cx, "namespace_id", "set the rate limit namespace id"));
            }
        };
        let simple = r
            .get("simple")
            .ok_or_else(|| r.missing(cx, "simple", "set simple = { limit, period }"))?;
        r.finish(cx, &[]);
        let mut fields = serde_json::Map::new();
        fields.insert("namespace_id".into(), namespace_id.into());
        fields.insert("simple".into(), simple.to_json());
        push(out, name, other("ratelimit", fields), r.node.span.start);
    }

    for mut v in layer.local(cx, "vpc_services").tables(cx, "vpc_services")? {
        let name = v.req_nonempty(cx, "binding", "name the binding")?;
        let service_id = v.req_nonempty(cx, "service_id", "set the VPC service id")?;
        v.finish(cx, &["remote", "experimental_remote"]);
        let mut fields = serde_json::Map::new();
        fields.insert("service_id".into(), service_id.into());
        push(out, name, other("vpc_service", fields), v.node.span.start);
    }

    {
        // logfwdr is `@inheritable` in wrangler, unlike the other binding tables.
        let table = layer.inh("logfwdr");
        if let Some(mut logfwdr) = table.table(cx, "logfwdr")? {
            for mut b in logfwdr.tables(cx, "bindings")? {
                let name = b.req_nonempty(cx, "name", "name the binding")?;
                let destination = b.req_nonempty(cx, "destination", "set the destination")?;
                b.finish(cx, &[]);
                let mut fields = serde_json::Map::new();
                fields.insert("destination".into(), destination.into());
                push(out, name, other("logfwdr", fields), b.node.span.start);
            }
            logfwdr.finish(cx, &[]);
        }
    }

    {
        let table = layer.local(cx, "unsafe");
        if let Some(mut unsafe_table) = table.table(cx, "unsafe")? {
            for b in unsafe_table.tables(cx, "bindings")? {
                let json = b.node.to_json();
                let name = json.get("name").and_then(|n| n.as_str()).unwrap_or("");
                let kind = json.get("type").and_then(|n| n.as_str()).unwrap_or("");
                if name.is_empty() || kind.is_empty() {
                    return Err(cx.err(
                        b.node,
                        format!(
                            "`{}` needs a `name` and a `type`; unsafe bindings are sent to \
                             Cloudflare as written",
                            b.path
                        ),
                    ));
                }
                let binding = match serde_json::from_value::<Binding>(json.clone()) {
                    Ok(binding) => binding,
                    Err(_) => {
                        let mut fields = json.as_object().cloned().unwrap_or_default();
                        fields.remove("name");
                        fields.remove("type");
                        Binding {
                            name: name.to_owned(),
                            kind: other(kind, fields),
                        }
                    }
                };
                out.push((binding, b.node.span.start));
            }
            if let Some(offset) = unsafe_table.key_offset("metadata") {
                unsafe_table.mark("metadata");
                cx.warn(
                    offset,
                    "`unsafe.metadata` is not sent by flaresync; set those fields through \
                     supported keys",
                );
            }
            unsafe_table.finish(cx, &["capnp"]);
        }
    }

    // Newer kinds without a dedicated model variant: `[{ binding, <field> }]` -> Other.
    for (key, wire_type, fields) in [
        ("artifacts", "artifacts", &["namespace"][..]),
        ("flagship", "flagship", &["app_id"][..]),
        ("ai_search", "ai_search", &["instance_name"][..]),
        (
            "ai_search_namespaces",
            "ai_search_namespace",
            &["namespace"][..],
        ),
    ] {
        for mut item in layer.local(cx, key).tables(cx, key)? {
            let name = item.req_nonempty(cx, "binding", "name the binding")?;
            let mut wire = serde_json::Map::new();
            for field in fields {
                let value =
                    item.req_nonempty(cx, field, "see the wrangler docs for this binding")?;
                wire.insert((*field).to_owned(), value.into());
            }
            item.finish(cx, &["remote", "experimental_remote"]);
            push(out, name, other(wire_type, wire), item.node.span.start);
        }
    }
    for mut item in layer.local(cx, "vpc_networks").tables(cx, "vpc_networks")? {
        let name = item.req_nonempty(cx, "binding", "name the binding")?;
        let mut wire = serde_json::Map::new();
        for field in ["tunnel_id", "network_id"] {
            if let Some(value) = item.str(cx, field)? {
                wire.insert(field.to_owned(), value.into());
            }
        }
        if wire.len() != 1 {
            return Err(cx.err(
                item.node,
                format!(
                    "`{}` needs exactly one of `tunnel_id` and `network_id`",
                    item.path
                ),
            ));
        }
        item.finish(cx, &["remote", "experimental_remote"]);
        push(out, name, other("vpc_network", wire), item.node.span.start);
    }
    for (key, wire_type) in [("media", "media"), ("stream", "stream")] {
        let table = layer.local(cx, key);
        if let Some(mut t) = table.table(cx, key)? {
            let name = t.req_nonempty(cx, "binding", "name the binding")?;
            t.finish(cx, &["remote", "experimental_remote"]);
            push(
                out,
                name,
                other(wire_type, serde_json::Map::new()),
                t.node.span.start,
            );
        }
    }

    for key in ["wasm_modules", "text_blobs", "data_blobs"] {
        let table = layer.local(cx, key);
        if let Some(node) = table.get(key) {
            return Err(cx.err(
                node,
                format!(
                    "`{key}` only works with service-worker syntax, which flaresync does not \
                     upload; import the file from an ES module and add a module `rules` entry \
                     instead"
                ),
            ));
        }
    }

    Ok(())
}

fn read_queue_consumers(
    cx: &mut Cx<'_>,
    layer: &mut Layer<'_>,
) -> Result<Vec<QueueConsumer>, ConfigError> {
    let table = layer.local(cx, "queues");
    let Some(node) = table.get("queues") else {
        return Ok(Vec::new());
    };
    let Some(consumers) = node
        .entries()
        .and_then(|entries| entries.iter().find(|e| e.key == "consumers"))
    else {
        return Ok(Vec::new());
    };
    let path = format!("{}.consumers", table.key_path("queues"));
    let mut out = Vec::new();
    for mut c in tables(cx, &consumers.node, &path)? {
        let queue = c.req_nonempty(cx, "queue", "name the queue to consume")?;
        let mut settings: BTreeMap<String, serde_json::Value> = BTreeMap::new();
        for entry in c.entries {
            if entry.key != "queue" {
                settings.insert(entry.key.clone(), entry.node.to_json());
            }
        }
        let settings = if settings.is_empty() {
            String::new()
        } else {
            canonical_json_text(&serde_json::Value::Object(settings.into_iter().collect()))
        };
        out.push(QueueConsumer { queue, settings });
    }
    out.sort();
    Ok(out)
}

/// Sorts bindings by name and rejects duplicate names.
fn unique_bindings(
    cx: &Cx<'_>,
    mut bindings: Vec<(Binding, usize)>,
) -> Result<Vec<Binding>, ConfigError> {
    bindings.sort_by(|a, b| a.0.name.cmp(&b.0.name).then(a.1.cmp(&b.1)));
    for pair in bindings.windows(2) {
        if pair[0].0.name == pair[1].0.name {
            let (line, col) = cx.src.line_col(pair[0].1);
            return Err(ConfigError::invalid(
                cx.loc(pair[1].1),
                format!(
                    "binding name {:?} is used twice ({} and {}, the other at line {line}, \
                     column {col}); binding names must be unique, rename one",
                    pair[1].0.name,
                    pair[1].0.kind.type_name(),
                    pair[0].0.kind.type_name()
                ),
            ));
        }
    }
    Ok(bindings.into_iter().map(|(b, _)| b).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(path: &str, text: &str, env: Option<&str>) -> Result<ParsedConfig, ConfigError> {
        parse_config(path, text.as_bytes(), env)
    }

    fn wire(parsed: &ParsedConfig) -> serde_json::Value {
        serde_json::to_value(&parsed.spec.bindings).expect("bindings serialize")
    }

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

    #[test]
    fn non_string_vars_become_json_bindings() {
        let parsed = parse(
            "w.toml",
            "name = \"w\"\n[vars]\nS = \"x\"\nN = 3\nB = true\nO = { b = 1, a = [1, 2] }\n",
            None,
        )
        .expect("parses");
        assert_eq!(
            wire(&parsed),
            json!([
                {"name": "B", "type": "json", "json": true},
                {"name": "N", "type": "json", "json": 3},
                {"name": "O", "type": "json", "json": {"a": [1, 2], "b": 1}},
                {"name": "S", "type": "plain_text", "text": "x"}
            ])
        );
    }

    #[test]
    fn every_binding_kind_maps_to_cloudflare_wire_shape() {
        let text = r#"{
  "name": "all",
  "main": "index.js",
  "kv_namespaces": [{ "binding": "KV", "id": "k" }],
  "r2_buckets": [{ "binding": "R2", "bucket_name": "b", "jurisdiction": "eu" }],
  "d1_databases": [{ "binding": "DB", "database_name": "n", "database_id": "d" }],
  "durable_objects": { "bindings": [
    { "name": "DO", "class_name": "C" },
    { "name": "DO_EXT", "class_name": "E", "script_name": "other", "environment": "prod" }
  ] },
  "queues": {
    "producers": [{ "binding": "Q", "queue": "q", "delivery_delay": 5 }],
    "consumers": [{ "queue": "q", "max_batch_size": 10 }]
  },
  "services": [{ "binding": "SVC", "service": "auth", "environment": "prod", "entrypoint": "Api" }],
  "analytics_engine_datasets": [{ "binding": "AE", "dataset": "ds" }],
  "ai": { "binding": "AI" },
  "vectorize": [{ "binding": "VEC", "index_name": "idx" }],
  "hyperdrive": [{ "binding": "HD", "id": "h" }],
  "browser": { "binding": "BROWSER" },
  "mtls_certificates": [{ "binding": "CERT", "certificate_id": "c" }],
  "dispatch_namespaces": [{ "binding": "DISPATCH", "namespace": "ns",
    "outbound": { "service": "out", "parameters": ["p"] } }],
  "tail_consumers": [{ "service": "tail" }],
  "version_metadata": { "binding": "VM" },
  "assets": { "directory": "public", "binding": "ASSETS" },
  "send_email": [{ "name": "MAIL", "destination_address": "a@b.c" }],
  "workflows": [{ "binding": "WF", "name": "wf", "class_name": "W" }],
  "secrets_store_secrets": [{ "binding": "SS", "store_id": "s", "secret_name": "n" }],
  "images": { "binding": "IMG" },
  "worker_loaders": [{ "binding": "LOADER" }],
  "pipelines": [{ "binding": "PIPE", "pipeline": "p" }],
  "ratelimits": [{ "name": "RL", "namespace_id": "1001", "simple": { "limit": 10, "period": 60 } }],
  "unsafe": { "bindings": [{ "name": "U", "type": "some_new_kind", "x": 1 }] },
  "secrets": { "required": ["API_TOKEN"] },
}"#;
        let parsed = parse("w.jsonc", text, None).expect("parses");
        let wire = wire(&parsed);
        let by_name = |name: &str| {
            wire.as_array()
                .expect("array")
                .iter()
                .find(|b| b["name"] == name)
                .cloned()
                .unwrap_or_else(|| panic!("binding {name}"))
        };
        assert_eq!(
            by_name("KV"),
            json!({"name": "KV", "type": "kv_namespace", "namespace_id": "k"})
        );
        assert_eq!(by_name("R2")["jurisdiction"], "eu");
        assert_eq!(
            by_name("DB"),
            json!({"name": "DB", "type": "d1", "id": "d"})
        );
        assert_eq!(
            by_name("DO_EXT"),
            json!({"name": "DO_EXT", "type": "durable_object_namespace", "class_name": "E",
                   "script_name": "other", "environment": "prod"})
        );
        assert_eq!(by_name("Q")["delivery_delay"], 5);
        assert_eq!(by_name("SVC")["entrypoint"], "Api");
        assert_eq!(by_name("AE")["type"], "analytics_engine");
        assert_eq!(by_name("AI"), json!({"name": "AI", "type": "ai"}));
        assert_eq!(by_name("VEC")["index_name"], "idx");
        assert_eq!(by_name("HD")["type"], "hyperdrive");
        assert_eq!(by_name("BROWSER")["type"], "browser");
        assert_eq!(by_name("CERT")["type"], "mtls_certificate");
        assert_eq!(
            by_name("DISPATCH")["outbound"],
            json!({"worker": {"service": "out"}, "params": [{"name": "p"}]})
        );
        assert_eq!(by_name("VM")["type"], "version_metadata");
        assert_eq!(by_name("ASSETS")["type"], "assets");
        assert_eq!(by_name("MAIL")["destination_address"], "a@b.c");
        assert_eq!(
            by_name("WF"),
            json!({"name": "WF", "type": "workflow", "workflow_name": "wf", "class_name": "W"})
        );
        assert_eq!(by_name("SS")["type"], "secrets_store_secret");
        assert_eq!(by_name("IMG")["type"], "images");
        assert_eq!(by_name("LOADER")["type"], "worker_loader");
        assert_eq!(
            by_name("PIPE"),
            json!({"name": "PIPE", "type": "pipelines", "pipeline": "p"})
        );
        assert_eq!(
            by_name("RL"),
            json!({"name": "RL", "type": "ratelimit", "namespace_id": "1001",
                   "simple": {"limit": 10, "period": 60}})
        );
        assert_eq!(
            by_name("U"),
            json!({"name": "U", "type": "some_new_kind", "x": 1})
        );
        assert_eq!(wire.as_array().map(Vec::len), Some(24));
        assert_eq!(parsed.spec.queue_consumers.len(), 1);
        assert_eq!(
            parsed.spec.queue_consumers[0].settings,
            r#"{"max_batch_size":10}"#
        );
        assert_eq!(parsed.spec.settings.tail_consumers[0].service, "tail");
        assert_eq!(parsed.spec.secrets_required, ["API_TOKEN"]);
    }

    #[test]
    fn service_props_binding_matches_the_live_decoding() {
        let parsed = parse(
            "w.toml",
            "[[services]]\nbinding = \"SVC\"\nservice = \"auth\"\nprops = { b = 1, a = 2 }\n",
            None,
        )
        .expect("parses");
        let live: Binding = serde_json::from_value(wire(&parsed)[0].clone()).expect("decodes");
        assert_eq!(parsed.spec.bindings[0], live);
    }

    #[test]
    fn newer_binding_kinds_are_carried_as_other() {
        let parsed = parse(
            "w.jsonc",
            r#"{
  "artifacts": [{ "binding": "ART", "namespace": "ns" }],
  "flagship": [{ "binding": "FLAGS", "app_id": "app" }],
  "ai_search": [{ "binding": "SEARCH", "instance_name": "docs" }],
  "ai_search_namespaces": [{ "binding": "SEARCH_NS", "namespace": "n" }],
  "vpc_networks": [{ "binding": "NET", "tunnel_id": "t" }],
  "media": { "binding": "MEDIA" },
  "stream": { "binding": "STREAM" }
}"#,
            None,
        )
        .expect("parses");
        assert_eq!(
            wire(&parsed),
            json!([
                {"name": "ART", "type": "artifacts", "namespace": "ns"},
                {"name": "FLAGS", "type": "flagship", "app_id": "app"},
                {"name": "MEDIA", "type": "media"},
                {"name": "NET", "type": "vpc_network", "tunnel_id": "t"},
                {"name": "SEARCH", "type": "ai_search", "instance_name": "docs"},
                {"name": "SEARCH_NS", "type": "ai_search_namespace", "namespace": "n"},
                {"name": "STREAM", "type": "stream"}
            ])
        );
    }

    #[test]
    fn tail_consumers_are_not_inherited_but_logpush_is() {
        let parsed = parse(
            "w.toml",
            "logpush = true
tail_consumers = [{ service = \"t\" }]
[env.e]
name = \"x\"
",
            Some("e"),
        )
        .expect("parses");
        assert_eq!(parsed.spec.settings.logpush, Some(true));
        assert!(parsed.spec.settings.tail_consumers.is_empty());
    }

    #[test]
    fn duplicate_binding_names_are_rejected_with_both_positions() {
        let err = parse(
            "w.toml",
            "name = \"w\"\n[vars]\nDB = \"x\"\n[[d1_databases]]\nbinding = \"DB\"\ndatabase_id = \"d\"\n",
            None,
        )
        .expect_err("duplicate");
        let text = err.to_string();
        assert!(text.starts_with("w.toml:4:1:"), "{text}");
        assert!(text.contains("line 3, column 1"), "{text}");
    }

    #[test]
    fn untagged_and_duplicate_migrations_are_rejected() {
        let err = parse(
            "w.toml",
            "name = \"w\"\n[[migrations]]\nnew_classes = [\"A\"]\n",
            None,
        )
        .expect_err("untagged");
        assert!(err.to_string().starts_with("w.toml:2:"), "{err}");
        assert!(err.to_string().contains("has no `tag`"), "{err}");
        let err = parse(
            "w.toml",
            "[[migrations]]\ntag = \"v1\"\n[[migrations]]\ntag = \"v1\"\n",
            None,
        )
        .expect_err("duplicate");
        let text = err.to_string();
        assert!(text.starts_with("w.toml:4:7:"), "{text}");
        assert!(
            text.contains("`migrations[0].tag` at line 2, column 7"),
            "{text}"
        );
    }

    #[test]
    fn migrations_parse_every_operation() {
        let parsed = parse(
            "w.toml",
            r#"
[[migrations]]
tag = "v1"
new_classes = ["A"]
new_sqlite_classes = ["B"]
[[migrations]]
tag = "v2"
renamed_classes = [{ from = "A", to = "A2" }]
deleted_classes = ["B"]
transferred_classes = [{ from = "X", from_script = "other", to = "Y" }]
"#,
            None,
        )
        .expect("parses");
        let steps = &parsed.spec.migrations;
        assert_eq!(steps[0].new_classes, ["A"]);
        assert_eq!(steps[0].new_sqlite_classes, ["B"]);
        assert_eq!(steps[1].renamed_classes[0].to, "A2");
        assert_eq!(steps[1].deleted_classes, ["B"]);
        assert_eq!(steps[1].transferred_classes[0].from_script, "other");
    }

    #[test]
    fn durable_object_exports_and_migrations_are_exclusive() {
        let text = r#"{
  "migrations": [{ "tag": "v1", "new_sqlite_classes": ["A"] }],
  "exports": { "A": { "type": "durable-object", "storage": "sqlite" } }
}"#;
        let err = parse("w.json", text, None).expect_err("exclusive");
        assert!(err.to_string().starts_with("w.json:3:3:"), "{err}");
        let worker_only = r#"{
  "migrations": [{ "tag": "v1", "new_sqlite_classes": ["A"] }],
  "exports": { "default": { "type": "worker" } }
}"#;
        parse("w.json", worker_only, None).expect("worker exports may sit beside migrations");
    }

    #[test]
    fn route_and_routes_together_are_rejected() {
        let err = parse("w.toml", "route = \"a/*\"\nroutes = [\"b/*\"]\n", None).expect_err("both");
        assert!(err.to_string().starts_with("w.toml:2:10:"), "{err}");
        let parsed = parse(
            "w.toml",
            "routes = [\"b/*\", { pattern = \"c.com\", custom_domain = true }]\n[triggers]\ncrons = [\"*/5 * * * *\"]\n",
            None,
        )
        .expect("parses");
        assert_eq!(parsed.spec.routes.len(), 2);
        assert!(parsed.spec.routes.iter().any(|r| r.custom_domain));
        assert_eq!(parsed.spec.crons, ["*/5 * * * *"]);
    }

    #[test]
    fn wrong_types_name_the_key_and_position() {
        let err = parse(
            "w.jsonc",
            "{\n  \"name\": \"w\",\n  \"workers_dev\": \"yes\"\n}",
            None,
        )
        .expect_err("type");
        let text = err.to_string();
        assert!(text.starts_with("w.jsonc:3:18:"), "{text}");
        assert!(
            text.contains("`workers_dev` must be true or false"),
            "{text}"
        );
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
    fn legacy_kv_namespaces_spelling_is_read_with_a_warning() {
        let parsed = parse(
            "w.toml",
            "name = \"w\"\nkv-namespaces = [{ binding = \"KV\", id = \"k\" }]\n",
            None,
        )
        .expect("parses");
        assert_eq!(parsed.spec.bindings.len(), 1);
        assert!(parsed.warnings[0].message.contains("wrangler v1"));
    }

    #[test]
    fn unknown_keys_warn_and_never_fail() {
        let parsed = parse("w.toml", "name = \"w\"\nmian = \"x.js\"\n", None).expect("parses");
        assert_eq!(parsed.warnings.len(), 1);
        assert_eq!(parsed.warnings[0].line, Some(2));
        assert!(parsed.warnings[0].message.contains("`mian`"));
    }

    #[test]
    fn limits_are_checked_and_canonical() {
        let parsed = parse(
            "w.toml",
            "[limits]\nsubrequests = 50\ncpu_ms = 100\ncpu = 1\n",
            None,
        )
        .expect("parses");
        assert_eq!(
            parsed.spec.limits.as_deref(),
            Some(r#"{"cpu":1,"cpu_ms":100,"subrequests":50}"#)
        );
        assert!(parsed.warnings[0].message.contains("`limits.cpu`"));
        let err = parse("w.toml", "limits = { cpu_ms = \"100\" }\n", None).expect_err("type");
        assert!(
            err.to_string()
                .contains("`limits.cpu_ms` must be a non-negative integer")
        );
    }

    #[test]
    fn non_utf8_config_is_reported() {
        let err = parse_config("w.toml", b"name = \"\xff\"\n", None).expect_err("bad utf-8");
        assert!(err.to_string().contains("not valid UTF-8"), "{err}");
    }
}
