//! Workers Custom Domains (SPEC-2 §2.4): a hostname of a zone served entirely by one Worker.
//! The public API (`PUT /accounts/{a}/workers/domains` attaches, `GET` lists with filters,
//! `GET`/`DELETE …/domains/{id}`) and wrangler's per-Worker calls (`PUT …/scripts/{s}/domains/records`
//! replaces the Worker's set, `POST …/domains/changeset` previews it, `GET
//! /accounts/{a}/workers/domains/records` lists). Not versioned.
//!
//! Rules: a hostname has no `*` or `/` and lies in its zone; a hostname attached to another
//! Worker is refused with Cloudflare's 409 / [`IN_USE`] unless `override_existing_origin` is
//! set. The other codes here are the emulator's choice (undocumented).

use rusqlite::{OptionalExtension, Transaction, params};
use serde_json::{Value, json};

use super::route_pattern::host_in_zone;
use super::zones::{self, Zone};
use super::{Reply, hex_id, page_of, paging, store};
use crate::error::ApiError;

/// The hostname is attached to another Worker (Cloudflare's code and text).
pub const IN_USE: u32 = 100116;
/// Unknown domain id.
pub const DOMAIN_NOT_FOUND: u32 = 100100;
/// A hostname that is not a plain host name of one of the account's zones.
pub const INVALID_HOSTNAME: u32 = 100101;

/// One attached custom domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDomain {
    pub id: String,
    pub hostname: String,
    pub service: String,
    pub environment: String,
    pub zone_id: String,
    pub zone_name: String,
    pub cert_id: String,
}

impl StoredDomain {
    fn render(&self) -> Value {
        json!({
            "id": self.id, "hostname": self.hostname, "service": self.service,
            "environment": self.environment, "zone_id": self.zone_id,
            "zone_name": self.zone_name, "cert_id": self.cert_id,
            "enabled": true, "previews_enabled": false,
        })
    }
}

fn invalid(message: String) -> ApiError {
    ApiError::new(400, INVALID_HOSTNAME, message)
}

fn in_use(hostname: &str) -> ApiError {
    ApiError::new(
        409,
        IN_USE,
        format!(
            "Hostname '{hostname}' already in use by other custom domain. Either delete it, try a different hostname, or use the option 'override_existing_origin' to override."
        ),
    )
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(
        404,
        DOMAIN_NOT_FOUND,
        format!("Custom domain {id} not found"),
    )
}

const SELECT: &str = "SELECT id, hostname, service, environment, zone_id, zone_name, cert_id
                      FROM custom_domains";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredDomain> {
    Ok(StoredDomain {
        id: r.get(0)?,
        hostname: r.get(1)?,
        service: r.get(2)?,
        environment: r.get(3)?,
        zone_id: r.get(4)?,
        zone_name: r.get(5)?,
        cert_id: r.get(6)?,
    })
}

/// Every custom domain of the account (the data plane serves them).
pub fn all(tx: &Transaction<'_>) -> Result<Vec<StoredDomain>, ApiError> {
    let mut stmt = tx.prepare(&format!("{SELECT} ORDER BY hostname"))?;
    Ok(stmt.query_map([], row)?.collect::<Result<Vec<_>, _>>()?)
}

fn by_hostname(tx: &Transaction<'_>, hostname: &str) -> Result<Option<StoredDomain>, ApiError> {
    Ok(tx
        .query_row(&format!("{SELECT} WHERE hostname = ?1"), [hostname], row)
        .optional()?)
}

/// One origin to attach: hostname, zone hints, and who serves it.
struct Origin<'a> {
    hostname: String,
    zone_id: Option<&'a str>,
    zone_name: Option<&'a str>,
}

