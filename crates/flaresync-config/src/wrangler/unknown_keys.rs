//! Keys left after reading: wrangler keys that do not affect an upload (silent), build keys
//! (a warning each), keys flaresync does not deploy (the Worker is refused), likely slips, and
//! unknown keys.

use super::env::Layer;
use crate::error::ConfigError;
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

/// Keys that only matter to wrangler's build: a warning each (flaresync deploys the committed
/// bundle, which is what the build produced).
const IGNORED: &[(&str, &str)] = &[
    (
        "build",
        "flaresync never runs a build; commit the built bundle and point `main` at it",
    ),
    (
        "node_compat",
        "`node_compat` only affects bundling; flaresync uploads the committed bundle as is",
    ),
];

/// Keys that change what is deployed but that flaresync does not deploy: the Worker is
/// refused (not deployable) rather than deployed without that part.
const REFUSED: &[(&str, &str)] = &[
    (
        "site",
        "Workers Sites (`site`) are not deployed by flaresync; migrate to `assets` \
         (https://developers.cloudflare.com/workers/static-assets/migration-guides/migrate-from-workers-sites/), \
         or deploy this Worker with wrangler and exclude it in flaresync.toml",
    ),
    (
        "containers",
        "containers are not deployed by flaresync (they need an image build and push); deploy \
         this Worker with wrangler and exclude it in flaresync.toml",
    ),
    (
        "streaming_tail_consumers",
        "`streaming_tail_consumers` are not applied by flaresync; remove the key, or deploy \
         this Worker with wrangler and exclude it in flaresync.toml",
    ),
    (
        "pages_build_output_dir",
        "this is a Cloudflare Pages config and flaresync deploys Workers only; exclude this \
         directory in flaresync.toml",
    ),
    (
        "cache",
        "`cache` (the version's `cache_options`) is not sent by flaresync; remove the key, or \
         deploy this Worker with wrangler and exclude it in flaresync.toml",
    ),
];

/// Refuses the Worker when it uses a [`REFUSED`] key that applies (the env's, or the top
/// level's when no env overrides it): it names the first one.
pub(super) fn refuse_unsupported(cx: &Cx<'_>, layer: &Layer<'_>) -> Result<(), ConfigError> {
    for (key, message) in REFUSED {
        let env_offset = layer.env.as_ref().and_then(|(_, env)| env.key_offset(key));
        let env_has = layer.env.as_ref().is_some_and(|(_, env)| env.has(key));
        let offset = env_offset.or_else(|| layer.top.key_offset(key).filter(|_| !env_has));
        if let Some(offset) = offset {
            return Err(ConfigError::unsupported(cx.loc(offset), key, *message));
        }
    }
    Ok(())
}

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

/// One warning per [`IGNORED`] key that applies: the env's, and the top level's when no env
/// overrides it.
fn warn_unsupported(cx: &mut Cx<'_>, layer: &mut Layer<'_>) {
    for (key, message) in IGNORED {
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
    use super::super::test_support::{accepted, assert_refused, parse};

    #[test]
    fn unknown_keys_warn_and_never_fail() {
        let parsed = parse("w.toml", "name = \"w\"\nmian = \"x.js\"\n", None).expect("parses");
        assert_eq!(parsed.warnings.len(), 1);
        assert_eq!(parsed.warnings[0].line, Some(2));
        assert!(parsed.warnings[0].message.contains("`mian`"));
    }

    #[test]
    fn what_flaresync_does_not_deploy_refuses_the_worker() {
        for (key, text, says) in [
            (
                "site",
                "name = \"w\"\n[site]\nbucket = \"./public\"\n",
                "Workers Sites",
            ),
            (
                "containers",
                "name = \"w\"\n[[containers]]\nclass_name = \"C\"\n",
                "containers are not deployed",
            ),
            (
                "cache",
                "name = \"w\"\ncache = { enabled = true }\n",
                "cache_options",
            ),
            (
                "pages_build_output_dir",
                "name = \"w\"\npages_build_output_dir = \"dist\"\n",
                "Pages config",
            ),
            (
                "unsafe.metadata",
                "name = \"w\"\n[unsafe.metadata]\nx = 1\n",
                "unsafe.metadata",
            ),
        ] {
            assert_refused("w.toml", text, "w.toml:", "not deployable by flaresync: ");
            let err = parse("w.toml", text, None).expect_err(key);
            assert_eq!(err.unsupported_feature(), Some(key), "{err}");
            assert!(err.to_string().contains(says), "{err}");
        }
        // An env that overrides the key is judged by its own value only.
        let parsed = parse(
            "w.toml",
            "name = \"w\"\n[[containers]]\nclass_name = \"C\"\n[env.e]\ncontainers = []\n",
            Some("e"),
        );
        assert!(
            parsed
                .as_ref()
                .err()
                .and_then(|e| e.unsupported_feature())
                .is_some()
        );
        // Build-only keys stay warnings: the committed bundle is what the build made.
        let built = accepted(
            "w.toml",
            "name = \"w\"\n[build]\ncommand = \"npm run build\"\n",
        );
        assert!(built.warnings[0].message.contains("never runs a build"));
    }
}
