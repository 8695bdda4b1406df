//! Account storage resources that bindings point at: KV namespaces, R2 buckets, D1 databases
//! and Queues (list / create / get / delete, SPEC.md §8), plus the existence lookups that
//! binding validation and the deployment rules use.

use rusqlite::{OptionalExtension, Transaction, params};
use serde_json::{Value, json};

use super::{Ctx, Reply, hex_id, next_timestamp, page_info, paging, uuid_id};
use crate::error::ApiError;

// === KV namespaces ===

fn kv_json(id: &str, title: &str) -> Value {
    json!({"id": id, "title": title, "supports_url_encoding": true})
}

fn kv_not_found(id: &str) -> ApiError {
    ApiError::new(
        404,
        10013,
        format!("get namespace: 'namespace not found' (no KV namespace with id {id})"),
    )
}

pub struct KvListQuery<'a> {
    pub page: Option<&'a str>,
    pub per_page: Option<&'a str>,
    pub order: Option<&'a str>,
    pub direction: Option<&'a str>,
}

pub fn kv_list(tx: &Transaction<'_>, q: &KvListQuery<'_>) -> Result<Reply, ApiError> {
    let (page, per_page) = paging(q.page, q.per_page, 20, 1000)?;
    let column = match q.order {
        None | Some("id") => "id",
        Some("title") => "title",
        Some(other) => {
            return Err(ApiError::new(
                400,
                10004,
                format!("invalid order {other:?}: expected id or title"),
            ));
        }
    };
    let dir = match q.direction {
        None | Some("asc") => "ASC",
        Some("desc") => "DESC",
        Some(other) => {
            return Err(ApiError::new(
                400,
                10004,
                format!("invalid direction {other:?}: expected asc or desc"),
            ));
        }
    };
    let total: i64 = tx.query_row("SELECT COUNT(*) FROM kv_namespaces", [], |r| r.get(0))?;
    let mut stmt = tx.prepare(&format!(
        "SELECT id, title FROM kv_namespaces ORDER BY {column} {dir} LIMIT ?1 OFFSET ?2"
    ))?;
    let items = stmt
        .query_map(
            params![per_page as i64, ((page - 1) * per_page) as i64],
            |r| Ok(kv_json(&r.get::<_, String>(0)?, &r.get::<_, String>(1)?)),
        )?
        .collect::<Result<Vec<_>, _>>()?;
    let count = items.len();
    Ok(Reply::paged(
        Value::Array(items),
        page_info(page, per_page, count, total as usize),
    ))
}

pub fn kv_create(tx: &Transaction<'_>, ctx: &Ctx, title: &str) -> Result<Reply, ApiError> {
    let title = title.trim();
    if title.is_empty() || title.len() > 512 {
        return Err(ApiError::new(
            400,
            10019,
            "a KV namespace title must be 1 to 512 characters",
        ));
    }
    let exists: Option<String> = tx
        .query_row(
            "SELECT id FROM kv_namespaces WHERE title = ?1",
            [title],
            |r| r.get(0),
        )
        .optional()?;
    if exists.is_some() {
        return Err(ApiError::new(
            400,
            10014,
            format!("A namespace with this account ID and title already exists ({title})"),
        ));
    }
    let id = hex_id();
    let at = next_timestamp(tx, ctx.now)?;
    tx.execute(
        "INSERT INTO kv_namespaces (id, title, created_on) VALUES (?1, ?2, ?3)",
        params![id, title, at],
    )?;
    Ok(Reply::new(kv_json(&id, title)))
}

