//! Worker routes (SPEC-2 §2.3): the public zone API (`GET`/`POST /zones/{z}/workers/routes`,
//! `GET`/`PUT`/`DELETE …/routes/{id}`; objects `{id, pattern, script}`) and wrangler's
//! account-level `PUT /accounts/{a}/workers/scripts/{s}/routes`, which replaces the Worker's
//! whole route set across zones. Not versioned: uploads, deployments and rollbacks leave
//! routes alone.
//!
//! Rules: a pattern is unique within its zone (409 / [`DUPLICATE_PATTERN`], whoever owns it),
//! its host must lie in the zone (400 / [`INVALID_PATTERN`]), and the Worker it names must
//! exist (404 / 10019, Cloudflare's text). A route may have no Worker (Workers off there).
//! The codes 10020 and 10022 are not in Cloudflare's public docs; they are what third-party
//! clients report and are marked as the emulator's choice.

use rusqlite::{OptionalExtension, Transaction, params};
use serde_json::{Value, json};

use super::route_pattern::RoutePattern;
use super::zones::{self, Zone};
use super::{Reply, hex_id, store};
use crate::error::ApiError;

/// A pattern already used by a route of the zone.
pub const DUPLICATE_PATTERN: u32 = 10020;
/// A pattern that does not parse or does not belong to the zone.
pub const INVALID_PATTERN: u32 = 10022;
/// The route id is unknown in the zone.
pub const ROUTE_NOT_FOUND: u32 = 10005;

/// One stored route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRoute {
    pub id: String,
    pub zone_id: String,
    pub zone_name: String,
    pub pattern: String,
    pub script: Option<String>,
}

impl StoredRoute {
    fn render(&self) -> Value {
        let mut value = json!({"id": self.id, "pattern": self.pattern});
        if let Some(script) = &self.script {
            value["script"] = json!(script);
        }
        value
    }
}

fn duplicate(pattern: &str, owner: Option<&str>) -> ApiError {
    let owner = owner.map_or(String::new(), |o| format!(" (it routes to Worker {o:?})"));
    ApiError::new(
        409,
        DUPLICATE_PATTERN,
        format!("A route with the same pattern already exists: {pattern}{owner}"),
    )
}

fn route_not_found(id: &str) -> ApiError {
    ApiError::new(404, ROUTE_NOT_FOUND, format!("Route {id} not found"))
}

fn zone(tx: &Transaction<'_>, zone_id: &str) -> Result<Zone, ApiError> {
    zones::by_id(tx, zone_id)?.ok_or_else(|| zones::not_found(zone_id))
}

/// Checks `pattern` against `zone`: parses and lies in the zone.
fn check_pattern(pattern: &str, zone: &Zone) -> Result<(), ApiError> {
    let parsed =
        RoutePattern::parse(pattern).map_err(|e| ApiError::new(400, INVALID_PATTERN, e.0))?;
    if !parsed.in_zone(&zone.name) {
        return Err(ApiError::new(
            400,
            INVALID_PATTERN,
            format!(
                "Route pattern {pattern:?} does not belong to zone {}: its host must be the zone or a subdomain of it",
                zone.name
            ),
        ));
    }
    Ok(())
}

/// The Worker a route names must exist.
fn check_script(tx: &Transaction<'_>, script: Option<&str>) -> Result<(), ApiError> {
    match script {
        Some(name) if store::get_script(tx, name)?.is_none() => Err(ApiError::new(
            404,
            10019,
            "Cannot configure a route for a Worker which does not exist. Please ensure this Worker exists and try again.",
        )),
        _ => Ok(()),
    }
}

const SELECT: &str = "SELECT r.id, r.zone_id, z.name, r.pattern, r.script
                      FROM zone_routes r JOIN zones z ON z.id = r.zone_id";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredRoute> {
    Ok(StoredRoute {
        id: r.get(0)?,
        zone_id: r.get(1)?,
        zone_name: r.get(2)?,
        pattern: r.get(3)?,
        script: r.get(4)?,
    })
}

/// Every route of the account (the data plane routes requests with them).
pub fn all(tx: &Transaction<'_>) -> Result<Vec<StoredRoute>, ApiError> {
    let mut stmt = tx.prepare(&format!("{SELECT} ORDER BY z.name, r.pattern"))?;
    Ok(stmt.query_map([], row)?.collect::<Result<Vec<_>, _>>()?)
}

