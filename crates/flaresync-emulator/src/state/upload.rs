//! Creating a version from an upload: `PUT /scripts/{s}` (non-versioned deploy, may carry DO
//! migrations), `POST /scripts/{s}/versions` (no migrations, 10211) and settings/secret changes
//! that copy the latest version (SPEC.md §2.3, §3.1, §5).

use std::collections::BTreeMap;

use rusqlite::Transaction;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::store::{self, StoredModule, StoredScript, StoredVersion};
use super::{Ctx, bindings, hex_id, migrations, next_timestamp, uuid_id};
use crate::error::ApiError;

/// One non-metadata part of a multipart upload (`Debug` shows its size, not its bytes).
#[derive(Clone, PartialEq, Eq)]
pub struct ModulePart {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for ModulePart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModulePart")
            .field("name", &self.name)
            .field("filename", &self.filename)
            .field("content_type", &self.content_type)
            .field("size", &self.bytes.len())
            .finish()
    }
}

/// A parsed upload: the `metadata` JSON and the module parts.
///
/// `Debug` redacts secret binding values in the metadata.
#[derive(Clone, PartialEq)]
pub struct Upload {
    pub metadata: Value,
    pub modules: Vec<ModulePart>,
}

impl std::fmt::Debug for Upload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut metadata = self.metadata.clone();
        if let Some(Value::Array(items)) = metadata.get_mut("bindings") {
            for b in items.iter_mut() {
                *b = bindings::redact(b);
            }
        }
        f.debug_struct("Upload")
            .field("metadata", &metadata)
            .field("modules", &self.modules)
            .finish()
    }
}

/// Which endpoint the version comes from; decides what metadata is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `PUT /scripts/{s}`: creates the Worker if needed, applies migrations.
    Script,
    /// `POST /scripts/{s}/versions`: Worker must exist, no lifecycle changes.
    Version,
}

/// Module content types Cloudflare accepts (SPEC.md §2.3).
const MODULE_TYPES: &[&str] = &[
    "application/javascript+module",
    "text/javascript+module",
    "application/javascript",
    "text/javascript",
    "application/wasm",
    "text/plain",
    "application/octet-stream",
    "text/x-python",
    "text/x-python-requirement",
    "application/source-map",
    "application/json",
];

const ENTRY_TYPES: &[&str] = &[
    "application/javascript+module",
    "text/javascript+module",
    "application/javascript",
    "text/javascript",
    "text/x-python",
];

/// Validates a Worker name against `^[a-z0-9_][a-z0-9-_]*$` (max 63).
pub fn check_script_name(name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.bytes().enumerate().all(|(i, b)| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || (i > 0 && b == b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            400,
            10016,
            format!(
                "Invalid Worker name {name:?}: use lowercase letters, digits, '-' and '_' (not \
                 starting with '-'), at most 63 characters"
            ),
        ))
    }
}

fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Content etag: sha256 over every module's name, type and bytes, in part order.
fn etag(modules: &[(StoredModule, &[u8])]) -> String {
    let mut h = Sha256::new();
    for (m, bytes) in modules {
        h.update(m.name.as_bytes());
        h.update([0]);
        h.update(m.content_type.as_bytes());
        h.update([0]);
        h.update(bytes);
        h.update([0]);
    }
    hex::encode(h.finalize())
}

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

fn annotations_from(metadata: &Value) -> Result<Map<String, Value>, ApiError> {
    let mut out = Map::new();
    match metadata.get("annotations") {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            if let Some(tag) = map.get("workers/tag").filter(|v| !v.is_null()) {
                let tag = tag.as_str().ok_or_else(|| {
                    ApiError::validation("annotation workers/tag must be a string")
                })?;
                if tag.len() > 100 {
                    return Err(ApiError::validation(format!(
                        "annotation workers/tag is {} bytes; the maximum is 100 bytes",
                        tag.len()
                    )));
                }
                out.insert("workers/tag".into(), json!(tag));
            }
            if let Some(message) = map.get("workers/message").filter(|v| !v.is_null()) {
                let message = message.as_str().ok_or_else(|| {
                    ApiError::validation("annotation workers/message must be a string")
                })?;
                out.insert("workers/message".into(), json!(truncate(message, 1000)));
            }
            if let Some(alias) = map.get("workers/alias").and_then(Value::as_str) {
                out.insert("workers/alias".into(), json!(alias));
            }
        }
        Some(_) => return Err(ApiError::validation("`annotations` must be an object")),
    }
    Ok(out)
}

