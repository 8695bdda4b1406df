//! KV namespaces: list (page-style, ordered by id or title), create, get, delete.

use rusqlite::{OptionalExtension, Transaction, params};
use serde_json::{Value, json};

use super::{delete_one, descending, found, page};
use crate::error::ApiError;
use crate::state::{Ctx, Reply, hex_id, next_timestamp, paging};

fn namespace_json(id: &str, title: &str) -> Value {
    json!({"id": id, "title": title, "supports_url_encoding": true})
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(
        404,
        10013,
        format!("get namespace: 'namespace not found' (no KV namespace with id {id})"),
    )
}

pub struct ListQuery<'a> {
    pub page: Option<&'a str>,
    pub per_page: Option<&'a str>,
    pub order: Option<&'a str>,
    pub direction: Option<&'a str>,
}

pub fn list(tx: &Transaction<'_>, q: &ListQuery<'_>) -> Result<Reply, ApiError> {
    let (page_no, per_page) = paging(q.page, q.per_page, 20, 1000)?;
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
    let dir = if descending(q.direction)? {
        "DESC"
    } else {
        "ASC"
    };
    let total: i64 = tx.query_row("SELECT COUNT(*) FROM kv_namespaces", [], |r| r.get(0))?;
    let mut stmt = tx.prepare(&format!(
        "SELECT id, title FROM kv_namespaces ORDER BY {column} {dir} LIMIT ?1 OFFSET ?2"
    ))?;
    let items = stmt
        .query_map(
            params![per_page as i64, ((page_no - 1) * per_page) as i64],
            |r| {
                Ok(namespace_json(
                    &r.get::<_, String>(0)?,
                    &r.get::<_, String>(1)?,
                ))
            },
        )?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(page(items, page_no, per_page, total as usize))
}

pub fn create(tx: &Transaction<'_>, ctx: &Ctx, title: &str) -> Result<Reply, ApiError> {
    let title = title.trim();
    if title.is_empty() || title.len() > 512 {
        return Err(ApiError::new(
            400,
            10019,
            "a KV namespace title must be 1 to 512 characters",
        ));
    }
    if found(tx, "SELECT 1 FROM kv_namespaces WHERE title = ?1", [title])? {
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
    Ok(Reply::new(namespace_json(&id, title)))
}

pub fn get(tx: &Transaction<'_>, id: &str) -> Result<Reply, ApiError> {
    let title: Option<String> = tx
        .query_row("SELECT title FROM kv_namespaces WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .optional()?;
    match title {
        Some(title) => Ok(Reply::new(namespace_json(id, &title))),
        None => Err(not_found(id)),
    }
}

pub fn delete(tx: &Transaction<'_>, id: &str) -> Result<Reply, ApiError> {
    delete_one(tx, "DELETE FROM kv_namespaces WHERE id = ?1", [id], || {
        not_found(id)
    })
}

pub fn exists(tx: &Transaction<'_>, id: &str) -> Result<bool, ApiError> {
    found(tx, "SELECT 1 FROM kv_namespaces WHERE id = ?1", [id])
}
