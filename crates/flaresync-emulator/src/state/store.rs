//! Stored documents (scripts, versions, deployments) and their row-level access.
//!
//! Documents are serde structs kept as JSON text: the emulator's internal shape, which holds
//! more than any response (secret values, module hashes). Rendering to Cloudflare's response
//! shapes happens in the modules that answer requests.

use std::collections::BTreeMap;

use rusqlite::{OptionalExtension, Params, Transaction, params};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::{Map, Value};

use crate::error::ApiError;

/// A Worker (script), with its non-versioned state.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StoredScript {
    pub name: String,
    /// Immutable 32-hex script id.
    pub tag: String,
    pub created_on: String,
    pub modified_on: String,
    /// Tag of the last Durable Object migration applied (`None` until one is).
    pub migration_tag: Option<String>,
    /// Durable Object classes implemented by this Worker: class name -> namespace id.
    #[serde(default)]
    pub do_classes: BTreeMap<String, String>,
    /// Declarative `exports` of the newest version (if it used them).
    #[serde(default)]
    pub exports: Option<Value>,
    pub last_deployed_from: String,
    /// Non-versioned settings: logpush, observability, tags, tail_consumers, ...
    #[serde(default)]
    pub script_settings: Map<String, Value>,
    #[serde(default)]
    pub subdomain_enabled: bool,
    #[serde(default)]
    pub previews_enabled: bool,
}

/// One module part of a version.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StoredModule {
    pub name: String,
    pub content_type: String,
    pub sha256: String,
    pub size: usize,
}

/// A Worker version, as stored (secret values included; `Debug` redacts them).
#[derive(Clone, Serialize, Deserialize, PartialEq)]
pub struct StoredVersion {
    pub id: String,
    pub script: String,
    pub number: i64,
    pub created_on: String,
    pub author_email: String,
    pub author_id: String,
    pub source: String,
    pub has_preview: bool,
    pub annotations: Map<String, Value>,
    /// Full bindings, including `secret_text` values.
    pub bindings: Vec<Value>,
    pub main_module: Option<String>,
    pub body_part: Option<String>,
    pub modules: Vec<StoredModule>,
    pub etag: String,
    pub handlers: Vec<String>,
    pub named_handlers: Vec<Value>,
    pub compatibility_date: String,
    pub compatibility_flags: Vec<String>,
    pub usage_model: String,
    pub limits: Map<String, Value>,
    pub placement: Option<Value>,
    /// The script's migration tag once this version was created.
    pub migration_tag: Option<String>,
    pub exports: Option<Value>,
    pub startup_time_ms: u64,
    /// Static assets served by this version (SPEC-2 §1).
    #[serde(default)]
    pub assets: Option<super::assets::StoredAssets>,
}

impl std::fmt::Debug for StoredVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let bindings: Vec<Value> = self.bindings.iter().map(super::bindings::redact).collect();
        f.debug_struct("StoredVersion")
            .field("id", &self.id)
            .field("script", &self.script)
            .field("number", &self.number)
            .field("created_on", &self.created_on)
            .field("source", &self.source)
            .field("annotations", &self.annotations)
            .field("bindings", &bindings)
            .field("main_module", &self.main_module)
            .field("body_part", &self.body_part)
            .field("modules", &self.modules)
            .field("etag", &self.etag)
            .field("compatibility_date", &self.compatibility_date)
            .field("compatibility_flags", &self.compatibility_flags)
            .field("migration_tag", &self.migration_tag)
            .field("assets", &self.assets)
            .finish_non_exhaustive()
    }
}

/// One version's share of a deployment.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Split {
    pub version_id: String,
    pub percentage: f64,
}

/// A deployment, as stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StoredDeployment {
    pub id: String,
    pub script: String,
    pub created_on: String,
    pub source: String,
    pub strategy: String,
    pub author_email: String,
    pub versions: Vec<Split>,
    pub annotations: Map<String, Value>,
}

/// The document in the one row `sql` selects (its first column), if there is such a row.
fn query_doc<T: DeserializeOwned>(
    tx: &Transaction<'_>,
    sql: &str,
    params: impl Params,
) -> Result<Option<T>, ApiError> {
    let doc: Option<String> = tx.query_row(sql, params, |r| r.get(0)).optional()?;
    Ok(match doc {
        Some(doc) => Some(serde_json::from_str(&doc)?),
        None => None,
    })
}