fn in_zone(tx: &Transaction<'_>, zone_id: &str) -> Result<Vec<StoredRoute>, ApiError> {
    let mut stmt = tx.prepare(&format!("{SELECT} WHERE r.zone_id = ?1 ORDER BY r.pattern"))?;
    Ok(stmt
        .query_map([zone_id], row)?
        .collect::<Result<Vec<_>, _>>()?)
}

fn one(tx: &Transaction<'_>, zone_id: &str, id: &str) -> Result<StoredRoute, ApiError> {
    tx.query_row(
        &format!("{SELECT} WHERE r.zone_id = ?1 AND r.id = ?2"),
        [zone_id, id],
        row,
    )
    .optional()?
    .ok_or_else(|| route_not_found(id))
}

/// `GET /zones/{z}/workers/routes` (one page, as Cloudflare answers it).
pub fn list(tx: &Transaction<'_>, zone_id: &str) -> Result<Reply, ApiError> {
    zone(tx, zone_id)?;
    let routes = in_zone(tx, zone_id)?;
    Ok(Reply::new(Value::Array(
        routes.iter().map(StoredRoute::render).collect(),
    )))
}

/// The `pattern` and `script` of a route body.
fn route_body(body: &Value) -> Result<(String, Option<String>), ApiError> {
    let pattern = body
        .get("pattern")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::new(400, INVALID_PATTERN, "The route needs a `pattern`"))?;
    let script = body
        .get("script")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    Ok((pattern.to_owned(), script))
}

/// `POST /zones/{z}/workers/routes` with `{pattern, script?}`.
pub fn create(tx: &Transaction<'_>, zone_id: &str, body: &Value) -> Result<Reply, ApiError> {
    let zone = zone(tx, zone_id)?;
    let (pattern, script) = route_body(body)?;
    check_pattern(&pattern, &zone)?;
    check_script(tx, script.as_deref())?;
    if let Some(existing) = in_zone(tx, zone_id)?
        .into_iter()
        .find(|r| r.pattern == pattern)
    {
        return Err(duplicate(&pattern, existing.script.as_deref()));
    }
    let id = hex_id();
    tx.execute(
        "INSERT INTO zone_routes (id, zone_id, pattern, script) VALUES (?1, ?2, ?3, ?4)",
        params![id, zone_id, pattern, script],
    )?;
    Ok(Reply::new(one(tx, zone_id, &id)?.render()))
}

/// `GET /zones/{z}/workers/routes/{id}`.
pub fn get(tx: &Transaction<'_>, zone_id: &str, id: &str) -> Result<Reply, ApiError> {
    zone(tx, zone_id)?;
    Ok(Reply::new(one(tx, zone_id, id)?.render()))
}

/// `PUT /zones/{z}/workers/routes/{id}` with `{pattern, script?}`.
pub fn update(
    tx: &Transaction<'_>,
    zone_id: &str,
    id: &str,
    body: &Value,
) -> Result<Reply, ApiError> {
    let zone = zone(tx, zone_id)?;
    one(tx, zone_id, id)?;
    let (pattern, script) = route_body(body)?;
    check_pattern(&pattern, &zone)?;
    check_script(tx, script.as_deref())?;
    if let Some(other) = in_zone(tx, zone_id)?
        .into_iter()
        .find(|r| r.pattern == pattern && r.id != id)
    {
        return Err(duplicate(&pattern, other.script.as_deref()));
    }
    tx.execute(
        "UPDATE zone_routes SET pattern = ?1, script = ?2 WHERE id = ?3",
        params![pattern, script, id],
    )?;
    Ok(Reply::new(one(tx, zone_id, id)?.render()))
}

/// `DELETE /zones/{z}/workers/routes/{id}`: answers `{id}`.
pub fn delete(tx: &Transaction<'_>, zone_id: &str, id: &str) -> Result<Reply, ApiError> {
    zone(tx, zone_id)?;
    one(tx, zone_id, id)?;
    tx.execute("DELETE FROM zone_routes WHERE id = ?1", [id])?;
    Ok(Reply::new(json!({"id": id})))
}

