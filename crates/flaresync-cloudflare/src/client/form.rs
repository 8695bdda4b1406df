//! The multipart body of an upload, as wrangler sends it.

use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use flaresync_config::assets::asset_content_type;
use flaresync_config::{AssetFile, Module};
use reqwest::multipart::{Form, Part};

/// The multipart body of an upload: a `metadata` JSON part, then one part per module named by
/// its path (as wrangler sends it: part name and file name both the module path).
pub(super) fn build_form(metadata: &serde_json::Value, modules: &[Module]) -> Result<Form, String> {
    let metadata =
        serde_json::to_vec(metadata).map_err(|e| format!("metadata does not serialize: {e}"))?;
    let metadata = Part::bytes(metadata)
        .mime_str("application/json")
        .map_err(|e| format!("metadata content type: {e}"))?;
    // Module paths go verbatim into the part name, like wrangler's FormData does; the default
    // percent-encoding would turn `lib/util.js` into `name*=utf-8''lib%2Futil.js`.
    let mut form = Form::new().percent_encode_noop().part("metadata", metadata);
    for module in modules {
        if module.name.is_empty()
            || module.name == "metadata"
            || module
                .name
                .chars()
                .any(|c| c.is_control() || c == '"' || c == '\\')
        {
            return Err(format!(
                "module name {:?} cannot be a multipart part name",
                module.name
            ));
        }
        let content = Bytes::from_owner(Arc::clone(&module.content));
        let length = content.len() as u64;
        let part = Part::stream_with_length(reqwest::Body::from(content), length)
            .file_name(module.name.clone())
            .mime_str(&module.content_type)
            .map_err(|e| {
                format!(
                    "module {:?} has an invalid content type {:?}: {e}",
                    module.name, module.content_type
                )
            })?;
        form = form.part(module.name.clone(), part);
    }
    Ok(form)
}

/// The body of one assets bucket, as wrangler 4.86 sends it to `…/assets/upload?base64=true`:
/// one part per file, part name and file name both the hash, content the base64 text of the
/// file, content type the asset's (`application/null` when unknown).
pub(super) fn build_assets_form(files: &[&AssetFile]) -> Result<Form, String> {
    let mut form = Form::new().percent_encode_noop();
    for file in files {
        if file.hash.is_empty() || !file.hash.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(format!(
                "asset {:?} has hash {:?}, which cannot be a part name",
                file.path, file.hash
            ));
        }
        let text = base64::engine::general_purpose::STANDARD.encode(&file.content);
        let part = Part::text(text)
            .file_name(file.hash.clone())
            .mime_str(&asset_content_type(&file.path))
            .map_err(|e| format!("asset {:?}: content type: {e}", file.path))?;
        form = form.part(file.hash.clone(), part);
    }
    Ok(form)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names_that_break_part_headers_are_rejected() {
        let module = |name: &str| Module {
            name: name.into(),
            content_type: "application/javascript+module".into(),
            sha256: String::new(),
            size: 0,
            content: Arc::from(&b""[..]),
        };
        let metadata = serde_json::json!({"main_module": "index.js"});
        assert!(build_form(&metadata, &[module("index.js"), module("lib/util.js")]).is_ok());
        for bad in ["", "metadata", "a\"b.js", "a\nb.js"] {
            assert!(build_form(&metadata, &[module(bad)]).is_err(), "{bad:?}");
        }
        let mut bad_type = module("x.js");
        bad_type.content_type = "not a mime".into();
        assert!(build_form(&metadata, &[bad_type]).is_err());
    }
}