/// The documents in the rows `sql` selects (their first column), in row order.
fn query_docs<T: DeserializeOwned>(
    tx: &Transaction<'_>,
    sql: &str,
    params: impl Params,
) -> Result<Vec<T>, ApiError> {
    let mut stmt = tx.prepare(sql)?;
    let docs = stmt
        .query_map(params, |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    docs.iter()
        .map(|d| serde_json::from_str(d).map_err(ApiError::from))
        .collect()
}

/// The document with id `id` (compared in lower case) of `script` in `table`.
fn doc_by_id<T: DeserializeOwned>(
    tx: &Transaction<'_>,
    table: &str,
    script: &str,
    id: &str,
) -> Result<Option<T>, ApiError> {
    query_doc(
        tx,
        &format!("SELECT doc FROM {table} WHERE script = ?1 AND id = ?2"),
        params![script, id.to_ascii_lowercase()],
    )
}

/// One more than the largest `column` of `script`'s rows in `table` (1 for the first row).
fn next_number(
    tx: &Transaction<'_>,
    table: &str,
    column: &str,
    script: &str,
) -> Result<i64, ApiError> {
    let n: Option<i64> = tx.query_row(
        &format!("SELECT MAX({column}) FROM {table} WHERE script = ?1"),
        [script],
        |r| r.get(0),
    )?;
    Ok(n.unwrap_or(0) + 1)
}

pub fn get_script(tx: &Transaction<'_>, name: &str) -> Result<Option<StoredScript>, ApiError> {
    query_doc(tx, "SELECT doc FROM scripts WHERE name = ?1", [name])
}

/// The script, or 10007.
pub fn require_script(tx: &Transaction<'_>, name: &str) -> Result<StoredScript, ApiError> {
    get_script(tx, name)?.ok_or_else(ApiError::worker_not_found)
}

pub fn put_script(tx: &Transaction<'_>, script: &StoredScript) -> Result<(), ApiError> {
    tx.execute(
        "INSERT INTO scripts (name, doc) VALUES (?1, ?2)
         ON CONFLICT (name) DO UPDATE SET doc = excluded.doc",
        params![script.name, serde_json::to_string(script)?],
    )?;
    Ok(())
}

pub fn list_scripts(tx: &Transaction<'_>) -> Result<Vec<StoredScript>, ApiError> {
    query_docs(tx, "SELECT doc FROM scripts ORDER BY name", [])
}

pub fn delete_script(tx: &Transaction<'_>, name: &str) -> Result<(), ApiError> {
    tx.execute("DELETE FROM scripts WHERE name = ?1", [name])?;
    tx.execute("DELETE FROM versions WHERE script = ?1", [name])?;
    tx.execute("DELETE FROM deployments WHERE script = ?1", [name])?;
    super::schedules::delete_all(tx, name)?;
    Ok(())
}

pub fn put_blob(tx: &Transaction<'_>, sha256: &str, content: &[u8]) -> Result<(), ApiError> {
    tx.execute(
        "INSERT OR IGNORE INTO blobs (sha256, content) VALUES (?1, ?2)",
        params![sha256, content],
    )?;
    Ok(())
}

pub fn get_blob(tx: &Transaction<'_>, sha256: &str) -> Result<Option<Vec<u8>>, ApiError> {
    Ok(tx
        .query_row(
            "SELECT content FROM blobs WHERE sha256 = ?1",
            [sha256],
            |r| r.get(0),
        )
        .optional()?)
}

pub fn insert_version(tx: &Transaction<'_>, version: &StoredVersion) -> Result<(), ApiError> {
    tx.execute(
        "INSERT INTO versions (id, script, number, doc) VALUES (?1, ?2, ?3, ?4)",
        params![
            version.id,
            version.script,
            version.number,
            serde_json::to_string(version)?
        ],
    )?;
    Ok(())
}

pub fn get_version(
    tx: &Transaction<'_>,
    script: &str,
    id: &str,
) -> Result<Option<StoredVersion>, ApiError> {
    doc_by_id(tx, "versions", script, id)
}

/// Versions of a script, newest first, `limit`/`offset` applied.
pub fn list_versions(
    tx: &Transaction<'_>,
    script: &str,
    limit: usize,
    offset: usize,
) -> Result<Vec<StoredVersion>, ApiError> {
    query_docs(
        tx,
        "SELECT doc FROM versions WHERE script = ?1 ORDER BY number DESC LIMIT ?2 OFFSET ?3",
        params![script, limit as i64, offset as i64],
    )
}

pub fn count_versions(tx: &Transaction<'_>, script: &str) -> Result<usize, ApiError> {
    let n: i64 = tx.query_row(
        "SELECT COUNT(*) FROM versions WHERE script = ?1",
        [script],
        |r| r.get(0),
    )?;
    Ok(usize::try_from(n).unwrap_or(0))
}

pub fn latest_version(
    tx: &Transaction<'_>,
    script: &str,
) -> Result<Option<StoredVersion>, ApiError> {
    Ok(list_versions(tx, script, 1, 0)?.into_iter().next())
}

pub fn next_version_number(tx: &Transaction<'_>, script: &str) -> Result<i64, ApiError> {
    next_number(tx, "versions", "number", script)
}

pub fn insert_deployment(
    tx: &Transaction<'_>,
    deployment: &StoredDeployment,
) -> Result<(), ApiError> {
    let seq = next_number(tx, "deployments", "seq", &deployment.script)?;
    tx.execute(
        "INSERT INTO deployments (id, script, seq, doc) VALUES (?1, ?2, ?3, ?4)",
        params![
            deployment.id,
            deployment.script,
            seq,
            serde_json::to_string(deployment)?
        ],
    )?;
    Ok(())
}

/// Deployments of a script, newest first.
pub fn list_deployments(
    tx: &Transaction<'_>,
    script: &str,
    limit: usize,
) -> Result<Vec<StoredDeployment>, ApiError> {
    query_docs(
        tx,
        "SELECT doc FROM deployments WHERE script = ?1 ORDER BY seq DESC LIMIT ?2",
        params![script, limit as i64],
    )
}

pub fn latest_deployment(
    tx: &Transaction<'_>,
    script: &str,
) -> Result<Option<StoredDeployment>, ApiError> {
    Ok(list_deployments(tx, script, 1)?.into_iter().next())
}

pub fn get_deployment(
    tx: &Transaction<'_>,
    script: &str,
    id: &str,
) -> Result<Option<StoredDeployment>, ApiError> {
    doc_by_id(tx, "deployments", script, id)
}

pub fn delete_deployment(tx: &Transaction<'_>, id: &str) -> Result<(), ApiError> {
    tx.execute("DELETE FROM deployments WHERE id = ?1", [id])?;
    Ok(())
}
