//! Zones of the account (`GET /zones?name=&account.id=`, `GET /zones/{id}`, `POST /zones`):
//! what routes and custom domains attach to. The emulator seeds the zones its config names
//! (`EmulatorConfig::zones`, `flaresync emulator --zone`); more can be created like on
//! Cloudflare. A zone's id is derived from its name, so a seeded zone keeps its id across
//! restarts and state directories.

use rusqlite::{OptionalExtension, Transaction, params};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{Ctx, Reply, next_timestamp, page_info, page_of, paging};
use crate::error::ApiError;

/// One zone: id and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    pub id: String,
    pub name: String,
}

/// The id the emulator gives the zone `name` (32 hex, stable).
pub fn zone_id(name: &str) -> String {
    let digest = Sha256::digest(format!(
        "flaresync-emulator:zone:{}",
        name.to_ascii_lowercase()
    ));
    hex::encode(&digest[..16])
}

fn invalid_name(name: &str) -> ApiError {
    ApiError::new(
        400,
        1099,
        format!("Invalid zone name {name:?}: expected a registrable domain such as example.com"),
    )
}

/// A zone name: lowercase labels of letters, digits and `-`, at least two of them.
fn valid_name(name: &str) -> bool {
    let labels: Vec<&str> = name.split('.').collect();
    labels.len() >= 2
        && name.len() <= 253
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// Inserts the seeded zones that are missing (startup and after a reset).
pub fn seed(tx: &Transaction<'_>, names: &[String], now: &str) -> Result<(), ApiError> {
    for name in names {
        let name = name.to_ascii_lowercase();
        if !valid_name(&name) {
            return Err(invalid_name(&name));
        }
        tx.execute(
            "INSERT OR IGNORE INTO zones (id, name, created_on) VALUES (?1, ?2, ?3)",
            params![zone_id(&name), name, now],
        )?;
    }
    Ok(())
}

/// Seeds `names` in a transaction of its own (startup, admin reset).
pub fn seed_now(db: &super::Db, names: &[String]) -> Result<(), ApiError> {
    let now = super::format_ts(chrono::Utc::now());
    db.write(|tx| seed(tx, names, &now))
}

/// `POST /zones` with `{name, account: {id}}`: 1061 when the zone exists.
pub fn create(
    tx: &Transaction<'_>,
    ctx: &Ctx,
    account: &str,
    body: &Value,
) -> Result<Reply, ApiError> {
    let name = body
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_ascii_lowercase();
    if !valid_name(&name) {
        return Err(invalid_name(&name));
    }
    if let Some(other) = body.pointer("/account/id").and_then(Value::as_str)
        && other != account
    {
        return Err(ApiError::new(
            403,
            1068,
            format!("Permission denied: the token cannot create zones in account {other}"),
        ));
    }
    if by_name(tx, &name)?.is_some() {
        return Err(ApiError::new(400, 1061, format!("{name} already exists")));
    }
    let at = next_timestamp(tx, ctx.now)?;
    tx.execute(
        "INSERT INTO zones (id, name, created_on) VALUES (?1, ?2, ?3)",
        params![zone_id(&name), name, at],
    )?;
    get(tx, &zone_id(&name), account)
}

fn zone_json(id: &str, name: &str, created_on: &str, account: &str) -> Value {
    json!({
        "id": id,
        "name": name,
        "status": "active",
        "paused": false,
        "type": "full",
        "development_mode": 0,
        "name_servers": ["ada.ns.cloudflare.com", "bob.ns.cloudflare.com"],
        "original_name_servers": null,
        "original_registrar": null,
        "original_dnshost": null,
        "created_on": created_on,
        "modified_on": created_on,
        "activated_on": created_on,
        "account": {"id": account, "name": "Flaresync Emulated Account"},
        "owner": {"id": null, "type": "user", "email": null},
        "permissions": ["#worker:edit", "#zone:read"],
        "plan": {"id": "0feeeeeeeeeeeeeeeeeeeeeeeeeeeeee", "name": "Free Website", "price": 0,
                  "currency": "USD", "frequency": "", "is_subscribed": false,
                  "can_subscribe": false, "legacy_id": "free", "legacy_discount": false,
                  "externally_managed": false},
    })
}

/// What `GET /zones` filters on.
#[derive(Debug, Default)]
pub struct ListQuery<'a> {
    pub name: Option<&'a str>,
    pub account_id: Option<&'a str>,
    pub page: Option<&'a str>,
    pub per_page: Option<&'a str>,
}

