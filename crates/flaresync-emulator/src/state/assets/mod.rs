//! Workers static assets (SPEC-2 §1): the upload session, the bucketed upload and attaching the
//! completion token to a version, over the SQLite state.
//!
//! Files are stored content-addressed (`assets`: hash -> content type and bytes), so a hash that
//! any earlier session uploaded is never asked for again; manifests are stored by their own hash
//! (`asset_manifests`). The tokens are stateless signed JWTs naming the Worker and the manifest
//! (`token.rs`). Pure parts: `manifest.rs` (checks, limits, buckets), `config.rs`
//! (`assets.config`), `token.rs`.

pub mod config;
pub mod manifest;
pub mod token;

use std::collections::BTreeSet;

use base64::Engine;
use rusqlite::{OptionalExtension, Transaction, params};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use self::config::AssetConfig;
use self::manifest::Manifest;
use self::token::{Claims, Purpose, TokenError};
use super::{Ctx, Reply, hex_id, store};
use crate::error::ApiError;

pub const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS assets (
  hash TEXT PRIMARY KEY, content_type TEXT, content BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS asset_manifests (id TEXT PRIMARY KEY, manifest TEXT NOT NULL);
"#;

/// The tables [`SCHEMA`] creates (wiped by an admin reset).
pub const TABLES: &[&str] = &["assets", "asset_manifests"];

/// The part content type wrangler sends for a file without a known type: serve it without a
/// `Content-Type` (SPEC-2 §1.4).
const NULL_CONTENT_TYPE: &str = "application/null";

/// The assets a version serves: its manifest (by id) and its configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredAssets {
    pub manifest: String,
    pub files: usize,
    pub config: AssetConfig,
}

/// One file part of `POST …/workers/assets/upload`.
#[derive(Clone, PartialEq, Eq)]
pub struct UploadedFile {
    /// The part's name: the file's hash.
    pub hash: String,
    pub content_type: Option<String>,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for UploadedFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadedFile")
            .field("hash", &self.hash)
            .field("content_type", &self.content_type)
            .field("size", &self.bytes.len())
            .finish()
    }
}

/// What an upload request achieved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Files of the manifest are still missing (HTTP 202, `result: {}`).
    Partial,
    /// Every file is present: the completion token (HTTP 201, `result: {jwt}`).
    Complete(String),
}

/// The emulator's signing key for asset tokens (created once, kept in the state).
fn signing_key(tx: &Transaction<'_>) -> Result<Vec<u8>, ApiError> {
    let existing: Option<String> = tx
        .query_row(
            "SELECT value FROM meta WHERE key = 'assets_jwt_key'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    let key = match existing {
        Some(key) => key,
        None => {
            let key = format!("{}{}", hex_id(), hex_id());
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('assets_jwt_key', ?1)",
                [&key],
            )?;
            key
        }
    };
    Ok(key.into_bytes())
}

fn issue(
    tx: &Transaction<'_>,
    ctx: &Ctx,
    purpose: Purpose,
    account: &str,
    script: &str,
    manifest_id: &str,
) -> Result<String, ApiError> {
    let now = ctx.now.timestamp();
    let claims = Claims {
        purpose,
        account: account.to_owned(),
        script: script.to_owned(),
        manifest: manifest_id.to_owned(),
        iat: now,
        exp: now + token::LIFETIME_SECS,
    };
    Ok(token::sign(&claims, &signing_key(tx)?))
}

/// The hashes of `manifest` already stored.
fn stored_hashes(tx: &Transaction<'_>, manifest: &Manifest) -> Result<BTreeSet<String>, ApiError> {
    let mut stmt = tx.prepare_cached("SELECT 1 FROM assets WHERE hash = ?1")?;
    let mut out = BTreeSet::new();
    for hash in manifest::hashes(manifest).into_keys() {
        if stmt.exists([hash])? {
            out.insert(hash.to_owned());
        }
    }
    Ok(out)
}

