//! The pure state core: Cloudflare's control-plane semantics as functions over a SQLite
//! transaction, each returning `Result<Reply, ApiError>`.
//!
//! Nothing here knows about HTTP. The shell (`crate::http`) parses requests into values, opens one
//! transaction per request through [`Db::write`]/[`Db::read`], and renders the [`Reply`]. The
//! deployment rules themselves are pure functions over values in [`rules`].

pub mod account;
pub mod assets;
pub mod bindings;
pub mod deployments;
pub mod domains;
pub mod migrations;
pub mod resources;
pub mod route_pattern;
pub mod routes;
pub mod rules;
pub mod schedules;
pub mod scripts;
pub mod secrets;
pub mod setting_values;
pub mod store;
pub mod upload;
pub mod versions;
pub mod zones;

use std::path::Path;
use std::sync::Mutex;

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use serde_json::Value;

use crate::error::{ApiError, EmulatorError};

/// What a successful call answers: `result` (absent for some DELETEs) and `result_info`.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub result: Option<Value>,
    pub result_info: Option<Value>,
}

impl Reply {
    pub fn new(result: Value) -> Self {
        Self {
            result: Some(result),
            result_info: None,
        }
    }

    pub fn paged(result: Value, result_info: Value) -> Self {
        Self {
            result: Some(result),
            result_info: Some(result_info),
        }
    }

    /// Envelope without `result` (delete deployment).
    pub fn empty() -> Self {
        Self {
            result: None,
            result_info: None,
        }
    }
}

/// Per-request facts the core needs: who acts, from where, when, and the account's limits.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub now: DateTime<Utc>,
    /// `wrangler` when the User-Agent says so, else `api`.
    pub source: String,
    pub author_email: String,
    pub author_id: String,
    pub version_window: usize,
    pub max_script_bytes: usize,
}

