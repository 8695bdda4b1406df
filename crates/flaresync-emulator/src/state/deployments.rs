//! Deployments: create (with the rules in [`super::rules`]), list, get, delete (SPEC.md §4).

use std::collections::BTreeSet;

use rusqlite::Transaction;
use serde_json::{Map, Value, json};

use super::rules::{self, DeploymentCheck, ResourceRef};
use super::store::{self, Split, StoredDeployment, StoredVersion};
use super::{Ctx, Reply, next_timestamp, number, resources, uuid_id};
use crate::error::ApiError;

/// How many deployments `GET …/deployments` returns (undocumented; SPEC.md §4.1).
pub const LIST_LIMIT: usize = 100;

pub fn render(d: &StoredDeployment) -> Value {
    let versions: Vec<Value> = d
        .versions
        .iter()
        .map(|s| json!({"version_id": s.version_id, "percentage": number(s.percentage)}))
        .collect();
    json!({
        "id": d.id,
        "created_on": d.created_on,
        "source": d.source,
        "strategy": d.strategy,
        "author_email": d.author_email,
        "versions": versions,
        "annotations": d.annotations,
    })
}

/// Records a deployment (no rule checks; callers decide).
pub fn record(
    tx: &Transaction<'_>,
    ctx: &Ctx,
    script: &str,
    versions: Vec<Split>,
    annotations: Map<String, Value>,
) -> Result<StoredDeployment, ApiError> {
    let deployment = StoredDeployment {
        id: uuid_id(),
        script: script.to_owned(),
        created_on: next_timestamp(tx, ctx.now)?,
        source: ctx.source.clone(),
        strategy: "percentage".into(),
        author_email: ctx.author_email.clone(),
        versions,
        annotations,
    };
    store::insert_deployment(tx, &deployment)?;
    Ok(deployment)
}

/// Deploys one version at 100% (used by script upload and secret changes). A script upload's
/// `workers/message` is the deployment's message too: wrangler documents `deploy --message` as
/// "a descriptive message for this Worker Version and Deployment" and posts no deployment.
pub fn deploy_whole(
    tx: &Transaction<'_>,
    ctx: &Ctx,
    version: &StoredVersion,
    triggered_by: &str,
) -> Result<StoredDeployment, ApiError> {
    let mut annotations = Map::new();
    annotations.insert("workers/triggered_by".into(), json!(triggered_by));
    if triggered_by == "upload"
        && let Some(message) = version.annotations.get("workers/message")
    {
        annotations.insert("workers/message".into(), message.clone());
    }
    record(
        tx,
        ctx,
        &version.script,
        vec![Split {
            version_id: version.id.clone(),
            percentage: 100.0,
        }],
        annotations,
    )
}

/// Parses the create body `{strategy, versions[{version_id, percentage}], annotations?}`.
pub fn parse_request(body: &Value) -> Result<(Vec<Split>, Map<String, Value>), ApiError> {
    if !body.is_object() {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    }
    match body.get("strategy").and_then(Value::as_str) {
        Some("percentage") => {}
        other => {
            return Err(ApiError::validation(format!(
                "strategy must be \"percentage\", got {}",
                other
                    .map(|s| format!("{s:?}"))
                    .unwrap_or_else(|| "nothing".into())
            )));
        }
    }
    let Some(items) = body.get("versions").and_then(Value::as_array) else {
        return Err(ApiError::validation("`versions` must be a list"));
    };
    let mut splits = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let version_id = item
            .get("version_id")
            .and_then(Value::as_str)
            .filter(|s| uuid::Uuid::parse_str(s).is_ok())
            .ok_or_else(|| {
                ApiError::validation(format!("versions[{i}].version_id must be a version UUID"))
            })?;
        let percentage = item
            .get("percentage")
            .and_then(Value::as_f64)
            .ok_or_else(|| {
                ApiError::validation(format!("versions[{i}].percentage must be a number"))
            })?;
        let version_id = uuid::Uuid::parse_str(version_id)
            .map(|u| u.hyphenated().to_string())
            .unwrap_or_else(|_| version_id.to_owned());
        splits.push(Split {
            version_id,
            percentage,
        });
    }
    let mut annotations = Map::new();
    match body.get("annotations") {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            if let Some(message) = map.get("workers/message").and_then(Value::as_str) {
                annotations.insert(
                    "workers/message".into(),
                    json!(super::upload::truncate(message, 1000)),
                );
            }
        }
        Some(_) => return Err(ApiError::validation("`annotations` must be an object")),
    }
    annotations.insert("workers/triggered_by".into(), json!("deployment"));
    Ok((splits, annotations))
}

