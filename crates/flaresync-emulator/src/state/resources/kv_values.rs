//! KV key/value pairs of the account's namespaces: what the REST `…/values/{key}` and `…/keys`
//! endpoints and the data plane's KV binding both read and write. Expired pairs read as absent.

use rusqlite::{OptionalExtension, Transaction, params};
use serde_json::{Value, json};

use super::kv;
use crate::error::ApiError;

/// The table (created with the schema; also here so older state dirs get it).
pub const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS kv_values (
  namespace TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, metadata TEXT,
  expiration INTEGER, PRIMARY KEY (namespace, key)
);";

/// A stored value.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub value: Vec<u8>,
    /// JSON text.
    pub metadata: Option<String>,
    /// Unix seconds.
    pub expiration: Option<i64>,
}

fn require_namespace(tx: &Transaction<'_>, namespace: &str) -> Result<(), ApiError> {
    if kv::exists(tx, namespace)? {
        Ok(())
    } else {
        Err(ApiError::new(
            404,
            10013,
            format!("get namespace: 'namespace not found' (no KV namespace with id {namespace})"),
        ))
    }
}

fn key_not_found() -> ApiError {
    ApiError::new(404, 10009, "get: 'key not found'")
}

/// The value of `key`, or 10009 (404).
pub fn get(tx: &Transaction<'_>, namespace: &str, key: &str, now: i64) -> Result<Entry, ApiError> {
    require_namespace(tx, namespace)?;
    tx.query_row(
        "SELECT value, metadata, expiration FROM kv_values
         WHERE namespace = ?1 AND key = ?2 AND (expiration IS NULL OR expiration > ?3)",
        params![namespace, key, now],
        |r| {
            Ok(Entry {
                value: r.get(0)?,
                metadata: r.get(1)?,
                expiration: r.get(2)?,
            })
        },
    )
    .optional()?
    .ok_or_else(key_not_found)
}

/// Writes `key`.
pub fn put(
    tx: &Transaction<'_>,
    namespace: &str,
    key: &str,
    entry: &Entry,
) -> Result<(), ApiError> {
    require_namespace(tx, namespace)?;
    if key.is_empty() || key.len() > 512 {
        return Err(ApiError::new(
            400,
            10019,
            "key names must be 1 to 512 bytes",
        ));
    }
    tx.execute(
        "INSERT INTO kv_values (namespace, key, value, metadata, expiration)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value,
           metadata = excluded.metadata, expiration = excluded.expiration",
        params![
            namespace,
            key,
            entry.value,
            entry.metadata,
            entry.expiration
        ],
    )?;
    Ok(())
}

/// Deletes `key` (absent keys too).
pub fn delete(tx: &Transaction<'_>, namespace: &str, key: &str) -> Result<(), ApiError> {
    require_namespace(tx, namespace)?;
    tx.execute(
        "DELETE FROM kv_values WHERE namespace = ?1 AND key = ?2",
        params![namespace, key],
    )?;
    Ok(())
}

/// Keys in name order after `cursor` (the last name of the previous page), with `prefix`:
/// `(keys [{name, expiration?, metadata?}], next cursor)`.
pub fn list(
    tx: &Transaction<'_>,
    namespace: &str,
    prefix: &str,
    limit: usize,
    cursor: Option<&str>,
    now: i64,
) -> Result<(Vec<Value>, Option<String>), ApiError> {
    require_namespace(tx, namespace)?;
    let limit = limit.clamp(1, 1000);
    let mut stmt = tx.prepare(
        "SELECT key, metadata, expiration FROM kv_values
         WHERE namespace = ?1 AND substr(key, 1, length(?2)) = ?2 AND key > ?3
           AND (expiration IS NULL OR expiration > ?4)
         ORDER BY key LIMIT ?5",
    )?;
    let rows = stmt
        .query_map(
            params![
                namespace,
                prefix,
                cursor.unwrap_or(""),
                now,
                limit as i64 + 1
            ],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                ))
            },
        )?
        .collect::<Result<Vec<_>, _>>()?;
    let more = rows.len() > limit;
    let keys: Vec<Value> = rows
        .into_iter()
        .take(limit)
        .map(|(name, metadata, expiration)| {
            let mut key = json!({"name": name});
            if let Some(expiration) = expiration {
                key["expiration"] = json!(expiration);
            }
            if let Some(metadata) = metadata.and_then(|m| serde_json::from_str::<Value>(&m).ok()) {
                key["metadata"] = metadata;
            }
            key
        })
        .collect();
    let cursor = more
        .then(|| {
            keys.last()
                .and_then(|k| k["name"].as_str())
                .map(str::to_owned)
        })
        .flatten();
    Ok((keys, cursor))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Db;

    #[test]
    fn put_get_list_delete_and_expiry() {
        let db = Db::in_memory().expect("db");
        db.write(|tx| {
            tx.execute(
                "INSERT INTO kv_namespaces (id, title, created_on) VALUES ('ns', 't', 'now')",
                [],
            )?;
            let entry = |v: &str, exp| Entry {
                value: v.as_bytes().to_vec(),
                metadata: Some("{\"a\":1}".into()),
                expiration: exp,
            };
            put(tx, "ns", "a/1", &entry("x", None))?;
            put(tx, "ns", "a/2", &entry("y", Some(100)))?;
            put(tx, "ns", "b", &entry("z", None))?;
            assert_eq!(get(tx, "ns", "a/1", 50)?.value, b"x");
            assert_eq!(get(tx, "ns", "a/2", 200).map_err(|e| e.code), Err(10009));
            let (keys, cursor) = list(tx, "ns", "a/", 1, None, 50)?;
            assert_eq!(keys, vec![json!({"name": "a/1", "metadata": {"a": 1}})]);
            let (keys, cursor) = list(tx, "ns", "a/", 1, cursor.as_deref(), 50)?;
            assert_eq!(keys[0]["name"], json!("a/2"));
            assert_eq!(cursor, None);
            delete(tx, "ns", "b")?;
            assert!(get(tx, "ns", "b", 0).is_err());
            assert_eq!(
                put(tx, "nope", "k", &entry("v", None)).map_err(|e| e.code),
                Err(10013)
            );
            Ok(())
        })
        .expect("kv values");
    }
}
