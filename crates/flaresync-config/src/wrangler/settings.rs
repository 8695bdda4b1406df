//! Runtime and script settings: `compatibility_*`, `usage_model`, `limits`, `placement`,
//! `logpush`, `observability` (inheritable) and `tail_consumers` (not inheritable).

use super::env::Layer;
use crate::error::ConfigError;
use crate::model::{ScriptSettings, TailConsumer, WorkerSpec, canonical_json_text};
use crate::reader::{Cx, Tbl};
use crate::source::{Node, Val};

/// Sets `compatibility_date` and `compatibility_flags`.
pub(super) fn read_compatibility(
    cx: &mut Cx<'_>,
    layer: &mut Layer<'_>,
    spec: &mut WorkerSpec,
) -> Result<(), ConfigError> {
    spec.compatibility_date = {
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
    spec.compatibility_flags = layer
        .inh("compatibility_flags")
        .str_list(cx, "compatibility_flags")?
        .unwrap_or_default();
    Ok(())
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

/// Sets `usage_model`, `limits` and `placement`.
pub(super) fn read_runtime(
    cx: &mut Cx<'_>,
    layer: &mut Layer<'_>,
    spec: &mut WorkerSpec,
) -> Result<(), ConfigError> {
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
    spec.usage_model = usage_model;
    spec.limits = read_limits(cx, layer.inh("limits"))?;
    spec.placement = json_table(cx, layer.inh("placement"), "placement")?;
    Ok(())
}

/// `logpush`, `observability` and `tail_consumers`.
pub(super) fn read_script_settings(
    cx: &mut Cx<'_>,
    layer: &mut Layer<'_>,
) -> Result<ScriptSettings, ConfigError> {
    let tail_consumers = {
        // Not inheritable (wrangler `@nonInheritable`), unlike logpush/observability.
        let table = layer.local(cx, "tail_consumers");
        read_tail_consumers(cx, table)?
    };
    Ok(ScriptSettings {
        logpush: layer.inh("logpush").bool(cx, "logpush")?,
        observability: json_table(cx, layer.inh("observability"), "observability")?,
        tail_consumers,
    })
}

/// A table value kept as canonical JSON text.
pub(super) fn json_table(
    cx: &Cx<'_>,
    table: &mut Tbl<'_>,
    key: &str,
) -> Result<Option<String>, ConfigError> {
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

#[cfg(test)]
mod tests {
    use super::super::test_support::{accepted, parse, refused};

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
    fn limits_are_checked_and_canonical() {
        let parsed = accepted(
            "w.toml",
            "[limits]\nsubrequests = 50\ncpu_ms = 100\ncpu = 1\n",
        );
        assert_eq!(
            parsed.spec.limits.as_deref(),
            Some(r#"{"cpu":1,"cpu_ms":100,"subrequests":50}"#)
        );
        assert!(parsed.warnings[0].message.contains("`limits.cpu`"));
        let err = refused("w.toml", "limits = { cpu_ms = \"100\" }\n");
        assert!(err.contains("`limits.cpu_ms` must be a non-negative integer"));
    }
}
