//! Keys left after reading: wrangler keys that do not affect an upload (silent), keys that
//! would but that flaresync does not deploy (a warning each), likely slips, and unknown keys.

use super::env::Layer;
use crate::reader::{Cx, Tbl};

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

/// Warns about unsupported keys, common slips (top level only) and every key never read.
pub(super) fn report_unread_keys(cx: &mut Cx<'_>, layer: &mut Layer<'_>) {
    warn_unsupported(cx, layer);
    if layer.env.is_none() {
        warn_suspicious_top_level(cx, &mut layer.top);
    }
    layer.top.mark("env");
    layer.top.finish(cx, SILENT);
    if let Some((_, env_table)) = &layer.env {
        env_table.finish(cx, SILENT);
    }
}

/// One warning per [`UNSUPPORTED`] key that applies: the env's, and the top level's when no env
/// overrides it.
fn warn_unsupported(cx: &mut Cx<'_>, layer: &mut Layer<'_>) {
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

#[cfg(test)]
mod tests {
    use super::super::test_support::parse;

    #[test]
    fn unknown_keys_warn_and_never_fail() {
        let parsed = parse("w.toml", "name = \"w\"\nmian = \"x.js\"\n", None).expect("parses");
        assert_eq!(parsed.warnings.len(), 1);
        assert_eq!(parsed.warnings[0].line, Some(2));
        assert!(parsed.warnings[0].message.contains("`mian`"));
    }
}
