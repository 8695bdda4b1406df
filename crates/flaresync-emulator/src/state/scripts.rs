//! Scripts (Workers): upload-and-deploy `PUT`, list, service metadata, settings, script
//! settings, subdomain flags and delete (SPEC.md §2, §5).

use rusqlite::Transaction;
use serde_json::{Value, json};

use super::setting_values::check_script_setting;
use super::store::{self, StoredScript, StoredVersion};
use super::upload::{self, Kind, Modules, NewVersion, Upload};
use super::{Ctx, Reply};
use super::{deployments, versions};
use crate::error::ApiError;

/// The script object (`GET /workers/scripts` items, `PUT` result, services metadata).
pub fn render(script: &StoredScript, latest: Option<&StoredVersion>) -> Value {
    let setting =
        |k: &str, default: Value| script.script_settings.get(k).cloned().unwrap_or(default);
    let mut out = json!({
        "id": script.name,
        "tag": script.tag,
        "etag": latest.map(|v| v.etag.clone()).unwrap_or_default(),
        "handlers": latest.map(|v| v.handlers.clone()).unwrap_or_default(),
        "named_handlers": latest.map(|v| v.named_handlers.clone()).unwrap_or_default(),
        "created_on": script.created_on,
        "modified_on": script.modified_on,
        "usage_model": latest.map(|v| v.usage_model.clone()).unwrap_or_else(|| "standard".into()),
        "compatibility_date": latest.map(|v| v.compatibility_date.clone()),
        "compatibility_flags": latest.map(|v| v.compatibility_flags.clone()).unwrap_or_default(),
        "last_deployed_from": script.last_deployed_from,
        "tags": setting("tags", json!([])),
        "logpush": setting("logpush", json!(false)),
        "observability": setting("observability", json!({"enabled": false})),
        "has_assets": latest.is_some_and(|v| v.assets.is_some()),
        "has_modules": latest.is_some_and(|v| v.main_module.is_some()),
    });
    // Absent rather than null: the 2024 schema types these without `nullable`.
    if let Some(tail) = script
        .script_settings
        .get("tail_consumers")
        .filter(|v| !v.is_null())
    {
        out["tail_consumers"] = tail.clone();
    }
    if let Some(tag) = &script.migration_tag {
        out["migration_tag"] = json!(tag);
    }
    if let Some(exports) = &script.exports {
        out["exports"] = exports.clone();
    }
    out
}

/// `PUT /scripts/{s}`: creates a version and deploys it at 100% at once.
pub fn put(
    tx: &Transaction<'_>,
    ctx: &Ctx,
    name: &str,
    upload: &Upload,
    strict: bool,
) -> Result<Reply, ApiError> {
    let (script, version) = upload::create_version(
        tx,
        ctx,
        NewVersion {
            script: name,
            kind: Kind::Script,
            metadata: &upload.metadata,
            modules: Modules::Uploaded(&upload.modules),
            strict,
            triggered_by: "upload",
        },
    )?;
    apply_script_settings(tx, &script.name, &upload.metadata)?;
    deployments::deploy_whole(tx, ctx, &version, "upload")?;
    let script = store::require_script(tx, name)?;
    let mut out = render(&script, Some(&version));
    out["deployment_id"] = json!(version.id);
    out["startup_time_ms"] = json!(version.startup_time_ms);
    out["entry_point"] = json!(version.main_module.as_ref().or(version.body_part.as_ref()));
    Ok(Reply::new(out))
}

/// Stores the non-versioned settings a script upload may carry.
fn apply_script_settings(
    tx: &Transaction<'_>,
    name: &str,
    metadata: &Value,
) -> Result<(), ApiError> {
    let mut script = store::require_script(tx, name)?;
    let mut changed = false;
    for key in SCRIPT_SETTINGS {
        if let Some(v) = metadata.get(*key) {
            check_script_setting(key, v)?;
            script.script_settings.insert((*key).into(), v.clone());
            changed = true;
        }
    }
    if changed {
        store::put_script(tx, &script)?;
    }
    Ok(())
}

/// `GET /workers/scripts`.
pub fn list(tx: &Transaction<'_>) -> Result<Reply, ApiError> {
    let mut out = Vec::new();
    for script in store::list_scripts(tx)? {
        let latest = store::latest_version(tx, &script.name)?;
        out.push(render(&script, latest.as_ref()));
    }
    Ok(Reply::new(Value::Array(out)))
}

/// `GET /workers/services/{s}`.
pub fn service(tx: &Transaction<'_>, name: &str) -> Result<Reply, ApiError> {
    let script = store::require_script(tx, name)?;
    let latest = store::latest_version(tx, name)?;
    let mut rendered = render(&script, latest.as_ref());
    if let Value::Object(map) = &mut rendered {
        map.remove("observability");
        map.insert("limits".into(), json!({"cpu_ms": 30000}));
    }
    Ok(Reply::new(json!({
        "id": script.name,
        "created_on": script.created_on,
        "modified_on": script.modified_on,
        "default_environment": {
            "environment": "production",
            "created_on": script.created_on,
            "modified_on": script.modified_on,
            "script": rendered,
        },
        "environments": [{
            "environment": "production",
            "created_on": script.created_on,
            "modified_on": script.modified_on,
        }],
    })))
}

