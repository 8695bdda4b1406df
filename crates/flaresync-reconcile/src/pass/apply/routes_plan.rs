//! Routes and custom domains (SPEC-2 §2): which zone each of a Worker's routes lies in (as
//! wrangler's `getZoneForRoute` finds it), and the writes that make the Worker's routes and
//! custom domains equal to Git's. Pure.
//!
//! Unlike `wrangler triggers deploy`, which never deletes when the list is empty, a route or
//! custom domain Git no longer declares is deleted. A route or hostname that belongs to another
//! Worker is never taken over: it is an error naming both Workers.

use std::collections::BTreeMap;

use flaresync_cloudflare::{CustomDomain, WorkerRoute, Zone};
use flaresync_config::Route;

/// The zones a host may belong to, longest first: the host, then without its first label,
/// while two labels remain (wrangler's `getZoneIdFromHost`).
pub(super) fn zone_candidates(host: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = host.to_ascii_lowercase();
    loop {
        out.push(rest.clone());
        match rest.split_once('.') {
            Some((_, parent)) if parent.contains('.') => rest = parent.to_owned(),
            _ => return out,
        }
    }
}

/// The host of a route pattern: scheme, wildcards and path removed. `None` for host-less
/// patterns (`*/…`).
pub(super) fn pattern_host(pattern: &str) -> Option<String> {
    let rest = pattern.split_once("://").map_or(pattern, |(_, rest)| rest);
    let host = rest.split('/').next().unwrap_or_default().replace('*', "");
    let host = host
        .trim_start_matches('.')
        .split(':')
        .next()
        .unwrap_or_default();
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// The zone of `route` among `zones`: its `zone_id`, else its `zone_name`, else the zone its
/// host lies in. `Err` says what is missing and what to do.
pub(super) fn zone_of<'a>(route: &Route, zones: &'a [Zone]) -> Result<&'a Zone, String> {
    if let Some(id) = &route.zone_id {
        return zones.iter().find(|z| &z.id == id).ok_or_else(|| {
            format!(
                "route `{}` names zone id {id}, which this account does not have",
                route.pattern
            )
        });
    }
    if let Some(name) = &route.zone_name {
        return zones.iter().find(|z| z.name.eq_ignore_ascii_case(name)).ok_or_else(|| {
            format!("route `{}` names zone {name}, which this account does not have: add the zone first", route.pattern)
        });
    }
    let host = pattern_host(&route.pattern).ok_or_else(|| {
        format!(
            "route `{}` has no host: set `zone_name` or `zone_id`",
            route.pattern
        )
    })?;
    let candidates = zone_candidates(&host);
    candidates
        .iter()
        .find_map(|name| zones.iter().find(|z| z.name.eq_ignore_ascii_case(name)))
        .ok_or_else(|| {
            format!(
                "Could not find zone for `{host}` (route `{}`; tried {}): add the zone or set `zone_name`",
                route.pattern,
                candidates.join(", ")
            )
        })
}

/// One write to a zone's routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum RouteWrite {
    Create {
        zone_id: String,
        pattern: String,
    },
    /// Re-points an existing route (one of ours that Git dropped, or one without a Worker).
    Update {
        zone_id: String,
        route_id: String,
        pattern: String,
    },
    Delete {
        zone_id: String,
        route_id: String,
        pattern: String,
    },
}