impl<'a> Origin<'a> {
    fn from_json(value: &'a Value) -> Result<Self, ApiError> {
        let hostname = value
            .get("hostname")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("A custom domain needs a `hostname`".into()))?
            .to_ascii_lowercase();
        Ok(Origin {
            hostname,
            zone_id: value.get("zone_id").and_then(Value::as_str),
            zone_name: value.get("zone_name").and_then(Value::as_str),
        })
    }

    /// The zone the hostname lies in, checked against the hints.
    fn zone(&self, tx: &Transaction<'_>) -> Result<Zone, ApiError> {
        let host = &self.hostname;
        let host_ok = host.contains('.')
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
        if !host_ok {
            return Err(invalid(format!(
                "Hostname {host:?} is not valid: a custom domain is a plain host name (no `*`, no path)"
            )));
        }
        let zone = match (self.zone_id, self.zone_name) {
            (Some(id), _) => zones::by_id(tx, id)?.ok_or_else(|| zones::not_found(id))?,
            (None, Some(name)) => zones::by_name(tx, name)?
                .ok_or_else(|| invalid(format!("Zone {name:?} does not exist in this account")))?,
            (None, None) => zones::of_host(tx, host)?.ok_or_else(|| {
                invalid(format!(
                    "Hostname {host:?} is not in any zone of this account"
                ))
            })?,
        };
        if !host_in_zone(host, &zone.name) {
            return Err(invalid(format!(
                "Hostname {host:?} is not the zone {} or a subdomain of it",
                zone.name
            )));
        }
        Ok(zone)
    }
}

/// Attaches `origin` to `service`; `override_origin` lets it take a hostname from another Worker.
fn attach_one(
    tx: &Transaction<'_>,
    origin: &Origin<'_>,
    service: &str,
    environment: &str,
    override_origin: bool,
) -> Result<StoredDomain, ApiError> {
    let zone = origin.zone(tx)?;
    if let Some(existing) = by_hostname(tx, &origin.hostname)? {
        if existing.service != service && !override_origin {
            return Err(in_use(&origin.hostname));
        }
        tx.execute(
            "UPDATE custom_domains SET service = ?1, environment = ?2 WHERE id = ?3",
            params![service, environment, existing.id],
        )?;
        return by_hostname(tx, &origin.hostname)?.ok_or_else(ApiError::internal);
    }
    tx.execute(
        "INSERT INTO custom_domains (id, hostname, service, environment, zone_id, zone_name, cert_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![hex_id(), origin.hostname, service, environment, zone.id, zone.name, hex_id()],
    )?;
    by_hostname(tx, &origin.hostname)?.ok_or_else(ApiError::internal)
}

fn require_script(tx: &Transaction<'_>, service: &str) -> Result<(), ApiError> {
    if store::get_script(tx, service)?.is_none() {
        return Err(ApiError::worker_not_found());
    }
    Ok(())
}

/// `PUT /accounts/{a}/workers/domains` with `{hostname, service, zone_id?, zone_name?,
/// environment?, override_existing_origin?}`.
pub fn attach(tx: &Transaction<'_>, body: &Value) -> Result<Reply, ApiError> {
    let origin = Origin::from_json(body)?;
    let service = body
        .get("service")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("A custom domain needs a `service` (the Worker)".into()))?;
    require_script(tx, service)?;
    let environment = body
        .get("environment")
        .and_then(Value::as_str)
        .unwrap_or("production");
    let override_origin = body
        .get("override_existing_origin")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let domain = attach_one(tx, &origin, service, environment, override_origin)?;
    Ok(Reply::new(domain.render()))
}

/// What `GET …/workers/domains[/records]` filters on.
#[derive(Debug, Default)]
pub struct ListQuery<'a> {
    pub hostname: Option<&'a str>,
    pub service: Option<&'a str>,
    pub zone_id: Option<&'a str>,
    pub zone_name: Option<&'a str>,
    pub environment: Option<&'a str>,
}

impl ListQuery<'_> {
    fn keeps(&self, domain: &StoredDomain) -> bool {
        let same =
            |wanted: Option<&str>, have: &str| wanted.is_none_or(|w| w.is_empty() || w == have);
        same(self.hostname, &domain.hostname)
            && same(self.service, &domain.service)
            && same(self.zone_id, &domain.zone_id)
            && same(self.zone_name, &domain.zone_name)
            && same(self.environment, &domain.environment)
    }
}

/// `GET /accounts/{a}/workers/domains`: one page, filtered.
pub fn list(tx: &Transaction<'_>, query: &ListQuery<'_>) -> Result<Reply, ApiError> {
    let items: Vec<Value> = all(tx)?
        .iter()
        .filter(|d| query.keeps(d))
        .map(StoredDomain::render)
        .collect();
    Ok(Reply::new(Value::Array(items)))
}

