//! The generated entry module each module-syntax version runs behind. It re-exports the
//! Worker's module (Durable Object classes and named entrypoints included) and, around the
//! default `fetch` handler:
//! - turns an uncaught exception into Cloudflare's answer (500, `error code: 1101`) and marks the
//!   response with [`OUTCOME_HEADER`] so the request log records `scriptThrewException`;
//! - makes an access to a binding the data plane does not run throw an error naming its kind.
//!
//! A default export that is a class (`WorkerEntrypoint`) is passed through untouched. Pure.

use serde_json::json;

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
function guard(env) {
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

/// The entry module's source for a Worker whose main module is `main_module`, with the given
/// (binding name, kind) pairs the data plane does not run.
pub fn entry_module(main_module: &str, unsupported: &[(String, String)]) -> String {
    let table: serde_json::Map<String, serde_json::Value> = unsupported
        .iter()
        .map(|(name, kind)| (name.clone(), json!(kind)))
        .collect();
    let main = main_module.trim_start_matches("./");
    TEMPLATE
        .replace("__MAIN__", &main.replace('\\', "\\\\").replace('"', "\\\""))
        .replace(
            "__UNSUPPORTED__",
            &serde_json::Value::Object(table).to_string(),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_the_main_module_and_lists_unsupported_kinds() {
        let source = entry_module("src/index.js", &[("R".into(), "r2_bucket".into())]);
        assert!(source.starts_with("import * as user from \"./src/index.js\";"));
        assert!(source.contains("export * from \"./src/index.js\";"));
        assert!(source.contains(r#"const unsupported = {"R":"r2_bucket"};"#));
    }
}
