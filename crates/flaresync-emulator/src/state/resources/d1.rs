//! D1 databases, keyed by uuid: list (page-style, name filter), create, get, delete.

use rusqlite::{OptionalExtension, Transaction, params};
use serde_json::{Value, json};

use super::{delete_one, found, is_plain_name, millis, page};
use crate::error::ApiError;
use crate::state::{Ctx, Reply, paging, uuid_id};

fn database_json(row: &rusqlite::Row<'_>) -> rusqlite::Result<Value> {
    Ok(json!({
        "uuid": row.get::<_, String>(0)?,
        "name": row.get::<_, String>(1)?,
        "version": "production",
        "created_at": row.get::<_, String>(2)?,
        "jurisdiction": row.get::<_, Option<String>>(3)?,
    }))
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(404, 7404, format!("The database {id} could not be found"))
}

/// Lists databases whose name contains `name`.
pub fn list(
    tx: &Transaction<'_>,
    name: Option<&str>,
    page_no: Option<&str>,
    per_page: Option<&str>,
) -> Result<Reply, ApiError> {
    let (page_no, per_page) = paging(page_no, per_page, 10, 10000)?;
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
            params![name, per_page as i64, ((page_no - 1) * per_page) as i64],
            database_json,
        )?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(page(items, page_no, per_page, total as usize))
}

pub fn create(
    tx: &Transaction<'_>,
    ctx: &Ctx,
    name: &str,
    jurisdiction: Option<&str>,
) -> Result<Reply, ApiError> {
    if !is_plain_name(name, 64) {
        return Err(ApiError::new(
            400,
            7400,
            format!("The database name {name:?} is not valid: use letters, digits, - and _"),
        ));
    }
    if found(tx, "SELECT 1 FROM d1_databases WHERE name = ?1", [name])? {
        return Err(ApiError::new(
            400,
            7502,
            format!("A database with that name already exists ({name})"),
        ));
    }
    let uuid = uuid_id();
    tx.execute(
        "INSERT INTO d1_databases (uuid, name, created_at, jurisdiction) VALUES (?1, ?2, ?3, ?4)",
        params![uuid, name, millis(ctx.now), jurisdiction],
    )?;
    let mut db = get(tx, &uuid)?;
    if let Some(Value::Object(map)) = db.result.as_mut() {
        map.remove("num_tables");
    }
    Ok(db)
}

pub fn get(tx: &Transaction<'_>, id: &str) -> Result<Reply, ApiError> {
    let row = tx
        .query_row(
            "SELECT uuid, name, created_at, jurisdiction FROM d1_databases WHERE uuid = ?1",
            [id],
            database_json,
        )
        .optional()?;
    let mut db = row.ok_or_else(|| not_found(id))?;
    db["file_size"] = json!(12288);
    db["num_tables"] = json!(0);
    db["read_replication"] = json!({"mode": "disabled"});
    Ok(Reply::new(db))
}

pub fn delete(tx: &Transaction<'_>, id: &str) -> Result<Reply, ApiError> {
    delete_one(tx, "DELETE FROM d1_databases WHERE uuid = ?1", [id], || {
        not_found(id)
    })?;
    Ok(Reply::new(Value::Null))
}

pub fn exists(tx: &Transaction<'_>, id: &str) -> Result<bool, ApiError> {
    found(tx, "SELECT 1 FROM d1_databases WHERE uuid = ?1", [id])
}