/// Truncates to at most `max` bytes on a character boundary (Cloudflare truncates messages).
pub fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

fn string_list(metadata: &Value, key: &str) -> Result<Vec<String>, ApiError> {
    match metadata.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str().map(str::to_owned).ok_or_else(|| {
                    ApiError::validation(format!("`{key}` must be a list of strings"))
                })
            })
            .collect(),
        Some(_) => Err(ApiError::validation(format!(
            "`{key}` must be a list of strings"
        ))),
    }
}

fn compat_date(metadata: &Value) -> Result<String, ApiError> {
    match metadata.get("compatibility_date") {
        None | Some(Value::Null) => Ok("2021-11-02".into()),
        Some(Value::String(d)) if chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_ok() => {
            Ok(d.clone())
        }
        Some(other) => Err(ApiError::validation(format!(
            "invalid compatibility_date {other}: expected YYYY-MM-DD"
        ))),
    }
}

fn usage_model(metadata: &Value, previous: Option<&StoredVersion>) -> Result<String, ApiError> {
    match metadata.get("usage_model") {
        None | Some(Value::Null) => Ok(previous
            .map(|p| p.usage_model.clone())
            .unwrap_or_else(|| "standard".into())),
        Some(Value::String(m)) if matches!(m.as_str(), "standard" | "bundled" | "unbound") => {
            Ok(m.clone())
        }
        Some(other) => Err(ApiError::validation(format!(
            "invalid usage_model {other}: expected standard, bundled or unbound"
        ))),
    }
}

/// The modules of a new version: freshly uploaded parts, or those of an existing version.
pub enum Modules<'a> {
    Uploaded(&'a [ModulePart]),
    CopyOf(&'a StoredVersion),
}

/// What a new version needs besides metadata.
pub struct NewVersion<'a> {
    pub script: &'a str,
    pub kind: Kind,
    pub metadata: &'a Value,
    pub modules: Modules<'a>,
    /// `bindings_inherit=strict`.
    pub strict: bool,
    /// `workers/triggered_by` annotation (upload, secret, ...).
    pub triggered_by: &'a str,
}