/// `POST …/scripts/{s}/assets-upload-session` `{manifest}`: stores the manifest and answers the
/// upload token and the buckets of missing hashes, or the completion token when none is missing.
/// The Worker need not exist yet (wrangler opens the session before the first upload).
pub fn open_session(
    tx: &Transaction<'_>,
    ctx: &Ctx,
    account: &str,
    script: &str,
    body: &Value,
) -> Result<Reply, ApiError> {
    super::upload::check_script_name(script)?;
    let manifest = manifest::parse(body)?;
    let id = manifest::id(&manifest);
    tx.execute(
        "INSERT OR IGNORE INTO asset_manifests (id, manifest) VALUES (?1, ?2)",
        params![id, serde_json::to_string(&manifest)?],
    )?;
    let buckets = manifest::buckets(&manifest, &stored_hashes(tx, &manifest)?);
    let purpose = if buckets.is_empty() {
        Purpose::Completion
    } else {
        Purpose::Upload
    };
    let jwt = issue(tx, ctx, purpose, account, script, &id)?;
    Ok(Reply::new(json!({"jwt": jwt, "buckets": buckets})))
}

/// A stored manifest by id.
pub fn manifest(tx: &Transaction<'_>, id: &str) -> Result<Manifest, ApiError> {
    let text: Option<String> = tx
        .query_row(
            "SELECT manifest FROM asset_manifests WHERE id = ?1",
            [id],
            |r| r.get(0),
        )
        .optional()?;
    let text = text.ok_or_else(ApiError::internal)?;
    Ok(serde_json::from_str(&text)?)
}

/// The manifest of `script`'s version `version_id` (`None`: the version has no assets).
pub fn manifest_of_version(
    tx: &Transaction<'_>,
    script: &str,
    version_id: &str,
) -> Result<Option<Manifest>, ApiError> {
    let version = store::get_version(tx, script, version_id)?
        .ok_or_else(|| super::versions::version_not_found(version_id))?;
    version
        .assets
        .map(|assets| manifest(tx, &assets.manifest))
        .transpose()
}

/// A stored asset file.
#[derive(Clone, PartialEq, Eq)]
pub struct File {
    /// `None`: serve without a `Content-Type`.
    pub content_type: Option<String>,
    pub bytes: Vec<u8>,
}

/// The stored file with hash `hash`.
pub fn content(tx: &Transaction<'_>, hash: &str) -> Result<Option<File>, ApiError> {
    Ok(tx
        .query_row(
            "SELECT content_type, content FROM assets WHERE hash = ?1",
            [hash],
            |r| {
                Ok(File {
                    content_type: r.get(0)?,
                    bytes: r.get(1)?,
                })
            },
        )
        .optional()?)
}

/// 401 for an upload token that is missing, forged, expired or of the wrong kind.
pub fn unauthorized(error: &TokenError) -> ApiError {
    ApiError::new(
        401,
        10000,
        format!(
            "Authentication error: the assets upload JWT is not valid ({error}); open a new \
             upload session with POST …/workers/scripts/{{script}}/assets-upload-session"
        ),
    )
}

