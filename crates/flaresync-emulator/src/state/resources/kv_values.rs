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

/// Most pairs of one bulk write (Cloudflare's limit).
pub const BULK_MAX: usize = 10_000;
/// Most bytes of a key's metadata, serialized (Cloudflare's limit).
pub const METADATA_MAX: usize = 1024;

fn bulk_error(message: impl Into<String>) -> ApiError {
    ApiError::new(400, 10001, message)
}

/// The pairs of a bulk write's body (`now`: unix seconds, for `expiration_ttl`), validated as a
/// whole before anything is written.
pub fn bulk_entries(body: &Value, now: i64) -> Result<Vec<(String, Entry)>, ApiError> {
    let items = body
        .as_array()
        .ok_or_else(|| bulk_error("the body must be a JSON array of {key, value} objects"))?;
    if items.len() > BULK_MAX {
        return Err(bulk_error(format!(
            "a bulk write takes at most {BULK_MAX} pairs, got {}",
            items.len()
        )));
    }
    items
        .iter()
        .enumerate()
        .map(|(index, item)| bulk_entry(index, item, now))
        .collect()
}

fn bulk_entry(index: usize, item: &Value, now: i64) -> Result<(String, Entry), ApiError> {
    let key = item["key"]
        .as_str()
        .ok_or_else(|| bulk_error(format!("pair {index}: `key` must be a string")))?;
    let text = item["value"]
        .as_str()
        .ok_or_else(|| bulk_error(format!("pair {index}: `value` must be a string")))?;
    let value = if item["base64"].as_bool() == Some(true) {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|_| bulk_error(format!("pair {index}: `value` is not valid base64")))?
    } else {
        text.as_bytes().to_vec()
    };
    let metadata = match &item["metadata"] {
        Value::Null => None,
        other => Some(other.to_string()),
    };
    if metadata.as_ref().is_some_and(|m| m.len() > METADATA_MAX) {
        return Err(bulk_error(format!(
            "pair {index}: metadata is larger than {METADATA_MAX} bytes"
        )));
    }
    let expiration = item["expiration"]
        .as_i64()
        .or_else(|| item["expiration_ttl"].as_i64().map(|ttl| now + ttl));
    let entry = Entry {
        value,
        metadata,
        expiration,
    };
    Ok((key.to_owned(), entry))
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

    #[test]
    fn bulk_writes_are_validated_as_a_whole() {
        let body = json!([
            {"key": "a", "value": "x", "metadata": {"m": 1}},
            {"key": "b", "value": "eQ==", "base64": true, "expiration_ttl": 60},
        ]);
        let pairs = bulk_entries(&body, 1000).expect("valid");
        assert_eq!(pairs[0].1.metadata.as_deref(), Some("{\"m\":1}"));
        assert_eq!(
            (pairs[1].1.value.as_slice(), pairs[1].1.expiration),
            (&b"y"[..], Some(1060))
        );
        let code = |body: serde_json::Value| bulk_entries(&body, 0).map(|_| ()).map_err(|e| e.code);
        assert_eq!(code(json!({"key": "a"})), Err(10001), "not an array");
        assert_eq!(code(json!([{"key": "a", "value": 1}])), Err(10001));
        let large = "x".repeat(METADATA_MAX);
        assert_eq!(
            code(json!([{"key": "a", "value": "", "metadata": large}])),
            Err(10001)
        );
        let many: Vec<_> = (0..=BULK_MAX)
            .map(|i| json!({"key": i.to_string(), "value": ""}))
            .collect();
        assert_eq!(code(json!(many)), Err(10001));
    }
}