fn settings_json(script: &StoredScript, v: &StoredVersion) -> Value {
    let setting =
        |k: &str, default: Value| script.script_settings.get(k).cloned().unwrap_or(default);
    let bindings: Vec<Value> = v.bindings.iter().map(super::bindings::redact).collect();
    let mut annotations = v.annotations.clone();
    annotations.remove("workers/triggered_by");
    json!({
        "bindings": bindings,
        "compatibility_date": v.compatibility_date,
        "compatibility_flags": v.compatibility_flags,
        "usage_model": v.usage_model,
        "limits": v.limits,
        "placement": v.placement.clone().unwrap_or_else(|| json!({})),
        "logpush": setting("logpush", json!(false)),
        "observability": setting("observability", json!({"enabled": false})),
        "tags": setting("tags", json!([])),
        "tail_consumers": setting("tail_consumers", json!([])),
        "annotations": annotations,
    })
}

fn require_latest(
    tx: &Transaction<'_>,
    name: &str,
) -> Result<(StoredScript, StoredVersion), ApiError> {
    let script = store::require_script(tx, name)?;
    let latest = store::latest_version(tx, name)?
        .ok_or_else(|| ApiError::new(404, 10222, format!("Worker {name} has no versions")))?;
    Ok((script, latest))
}

/// `GET …/settings`: the latest version's settings plus the non-versioned ones.
pub fn settings_get(tx: &Transaction<'_>, name: &str) -> Result<Reply, ApiError> {
    let (script, latest) = require_latest(tx, name)?;
    Ok(Reply::new(settings_json(&script, &latest)))
}

/// `PATCH …/settings` (multipart part `settings`): a new version copying the latest with the
/// given changes, deployed at 100% (the 2023 behaviour: every binding change deploys).
pub fn settings_patch(
    tx: &Transaction<'_>,
    ctx: &Ctx,
    name: &str,
    patch: &Value,
) -> Result<Reply, ApiError> {
    let Some(patch) = patch.as_object() else {
        return Err(ApiError::validation(
            "the `settings` part must be a JSON object",
        ));
    };
    let (_, latest) = require_latest(tx, name)?;
    let mut metadata = versions::copied_settings(&latest, latest.bindings.clone());
    if let Some(m) = &latest.main_module {
        metadata.insert("main_module".into(), json!(m));
    }
    for key in [
        "bindings",
        "compatibility_date",
        "compatibility_flags",
        "usage_model",
        "limits",
        "placement",
        "annotations",
        "migrations",
    ] {
        if let Some(v) = patch.get(key) {
            metadata.insert(key.into(), v.clone());
        }
    }
    // Secrets in the patch arrive without values: keep the stored ones.
    metadata.insert("keep_bindings".into(), json!(["secret_text", "secret_key"]));
    if let Some(Value::Array(bindings)) = metadata.get_mut("bindings") {
        bindings.retain(|b| {
            !(matches!(
                b.get("type").and_then(Value::as_str),
                Some("secret_text") | Some("secret_key")
            ) && b.get("text").is_none()
                && b.get("key_base64").is_none()
                && b.get("key_jwk").is_none())
        });
    }
    let metadata = Value::Object(metadata);
    let (script, version) = versions::deploy_copy(tx, ctx, &latest, &metadata, "upload")?;
    apply_script_settings(tx, name, &Value::Object(patch.clone()))?;
    let script = store::get_script(tx, name)?.unwrap_or(script);
    Ok(Reply::new(settings_json(&script, &version)))
}

const SCRIPT_SETTINGS: &[&str] = &[
    "logpush",
    "observability",
    "tags",
    "tail_consumers",
    "streaming_tail_consumers",
];

fn script_settings_json(script: &StoredScript) -> Value {
    let s = &script.script_settings;
    json!({
        "logpush": s.get("logpush").cloned().unwrap_or(json!(false)),
        "observability": s.get("observability").cloned().unwrap_or(json!({"enabled": false})),
        "tags": s.get("tags").cloned().unwrap_or(json!([])),
        "tail_consumers": s.get("tail_consumers").cloned().unwrap_or(json!([])),
        "streaming_tail_consumers": s.get("streaming_tail_consumers").cloned().unwrap_or(json!([])),
    })
}

/// `GET …/script-settings`.
pub fn script_settings_get(tx: &Transaction<'_>, name: &str) -> Result<Reply, ApiError> {
    let script = store::require_script(tx, name)?;
    Ok(Reply::new(script_settings_json(&script)))
}