fn missing_resources(
    tx: &Transaction<'_>,
    targets: &[Option<StoredVersion>],
) -> Result<BTreeSet<ResourceRef>, ApiError> {
    let mut missing = BTreeSet::new();
    for version in targets.iter().flatten() {
        for resource in rules::referenced_resources(&version.bindings) {
            if !resources::exists(tx, &resource)? {
                missing.insert(resource);
            }
        }
    }
    Ok(missing)
}

/// `POST …/deployments[?force=true]`.
pub fn create(
    tx: &Transaction<'_>,
    ctx: &Ctx,
    script_name: &str,
    body: &Value,
    force: bool,
) -> Result<Reply, ApiError> {
    let script = store::require_script(tx, script_name)?;
    let (splits, annotations) = parse_request(body)?;
    let targets: Vec<Option<StoredVersion>> = splits
        .iter()
        .map(|s| store::get_version(tx, script_name, &s.version_id))
        .collect::<Result<_, _>>()?;
    let window_ids: Vec<String> = store::list_versions(tx, script_name, ctx.version_window, 0)?
        .into_iter()
        .map(|v| v.id)
        .collect();
    let current: Vec<StoredVersion> = match store::latest_deployment(tx, script_name)? {
        Some(d) => d
            .versions
            .iter()
            .map(|s| store::get_version(tx, script_name, &s.version_id))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .flatten()
            .collect(),
        None => Vec::new(),
    };
    let missing = missing_resources(tx, &targets)?;
    rules::check(&DeploymentCheck {
        requested: &splits,
        targets: &targets,
        window_ids: &window_ids,
        window: ctx.version_window,
        script_migration_tag: script.migration_tag.as_deref(),
        current: &current,
        missing: &missing,
        force,
    })?;
    let deployment = record(tx, ctx, script_name, splits, annotations)?;
    let mut script = script;
    script.modified_on = deployment.created_on.clone();
    script.last_deployed_from = ctx.source.clone();
    store::put_script(tx, &script)?;
    Ok(Reply::new(render(&deployment)))
}

/// `GET …/deployments`: `{deployments: [...]}` newest first.
pub fn list(tx: &Transaction<'_>, script: &str) -> Result<Reply, ApiError> {
    store::require_script(tx, script)?;
    let items: Vec<Value> = store::list_deployments(tx, script, LIST_LIMIT)?
        .iter()
        .map(render)
        .collect();
    Ok(Reply::new(json!({"deployments": items})))
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(
        404,
        100146,
        format!(
            "workers.api.error.deployment_not_found: deployment {id} does not exist on this Worker"
        ),
    )
}

/// `GET …/deployments/{id}`.
pub fn get(tx: &Transaction<'_>, script: &str, id: &str) -> Result<Reply, ApiError> {
    store::require_script(tx, script)?;
    let d = store::get_deployment(tx, script, id)?.ok_or_else(|| not_found(id))?;
    Ok(Reply::new(render(&d)))
}

/// `DELETE …/deployments/{id}`: any deployment except the latest (active) one.
pub fn delete(tx: &Transaction<'_>, script: &str, id: &str) -> Result<Reply, ApiError> {
    store::require_script(tx, script)?;
    let d = store::get_deployment(tx, script, id)?.ok_or_else(|| not_found(id))?;
    if store::latest_deployment(tx, script)?.is_some_and(|latest| latest.id == d.id) {
        return Err(ApiError::validation(format!(
            "Deployment {id} is the latest deployment, which is actively serving traffic, and \
             cannot be deleted (rule: keep-active-deployment)"
        )));
    }
    store::delete_deployment(tx, &d.id)?;
    Ok(Reply::empty())
}