/// The zone of one entry of wrangler's route list: `zone_id`, else `zone_name`, else the zone
/// the pattern's host lies in.
fn zone_of_entry(tx: &Transaction<'_>, entry: &Value, pattern: &str) -> Result<Zone, ApiError> {
    if let Some(id) = entry.get("zone_id").and_then(Value::as_str) {
        return zone(tx, id);
    }
    if let Some(name) = entry.get("zone_name").and_then(Value::as_str) {
        return zones::by_name(tx, name)?
            .ok_or_else(|| ApiError::new(404, 7003, format!("Could not find zone for `{name}`")));
    }
    let parsed =
        RoutePattern::parse(pattern).map_err(|e| ApiError::new(400, INVALID_PATTERN, e.0))?;
    zones::of_host(tx, &parsed.host)?.ok_or_else(|| {
        ApiError::new(
            404,
            7003,
            format!(
                "Could not find zone for `{}`: no zone of the account contains it",
                parsed.host
            ),
        )
    })
}

/// `PUT /accounts/{a}/workers/scripts/{s}/routes`: the body (strings or `{pattern, zone_id?,
/// zone_name?}`) becomes the Worker's whole route set; routes it no longer lists are deleted.
/// A pattern routed to another Worker is refused (409) and nothing changes.
pub fn replace_for_script(
    tx: &Transaction<'_>,
    script: &str,
    body: &Value,
) -> Result<Reply, ApiError> {
    if store::get_script(tx, script)?.is_none() {
        return Err(ApiError::worker_not_found());
    }
    let entries = body
        .as_array()
        .ok_or_else(|| ApiError::bad_request("The body must be an array of routes"))?;
    let mut wanted: Vec<(Zone, String)> = Vec::new();
    for entry in entries {
        let pattern = match entry {
            Value::String(text) => text.clone(),
            other => route_body(other)?.0,
        };
        let zone = zone_of_entry(tx, entry, &pattern)?;
        check_pattern(&pattern, &zone)?;
        if let Some(owner) = in_zone(tx, &zone.id)?
            .into_iter()
            .find(|r| r.pattern == pattern)
            .and_then(|r| r.script)
            .filter(|owner| owner != script)
        {
            return Err(duplicate(&pattern, Some(&owner)));
        }
        wanted.push((zone, pattern));
    }
    for current in of_script(tx, script)? {
        if !wanted
            .iter()
            .any(|(z, p)| *z.id == current.zone_id && *p == current.pattern)
        {
            tx.execute("DELETE FROM zone_routes WHERE id = ?1", [&current.id])?;
        }
    }
    for (zone, pattern) in &wanted {
        let existing = in_zone(tx, &zone.id)?
            .into_iter()
            .find(|r| r.pattern == *pattern);
        match existing {
            Some(route) => {
                tx.execute(
                    "UPDATE zone_routes SET script = ?1 WHERE id = ?2",
                    params![script, route.id],
                )?;
            }
            None => {
                tx.execute(
                    "INSERT INTO zone_routes (id, zone_id, pattern, script) VALUES (?1, ?2, ?3, ?4)",
                    params![hex_id(), zone.id, pattern, script],
                )?;
            }
        }
    }
    script_routes(tx, script)
}

/// The routes of one Worker across zones.
pub fn of_script(tx: &Transaction<'_>, script: &str) -> Result<Vec<StoredRoute>, ApiError> {
    let mut stmt = tx.prepare(&format!(
        "{SELECT} WHERE r.script = ?1 ORDER BY z.name, r.pattern"
    ))?;
    Ok(stmt
        .query_map([script], row)?
        .collect::<Result<Vec<_>, _>>()?)
}

/// One Worker's routes with their zones (`GET …/scripts/{s}/routes`, and wrangler's
/// `…/services/{s}/environments/{env}/routes?show_zonename=true`).
pub fn script_routes(tx: &Transaction<'_>, script: &str) -> Result<Reply, ApiError> {
    let routes = of_script(tx, script)?;
    Ok(Reply::new(Value::Array(
        routes
            .iter()
            .map(|r| {
                json!({"id": r.id, "pattern": r.pattern, "script": script,
                       "zone_id": r.zone_id, "zone_name": r.zone_name})
            })
            .collect(),
    )))
}
