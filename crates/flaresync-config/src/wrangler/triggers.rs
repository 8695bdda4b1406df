//! Triggers: `workers_dev`, `route` / `routes` and `triggers.crons` (all inheritable).

use super::env::Layer;
use crate::error::ConfigError;
use crate::model::{Route, WorkerSpec};
use crate::reader::{Cx, Tbl};
use crate::source::{Node, Val};

/// Sets `workers_dev`, `routes` and `crons`.
pub(super) fn read_triggers(
    cx: &mut Cx<'_>,
    layer: &mut Layer<'_>,
    spec: &mut WorkerSpec,
) -> Result<(), ConfigError> {
    spec.workers_dev = layer.inh("workers_dev").bool(cx, "workers_dev")?;
    spec.routes = read_routes(cx, layer)?;
    spec.crons = read_crons(cx, layer.inh("triggers"))?;
    Ok(())
}

fn read_crons(cx: &mut Cx<'_>, table: &mut Tbl<'_>) -> Result<Vec<String>, ConfigError> {
    match table.table(cx, "triggers")? {
        None => Ok(Vec::new()),
        Some(mut triggers) => {
            let crons = triggers.str_list(cx, "crons")?.unwrap_or_default();
            triggers.finish(cx, &[]);
            Ok(crons)
        }
    }
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

#[cfg(test)]
mod tests {
    use super::super::test_support::{accepted, refused};

    #[test]
    fn route_and_routes_together_are_rejected() {
        let err = refused("w.toml", "route = \"a/*\"\nroutes = [\"b/*\"]\n");
        assert!(err.starts_with("w.toml:2:10:"), "{err}");
        let parsed = accepted(
            "w.toml",
            "routes = [\"b/*\", { pattern = \"c.com\", custom_domain = true }]\n[triggers]\ncrons = [\"*/5 * * * *\"]\n",
        );
        assert_eq!(parsed.spec.routes.len(), 2);
        assert!(parsed.spec.routes.iter().any(|r| r.custom_domain));
        assert_eq!(parsed.spec.crons, ["*/5 * * * *"]);
    }
}