/// `GET /zones`: page-style (20 per page, at most 50), filtered by exact name and account.
pub fn list(tx: &Transaction<'_>, query: &ListQuery<'_>, account: &str) -> Result<Reply, ApiError> {
    let (page, per_page) = paging(query.page, query.per_page, 20, 50)?;
    if query.account_id.is_some_and(|other| other != account) {
        return Ok(Reply::paged(json!([]), page_info(page, per_page, 0, 0)));
    }
    let mut stmt = tx.prepare("SELECT id, name, created_on FROM zones ORDER BY name")?;
    let all: Vec<Value> = stmt
        .query_map([], |r| {
            Ok(zone_json(
                &r.get::<_, String>(0)?,
                &r.get::<_, String>(1)?,
                &r.get::<_, String>(2)?,
                account,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .filter(|zone| {
            query
                .name
                .is_none_or(|name| zone["name"].as_str() == Some(&name.to_ascii_lowercase()))
        })
        .collect();
    Ok(page_of(all, page, per_page))
}

/// `GET /zones/{id}`.
pub fn get(tx: &Transaction<'_>, id: &str, account: &str) -> Result<Reply, ApiError> {
    tx.query_row(
        "SELECT id, name, created_on FROM zones WHERE id = ?1",
        [id],
        |r| {
            Ok(zone_json(
                &r.get::<_, String>(0)?,
                &r.get::<_, String>(1)?,
                &r.get::<_, String>(2)?,
                account,
            ))
        },
    )
    .optional()?
    .map(Reply::new)
    .ok_or_else(|| not_found(id))
}

/// Cloudflare's answer for an unknown zone id under `/zones/{id}/…`.
pub fn not_found(id: &str) -> ApiError {
    ApiError::new(
        404,
        7003,
        format!("Could not route to /zones/{id}, perhaps your object identifier is invalid?"),
    )
}

/// The zone with id `id`.
pub fn by_id(tx: &Transaction<'_>, id: &str) -> Result<Option<Zone>, ApiError> {
    Ok(tx
        .query_row("SELECT id, name FROM zones WHERE id = ?1", [id], |r| {
            Ok(Zone {
                id: r.get(0)?,
                name: r.get(1)?,
            })
        })
        .optional()?)
}

/// The zone named `name`.
pub fn by_name(tx: &Transaction<'_>, name: &str) -> Result<Option<Zone>, ApiError> {
    by_id(tx, &zone_id(name)).map(|zone| zone.filter(|z| z.name == name.to_ascii_lowercase()))
}

/// The zone a host belongs to: the longest zone name that is the host or a parent of it.
pub fn of_host(tx: &Transaction<'_>, host: &str) -> Result<Option<Zone>, ApiError> {
    let host = host.to_ascii_lowercase();
    let mut candidate = host.as_str();
    loop {
        if let Some(zone) = by_name(tx, candidate)? {
            return Ok(Some(zone));
        }
        match candidate.split_once('.') {
            Some((_, parent)) if parent.contains('.') => candidate = parent,
            _ => return Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_names_are_checked_and_ids_are_stable() {
        assert!(valid_name("example.com") && valid_name("a-b.co.uk"));
        assert!(!valid_name("localhost") && !valid_name("-a.com") && !valid_name("A.com"));
        assert_eq!(zone_id("example.com"), zone_id("EXAMPLE.com"));
        assert_eq!(zone_id("example.com").len(), 32);
    }
}