/// Creates a version (and the Worker on first `PUT`). Returns the updated script and version.
pub fn create_version(
    tx: &Transaction<'_>,
    ctx: &Ctx,
    new: NewVersion<'_>,
) -> Result<(StoredScript, StoredVersion), ApiError> {
    check_script_name(new.script)?;
    let metadata = new.metadata;
    if !metadata.is_object() {
        return Err(ApiError::validation(
            "the `metadata` part is missing or is not a JSON object",
        ));
    }
    let existing = store::get_script(tx, new.script)?;
    if new.kind == Kind::Version && existing.is_none() {
        return Err(ApiError::worker_not_found());
    }
    let latest = match &existing {
        Some(s) => store::latest_version(tx, &s.name)?,
        None => None,
    };

    // Entry point and modules.
    let main_module = metadata.get("main_module").and_then(Value::as_str);
    let body_part = metadata.get("body_part").and_then(Value::as_str);
    let (main_module, body_part) = match (&new.modules, main_module, body_part) {
        (Modules::CopyOf(v), _, _) => (v.main_module.clone(), v.body_part.clone()),
        (_, Some(_), Some(_)) => {
            return Err(ApiError::validation(
                "metadata sets both main_module and body_part; send exactly one",
            ));
        }
        (_, None, Some(_)) if new.kind == Kind::Version => {
            return Err(ApiError::validation(
                "main_module is required: version uploads do not support service-worker syntax \
                 (body_part)",
            ));
        }
        (_, None, None) => {
            return Err(ApiError::validation(
                "metadata must name the entry point in main_module (ES modules) or body_part \
                 (service worker)",
            ));
        }
        (_, m, b) => (m.map(str::to_owned), b.map(str::to_owned)),
    };

    let mut stored_modules: Vec<(StoredModule, Vec<u8>)> = Vec::new();
    let (etag_value, handlers, named_handlers) = match &new.modules {
        Modules::Uploaded(parts) => {
            let mut total = 0usize;
            for part in parts.iter() {
                let ct = part
                    .content_type
                    .as_deref()
                    .map(media_type)
                    .ok_or_else(|| {
                        ApiError::validation(format!(
                            "module part '{}' has no content type; send one of: {}",
                            part.name,
                            MODULE_TYPES.join(", ")
                        ))
                    })?;
                if !MODULE_TYPES.contains(&ct.as_str()) {
                    return Err(ApiError::validation(format!(
                        "module part '{}' has unsupported content type {ct}; supported: {}",
                        part.name,
                        MODULE_TYPES.join(", ")
                    )));
                }
                if stored_modules.iter().any(|(m, _)| m.name == part.name) {
                    return Err(ApiError::validation(format!(
                        "module part '{}' appears more than once",
                        part.name
                    )));
                }
                total += part.bytes.len();
                stored_modules.push((
                    StoredModule {
                        name: part.name.clone(),
                        content_type: ct,
                        sha256: sha256_hex(&part.bytes),
                        size: part.bytes.len(),
                    },
                    part.bytes.clone(),
                ));
            }
            if total > ctx.max_script_bytes {
                return Err(ApiError::new(
                    400,
                    10027,
                    format!(
                        "Your Worker exceeded the size limit of {} bytes ({} bytes uploaded).",
                        ctx.max_script_bytes, total
                    ),
                ));
            }
            let entry = main_module
                .as_deref()
                .or(body_part.as_deref())
                .unwrap_or_default();
            let Some((entry_module, entry_bytes)) =
                stored_modules.iter().find(|(m, _)| m.name == entry)
            else {
                return Err(ApiError::validation(format!(
                    "No such module \"{entry}\": the entry point named in metadata is not among \
                     the uploaded parts"
                )));
            };
            if !ENTRY_TYPES.contains(&entry_module.content_type.as_str()) {
                return Err(ApiError::validation(format!(
                    "entry point \"{entry}\" has content type {}, which cannot be an entry point",
                    entry_module.content_type
                )));
            }
            let text = String::from_utf8_lossy(entry_bytes);
            let (handlers, named) = detect_handlers(&text);
            let pairs: Vec<(StoredModule, &[u8])> = stored_modules
                .iter()
                .map(|(m, b)| (m.clone(), b.as_slice()))
                .collect();
            (etag(&pairs), handlers, named)
        }
        Modules::CopyOf(v) => (v.etag.clone(), v.handlers.clone(), v.named_handlers.clone()),
    };

    // Runtime settings.
    let annotations = annotations_from(metadata)?;
    let compatibility_date = compat_date(metadata)?;
    let compatibility_flags = string_list(metadata, "compatibility_flags")?;
    let usage_model = usage_model(metadata, latest.as_ref())?;
    let limits = match metadata.get("limits") {
        Some(Value::Object(m)) => m.clone(),
        None | Some(Value::Null) => Map::new(),
        Some(_) => return Err(ApiError::validation("`limits` must be an object")),
    };
    let placement = metadata.get("placement").filter(|v| !v.is_null()).cloned();
    let exports = metadata.get("exports").filter(|v| !v.is_null()).cloned();
    if exports.as_ref().is_some_and(|e| !e.is_object()) {
        return Err(ApiError::validation("`exports` must be an object"));
    }
    if exports.is_some() && metadata.get("migrations").is_some_and(|m| !m.is_null()) {
        return Err(ApiError::validation(
            "metadata cannot combine `exports` and `migrations`; use one of them",
        ));
    }

    // Durable Object lifecycle.
    let current_tag = existing.as_ref().and_then(|s| s.migration_tag.clone());
    let mut do_classes = existing
        .as_ref()
        .map(|s| s.do_classes.clone())
        .unwrap_or_default();
    let parsed = migrations::parse(metadata.get("migrations"))?;
    let current_do_exports =
        migrations::do_exports(existing.as_ref().and_then(|s| s.exports.as_ref()));
    let new_do_exports = migrations::do_exports(exports.as_ref());
    let migration_tag = match new.kind {
        Kind::Version => {
            let lifecycle_change = parsed
                .as_ref()
                .is_some_and(|m| !m.is_noop(current_tag.as_deref()))
                || (exports.is_some() && new_do_exports != current_do_exports);
            if lifecycle_change {
                return Err(ApiError::new(
                    400,
                    10211,
                    "Version upload failed. You attempted to upload a version of a Worker that \
                     includes a Durable Object migration, but migrations must be fully applied \
                     via a non-versioned deployment. Refer to the documentation for more \
                     information. (rule: no-migrations-in-version-upload)",
                ));
            }
            current_tag
        }
        Kind::Script => {
            let tag = match &parsed {
                Some(m) => migrations::apply(m, current_tag.as_deref(), &mut do_classes, hex_id)?,
                None => current_tag,
            };
            for class in migrations::export_classes(exports.as_ref()) {
                do_classes.entry(class).or_insert_with(hex_id);
            }
            if let Some(Value::Object(map)) = &exports {
                for (class, spec) in map {
                    if spec.get("state").and_then(Value::as_str) == Some("deleted") {
                        do_classes.remove(class);
                    }
                }
            }
            tag
        }
    };

    // Bindings.
    let uploaded = match metadata.get("bindings") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.clone(),
        Some(_) => return Err(ApiError::validation("`bindings` must be a list")),
    };
    let keep = string_list(metadata, "keep_bindings")?;
    let mut resolved = bindings::resolve(
        tx,
        new.script,
        &uploaded,
        &keep,
        latest.as_ref(),
        new.strict,
    )?;
    bindings::validate(tx, new.script, &mut resolved, &do_classes)?;

    // Persist.
    let now_script = match &existing {
        Some(_) => None,
        None => Some(next_timestamp(tx, ctx.now)?),
    };
    let created_on = next_timestamp(tx, ctx.now)?;
    let mut script = existing.unwrap_or_else(|| StoredScript {
        name: new.script.to_owned(),
        tag: hex_id(),
        created_on: now_script.clone().unwrap_or_else(|| created_on.clone()),
        modified_on: String::new(),
        migration_tag: None,
        do_classes: BTreeMap::new(),
        exports: None,
        last_deployed_from: ctx.source.clone(),
        script_settings: Map::new(),
        subdomain_enabled: false,
        previews_enabled: false,
    });
    script.modified_on = created_on.clone();
    script.migration_tag = migration_tag.clone();
    script.do_classes = do_classes;
    if new.kind == Kind::Script || exports.is_some() {
        script.exports = exports.clone();
    }
    script.last_deployed_from = ctx.source.clone();

    let mut annotations = annotations;
    annotations.insert("workers/triggered_by".into(), json!(new.triggered_by));
    let modules = match &new.modules {
        Modules::Uploaded(_) => {
            for (m, bytes) in &stored_modules {
                store::put_blob(tx, &m.sha256, bytes)?;
            }
            stored_modules.into_iter().map(|(m, _)| m).collect()
        }
        Modules::CopyOf(v) => v.modules.clone(),
    };
    let version = StoredVersion {
        id: uuid_id(),
        script: script.name.clone(),
        number: store::next_version_number(tx, &script.name)?,
        created_on,
        author_email: ctx.author_email.clone(),
        author_id: ctx.author_id.clone(),
        source: ctx.source.clone(),
        has_preview: script.previews_enabled,
        annotations,
        bindings: resolved,
        main_module,
        body_part,
        modules,
        etag: etag_value,
        handlers,
        named_handlers,
        compatibility_date,
        compatibility_flags,
        usage_model,
        limits,
        placement,
        migration_tag,
        exports,
        startup_time_ms: 1,
    };
    store::insert_version(tx, &version)?;
    store::put_script(tx, &script)?;
    Ok((script, version))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let (handlers, named) = detect_handlers(src);
        assert_eq!(handlers, vec!["fetch", "scheduled"]);
        assert_eq!(
            named,
            vec![json!({"name": "Counter", "handlers": ["fetch", "alarm"]})]
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
        let (handlers, named) = detect_handlers(src);
        assert_eq!(handlers, vec!["fetch", "queue"]);
        assert_eq!(
            named,
            vec![json!({"name": "Cart", "handlers": ["fetch", "alarm"]})]
        );
        let plain_class = "class Room {\n  fetch() {}\n}\nconst worker = { scheduled() {} };\nexport { Room as Lobby, worker as default };\n";
        let (handlers, named) = detect_handlers(plain_class);
        assert_eq!(handlers, vec!["scheduled"]);
        assert_eq!(named, vec![json!({"name": "Lobby", "handlers": ["fetch"]})]);
    }

    #[test]
    fn script_names_follow_cloudflare_pattern() {
        assert!(check_script_name("flaresync-demo").is_ok());
        assert!(check_script_name("_x").is_ok());
        assert!(check_script_name("-x").is_err());
        assert!(check_script_name("Upper").is_err());
        assert!(check_script_name("").is_err());
        assert!(check_script_name(&"a".repeat(64)).is_err());
    }

    #[test]
    fn debug_never_shows_secret_values() {
        let upload = Upload {
            metadata: json!({"bindings": [{"name": "S", "type": "secret_text", "text": "hunter2"}]}),
            modules: vec![ModulePart {
                name: "index.js".into(),
                filename: None,
                content_type: None,
                bytes: b"code".to_vec(),
            }],
        };
        let text = format!("{upload:?}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("size: 4"), "{text}");
    }

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("abc", 10), "abc");
    }
}
