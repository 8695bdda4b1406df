//! Creating a version from an upload: `PUT /scripts/{s}` (non-versioned deploy, may carry DO
//! migrations), `POST /scripts/{s}/versions` (no migrations, 10211) and settings/secret changes
//! that copy the latest version (SPEC.md §2.3, §3.1, §5).
//!
//! [`create_version`] runs the steps in order: the Worker, the entry point and code (`code.rs`),
//! the runtime settings (`runtime.rs`), the Durable Object lifecycle (`lifecycle.rs`), the
//! bindings, then stores the Worker and the version. `handlers.rs` detects the handlers the entry
//! module exports.

mod code;
pub(crate) use code::media_type;
mod handlers;
mod lifecycle;
mod runtime;

use std::collections::BTreeMap;

use rusqlite::Transaction;
use serde_json::{Map, Value, json};

use self::code::Code;
use self::runtime::Runtime;
use super::assets::{self, StoredAssets};
use super::store::{self, StoredScript, StoredVersion};
use super::{Ctx, bindings, hex_id, next_timestamp, uuid_id};
use crate::error::ApiError;

pub use self::handlers::detect_handlers;
pub use self::runtime::truncate;

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
        // The assets completion token is a credential (`x-sensitive` in Cloudflare's schema).
        if let Some(jwt) = metadata.pointer_mut("/assets/jwt") {
            *jwt = Value::String("[redacted]".into());
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

/// A new version, checked and ready to store.
struct Draft {
    main_module: Option<String>,
    body_part: Option<String>,
    code: Code,
    runtime: Runtime,
    migration_tag: Option<String>,
    bindings: Vec<Value>,
    assets: Option<StoredAssets>,
}

/// Creates a version (and the Worker on first `PUT`). Returns the updated script and version.
pub fn create_version(
    tx: &Transaction<'_>,
    ctx: &Ctx,
    new: NewVersion<'_>,
) -> Result<(StoredScript, StoredVersion), ApiError> {
    check_script_name(new.script)?;
    let (existing, latest) = load_worker(tx, &new)?;
    let assets = match new.modules {
        Modules::CopyOf(copied) => copied.assets.clone(),
        Modules::Uploaded(_) => assets::attach(tx, ctx, new.script, new.metadata, latest.as_ref())?,
    };
    let (main_module, body_part) = code::entry_point(&new, assets.is_some())?;
    let entry = main_module.as_deref().or(body_part.as_deref());
    let code = code::read(&new.modules, entry, ctx.max_script_bytes)?;
    let runtime = runtime::read(new.metadata, latest.as_ref())?;
    let (migration_tag, do_classes) = lifecycle::durable_objects(
        new.kind,
        new.metadata,
        existing.as_ref(),
        runtime.exports.as_ref(),
    )?;
    let bindings = resolve_bindings(tx, &new, latest.as_ref(), &do_classes)?;
    assets::check_binding(&bindings, assets.as_ref())?;
    let (mut script, created_on) = worker_to_update(tx, ctx, &new, existing)?;
    script.migration_tag = migration_tag.clone();
    script.do_classes = do_classes;
    if new.kind == Kind::Script || runtime.exports.is_some() {
        script.exports = runtime.exports.clone();
    }
    let draft = Draft {
        main_module,
        body_part,
        code,
        runtime,
        migration_tag,
        bindings,
        assets,
    };
    let version = store_version(tx, ctx, &new, &script, created_on, draft)?;
    store::put_script(tx, &script)?;
    Ok((script, version))
}

/// The Worker the version belongs to (it must exist for a version upload) and its latest version.
fn load_worker(
    tx: &Transaction<'_>,
    new: &NewVersion<'_>,
) -> Result<(Option<StoredScript>, Option<StoredVersion>), ApiError> {
    if !new.metadata.is_object() {
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
    Ok((existing, latest))
}

/// Binding types an uploaded version keeps from the latest one even without `keep_bindings`:
/// Cloudflare keeps a Worker's secrets across `wrangler deploy`, which names none of them
/// (SPEC.md §2.3; wrangler sends `keep_bindings` for secrets only with `--keep-vars` or
/// `--secrets-file`). Versions copied by a secret or settings change list their own.
const IMPLICITLY_KEPT: [&str; 2] = ["secret_text", "secret_key"];

/// The version's bindings: the uploaded ones with `inherit` and `keep_bindings` resolved, then
/// validated against the account.
fn resolve_bindings(
    tx: &Transaction<'_>,
    new: &NewVersion<'_>,
    latest: Option<&StoredVersion>,
    do_classes: &BTreeMap<String, String>,
) -> Result<Vec<Value>, ApiError> {
    let uploaded = match new.metadata.get("bindings") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.clone(),
        Some(_) => return Err(ApiError::validation("`bindings` must be a list")),
    };
    let mut keep = runtime::string_list(new.metadata, "keep_bindings")?;
    if matches!(new.modules, Modules::Uploaded(_)) {
        keep.extend(IMPLICITLY_KEPT.iter().map(|t| (*t).to_owned()));
    }
    let mut resolved = bindings::resolve(tx, new.script, &uploaded, &keep, latest, new.strict)?;
    bindings::validate(tx, new.script, &mut resolved, do_classes)?;
    Ok(resolved)
}

/// The Worker as this version leaves it (a new one on first upload) and the version's
/// timestamp, which is also the Worker's `modified_on`.
fn worker_to_update(
    tx: &Transaction<'_>,
    ctx: &Ctx,
    new: &NewVersion<'_>,
    existing: Option<StoredScript>,
) -> Result<(StoredScript, String), ApiError> {
    let (mut script, created_on) = match existing {
        Some(script) => (script, next_timestamp(tx, ctx.now)?),
        None => {
            let first = next_timestamp(tx, ctx.now)?;
            let script = StoredScript {
                name: new.script.to_owned(),
                tag: hex_id(),
                created_on: first,
                modified_on: String::new(),
                migration_tag: None,
                do_classes: BTreeMap::new(),
                exports: None,
                last_deployed_from: ctx.source.clone(),
                script_settings: Map::new(),
                subdomain_enabled: false,
                previews_enabled: false,
            };
            (script, next_timestamp(tx, ctx.now)?)
        }
    };
    script.modified_on = created_on.clone();
    script.last_deployed_from = ctx.source.clone();
    Ok((script, created_on))
}

/// Stores the uploaded modules and the version of `script` that `draft` describes.
fn store_version(
    tx: &Transaction<'_>,
    ctx: &Ctx,
    new: &NewVersion<'_>,
    script: &StoredScript,
    created_on: String,
    draft: Draft,
) -> Result<StoredVersion, ApiError> {
    let (code, runtime) = (draft.code, draft.runtime);
    let mut annotations = runtime.annotations;
    annotations.insert("workers/triggered_by".into(), json!(new.triggered_by));
    for (sha256, bytes) in &code.blobs {
        store::put_blob(tx, sha256, bytes)?;
    }
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
        bindings: draft.bindings,
        main_module: draft.main_module,
        body_part: draft.body_part,
        modules: code.modules,
        etag: code.etag,
        handlers: code.handlers,
        named_handlers: code.named_handlers,
        compatibility_date: runtime.compatibility_date,
        compatibility_flags: runtime.compatibility_flags,
        usage_model: runtime.usage_model,
        limits: runtime.limits,
        placement: runtime.placement,
        migration_tag: draft.migration_tag,
        exports: runtime.exports,
        startup_time_ms: 1,
        assets: draft.assets,
    };
    store::insert_version(tx, &version)?;
    Ok(version)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let with_assets = Upload {
            metadata: json!({"assets": {"jwt": "eyJ.secret.sig", "config": {}}}),
            modules: Vec::new(),
        };
        assert!(!format!("{with_assets:?}").contains("secret"));
        assert!(text.contains("size: 4"), "{text}");
    }
}
