//! The code of a new version: which module is the entry point, the uploaded module parts (checked
//! and hashed), the content etag and the handlers the entry point exports (SPEC.md §2.3).

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::handlers::detect_handlers;
use super::{Kind, ModulePart, Modules, NewVersion};
use crate::error::ApiError;
use crate::state::store::StoredModule;

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

/// The entry point a new version names: `(main_module, body_part)`, exactly one of them (a copy
/// keeps the copied version's); neither for an assets-only Worker (`assets_only`: the upload
/// attaches assets).
pub(super) fn entry_point(
    new: &NewVersion<'_>,
    assets_only: bool,
) -> Result<(Option<String>, Option<String>), ApiError> {
    let main_module = new.metadata.get("main_module").and_then(Value::as_str);
    let body_part = new.metadata.get("body_part").and_then(Value::as_str);
    match (&new.modules, main_module, body_part) {
        (Modules::CopyOf(v), _, _) => Ok((v.main_module.clone(), v.body_part.clone())),
        (_, Some(_), Some(_)) => Err(ApiError::validation(
            "metadata sets both main_module and body_part; send exactly one",
        )),
        (_, None, Some(_)) if new.kind == Kind::Version => Err(ApiError::validation(
            "main_module is required: version uploads do not support service-worker syntax \
             (body_part)",
        )),
        (_, None, None) if assets_only && uploaded_nothing(&new.modules) => Ok((None, None)),
        (_, None, None) => Err(ApiError::validation(
            "metadata must name the entry point in main_module (ES modules) or body_part \
             (service worker)",
        )),
        (_, m, b) => Ok((m.map(str::to_owned), b.map(str::to_owned))),
    }
}

fn uploaded_nothing(modules: &Modules<'_>) -> bool {
    matches!(modules, Modules::Uploaded(parts) if parts.is_empty())
}

/// A new version's code: its modules, the uploaded bytes still to store, etag and handlers.
pub(super) struct Code {
    pub modules: Vec<StoredModule>,
    /// `(sha256, bytes)` of each uploaded module (none for a copy).
    pub blobs: Vec<(String, Vec<u8>)>,
    pub etag: String,
    pub handlers: Vec<String>,
    pub named_handlers: Vec<Value>,
}

/// Reads the code of a new version whose entry point is the module named `entry` (`None`: an
/// assets-only Worker, no code).
pub(super) fn read(
    modules: &Modules<'_>,
    entry: Option<&str>,
    max_bytes: usize,
) -> Result<Code, ApiError> {
    let parts = match modules {
        Modules::Uploaded(parts) => parts,
        Modules::CopyOf(v) => {
            return Ok(Code {
                modules: v.modules.clone(),
                blobs: Vec::new(),
                etag: v.etag.clone(),
                handlers: v.handlers.clone(),
                named_handlers: v.named_handlers.clone(),
            });
        }
    };
    let stored = check_parts(parts, max_bytes)?;
    let (handlers, named_handlers) = match entry {
        Some(entry) => entry_handlers(&stored, entry)?,
        None => (Vec::new(), Vec::new()),
    };
    let etag = etag(&stored);
    let (modules, blobs) = stored
        .into_iter()
        .map(|(m, bytes)| {
            let blob = (m.sha256.clone(), bytes);
            (m, blob)
        })
        .unzip();
    Ok(Code {
        modules,
        blobs,
        etag,
        handlers,
        named_handlers,
    })
}

/// Checks each part's content type, that names are unique and the total size; hashes the parts.
fn check_parts(
    parts: &[ModulePart],
    max_bytes: usize,
) -> Result<Vec<(StoredModule, Vec<u8>)>, ApiError> {
    let mut stored: Vec<(StoredModule, Vec<u8>)> = Vec::new();
    let mut total = 0usize;
    for part in parts {
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
        if stored.iter().any(|(m, _)| m.name == part.name) {
            return Err(ApiError::validation(format!(
                "module part '{}' appears more than once",
                part.name
            )));
        }
        total += part.bytes.len();
        stored.push((
            StoredModule {
                name: part.name.clone(),
                content_type: ct,
                sha256: hex::encode(Sha256::digest(&part.bytes)),
                size: part.bytes.len(),
            },
            part.bytes.clone(),
        ));
    }
    if total > max_bytes {
        return Err(ApiError::new(
            400,
            10027,
            format!(
                "Your Worker exceeded the size limit of {max_bytes} bytes ({total} bytes uploaded)."
            ),
        ));
    }
    Ok(stored)
}

/// The handlers of the entry module `entry`, which must be among the parts and be code.
fn entry_handlers(
    stored: &[(StoredModule, Vec<u8>)],
    entry: &str,
) -> Result<(Vec<String>, Vec<Value>), ApiError> {
    let Some((entry_module, entry_bytes)) = stored.iter().find(|(m, _)| m.name == entry) else {
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
    Ok(detect_handlers(&String::from_utf8_lossy(entry_bytes)))
}

/// `application/javascript+module; charset=utf-8` -> `application/javascript+module`.
pub(crate) fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Content etag: sha256 over every module's name, type and bytes, in part order.
fn etag(modules: &[(StoredModule, Vec<u8>)]) -> String {
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