/// `PATCH …/script-settings` (JSON): non-versioned settings, no new version.
pub fn script_settings_patch(
    tx: &Transaction<'_>,
    name: &str,
    patch: &Value,
) -> Result<Reply, ApiError> {
    let Some(patch) = patch.as_object() else {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    };
    let mut script = store::require_script(tx, name)?;
    for (key, value) in patch {
        if !SCRIPT_SETTINGS.contains(&key.as_str()) {
            return Err(ApiError::validation(format!(
                "unknown script setting {key:?}; settable: {}",
                SCRIPT_SETTINGS.join(", ")
            )));
        }
        check_script_setting(key, value)?;
        script.script_settings.insert(key.clone(), value.clone());
    }
    store::put_script(tx, &script)?;
    Ok(Reply::new(script_settings_json(&script)))
}

/// `GET …/scripts/{s}/subdomain`.
pub fn subdomain_get(tx: &Transaction<'_>, name: &str) -> Result<Reply, ApiError> {
    let script = store::require_script(tx, name)?;
    Ok(Reply::new(json!({
        "enabled": script.subdomain_enabled,
        "previews_enabled": script.previews_enabled,
    })))
}

/// `POST …/scripts/{s}/subdomain` `{enabled, previews_enabled?}`.
pub fn subdomain_post(tx: &Transaction<'_>, name: &str, body: &Value) -> Result<Reply, ApiError> {
    let mut script = store::require_script(tx, name)?;
    let enabled = body
        .get("enabled")
        .and_then(Value::as_bool)
        .ok_or_else(|| ApiError::validation("`enabled` must be a boolean"))?;
    script.subdomain_enabled = enabled;
    match body.get("previews_enabled") {
        None | Some(Value::Null) => {}
        Some(Value::Bool(p)) => script.previews_enabled = *p,
        Some(_) => return Err(ApiError::validation("`previews_enabled` must be a boolean")),
    }
    store::put_script(tx, &script)?;
    subdomain_get(tx, name)
}

/// `DELETE …/scripts/{s}/subdomain`.
pub fn subdomain_delete(tx: &Transaction<'_>, name: &str) -> Result<Reply, ApiError> {
    let mut script = store::require_script(tx, name)?;
    script.subdomain_enabled = false;
    script.previews_enabled = false;
    store::put_script(tx, &script)?;
    Ok(Reply::new(Value::Null))
}

/// `DELETE /scripts/{s}`: the Worker with all its versions and deployments.
pub fn delete(tx: &Transaction<'_>, name: &str) -> Result<Reply, ApiError> {
    store::require_script(tx, name)?;
    store::delete_script(tx, name)?;
    Ok(Reply::new(Value::Null))
}

/// A version's code as `GET …/content/v2` returns it.
#[derive(Clone, PartialEq, Eq)]
pub enum Content {
    /// Service-worker syntax: the script itself.
    Raw {
        content_type: String,
        bytes: Vec<u8>,
    },
    /// Modules: every part, and the entry point's name (`cf-entrypoint`).
    Modules {
        entrypoint: String,
        parts: Vec<(String, String, Vec<u8>)>,
    },
}

impl std::fmt::Debug for Content {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Content::Raw {
                content_type,
                bytes,
            } => f
                .debug_struct("Raw")
                .field("content_type", content_type)
                .field("size", &bytes.len())
                .finish(),
            Content::Modules { entrypoint, parts } => f
                .debug_struct("Modules")
                .field("entrypoint", entrypoint)
                .field(
                    "parts",
                    &parts.iter().map(|(n, _, _)| n).collect::<Vec<_>>(),
                )
                .finish(),
        }
    }
}

/// The code of `version` (or of the active deployment's main version, else the latest).
pub fn content(
    tx: &Transaction<'_>,
    name: &str,
    version: Option<&str>,
) -> Result<Content, ApiError> {
    store::require_script(tx, name)?;
    let version = match version {
        Some(id) => store::get_version(tx, name, id)?
            .ok_or_else(|| super::versions::version_not_found(id))?,
        None => {
            let deployed = store::latest_deployment(tx, name)?.and_then(|d| {
                d.versions
                    .iter()
                    .max_by(|a, b| a.percentage.total_cmp(&b.percentage))
                    .map(|s| s.version_id.clone())
            });
            match deployed {
                Some(id) => store::get_version(tx, name, &id)?,
                None => store::latest_version(tx, name)?,
            }
            .ok_or_else(ApiError::worker_not_found)?
        }
    };
    let mut parts = Vec::with_capacity(version.modules.len());
    for module in &version.modules {
        let bytes = store::get_blob(tx, &module.sha256)?.ok_or_else(ApiError::internal)?;
        parts.push((module.name.clone(), module.content_type.clone(), bytes));
    }
    match (&version.main_module, &version.body_part) {
        (Some(main), _) => Ok(Content::Modules {
            entrypoint: main.clone(),
            parts,
        }),
        (None, Some(body)) => {
            let (_, content_type, bytes) = parts
                .into_iter()
                .find(|(n, _, _)| n == body)
                .ok_or_else(ApiError::internal)?;
            Ok(Content::Raw {
                content_type,
                bytes,
            })
        }
        (None, None) => Err(ApiError::internal()),
    }
}
