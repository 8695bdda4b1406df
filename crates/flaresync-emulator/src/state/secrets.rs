//! Secrets (`…/scripts/{s}/secrets`, SPEC.md §5.3): a change copies the latest version with the
//! secret set or removed, deploys it at 100%, and marks both `triggered_by: "secret"`.

use rusqlite::Transaction;
use serde_json::{Value, json};

use super::bindings::{name_of, secret_summary, type_of};
use super::store::{self, StoredVersion};
use super::versions;

use super::{Ctx, Reply};
use crate::error::ApiError;

fn latest_must_be_deployed(tx: &Transaction<'_>, name: &str) -> Result<StoredVersion, ApiError> {
    store::require_script(tx, name)?;
    let latest = store::latest_version(tx, name)?
        .ok_or_else(|| ApiError::new(404, 10222, format!("Worker {name} has no versions")))?;
    let deployed = store::latest_deployment(tx, name)?
        .is_some_and(|d| d.versions.len() == 1 && d.versions[0].version_id == latest.id);
    if !deployed {
        return Err(ApiError::new(
            400,
            10215,
            "Secret edit failed. You attempted to modify a secret, but the latest version of \
             your Worker isn't currently deployed. Please ensure that the latest version of your \
             Worker is fully deployed (wrangler versions deploy) before modifying secrets. \
             Alternatively, you can use the Cloudflare dashboard to modify secrets and deploy \
             the version. (rule: latest-version-deployed)",
        ));
    }
    Ok(latest)
}

fn new_secret_version(
    tx: &Transaction<'_>,
    ctx: &Ctx,
    latest: &StoredVersion,
    bindings: Vec<Value>,
) -> Result<(), ApiError> {
    let metadata = Value::Object(versions::copied_settings(latest, bindings));
    versions::deploy_copy(tx, ctx, latest, &metadata, "secret")?;
    Ok(())
}

/// `PUT …/secrets` `{name, text, type}` (or a `secret_key` object).
pub fn put(tx: &Transaction<'_>, ctx: &Ctx, script: &str, body: &Value) -> Result<Reply, ApiError> {
    let Some(name) = name_of(body).map(str::to_owned) else {
        return Err(ApiError::validation("a secret needs a `name`"));
    };
    let kind = type_of(body).unwrap_or("secret_text");
    match kind {
        "secret_text" => {
            if !body.get("text").is_some_and(Value::is_string) {
                return Err(ApiError::validation(format!(
                    "secret {name} of type secret_text needs a `text` string"
                )));
            }
        }
        "secret_key" => {}
        other => {
            return Err(ApiError::validation(format!(
                "secret type {other:?} is not supported: use secret_text or secret_key"
            )));
        }
    }
    let latest = latest_must_be_deployed(tx, script)?;
    let mut secret = body.clone();
    secret["type"] = json!(kind);
    let mut bindings: Vec<Value> = latest
        .bindings
        .iter()
        .filter(|b| name_of(b) != Some(name.as_str()))
        .cloned()
        .collect();
    bindings.push(secret.clone());
    new_secret_version(tx, ctx, &latest, bindings)?;
    Ok(Reply::new(secret_summary(&secret)))
}

/// `GET …/secrets`: names and types of the latest version's secrets.
pub fn list(tx: &Transaction<'_>, script: &str) -> Result<Reply, ApiError> {
    store::require_script(tx, script)?;
    let items: Vec<Value> = store::latest_version(tx, script)?
        .map(|v| {
            v.bindings
                .iter()
                .filter(|b| matches!(type_of(b), Some("secret_text") | Some("secret_key")))
                .map(secret_summary)
                .collect()
        })
        .unwrap_or_default();
    Ok(Reply::new(Value::Array(items)))
}

fn find(tx: &Transaction<'_>, script: &str, name: &str) -> Result<Value, ApiError> {
    store::require_script(tx, script)?;
    store::latest_version(tx, script)?
        .and_then(|v| {
            v.bindings.into_iter().find(|b| {
                name_of(b) == Some(name)
                    && matches!(type_of(b), Some("secret_text") | Some("secret_key"))
            })
        })
        .ok_or_else(|| {
            ApiError::new(
                404,
                10056,
                format!("Secret {name} does not exist on this Worker"),
            )
        })
}

/// `GET …/secrets/{name}`.
pub fn get(tx: &Transaction<'_>, script: &str, name: &str) -> Result<Reply, ApiError> {
    Ok(Reply::new(secret_summary(&find(tx, script, name)?)))
}

/// `DELETE …/secrets/{name}`: new version without the secret, deployed.
pub fn delete(
    tx: &Transaction<'_>,
    ctx: &Ctx,
    script: &str,
    name: &str,
) -> Result<Reply, ApiError> {
    find(tx, script, name)?;
    let latest = latest_must_be_deployed(tx, script)?;
    let bindings: Vec<Value> = latest
        .bindings
        .iter()
        .filter(|b| name_of(b) != Some(name))
        .cloned()
        .collect();
    new_secret_version(tx, ctx, &latest, bindings)?;
    Ok(Reply::new(Value::Null))
}
