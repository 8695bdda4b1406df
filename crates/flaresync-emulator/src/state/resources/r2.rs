//! R2 buckets, keyed by name and jurisdiction: list (cursor-style), create, get, delete.

use rusqlite::{OptionalExtension, Transaction, params};
use serde_json::{Value, json};

use super::{delete_one, descending, found, millis};
use crate::error::ApiError;
use crate::state::{Ctx, Reply, paging};

/// Normalises the `cf-r2-jurisdiction` header / binding field.
pub fn jurisdiction(raw: Option<&str>) -> Result<String, ApiError> {
    match raw.map(str::trim) {
        None | Some("") | Some("default") => Ok("default".into()),
        Some(j @ ("eu" | "fedramp" | "fedramp-high")) => Ok(j.into()),
        Some(other) => Err(ApiError::new(
            400,
            10040,
            format!(
                "invalid R2 jurisdiction {other:?}: expected default, eu, fedramp or fedramp-high"
            ),
        )),
    }
}

fn bucket_json(row: &rusqlite::Row<'_>) -> rusqlite::Result<Value> {
    Ok(json!({
        "name": row.get::<_, String>(0)?,
        "jurisdiction": row.get::<_, String>(1)?,
        "creation_date": row.get::<_, String>(2)?,
        "location": row.get::<_, String>(3)?,
        "storage_class": row.get::<_, String>(4)?,
    }))
}

fn not_found() -> ApiError {
    ApiError::new(404, 10006, "The specified bucket does not exist.")
}

pub struct ListQuery<'a> {
    pub jurisdiction: Option<&'a str>,
    pub name_contains: Option<&'a str>,
    pub start_after: Option<&'a str>,
    pub per_page: Option<&'a str>,
    pub cursor: Option<&'a str>,
    pub direction: Option<&'a str>,
}

/// Cursor-style listing (`result.buckets`, `result_info{cursor, per_page}`); the cursor is the
/// name of the last bucket returned.
pub fn list(tx: &Transaction<'_>, q: &ListQuery<'_>) -> Result<Reply, ApiError> {
    let jurisdiction = jurisdiction(q.jurisdiction)?;
    let (_, per_page) = paging(None, q.per_page, 20, 1000)?;
    let desc = descending(q.direction)?;
    let after = q.cursor.or(q.start_after).unwrap_or("");
    let contains = q.name_contains.unwrap_or("");
    let sql = if desc {
        "SELECT name, jurisdiction, creation_date, location, storage_class FROM r2_buckets
         WHERE jurisdiction = ?1 AND instr(name, ?2) > 0 AND (?3 = '' OR name < ?3)
         ORDER BY name DESC LIMIT ?4"
    } else {
        "SELECT name, jurisdiction, creation_date, location, storage_class FROM r2_buckets
         WHERE jurisdiction = ?1 AND instr(name, ?2) > 0 AND (?3 = '' OR name > ?3)
         ORDER BY name ASC LIMIT ?4"
    };
    let mut stmt = tx.prepare(sql)?;
    let mut buckets = stmt
        .query_map(
            params![jurisdiction, contains, after, (per_page + 1) as i64],
            bucket_json,
        )?
        .collect::<Result<Vec<_>, _>>()?;
    let more = buckets.len() > per_page;
    buckets.truncate(per_page);
    let mut info = json!({"per_page": per_page});
    if more && let Some(last) = buckets.last().and_then(|b| b.get("name")).cloned() {
        info["cursor"] = last;
    }
    Ok(Reply::paged(json!({"buckets": buckets}), info))
}

fn check_name(name: &str) -> Result<(), ApiError> {
    let valid = (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if valid {
        return Ok(());
    }
    Err(ApiError::new(
        400,
        10005,
        format!(
            "The bucket name {name:?} is not valid: use 3-63 lowercase letters, digits and \
             hyphens, not starting or ending with a hyphen"
        ),
    ))
}

fn storage_class(raw: Option<&str>) -> Result<&'static str, ApiError> {
    match raw {
        None | Some("Standard") => Ok("Standard"),
        Some("InfrequentAccess") => Ok("InfrequentAccess"),
        Some(other) => Err(ApiError::new(
            400,
            10040,
            format!("invalid storageClass {other:?}: expected Standard or InfrequentAccess"),
        )),
    }
}

pub fn create(
    tx: &Transaction<'_>,
    ctx: &Ctx,
    name: &str,
    jurisdiction: Option<&str>,
    location_hint: Option<&str>,
    storage_class: Option<&str>,
) -> Result<Reply, ApiError> {
    let jurisdiction = self::jurisdiction(jurisdiction)?;
    check_name(name)?;
    if exists(tx, name, &jurisdiction)? {
        return Err(ApiError::new(
            409,
            10004,
            "The bucket you tried to create already exists, and you own it.",
        ));
    }
    let storage_class = self::storage_class(storage_class)?;
    let location = location_hint.unwrap_or("enam").to_ascii_lowercase();
    let at = millis(ctx.now);
    tx.execute(
        "INSERT INTO r2_buckets (name, jurisdiction, creation_date, location, storage_class)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![name, jurisdiction, at, location, storage_class],
    )?;
    Ok(Reply::new(json!({
        "name": name, "jurisdiction": jurisdiction, "creation_date": at,
        "location": location, "storage_class": storage_class,
    })))
}

pub fn get(
    tx: &Transaction<'_>,
    name: &str,
    jurisdiction: Option<&str>,
) -> Result<Reply, ApiError> {
    let jurisdiction = self::jurisdiction(jurisdiction)?;
    tx.query_row(
        "SELECT name, jurisdiction, creation_date, location, storage_class FROM r2_buckets
         WHERE name = ?1 AND jurisdiction = ?2",
        params![name, jurisdiction],
        bucket_json,
    )
    .optional()?
    .map(Reply::new)
    .ok_or_else(not_found)
}

pub fn delete(
    tx: &Transaction<'_>,
    name: &str,
    jurisdiction: Option<&str>,
) -> Result<Reply, ApiError> {
    let jurisdiction = self::jurisdiction(jurisdiction)?;
    delete_one(
        tx,
        "DELETE FROM r2_buckets WHERE name = ?1 AND jurisdiction = ?2",
        params![name, jurisdiction],
        not_found,
    )
}

pub fn exists(tx: &Transaction<'_>, name: &str, jurisdiction: &str) -> Result<bool, ApiError> {
    found(
        tx,
        "SELECT 1 FROM r2_buckets WHERE name = ?1 AND jurisdiction = ?2",
        params![name, jurisdiction],
    )
}