/// The writes that give `worker` exactly the routes `wanted` (zone id, pattern), given every
/// route of the zones involved (`live`: zone id → routes). `Err` lists the patterns routed to
/// another Worker.
pub(super) fn plan_routes(
    worker: &str,
    wanted: &[(String, String)],
    live: &BTreeMap<String, Vec<WorkerRoute>>,
) -> Result<Vec<RouteWrite>, Vec<String>> {
    let mut writes = Vec::new();
    let mut conflicts = Vec::new();
    for (zone_id, routes) in live {
        let wanted_here: Vec<&str> = wanted
            .iter()
            .filter(|(z, _)| z == zone_id)
            .map(|(_, p)| p.as_str())
            .collect();
        let mut spare: Vec<&WorkerRoute> = routes
            .iter()
            .filter(|r| {
                r.script.as_deref() == Some(worker) && !wanted_here.contains(&r.pattern.as_str())
            })
            .collect();
        for pattern in &wanted_here {
            match routes.iter().find(|r| r.pattern == *pattern) {
                Some(route) => match route.script.as_deref() {
                    Some(owner) if owner == worker => {}
                    Some(owner) => conflicts.push(format!(
                        "route `{pattern}` belongs to Worker {owner}: remove it there first (flaresync never takes a route from another Worker)"
                    )),
                    None => writes.push(RouteWrite::Update {
                        zone_id: zone_id.clone(),
                        route_id: route.id.clone(),
                        pattern: (*pattern).to_owned(),
                    }),
                },
                None => match spare.pop() {
                    Some(reused) => writes.push(RouteWrite::Update {
                        zone_id: zone_id.clone(),
                        route_id: reused.id.clone(),
                        pattern: (*pattern).to_owned(),
                    }),
                    None => writes.push(RouteWrite::Create {
                        zone_id: zone_id.clone(),
                        pattern: (*pattern).to_owned(),
                    }),
                },
            }
        }
        writes.extend(spare.into_iter().map(|r| RouteWrite::Delete {
            zone_id: zone_id.clone(),
            route_id: r.id.clone(),
            pattern: r.pattern.clone(),
        }));
    }
    if conflicts.is_empty() {
        Ok(writes)
    } else {
        Err(conflicts)
    }
}

/// One write to the Worker's custom domains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum DomainWrite {
    Attach { hostname: String, zone_id: String },
    Detach { id: String, hostname: String },
}

