//! `upload_source_maps = true`: one `application/source-map` part per JavaScript module that
//! names a map, as wrangler 4.86 sends them for a bundle it did not build (`scanSourceMaps`,
//! SPEC-2 §4.1): the last `//# sourceMappingURL=` line of each ES / CommonJS module, resolved
//! next to the module, read from the same tree, with `file` set to the module name and `./`,
//! `../` stripped from `sources` and `sourceRoot`; part name `<module>.map`.

use std::sync::Arc;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::module_plan::ModulePlan;
use super::paths::{join_path, normalize};
use super::repo_reader::Reader;
use super::size::gzip_size;
use crate::error::ConfigError;
use crate::model::Module;

/// Content type of a source map part.
pub const SOURCE_MAP_TYPE: &str = "application/source-map";

/// Cloudflare's limit on a Worker's source maps: 15 MB gzip-compressed (SPEC-2 §4.1).
pub const MAX_SOURCE_MAPS_GZIP_BYTES: u64 = 15 * 1000 * 1000;

const COMMENT_PREFIX: &str = "//# sourceMappingURL=";

/// The map URL the last non-blank line of `content` names (wrangler's `getSourceMappingUrl`);
/// `Err` for a `data:` URL, which wrangler refuses too.
fn source_mapping_url(content: &[u8]) -> Result<Option<String>, String> {
    let text = String::from_utf8_lossy(content);
    let Some(last) = text.trim_end().lines().next_back() else {
        return Ok(None);
    };
    let Some(url) = last.strip_prefix(COMMENT_PREFIX) else {
        return Ok(None);
    };
    let url = url.trim();
    if url.starts_with("data:") {
        return Err(
            "names an inline (data:) source map; upload_source_maps needs a map file \
                    next to the module: build with external source maps"
                .to_owned(),
        );
    }
    Ok(Some(url.to_owned()))
}

/// wrangler's `cleanPathPrefix`: strips leading `./`, `.\`, `../` and `..\`, repeatedly.
fn clean_prefix(path: &str) -> String {
    let mut out = path;
    for prefix in ["./", ".\\", "../", "..\\"] {
        while let Some(rest) = out.strip_prefix(prefix) {
            out = rest;
        }
    }
    out.to_owned()
}

/// The map as uploaded: `file` = the module's name, prefixes stripped from `sources` and
/// `sourceRoot`. `Err` when it is not a JSON source map.
fn rewrite_map(bytes: &[u8], module_name: &str) -> Result<Vec<u8>, String> {
    let mut map: Value =
        serde_json::from_slice(bytes).map_err(|e| format!("is not valid JSON: {e}"))?;
    let Some(object) = map.as_object_mut() else {
        return Err("is not a JSON object".to_owned());
    };
    object.insert("file".into(), Value::String(module_name.to_owned()));
    if let Some(Value::String(root)) = object.get("sourceRoot")
        && !root.is_empty()
    {
        let cleaned = clean_prefix(root);
        object.insert("sourceRoot".into(), Value::String(cleaned));
    }
    match object.get_mut("sources") {
        Some(Value::Array(sources)) => {
            for source in sources.iter_mut() {
                if let Value::String(text) = source {
                    *text = clean_prefix(text);
                }
            }
        }
        _ => return Err("has no `sources` list".to_owned()),
    }
    serde_json::to_vec(&map).map_err(|e| format!("does not serialize: {e}"))
}

fn is_script(module: &Module) -> bool {
    matches!(
        module.content_type.as_str(),
        "application/javascript+module" | "application/javascript"
    )
}

/// The repository path of `module` (`main` is at the plan's main path, the others under the
/// module root).
fn module_path(plan: &ModulePlan, index: usize, module: &Module) -> String {
    if index == 0 {
        plan.main_path.clone()
    } else {
        join_path(&plan.module_root, &module.name)
    }
}

fn parent(path: &str) -> &str {
    path.rsplit_once('/').map(|(dir, _)| dir).unwrap_or("")
}

/// The source map parts of `modules`, read from the tree. An error names the module and the
/// map (missing, unreadable, a data URL, above the limit).
pub(super) fn read_source_maps(
    reader: &mut Reader<'_>,
    plan: &ModulePlan,
    modules: &[Module],
) -> Result<Vec<Module>, ConfigError> {
    let mut maps = Vec::new();
    let dir = reader.dir.clone();
    for (index, module) in modules.iter().enumerate().filter(|(_, m)| is_script(m)) {
        let path = module_path(plan, index, module);
        let fail = |message: String| {
            ConfigError::bundle(
                &dir,
                format!("upload_source_maps: module {path:?} {message}"),
            )
        };
        let Some(url) = source_mapping_url(&module.content).map_err(fail)? else {
            continue;
        };
        let map_path =
            normalize(parent(&path), &url).map_err(|p| reader.problem("source map", p))?;
        let Some(bytes) = reader.read("source map", &map_path)? else {
            return Err(fail(format!(
                "names source map {url:?}, but {map_path:?} is not in the repository: commit it \
                 (check .gitignore) or drop upload_source_maps"
            )));
        };
        let content = rewrite_map(&bytes, &module.name)
            .map_err(|e| fail(format!("names source map {map_path:?}, which {e}")))?;
        maps.push(Module {
            name: format!("{}.map", module.name),
            content_type: SOURCE_MAP_TYPE.to_owned(),
            sha256: hex::encode(Sha256::digest(&content)),
            size: content.len() as u64,
            content: Arc::from(content.into_boxed_slice()),
        });
    }
    let compressed = gzip_size(&maps);
    if compressed > MAX_SOURCE_MAPS_GZIP_BYTES {
        return Err(ConfigError::bundle(
            &dir,
            format!(
                "upload_source_maps: the source maps are {compressed} bytes gzip-compressed, \
                 above Cloudflare's {MAX_SOURCE_MAPS_GZIP_BYTES} byte limit; drop \
                 upload_source_maps or shrink the maps"
            ),
        ));
    }
    Ok(maps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_line_names_the_map() {
        let code = b"export default {};\n//# sourceMappingURL=index.js.map\n\n";
        assert_eq!(
            source_mapping_url(code),
            Ok(Some("index.js.map".to_owned()))
        );
        assert_eq!(
            source_mapping_url(b"//# sourceMappingURL=a.map\nx()"),
            Ok(None)
        );
        assert_eq!(source_mapping_url(b""), Ok(None));
        let inline = b"x\n//# sourceMappingURL=data:application/json;base64,e30=";
        assert!(source_mapping_url(inline).is_err());
    }

    #[test]
    fn maps_are_rewritten_as_wrangler_does() {
        let map = br#"{"version":3,"file":"out.js","sourceRoot":"../src","sources":["./a.ts","../../b.ts","c.ts"],"mappings":"AAAA"}"#;
        let out = rewrite_map(map, "index.js").expect("rewritten");
        let value: Value = serde_json::from_slice(&out).expect("json");
        assert_eq!(value["file"], "index.js");
        assert_eq!(value["sourceRoot"], "src");
        assert_eq!(
            value["sources"],
            serde_json::json!(["a.ts", "b.ts", "c.ts"])
        );
        assert!(rewrite_map(b"[1]", "index.js").is_err());
        assert!(rewrite_map(b"{\"version\":3}", "index.js").is_err());
        assert!(rewrite_map(b"not json", "index.js").is_err());
    }
}
