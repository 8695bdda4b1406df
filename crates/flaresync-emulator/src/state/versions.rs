//! Versions: upload (`POST …/versions`), list and get (SPEC.md §3), and their response shapes.

use rusqlite::Transaction;
use serde_json::{Map, Value, json};

use super::deployments;
use super::store::{self, StoredScript, StoredVersion};
use super::upload::{self, Kind, Modules, NewVersion, Upload};
use super::{Ctx, Reply, page_info, paging};
use crate::error::ApiError;

fn metadata_json(v: &StoredVersion) -> Value {
    json!({
        "author_email": v.author_email,
        "author_id": v.author_id,
        "created_on": v.created_on,
        "modified_on": v.created_on,
        "source": v.source,
        "hasPreview": v.has_preview,
        "has_preview": v.has_preview,
    })
}

/// The list-item shape: id, number, metadata, annotations.
pub fn render_summary(v: &StoredVersion) -> Value {
    json!({
        "id": v.id,
        "number": v.number,
        "metadata": metadata_json(v),
        "annotations": v.annotations,
    })
}

/// The full shape of `GET …/versions/{id}` (secrets without values).
pub fn render(v: &StoredVersion) -> Value {
    let mut runtime = Map::new();
    runtime.insert("compatibility_date".into(), json!(v.compatibility_date));
    runtime.insert("compatibility_flags".into(), json!(v.compatibility_flags));
    runtime.insert("usage_model".into(), json!(v.usage_model));
    runtime.insert("limits".into(), Value::Object(v.limits.clone()));
    if let Some(tag) = &v.migration_tag {
        runtime.insert("migration_tag".into(), json!(tag));
    }
    if let Some(exports) = &v.exports {
        runtime.insert("exports".into(), exports.clone());
    }
    let bindings: Vec<Value> = v.bindings.iter().map(super::bindings::redact).collect();
    json!({
        "id": v.id,
        "number": v.number,
        "metadata": metadata_json(v),
        "annotations": v.annotations,
        "resources": {
            "bindings": bindings,
            "script": script_json(v),
            "script_runtime": Value::Object(runtime),
        },
    })
}

/// `resources.script`: the code's etag and handlers, and the version's placement (wrangler
/// reads a smart placement back from the deprecated `placement_mode`, SPEC-2 §4.2).
fn script_json(v: &StoredVersion) -> Value {
    let mut script = json!({
        "etag": v.etag,
        "handlers": v.handlers,
        "named_handlers": v.named_handlers,
        "last_deployed_from": v.source,
    });
    if let Some(placement) = &v.placement {
        script["placement"] = placement.clone();
        if let Some(mode) = placement.get("mode") {
            script["placement_mode"] = mode.clone();
        }
    }
    script
}

/// `POST …/versions`: creates a version without deploying it.
pub fn upload(
    tx: &Transaction<'_>,
    ctx: &Ctx,
    script: &str,
    upload: &Upload,
    strict: bool,
) -> Result<Reply, ApiError> {
    let (_, version) = upload::create_version(
        tx,
        ctx,
        NewVersion {
            script,
            kind: Kind::Version,
            metadata: &upload.metadata,
            modules: Modules::Uploaded(&upload.modules),
            strict,
            triggered_by: "upload",
        },
    )?;
    let mut out = render(&version);
    out["startup_time_ms"] = json!(version.startup_time_ms);
    Ok(Reply::new(out))
}

/// The settings a version copying `latest` carries over (`PATCH …/settings`, secret
/// changes): compatibility, usage model, limits and placement, with `bindings` as its bindings.
pub fn copied_settings(latest: &StoredVersion, bindings: Vec<Value>) -> Map<String, Value> {
    let mut metadata = Map::new();
    metadata.insert("bindings".into(), Value::Array(bindings));
    metadata.insert(
        "compatibility_date".into(),
        json!(latest.compatibility_date),
    );
    metadata.insert(
        "compatibility_flags".into(),
        json!(latest.compatibility_flags),
    );
    metadata.insert("usage_model".into(), json!(latest.usage_model));
    metadata.insert("limits".into(), Value::Object(latest.limits.clone()));
    if let Some(p) = &latest.placement {
        metadata.insert("placement".into(), p.clone());
    }
    metadata
}

/// A new version with `latest`'s modules and `metadata`, deployed at 100% at once; version
/// and deployment are both marked `triggered_by`.
pub fn deploy_copy(
    tx: &Transaction<'_>,
    ctx: &Ctx,
    latest: &StoredVersion,
    metadata: &Value,
    triggered_by: &str,
) -> Result<(StoredScript, StoredVersion), ApiError> {
    let (script, version) = upload::create_version(
        tx,
        ctx,
        NewVersion {
            script: &latest.script,
            kind: Kind::Script,
            metadata,
            modules: Modules::CopyOf(latest),
            strict: true,
            triggered_by,
        },
    )?;
    deployments::deploy_whole(tx, ctx, &version, triggered_by)?;
    Ok((script, version))
}

/// `GET …/versions`: newest first; `deployable=true` returns the newest `version_window`
/// versions and ignores pagination.
pub fn list(
    tx: &Transaction<'_>,
    ctx: &Ctx,
    script: &str,
    deployable: bool,
    page: Option<&str>,
    per_page: Option<&str>,
) -> Result<Reply, ApiError> {
    store::require_script(tx, script)?;
    let total = store::count_versions(tx, script)?;
    let (items, info) = if deployable {
        let items = store::list_versions(tx, script, ctx.version_window, 0)?;
        let n = items.len();
        (items, page_info(1, n.max(1), n, n))
    } else {
        let (page, per_page) = paging(page, per_page, 10, 100)?;
        let items = store::list_versions(tx, script, per_page, (page - 1) * per_page)?;
        let n = items.len();
        (items, page_info(page, per_page, n, total))
    };
    let items: Vec<Value> = items.iter().map(render_summary).collect();
    Ok(Reply::paged(json!({"items": items}), info))
}

/// `GET …/versions/{id}`.
pub fn get(tx: &Transaction<'_>, script: &str, id: &str) -> Result<Reply, ApiError> {
    store::require_script(tx, script)?;
    let version = store::get_version(tx, script, id)?.ok_or_else(|| version_not_found(id))?;
    Ok(Reply::new(render(&version)))
}

pub fn version_not_found(id: &str) -> ApiError {
    ApiError::new(
        404,
        10007,
        format!("Version {id} does not exist on this Worker."),
    )
}