/// `POST …/workers/assets/upload[?base64=true]` with the session's upload token: stores the
/// files (each must be a hash of the session's manifest, with the manifest's size).
pub fn upload(
    tx: &Transaction<'_>,
    ctx: &Ctx,
    jwt: &str,
    files: &[UploadedFile],
    base64: bool,
) -> Result<Progress, ApiError> {
    let key = signing_key(tx)?;
    let claims = token::verify(jwt, &key, Purpose::Upload, ctx.now.timestamp())
        .map_err(|e| unauthorized(&e))?;
    let manifest = manifest(tx, &claims.manifest)?;
    let sizes = manifest::hashes(&manifest);
    if files.is_empty() {
        return Err(ApiError::validation(
            "the upload has no files: send one multipart part per hash, named by the hash",
        ));
    }
    for file in files {
        let Some(size) = sizes.get(file.hash.as_str()) else {
            return Err(ApiError::validation(format!(
                "file {:?} is not in this upload session's manifest; upload only the hashes \
                 the session asked for",
                file.hash
            )));
        };
        let bytes = if base64 {
            let text: Vec<u8> = file
                .bytes
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|e| {
                    ApiError::validation(format!(
                        "file {} is not valid base64 (?base64=true): {e}",
                        file.hash
                    ))
                })?
        } else {
            file.bytes.clone()
        };
        if bytes.len() as u64 != *size {
            return Err(ApiError::validation(format!(
                "file {} is {} bytes but the manifest says {size} bytes; the content does not \
                 match its manifest entry",
                file.hash,
                bytes.len()
            )));
        }
        let content_type = file
            .content_type
            .as_deref()
            .filter(|t| !t.eq_ignore_ascii_case(NULL_CONTENT_TYPE));
        tx.execute(
            "INSERT OR IGNORE INTO assets (hash, content_type, content) VALUES (?1, ?2, ?3)",
            params![file.hash, content_type, bytes],
        )?;
    }
    if stored_hashes(tx, &manifest)?.len() < sizes.len() {
        return Ok(Progress::Partial);
    }
    let jwt = issue(
        tx,
        ctx,
        Purpose::Completion,
        &claims.account,
        &claims.script,
        &claims.manifest,
    )?;
    Ok(Progress::Complete(jwt))
}

/// The assets a new version of `script` gets from its upload `metadata`: the completion token's
/// manifest with `assets.config`, the `latest` version's with `keep_assets: true`, or none.
pub fn attach(
    tx: &Transaction<'_>,
    ctx: &Ctx,
    script: &str,
    metadata: &Value,
    latest: Option<&store::StoredVersion>,
) -> Result<Option<StoredAssets>, ApiError> {
    let keep = metadata.get("keep_assets").and_then(Value::as_bool) == Some(true);
    let assets = match metadata.get("assets") {
        None | Some(Value::Null) if keep => {
            return Ok(latest.and_then(|v| v.assets.clone()));
        }
        None | Some(Value::Null) => return Ok(None),
        Some(assets) => assets,
    };
    let Some(jwt) = assets.get("jwt").and_then(Value::as_str) else {
        return Err(ApiError::validation(
            "`assets.jwt` is missing: send the completion token of an assets upload session",
        ));
    };
    let key = signing_key(tx)?;
    let claims =
        token::verify(jwt, &key, Purpose::Completion, ctx.now.timestamp()).map_err(|e| {
            ApiError::validation(format!(
                "`assets.jwt` is not a valid assets completion token ({e}); upload the assets \
                 again to get a new one"
            ))
        })?;
    if claims.script != script {
        return Err(ApiError::validation(format!(
            "`assets.jwt` was issued for Worker {:?}, not {script:?}; open the upload session \
             for this Worker",
            claims.script
        )));
    }
    let manifest = manifest(tx, &claims.manifest)?;
    let missing = manifest::hashes(&manifest).len() - stored_hashes(tx, &manifest)?.len();
    if missing > 0 {
        return Err(ApiError::validation(format!(
            "{missing} asset files of this upload are missing; finish the upload first"
        )));
    }
    Ok(Some(StoredAssets {
        manifest: claims.manifest,
        files: manifest.len(),
        config: config::parse(assets.get("config"))?,
    }))
}

/// Cloudflare refuses an `assets` binding on a version without assets, and more than one.
pub fn check_binding(bindings: &[Value], assets: Option<&StoredAssets>) -> Result<(), ApiError> {
    let names: Vec<&str> = bindings
        .iter()
        .filter(|b| super::bindings::type_of(b) == Some("assets"))
        .filter_map(super::bindings::name_of)
        .collect();
    match (names.as_slice(), assets) {
        ([], _) | ([_], Some(_)) => Ok(()),
        ([name], None) => Err(ApiError::validation(format!(
            "Cannot use an assets binding without assets: binding {name} has type assets but the \
             upload attaches no assets (send `assets.jwt` or `keep_assets`)"
        ))),
        (many, _) => Err(ApiError::validation(format!(
            "only one assets binding is allowed per Worker; found {}",
            many.join(", ")
        ))),
    }
}
