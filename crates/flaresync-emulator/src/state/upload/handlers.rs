//! Which handlers a Worker's entry module exports (`fetch`, `scheduled`, …, and per exported
//! class its Durable Object handlers), approximated from the source text.

use serde_json::{Value, json};

const ENTRY_HANDLERS: &[&str] = &[
    "fetch",
    "scheduled",
    "queue",
    "email",
    "tail",
    "trace",
    "test",
];
const CLASS_HANDLERS: &[&str] = &[
    "fetch",
    "alarm",
    "webSocketMessage",
    "webSocketClose",
    "webSocketError",
];

fn has_method(text: &str, name: &str) -> bool {
    text.match_indices(name).any(|(i, _)| {
        let before_ok = text[..i]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '.' || c == '$'));
        let after = text[i + name.len()..].trim_start();
        before_ok && (after.starts_with('(') || after.starts_with(':'))
    })
}

/// `(exported, local)` names of every `export { a, b as c }` list (esbuild's output style:
/// `var src_default = {...}; export { Room, src_default as default };`).
fn export_list(main: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (i, m) in main.match_indices("export {") {
        let rest = &main[i + m.len()..];
        let Some(end) = rest.find('}') else { continue };
        for item in rest[..end].split(',') {
            let words: Vec<&str> = item.split_whitespace().collect();
            match words.as_slice() {
                [local] => out.push(((*local).to_owned(), (*local).to_owned())),
                [local, "as", exported] => {
                    out.push(((*exported).to_owned(), (*local).to_owned()));
                }
                _ => {}
            }
        }
    }
    out
}

/// Text of the top-level definition of `local` (`var|let|const local =`, `class local`,
/// `function local`), up to the next top-level statement: a line starting without indentation.
fn definition<'a>(main: &'a str, local: &str) -> Option<(&'a str, bool)> {
    let patterns = [
        (format!("var {local} ="), false),
        (format!("let {local} ="), false),
        (format!("const {local} ="), false),
        (format!("class {local} "), true),
        (format!("class {local}{{"), true),
        (format!("function {local}("), false),
    ];
    let (start, is_class) = patterns.iter().find_map(|(pattern, is_class)| {
        main.match_indices(pattern.as_str())
            .find(|(i, _)| {
                main[..*i]
                    .chars()
                    .next_back()
                    .is_none_or(|c| c == '\n' || c == ';' || c == ' ')
            })
            .map(|(i, _)| (i, *is_class))
    })?;
    let after = start + 1;
    let end = main[after..]
        .match_indices('\n')
        .map(|(j, _)| after + j + 1)
        .find(|&line| {
            main[line..]
                .chars()
                .next()
                .is_some_and(|c| !c.is_whitespace() && c != '}' && c != ')' && c != ']')
        })
        .unwrap_or(main.len());
    let text = &main[start..end];
    let is_class = is_class
        || text
            .split_once('=')
            .is_some_and(|(_, v)| v.trim_start().starts_with("class"));
    Some((text, is_class))
}

/// Approximates the handler detection Cloudflare does by running the script: the default
/// export's handlers, and per exported class the DO/entrypoint handlers it defines. Understands
/// `export default {...}` / `export class X` and bundler output (`export { x as default, X }`).
pub fn detect_handlers(main: &str) -> (Vec<String>, Vec<Value>) {
    let (mut handlers, mut named) = detect_inline_exports(main);
    let listed = export_list(main);
    if handlers.is_empty()
        && let Some((text, _)) = listed
            .iter()
            .find(|(exported, _)| exported == "default")
            .and_then(|(_, local)| definition(main, local))
    {
        handlers = ENTRY_HANDLERS
            .iter()
            .filter(|h| has_method(text, h))
            .map(|h| (*h).to_owned())
            .collect();
    }
    for (exported, local) in &listed {
        if exported == "default" || named.iter().any(|n| n["name"] == json!(exported)) {
            continue;
        }
        if let Some((text, true)) = definition(main, local) {
            let hs: Vec<&str> = CLASS_HANDLERS
                .iter()
                .copied()
                .filter(|h| has_method(text, h))
                .collect();
            named.push(json!({"name": exported, "handlers": hs}));
        }
    }
    (handlers, named)
}

fn detect_inline_exports(main: &str) -> (Vec<String>, Vec<Value>) {
    let mut classes: Vec<(String, usize)> = main
        .match_indices("export class ")
        .filter_map(|(i, m)| {
            let rest = &main[i + m.len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '$')
                .collect();
            (!name.is_empty()).then_some((name, i))
        })
        .collect();
    classes.sort_by_key(|(_, i)| *i);
    let default_text = main
        .find("export default")
        .map(|i| {
            let end = classes
                .iter()
                .map(|(_, start)| *start)
                .find(|start| *start > i)
                .unwrap_or(main.len());
            &main[i..end]
        })
        .unwrap_or("");
    let handlers = ENTRY_HANDLERS
        .iter()
        .filter(|h| has_method(default_text, h))
        .map(|h| (*h).to_owned())
        .collect();
    let named = classes
        .iter()
        .enumerate()
        .map(|(n, (name, start))| {
            let end = classes.get(n + 1).map(|(_, s)| *s).unwrap_or(main.len());
            let body = &main[*start..end];
            let hs: Vec<&str> = CLASS_HANDLERS
                .iter()
                .copied()
                .filter(|h| has_method(body, h))
                .collect();
            json!({"name": name, "handlers": hs})
        })
        .collect();
    (handlers, named)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Asserts that `src` has the default-export handlers `handlers` and the named (class)
    /// handlers `named`.
    fn assert_detects(src: &str, handlers: &[&str], named: Value) {
        let (found, found_named) = detect_handlers(src);
        assert_eq!(found, handlers, "{src}");
        assert_eq!(Value::from(found_named), named, "{src}");
    }

    #[test]
    fn detects_default_and_class_handlers() {
        let src = r#"
export class Counter extends DurableObject {
  async fetch(request) { return new Response("x"); }
  async alarm() {}
}
export default {
  async fetch(request, env) { return env.COUNTER.get(id).fetch(request); },
  async scheduled(event) {},
};
"#;
        assert_detects(
            src,
            &["fetch", "scheduled"],
            json!([{"name": "Counter", "handlers": ["fetch", "alarm"]}]),
        );
    }

    /// What `wrangler deploy` (esbuild) uploads for an `export default {...}` + `export class`
    /// source.
    #[test]
    fn detects_handlers_in_bundler_output() {
        let src = r#"// src/index.js
var Cart = class extends DurableObject {
  async fetch(request) {
    return new Response("cart");
  }
  async alarm() {
  }
};
var src_default = {
  async fetch(request, env) {
    return new Response(env.MODE);
  },
  async queue(batch) {
  }
};
export {
  Cart,
  src_default as default
};
//# sourceMappingURL=index.js.map
"#;
        assert_detects(
            src,
            &["fetch", "queue"],
            json!([{"name": "Cart", "handlers": ["fetch", "alarm"]}]),
        );
        let plain_class = "class Room {\n  fetch() {}\n}\nconst worker = { scheduled() {} };\nexport { Room as Lobby, worker as default };\n";
        assert_detects(
            plain_class,
            &["scheduled"],
            json!([{"name": "Lobby", "handlers": ["fetch"]}]),
        );
    }
}