pub fn kv_get(tx: &Transaction<'_>, id: &str) -> Result<Reply, ApiError> {
    let title: Option<String> = tx
        .query_row("SELECT title FROM kv_namespaces WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .optional()?;
    match title {
        Some(title) => Ok(Reply::new(kv_json(id, &title))),
        None => Err(kv_not_found(id)),
    }
}

pub fn kv_delete(tx: &Transaction<'_>, id: &str) -> Result<Reply, ApiError> {
    if tx.execute("DELETE FROM kv_namespaces WHERE id = ?1", [id])? == 0 {
        return Err(kv_not_found(id));
    }
    Ok(Reply::new(json!({})))
}

pub fn kv_exists(tx: &Transaction<'_>, id: &str) -> Result<bool, ApiError> {
    Ok(tx
        .query_row(
            "SELECT 1 FROM kv_namespaces WHERE id = ?1",
            [id],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

// === R2 buckets ===

/// Normalises the `cf-r2-jurisdiction` header / binding field.
pub fn r2_jurisdiction(raw: Option<&str>) -> Result<String, ApiError> {
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

fn r2_json(row: &rusqlite::Row<'_>) -> rusqlite::Result<Value> {
    Ok(json!({
        "name": row.get::<_, String>(0)?,
        "jurisdiction": row.get::<_, String>(1)?,
        "creation_date": row.get::<_, String>(2)?,
        "location": row.get::<_, String>(3)?,
        "storage_class": row.get::<_, String>(4)?,
    }))
}

fn r2_not_found() -> ApiError {
    ApiError::new(404, 10006, "The specified bucket does not exist.")
}

pub struct R2ListQuery<'a> {
    pub jurisdiction: Option<&'a str>,
    pub name_contains: Option<&'a str>,
    pub start_after: Option<&'a str>,
    pub per_page: Option<&'a str>,
    pub cursor: Option<&'a str>,
    pub direction: Option<&'a str>,
}

/// Cursor-style listing (`result.buckets`, `result_info{cursor, per_page}`); the cursor is the
/// name of the last bucket returned.
pub fn r2_list(tx: &Transaction<'_>, q: &R2ListQuery<'_>) -> Result<Reply, ApiError> {
    let jurisdiction = r2_jurisdiction(q.jurisdiction)?;
    let (_, per_page) = paging(None, q.per_page, 20, 1000)?;
    let desc = match q.direction {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(other) => {
            return Err(ApiError::new(
                400,
                10004,
                format!("invalid direction {other:?}: expected asc or desc"),
            ));
        }
    };
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
            r2_json,
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

pub fn r2_create(
    tx: &Transaction<'_>,
    ctx: &Ctx,
    name: &str,
    jurisdiction: Option<&str>,
    location_hint: Option<&str>,
    storage_class: Option<&str>,
) -> Result<Reply, ApiError> {
    let jurisdiction = r2_jurisdiction(jurisdiction)?;
    let valid = (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if !valid {
        return Err(ApiError::new(
            400,
            10005,
            format!(
                "The bucket name {name:?} is not valid: use 3-63 lowercase letters, digits and \
                 hyphens, not starting or ending with a hyphen"
            ),
        ));
    }
    if r2_exists(tx, name, &jurisdiction)? {
        return Err(ApiError::new(
            409,
            10004,
            "The bucket you tried to create already exists, and you own it.",
        ));
    }
    let storage_class = match storage_class {
        None | Some("Standard") => "Standard",
        Some("InfrequentAccess") => "InfrequentAccess",
        Some(other) => {
            return Err(ApiError::new(
                400,
                10040,
                format!("invalid storageClass {other:?}: expected Standard or InfrequentAccess"),
            ));
        }
    };
    let location = location_hint.unwrap_or("enam").to_ascii_lowercase();
    // R2 reports creation dates with millisecond precision.
    let at = ctx.now.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
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

pub fn r2_get(
    tx: &Transaction<'_>,
    name: &str,
    jurisdiction: Option<&str>,
) -> Result<Reply, ApiError> {
    let jurisdiction = r2_jurisdiction(jurisdiction)?;
    tx.query_row(
        "SELECT name, jurisdiction, creation_date, location, storage_class FROM r2_buckets
         WHERE name = ?1 AND jurisdiction = ?2",
        params![name, jurisdiction],
        r2_json,
    )
    .optional()?
    .map(Reply::new)
    .ok_or_else(r2_not_found)
}

pub fn r2_delete(
    tx: &Transaction<'_>,
    name: &str,
    jurisdiction: Option<&str>,
) -> Result<Reply, ApiError> {
    let jurisdiction = r2_jurisdiction(jurisdiction)?;
    let n = tx.execute(
        "DELETE FROM r2_buckets WHERE name = ?1 AND jurisdiction = ?2",
        params![name, jurisdiction],
    )?;
    if n == 0 {
        return Err(r2_not_found());
    }
    Ok(Reply::new(json!({})))
}

pub fn r2_exists(tx: &Transaction<'_>, name: &str, jurisdiction: &str) -> Result<bool, ApiError> {
    Ok(tx
        .query_row(
            "SELECT 1 FROM r2_buckets WHERE name = ?1 AND jurisdiction = ?2",
            params![name, jurisdiction],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

// === D1 databases ===

fn d1_json(row: &rusqlite::Row<'_>) -> rusqlite::Result<Value> {
    Ok(json!({
        "uuid": row.get::<_, String>(0)?,
        "name": row.get::<_, String>(1)?,
        "version": "production",
        "created_at": row.get::<_, String>(2)?,
        "jurisdiction": row.get::<_, Option<String>>(3)?,
    }))
}

fn d1_not_found(id: &str) -> ApiError {
    ApiError::new(404, 7404, format!("The database {id} could not be found"))
}

pub fn d1_list(
    tx: &Transaction<'_>,
    name: Option<&str>,
    page: Option<&str>,
    per_page: Option<&str>,
) -> Result<Reply, ApiError> {
    let (page, per_page) = paging(page, per_page, 10, 10000)?;
    let name = name.unwrap_or("");
    let total: i64 = tx.query_row(
        "SELECT COUNT(*) FROM d1_databases WHERE instr(name, ?1) > 0",
        [name],
        |r| r.get(0),
    )?;
    let mut stmt = tx.prepare(
        "SELECT uuid, name, created_at, jurisdiction FROM d1_databases
         WHERE instr(name, ?1) > 0 ORDER BY created_at, name LIMIT ?2 OFFSET ?3",
    )?;
    let items = stmt
        .query_map(
            params![name, per_page as i64, ((page - 1) * per_page) as i64],
            d1_json,
        )?
        .collect::<Result<Vec<_>, _>>()?;
    let count = items.len();
    Ok(Reply::paged(
        Value::Array(items),
        page_info(page, per_page, count, total as usize),
    ))
}

pub fn d1_create(
    tx: &Transaction<'_>,
    ctx: &Ctx,
    name: &str,
    jurisdiction: Option<&str>,
) -> Result<Reply, ApiError> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(ApiError::new(
            400,
            7400,
            format!("The database name {name:?} is not valid: use letters, digits, - and _"),
        ));
    }
    let exists = tx
        .query_row("SELECT 1 FROM d1_databases WHERE name = ?1", [name], |_| {
            Ok(())
        })
        .optional()?
        .is_some();
    if exists {
        return Err(ApiError::new(
            400,
            7502,
            format!("A database with that name already exists ({name})"),
        ));
    }
    let uuid = uuid_id();
    let at = ctx.now.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    tx.execute(
        "INSERT INTO d1_databases (uuid, name, created_at, jurisdiction) VALUES (?1, ?2, ?3, ?4)",
        params![uuid, name, at, jurisdiction],
    )?;
    let mut db = d1_get(tx, &uuid)?;
    if let Some(Value::Object(map)) = db.result.as_mut() {
        map.remove("num_tables");
    }
    Ok(db)
}

pub fn d1_get(tx: &Transaction<'_>, id: &str) -> Result<Reply, ApiError> {
    let row = tx
        .query_row(
            "SELECT uuid, name, created_at, jurisdiction FROM d1_databases WHERE uuid = ?1",
            [id],
            d1_json,
        )
        .optional()?;
    let mut db = row.ok_or_else(|| d1_not_found(id))?;
    db["file_size"] = json!(12288);
    db["num_tables"] = json!(0);
    db["read_replication"] = json!({"mode": "disabled"});
    Ok(Reply::new(db))
}

pub fn d1_delete(tx: &Transaction<'_>, id: &str) -> Result<Reply, ApiError> {
    if tx.execute("DELETE FROM d1_databases WHERE uuid = ?1", [id])? == 0 {
        return Err(d1_not_found(id));
    }
    Ok(Reply::new(Value::Null))
}

pub fn d1_exists(tx: &Transaction<'_>, id: &str) -> Result<bool, ApiError> {
    Ok(tx
        .query_row("SELECT 1 FROM d1_databases WHERE uuid = ?1", [id], |_| {
            Ok(())
        })
        .optional()?
        .is_some())
}

// === Queues ===

fn queue_json(row: &rusqlite::Row<'_>) -> rusqlite::Result<Value> {
    let settings: String = row.get(4)?;
    Ok(json!({
        "queue_id": row.get::<_, String>(0)?,
        "queue_name": row.get::<_, String>(1)?,
        "created_on": row.get::<_, String>(2)?,
        "modified_on": row.get::<_, String>(3)?,
        "producers": [],
        "producers_total_count": 0,
        "consumers": [],
        "consumers_total_count": 0,
        "settings": serde_json::from_str::<Value>(&settings).unwrap_or_else(|_| json!({})),
    }))
}

fn queue_not_found(id: &str) -> ApiError {
    ApiError::new(404, 10104, format!("Queue {id} does not exist."))
}

/// Lists queues; `names` (the repeatable `name` parameter) filters by exact name.
pub fn queues_list(
    tx: &Transaction<'_>,
    names: &[&str],
    page: Option<&str>,
    per_page: Option<&str>,
) -> Result<Reply, ApiError> {
    let (page, per_page) = paging(page, per_page, 100, 1000)?;
    let mut stmt = tx.prepare(
        "SELECT queue_id, queue_name, created_on, modified_on, settings FROM queues
         ORDER BY created_on, queue_name",
    )?;
    let all = stmt
        .query_map([], queue_json)?
        .collect::<Result<Vec<_>, _>>()?;
    let filtered: Vec<Value> = all
        .into_iter()
        .filter(|q| {
            names.is_empty()
                || names
                    .iter()
                    .any(|n| q.get("queue_name").and_then(Value::as_str) == Some(n))
        })
        .collect();
    let total = filtered.len();
    let items: Vec<Value> = filtered
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    let count = items.len();
    Ok(Reply::paged(
        Value::Array(items),
        page_info(page, per_page, count, total),
    ))
}

pub fn queue_create(tx: &Transaction<'_>, ctx: &Ctx, name: &str) -> Result<Reply, ApiError> {
    if name.is_empty()
        || name.len() > 63
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(ApiError::new(
            400,
            11002,
            format!("Queue name {name:?} is not valid: use letters, digits, - and _"),
        ));
    }
    if queue_exists(tx, name)? {
        return Err(ApiError::new(
            409,
            11009,
            format!("Queue name {name} is already taken"),
        ));
    }
    let id = hex_id();
    let at = super::next_timestamp(tx, ctx.now)?;
    let settings = json!({
        "delivery_delay": 0, "delivery_paused": false, "message_retention_period": 345600
    });
    tx.execute(
        "INSERT INTO queues (queue_id, queue_name, created_on, modified_on, settings)
         VALUES (?1, ?2, ?3, ?3, ?4)",
        params![id, name, at, settings.to_string()],
    )?;
    queue_get(tx, &id)
}

pub fn queue_get(tx: &Transaction<'_>, id: &str) -> Result<Reply, ApiError> {
    tx.query_row(
        "SELECT queue_id, queue_name, created_on, modified_on, settings FROM queues
         WHERE queue_id = ?1",
        [id],
        queue_json,
    )
    .optional()?
    .map(Reply::new)
    .ok_or_else(|| queue_not_found(id))
}

pub fn queue_delete(tx: &Transaction<'_>, id: &str) -> Result<Reply, ApiError> {
    if tx.execute("DELETE FROM queues WHERE queue_id = ?1", [id])? == 0 {
        return Err(queue_not_found(id));
    }
    Ok(Reply::new(json!({})))
}

pub fn queue_exists(tx: &Transaction<'_>, name: &str) -> Result<bool, ApiError> {
    Ok(tx
        .query_row("SELECT 1 FROM queues WHERE queue_name = ?1", [name], |_| {
            Ok(())
        })
        .optional()?
        .is_some())
}