/// The SQLite store. One connection behind a mutex: a single writer, and every call runs in its
/// own IMMEDIATE transaction, so a request either fully happens or not at all.
pub struct Db {
    conn: Mutex<Connection>,
    /// Signalled after every committed write (the data plane wakes on it instead of waiting
    /// for its next poll).
    written: tokio::sync::Notify,
}

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS scripts (
  name TEXT PRIMARY KEY,
  doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS versions (
  id TEXT PRIMARY KEY,
  script TEXT NOT NULL,
  number INTEGER NOT NULL,
  doc TEXT NOT NULL,
  UNIQUE (script, number)
);
CREATE TABLE IF NOT EXISTS blobs (sha256 TEXT PRIMARY KEY, content BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS deployments (
  id TEXT PRIMARY KEY,
  script TEXT NOT NULL,
  seq INTEGER NOT NULL,
  doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS deployments_by_script ON deployments (script, seq);
CREATE TABLE IF NOT EXISTS kv_namespaces (
  id TEXT PRIMARY KEY, title TEXT NOT NULL UNIQUE, created_on TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS r2_buckets (
  name TEXT NOT NULL, jurisdiction TEXT NOT NULL, creation_date TEXT NOT NULL,
  location TEXT NOT NULL, storage_class TEXT NOT NULL, PRIMARY KEY (name, jurisdiction)
);
CREATE TABLE IF NOT EXISTS d1_databases (
  uuid TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL, jurisdiction TEXT
);
CREATE TABLE IF NOT EXISTS queues (
  queue_id TEXT PRIMARY KEY, queue_name TEXT NOT NULL UNIQUE, created_on TEXT NOT NULL,
  modified_on TEXT NOT NULL, settings TEXT NOT NULL
);
-- Added after the first release: IF NOT EXISTS makes it the migration for older state dirs.
CREATE TABLE IF NOT EXISTS schedules (
  script TEXT NOT NULL, position INTEGER NOT NULL, cron TEXT NOT NULL,
  created_on TEXT NOT NULL, modified_on TEXT NOT NULL, PRIMARY KEY (script, cron)
);
CREATE TABLE IF NOT EXISTS zones (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, created_on TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS zone_routes (
  id TEXT PRIMARY KEY, zone_id TEXT NOT NULL, pattern TEXT NOT NULL, script TEXT,
  UNIQUE (zone_id, pattern)
);
CREATE TABLE IF NOT EXISTS custom_domains (
  id TEXT PRIMARY KEY, hostname TEXT NOT NULL UNIQUE, service TEXT NOT NULL,
  environment TEXT NOT NULL, zone_id TEXT NOT NULL, zone_name TEXT NOT NULL, cert_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS queue_consumers (
  consumer_id TEXT PRIMARY KEY, queue_id TEXT NOT NULL, type TEXT NOT NULL, script TEXT,
  dead_letter_queue TEXT, settings TEXT NOT NULL, created_on TEXT NOT NULL
);
"#;

const TABLES: &[&str] = &[
    "meta",
    "scripts",
    "versions",
    "blobs",
    "deployments",
    "kv_namespaces",
    "r2_buckets",
    "d1_databases",
    "queues",
    "schedules",
    "kv_values",
    "zones",
    "zone_routes",
    "custom_domains",
    "queue_consumers",
];

impl Db {
    /// Opens (or creates) `<dir>/emulator.sqlite3` in WAL mode with full sync.
    pub fn open(dir: &Path) -> Result<Self, EmulatorError> {
        std::fs::create_dir_all(dir).map_err(|source| EmulatorError::CreateStateDir {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join("emulator.sqlite3");
        let conn = Connection::open(&path).map_err(|source| EmulatorError::OpenState {
            path: path.clone(),
            source,
        })?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .and_then(|_| conn.pragma_update(None, "synchronous", "FULL"))
            .and_then(|_| conn.busy_timeout(std::time::Duration::from_secs(5)))
            .map_err(|source| EmulatorError::OpenState { path, source })?;
        Self::init(conn)
    }

    /// An in-memory store (lost when dropped).
    pub fn in_memory() -> Result<Self, EmulatorError> {
        let conn = Connection::open_in_memory().map_err(EmulatorError::Schema)?;
        Self::init(conn)
    }

    fn init(conn: Connection) -> Result<Self, EmulatorError> {
        conn.execute_batch(SCHEMA).map_err(EmulatorError::Schema)?;
        conn.execute_batch(resources::kv_values::SCHEMA)
            .map_err(EmulatorError::Schema)?;
        conn.execute_batch(assets::SCHEMA)
            .map_err(EmulatorError::Schema)?;
        Ok(Self {
            conn: Mutex::new(conn),
            written: tokio::sync::Notify::new(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock dropped its transaction (rolled back), so the
        // connection is still consistent: recover it instead of failing every later request.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` in one IMMEDIATE transaction; commits on `Ok`, rolls back on `Err`.
    pub fn write<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        self.written.notify_one();
        Ok(out)
    }

    /// Completes after the next committed write (or at once when one happened since the last
    /// wait: a single waiter is meant, the data plane's controller).
    pub async fn written(&self) {
        self.written.notified().await;
    }

    /// Runs `f` in a read transaction (consistent snapshot).
    pub fn read<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
        f(&tx)
    }

    /// Deletes all state (admin reset).
    pub fn wipe(&self) -> Result<(), ApiError> {
        self.write(|tx| {
            for table in TABLES.iter().chain(assets::TABLES) {
                tx.execute(&format!("DELETE FROM {table}"), [])?;
            }
            Ok(())
        })
    }
}

/// Formats a timestamp the way CONTRACT.md §2 requires: always 6 fractional digits and `Z`.
pub fn format_ts(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Returns a timestamp that is `now` unless that would not be strictly after the last one
/// handed out; then it is the last one plus one microsecond. Global, so strictly increasing
/// per Worker too (wrangler sorts with `localeCompare`).
pub fn next_timestamp(tx: &Transaction<'_>, now: DateTime<Utc>) -> Result<String, ApiError> {
    let last: Option<String> = tx
        .query_row("SELECT value FROM meta WHERE key = 'clock_us'", [], |r| {
            r.get(0)
        })
        .optional()?;
    let last_us = last.and_then(|v| v.parse::<i64>().ok()).unwrap_or(i64::MIN);
    let now_us = now.timestamp_micros();
    let us = if now_us > last_us {
        now_us
    } else {
        last_us + 1
    };
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('clock_us', ?1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![us.to_string()],
    )?;
    let at = Utc
        .timestamp_micros(us)
        .single()
        .ok_or_else(ApiError::internal)?;
    Ok(format_ts(at))
}

/// 32 lowercase hex characters (Cloudflare's tags and KV/queue ids).
pub fn hex_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A hyphenated UUID (version, deployment and D1 ids).
pub fn uuid_id() -> String {
    uuid::Uuid::new_v4().hyphenated().to_string()
}

/// Renders a percentage as an integer when it is whole (`100`, not `100.0`).
pub fn number(value: f64) -> Value {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        Value::from(value as i64)
    } else {
        serde_json::Number::from_f64(value)
            .map(Value::Number)
            .unwrap_or(Value::Null)
    }
}

/// Page-style `result_info`.
pub fn page_info(page: usize, per_page: usize, count: usize, total: usize) -> Value {
    let total_pages = if per_page == 0 {
        0
    } else {
        total.div_ceil(per_page)
    };
    serde_json::json!({
        "page": page,
        "per_page": per_page,
        "count": count,
        "total_count": total,
        "total_pages": total_pages,
    })
}

/// Page `page` of `all` (page-style, `per_page` items), with its `result_info`.
pub fn page_of(all: Vec<Value>, page: usize, per_page: usize) -> Reply {
    let total = all.len();
    let items: Vec<Value> = all
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    let count = items.len();
    Reply::paged(Value::Array(items), page_info(page, per_page, count, total))
}

/// Parses `page`/`per_page` query values: defaults, bounds, and Cloudflare-style errors.
pub fn paging(
    page: Option<&str>,
    per_page: Option<&str>,
    default_per_page: usize,
    max_per_page: usize,
) -> Result<(usize, usize), ApiError> {
    let parse =
        |name: &str, raw: Option<&str>, default: usize| -> Result<usize, ApiError> {
            match raw {
            None | Some("") => Ok(default),
            Some(text) => text.parse::<usize>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                ApiError::new(
                    400,
                    10004,
                    format!("invalid query parameter {name}={text:?}: expected a positive integer"),
                )
            }),
        }
        };
    // Capped so offsets cannot overflow; such pages are simply empty.
    let page = parse("page", page, 1)?.min(1_000_000_000);
    let per_page = parse("per_page", per_page, default_per_page)?.min(max_per_page);
    Ok((page, per_page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_six_fraction_digits_and_strictly_increase() {
        let db = Db::in_memory().expect("in-memory db");
        let now = Utc.timestamp_opt(1_700_000_000, 0).single().expect("valid");
        let (a, b, c) = db
            .write(|tx| {
                Ok((
                    next_timestamp(tx, now)?,
                    next_timestamp(tx, now)?,
                    next_timestamp(tx, now - chrono::Duration::seconds(5))?,
                ))
            })
            .expect("timestamps");
        assert_eq!(a, "2023-11-14T22:13:20.000000Z");
        assert_eq!(b, "2023-11-14T22:13:20.000001Z");
        assert_eq!(c, "2023-11-14T22:13:20.000002Z");
        assert!(a < b && b < c);
    }

    #[test]
    fn whole_percentages_render_as_integers() {
        assert_eq!(number(100.0), serde_json::json!(100));
        assert_eq!(number(12.5), serde_json::json!(12.5));
    }

    #[test]
    fn paging_rejects_zero_and_garbage() {
        assert!(paging(Some("0"), None, 10, 100).is_err());
        assert!(paging(Some("x"), None, 10, 100).is_err());
        assert_eq!(paging(None, Some("500"), 10, 100).expect("ok"), (1, 100));
        let (page, per_page) =
            paging(Some("18446744073709551615"), Some("100"), 10, 100).expect("huge page ok");
        assert!((page - 1).checked_mul(per_page).is_some());
    }

    #[test]
    fn failed_write_rolls_back() {
        let db = Db::in_memory().expect("db");
        let r: Result<(), ApiError> = db.write(|tx| {
            tx.execute("INSERT INTO meta (key, value) VALUES ('k', 'v')", [])?;
            Err(ApiError::validation("nope"))
        });
        assert!(r.is_err());
        let n: i64 = db
            .read(|tx| Ok(tx.query_row("SELECT COUNT(*) FROM meta", [], |r| r.get(0))?))
            .expect("count");
        assert_eq!(n, 0);
    }
}