/// `GET /accounts/{a}/workers/domains/records`: page-style (wrangler asks `page=0`, read as 1).
pub fn list_records(
    tx: &Transaction<'_>,
    query: &ListQuery<'_>,
    page: Option<&str>,
    per_page: Option<&str>,
) -> Result<Reply, ApiError> {
    let page = page.filter(|p| *p != "0");
    let (page, per_page) = paging(page, per_page, 20, 100)?;
    let matching: Vec<Value> = all(tx)?
        .iter()
        .filter(|d| query.keeps(d))
        .map(StoredDomain::render)
        .collect();
    Ok(page_of(matching, page, per_page))
}

/// `GET /accounts/{a}/workers/domains/{id}` (and `…/domains/records/{id}`).
pub fn get(tx: &Transaction<'_>, id: &str) -> Result<Reply, ApiError> {
    tx.query_row(&format!("{SELECT} WHERE id = ?1"), [id], row)
        .optional()?
        .map(|d| Reply::new(d.render()))
        .ok_or_else(|| not_found(id))
}

/// `DELETE /accounts/{a}/workers/domains/{id}`: the hostname stops reaching the Worker.
pub fn delete(tx: &Transaction<'_>, id: &str) -> Result<Reply, ApiError> {
    if tx.execute("DELETE FROM custom_domains WHERE id = ?1", [id])? == 0 {
        return Err(not_found(id));
    }
    Ok(Reply::empty())
}

fn origins(body: &Value) -> Result<Vec<Origin<'_>>, ApiError> {
    body.get("origins")
        .or(Some(body))
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::bad_request("The body must list the `origins` to attach"))?
        .iter()
        .map(Origin::from_json)
        .collect()
}

/// `PUT /accounts/{a}/workers/scripts/{s}/domains/records` with `{override_scope,
/// override_existing_origin, override_existing_dns_record, origins}`: with `override_scope`,
/// `origins` is the Worker's whole set (domains it no longer lists are detached).
pub fn replace_for_script(
    tx: &Transaction<'_>,
    script: &str,
    body: &Value,
) -> Result<Reply, ApiError> {
    require_script(tx, script)?;
    let flag = |key: &str| body.get(key).and_then(Value::as_bool).unwrap_or(false);
    let wanted = origins(body)?;
    let mut attached = Vec::new();
    for origin in &wanted {
        attached.push(attach_one(
            tx,
            origin,
            script,
            "production",
            flag("override_existing_origin"),
        )?);
    }
    if flag("override_scope") {
        for current in all(tx)?.into_iter().filter(|d| d.service == script) {
            if !wanted.iter().any(|o| o.hostname == current.hostname) {
                tx.execute("DELETE FROM custom_domains WHERE id = ?1", [&current.id])?;
            }
        }
    }
    Ok(Reply::new(Value::Array(
        attached.iter().map(StoredDomain::render).collect(),
    )))
}

/// `POST …/scripts/{s}/domains/changeset[?replace_state=true]`: what a replace would do.
pub fn changeset(
    tx: &Transaction<'_>,
    script: &str,
    body: &Value,
    replace_state: bool,
) -> Result<Reply, ApiError> {
    require_script(tx, script)?;
    let wanted = origins(body)?;
    let (mut added, mut updated) = (Vec::new(), Vec::new());
    for origin in &wanted {
        let zone = origin.zone(tx)?;
        match by_hostname(tx, &origin.hostname)? {
            Some(existing) => {
                let mut item = existing.render();
                item["modified"] = json!(existing.service != script);
                updated.push(item);
            }
            None => added.push(json!({
                "hostname": origin.hostname, "zone_id": zone.id, "zone_name": zone.name,
                "service": script, "environment": "production",
            })),
        }
    }
    let removed: Vec<Value> = if replace_state {
        all(tx)?
            .iter()
            .filter(|d| d.service == script && !wanted.iter().any(|o| o.hostname == d.hostname))
            .map(StoredDomain::render)
            .collect()
    } else {
        Vec::new()
    };
    Ok(Reply::new(json!({
        "added": added, "removed": removed, "updated": updated, "conflicting": [],
    })))
}
