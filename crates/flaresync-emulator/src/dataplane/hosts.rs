//! Which Worker a request for a host and path reaches besides workers.dev: a custom domain
//! (the whole hostname, first, as Cloudflare documents: Custom Domains take precedence over
//! routes), else the most specific route pattern (`state::route_pattern`). Pure; built from
//! the control plane's routes and domains.

use std::collections::HashMap;

use crate::state::domains::StoredDomain;
use crate::state::route_pattern::{RoutePattern, most_specific};
use crate::state::routes::StoredRoute;

/// The account's custom domains and routes, ready for lookups.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Hosts {
    /// Hostname (lowercase) -> Worker.
    domains: HashMap<String, String>,
    /// Route patterns and the Worker each names (`None`: Workers off there).
    routes: Vec<(RoutePattern, Option<String>)>,
}

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostMatch<'a> {
    /// A custom domain or route names this Worker.
    Worker(&'a str),
    /// The most specific route has no Worker.
    Off,
    /// No custom domain or route covers the request.
    None,
}

impl Hosts {
    /// From the stored routes and domains; routes whose pattern no longer parses are skipped.
    pub fn new(routes: &[StoredRoute], domains: &[StoredDomain]) -> Self {
        Hosts {
            domains: domains
                .iter()
                .map(|d| (d.hostname.to_ascii_lowercase(), d.service.clone()))
                .collect(),
            routes: routes
                .iter()
                .filter_map(|r| Some((RoutePattern::parse(&r.pattern).ok()?, r.script.clone())))
                .collect(),
        }
    }

    /// The Worker serving `host` (no port) and `path` (no query).
    pub fn lookup(&self, host: &str, path: &str) -> HostMatch<'_> {
        if let Some(worker) = self.domains.get(&host.to_ascii_lowercase()) {
            return HostMatch::Worker(worker);
        }
        match most_specific(&self.routes, host, path) {
            Some(Some(worker)) => HostMatch::Worker(worker),
            Some(None) => HostMatch::Off,
            None => HostMatch::None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(pattern: &str, script: Option<&str>) -> StoredRoute {
        StoredRoute {
            id: "r".into(),
            zone_id: "z".into(),
            zone_name: "example.com".into(),
            pattern: pattern.into(),
            script: script.map(str::to_owned),
        }
    }

    #[test]
    fn custom_domains_win_over_routes_and_specific_routes_over_wide_ones() {
        let domain = StoredDomain {
            id: "d".into(),
            hostname: "shop.example.com".into(),
            service: "shop".into(),
            environment: "production".into(),
            zone_id: "z".into(),
            zone_name: "example.com".into(),
            cert_id: "c".into(),
        };
        let hosts = Hosts::new(
            &[
                route("*example.com/*", Some("edge")),
                route("api.example.com/*", Some("api")),
                route("api.example.com/static/*", None),
            ],
            &[domain],
        );
        assert_eq!(
            hosts.lookup("SHOP.example.com", "/cart"),
            HostMatch::Worker("shop")
        );
        assert_eq!(
            hosts.lookup("api.example.com", "/v1"),
            HostMatch::Worker("api")
        );
        assert_eq!(
            hosts.lookup("www.example.com", "/"),
            HostMatch::Worker("edge")
        );
        assert_eq!(
            hosts.lookup("api.example.com", "/static/a.css"),
            HostMatch::Off
        );
        assert_eq!(hosts.lookup("example.org", "/"), HostMatch::None);
    }
}
