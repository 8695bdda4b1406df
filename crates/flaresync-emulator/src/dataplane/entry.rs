//! The generated entry module each module-syntax version runs behind. It re-exports the
//! Worker's module (Durable Object classes and named entrypoints included) and, around the
//! default `fetch` handler:
//! - turns an uncaught exception into Cloudflare's answer (500, `error code: 1101`) and marks the
//!   response with [`OUTCOME_HEADER`] so the request log records `scriptThrewException`;
//! - makes an access to a binding the data plane does not run throw an error naming its kind;
//! - in a split deployment, routes each Durable Object id to the version that owns it
//!   ([`durable_routing`](super::durable_routing)), in the fetch handler and in the Worker's
//!   Durable Object classes (re-exported with the routed `env`).
//!
//! A default export that is a class (`WorkerEntrypoint`) is passed through untouched. Pure.

use serde_json::json;

use super::durable_routing::DurableRouting;

/// Name of the generated entry module.
pub const ENTRY_MODULE: &str = "__flaresync_entry.mjs";
/// Response header the entry module sets on an uncaught exception (stripped by the listener).
pub const OUTCOME_HEADER: &str = "x-flaresync-outcome";

const TEMPLATE: &str = r#"import * as user from "./__MAIN__";
export * from "./__MAIN__";
const inner = user.default;
const unsupported = __UNSUPPORTED__;
function threw(error) {
  console.error(error && error.stack ? error.stack : String(error));
  return new Response("error code: 1101", {
    status: 500,
    headers: { "content-type": "text/plain;charset=UTF-8", "x-flaresync-outcome": "exception" },
  });
}
const doRoutes = __DO_ROUTES__;
function owningNamespace(env, targets, id) {
  const point = parseInt(id.toString().slice(0, 8), 16) / 42949672.96;
  const found = targets.find(([, upTo]) => point < upTo) || targets[targets.length - 1];
  return env[found[0]];
}
function routedNamespace(env, targets) {
  const first = env[targets[0][0]];
  const get = (id, options) => {
    const owner = owningNamespace(env, targets, id);
    return owner.get(owner.idFromString(id.toString()), options);
  };
  return new Proxy(first, {
    get(target, prop) {
      if (prop === "get") return get;
      if (prop === "getByName") return (name, options) => get(target.idFromName(name), options);
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
function routed(env) {
  const names = Object.keys(doRoutes);
  if (names.length === 0) return env;
  const namespaces = {};
  for (const name of names) namespaces[name] = routedNamespace(env, doRoutes[name]);
  return new Proxy(env, {
    get(target, prop, receiver) {
      if (typeof prop === "string" && Object.prototype.hasOwnProperty.call(namespaces, prop)) {
        return namespaces[prop];
      }
      return Reflect.get(target, prop, receiver);
    },
  });
}
function guard(env) {
  env = routed(env);
  if (Object.keys(unsupported).length === 0) return env;
  return new Proxy(env, {
    get(target, prop, receiver) {
      if (typeof prop === "string" && Object.prototype.hasOwnProperty.call(unsupported, prop)) {
        throw new Error(`binding ${prop} has kind ${unsupported[prop]}, which flaresync's local data plane does not run`);
      }
      return Reflect.get(target, prop, receiver);
    },
  });
}
const wrapped = {
  async fetch(request, env, ctx) {
    try {
      if (!inner || typeof inner.fetch !== "function") {
        throw new Error("this Worker has no fetch handler");
      }
      return await inner.fetch(request, guard(env), ctx);
    } catch (error) {
      return threw(error);
    }
  },
};
export default typeof inner === "function" ? inner : wrapped;
"#;

/// Re-exports Durable Object class `__CLASS__` so that its `env` routes objects too.
const ROUTED_CLASS: &str = r#"export const __CLASS__ = typeof user.__CLASS__ === "function"
  ? class __CLASS__ extends user.__CLASS__ { constructor(ctx, env) { super(ctx, routed(env)); } }
  : user.__CLASS__;
"#;

/// The entry module's source for a Worker whose main module is `main_module`, with the given
/// (binding name, kind) pairs the data plane does not run and its Durable Object routing.
pub fn entry_module(
    main_module: &str,
    unsupported: &[(String, String)],
    durable: &DurableRouting,
) -> String {
    let table: serde_json::Map<String, serde_json::Value> = unsupported
        .iter()
        .map(|(name, kind)| (name.clone(), json!(kind)))
        .collect();
    let main = main_module.trim_start_matches("./");
    let mut source = TEMPLATE
        .replace("__MAIN__", &main.replace('\\', "\\\\").replace('"', "\\\""))
        .replace(
            "__UNSUPPORTED__",
            &serde_json::Value::Object(table).to_string(),
        )
        .replace(
            "__DO_ROUTES__",
            &serde_json::Value::Object(durable.table.clone()).to_string(),
        );
    if !durable.is_empty() {
        for class in &durable.classes {
            source.push_str(&ROUTED_CLASS.replace("__CLASS__", class));
        }
    }
    source
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_the_main_module_and_lists_unsupported_kinds() {
        let source = entry_module(
            "src/index.js",
            &[("R".into(), "r2_bucket".into())],
            &DurableRouting::default(),
        );
        assert!(source.starts_with("import * as user from \"./src/index.js\";"));
        assert!(source.contains("export * from \"./src/index.js\";"));
        assert!(source.contains(r#"const unsupported = {"R":"r2_bucket"};"#));
        assert!(source.contains("const doRoutes = {};"));
        assert!(!source.contains("export const"));
    }

    #[test]
    fn a_split_routes_durable_object_bindings_and_re_exports_the_classes() {
        let implementers = [("a".to_owned(), 50.0), ("b".to_owned(), 50.0)];
        let durable = super::super::durable_routing::route(
            &implementers,
            &[("C".into(), "Counter".into())],
            &["Counter".into()],
        );
        let source = entry_module("index.js", &[], &durable);
        assert!(source.contains(
            r#"const doRoutes = {"C":[["__flaresync_do_0_C",50.0],["__flaresync_do_1_C",100.0]]};"#
        ));
        assert!(source.contains(
            "class Counter extends user.Counter { constructor(ctx, env) { super(ctx, routed(env)); } }"
        ));
    }
}