/// The writes that give `worker` exactly the custom domains `wanted` (hostname, zone id).
/// `mine`: the domains attached to it now; `owner_of`: who serves a hostname it wants but does
/// not have. `Err` lists the hostnames another Worker serves.
pub(super) fn plan_domains(
    worker: &str,
    wanted: &[(String, String)],
    mine: &[CustomDomain],
    owner_of: &BTreeMap<String, String>,
) -> Result<Vec<DomainWrite>, Vec<String>> {
    let mut writes = Vec::new();
    let mut conflicts = Vec::new();
    for (hostname, zone_id) in wanted {
        if mine
            .iter()
            .any(|d| d.hostname.eq_ignore_ascii_case(hostname))
        {
            continue;
        }
        match owner_of.get(hostname) {
            Some(owner) if owner != worker => conflicts.push(format!(
                "custom domain {hostname} belongs to Worker {owner}: detach it there first (flaresync never takes a hostname from another Worker)"
            )),
            _ => writes.push(DomainWrite::Attach { hostname: hostname.clone(), zone_id: zone_id.clone() }),
        }
    }
    for domain in mine {
        if !wanted
            .iter()
            .any(|(h, _)| h.eq_ignore_ascii_case(&domain.hostname))
        {
            writes.push(DomainWrite::Detach {
                id: domain.id.clone(),
                hostname: domain.hostname.clone(),
            });
        }
    }
    if conflicts.is_empty() {
        Ok(writes)
    } else {
        Err(conflicts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(id: &str, name: &str) -> Zone {
        Zone {
            id: id.into(),
            name: name.into(),
            account: None,
        }
    }

    fn route(pattern: &str) -> Route {
        Route {
            pattern: pattern.into(),
            zone_id: None,
            zone_name: None,
            custom_domain: false,
        }
    }

    fn live(id: &str, pattern: &str, script: Option<&str>) -> WorkerRoute {
        WorkerRoute {
            id: id.into(),
            pattern: pattern.into(),
            script: script.map(str::to_owned),
        }
    }

    #[test]
    fn zones_are_found_like_wrangler_finds_them() {
        let zones = [zone("z1", "example.com"), zone("z2", "shop.example.com")];
        assert_eq!(
            zone_candidates("a.b.example.com"),
            ["a.b.example.com", "b.example.com", "example.com"]
        );
        assert_eq!(
            zone_of(&route("https://*.api.example.com/v1/*"), &zones).map(|z| z.id.as_str()),
            Ok("z1")
        );
        assert_eq!(
            zone_of(&route("cart.shop.example.com/*"), &zones).map(|z| z.id.as_str()),
            Ok("z2")
        );
        let named = Route {
            zone_name: Some("example.com".into()),
            ..route("cart.shop.example.com/*")
        };
        assert_eq!(zone_of(&named, &zones).map(|z| z.id.as_str()), Ok("z1"));
        let error = zone_of(&route("api.example.org/*"), &zones).expect_err("no zone");
        assert!(
            error.contains("Could not find zone for `api.example.org`"),
            "{error}"
        );
        assert!(
            zone_of(&route("*/*"), &zones)
                .expect_err("no host")
                .contains("no host")
        );
    }

    #[test]
    fn routes_are_created_repointed_and_deleted() {
        let mut zones = BTreeMap::new();
        zones.insert(
            "z1".to_owned(),
            vec![
                live("r1", "api.example.com/*", Some("api")),
                live("r2", "old.example.com/*", Some("api")),
                live("r3", "gone.example.com/*", Some("api")),
                live("r4", "free.example.com/*", None),
            ],
        );
        let wanted = [
            ("z1".to_owned(), "api.example.com/*".to_owned()),
            ("z1".to_owned(), "new.example.com/*".to_owned()),
            ("z1".to_owned(), "free.example.com/*".to_owned()),
        ];
        let writes = plan_routes("api", &wanted, &zones).expect("no conflict");
        assert_eq!(
            writes,
            vec![
                RouteWrite::Update {
                    zone_id: "z1".into(),
                    route_id: "r3".into(),
                    pattern: "new.example.com/*".into()
                },
                RouteWrite::Update {
                    zone_id: "z1".into(),
                    route_id: "r4".into(),
                    pattern: "free.example.com/*".into()
                },
                RouteWrite::Delete {
                    zone_id: "z1".into(),
                    route_id: "r2".into(),
                    pattern: "old.example.com/*".into()
                },
            ]
        );
        assert_eq!(
            plan_routes("api", &[], &zones).expect("ok").len(),
            3,
            "every route of api goes"
        );
    }

    #[test]
    fn another_workers_route_or_domain_is_a_conflict() {
        let mut zones = BTreeMap::new();
        zones.insert(
            "z1".to_owned(),
            vec![live("r1", "api.example.com/*", Some("web"))],
        );
        let conflicts = plan_routes("api", &[("z1".into(), "api.example.com/*".into())], &zones)
            .expect_err("conflict");
        assert!(
            conflicts[0].contains("belongs to Worker web"),
            "{conflicts:?}"
        );
        let owners = BTreeMap::from([("shop.example.com".to_owned(), "web".to_owned())]);
        let conflicts = plan_domains(
            "api",
            &[("shop.example.com".into(), "z1".into())],
            &[],
            &owners,
        )
        .expect_err("conflict");
        assert!(conflicts[0].contains("custom domain shop.example.com belongs to Worker web"));
        let mine = [CustomDomain {
            id: "d1".into(),
            hostname: "old.example.com".into(),
            service: "api".into(),
            zone_id: None,
            zone_name: None,
            environment: None,
        }];
        let writes = plan_domains(
            "api",
            &[("new.example.com".into(), "z1".into())],
            &mine,
            &BTreeMap::new(),
        )
        .expect("ok");
        assert_eq!(
            writes,
            vec![
                DomainWrite::Attach {
                    hostname: "new.example.com".into(),
                    zone_id: "z1".into()
                },
                DomainWrite::Detach {
                    id: "d1".into(),
                    hostname: "old.example.com".into()
                },
            ]
        );
    }
}
