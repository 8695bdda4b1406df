//! Triggers outside versions (SPEC-2 §2–3): zones (looked up to place routes), a zone's Worker
//! routes, Workers Custom Domains and queue consumers. Writes that state their whole value
//! (PUT) are retried like reads, and so are deletes (a repeated one answers not found, which
//! callers take as done); creations (POST) are sent once.

use reqwest::Method;
use serde_json::json;

use super::Client;
use super::request::{Request, decode_result};
use crate::error::Error;
use crate::retry::Idempotency;
use crate::types::{CustomDomain, NewQueueConsumer, QueueConsumer, WorkerRoute, Zone};

fn segments(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| (*s).to_owned()).collect()
}

impl Client {
    /// Every zone of this account the token can see (`GET /zones`, every page).
    pub async fn list_zones(&self) -> Result<Vec<Zone>, Error> {
        let zones: Vec<Zone> = self.list_pages(segments(&["zones"])).await?;
        let account = self.account_id();
        Ok(zones
            .into_iter()
            .filter(|zone| zone.account.as_ref().is_none_or(|a| a.id == account))
            .collect())
    }

    /// The Worker routes of a zone (`GET /zones/{z}/workers/routes`, one page).
    pub async fn list_zone_routes(&self, zone_id: &str) -> Result<Vec<WorkerRoute>, Error> {
        let request = Request::new(
            Method::GET,
            segments(&["zones", zone_id, "workers", "routes"]),
        );
        let envelope = self.fetch(&request).await?;
        decode_result(&request, envelope)
    }

    /// Creates a route of `zone_id` sending `pattern` to `script` (`POST`; sent once).
    pub async fn create_zone_route(
        &self,
        zone_id: &str,
        pattern: &str,
        script: &str,
    ) -> Result<WorkerRoute, Error> {
        let request = Request::new(
            Method::POST,
            segments(&["zones", zone_id, "workers", "routes"]),
        )
        .json_body(
            &json!({"pattern": pattern, "script": script}),
            "route does not serialize",
        )?;
        let envelope = self.fetch(&request).await?;
        decode_result(&request, envelope)
    }

    /// Points the route `route_id` at `pattern` and `script` (`PUT`, the whole route).
    pub async fn update_zone_route(
        &self,
        zone_id: &str,
        route_id: &str,
        pattern: &str,
        script: &str,
    ) -> Result<WorkerRoute, Error> {
        let request = Request::new(
            Method::PUT,
            segments(&["zones", zone_id, "workers", "routes", route_id]),
        )
        .json_body(
            &json!({"pattern": pattern, "script": script}),
            "route does not serialize",
        )?
        .idempotency(Idempotency::Idempotent);
        let envelope = self.fetch(&request).await?;
        decode_result(&request, envelope)
    }

    /// Deletes the route `route_id` of `zone_id`.
    pub async fn delete_zone_route(&self, zone_id: &str, route_id: &str) -> Result<(), Error> {
        let request = Request::new(
            Method::DELETE,
            segments(&["zones", zone_id, "workers", "routes", route_id]),
        );
        self.fetch(&request.idempotency(Idempotency::Idempotent))
            .await
            .map(|_| ())
    }

    /// The Custom Domains attached to `service` (`GET …/workers/domains?service=`).
    pub async fn list_custom_domains(&self, service: &str) -> Result<Vec<CustomDomain>, Error> {
        self.custom_domains("service", service).await
    }

    /// The Custom Domain record of `hostname`, whoever it serves.
    pub async fn custom_domain(&self, hostname: &str) -> Result<Option<CustomDomain>, Error> {
        let all = self.custom_domains("hostname", hostname).await?;
        Ok(all
            .into_iter()
            .find(|d| d.hostname.eq_ignore_ascii_case(hostname)))
    }

    async fn custom_domains(
        &self,
        filter: &'static str,
        value: &str,
    ) -> Result<Vec<CustomDomain>, Error> {
        let request =
            Request::new(Method::GET, self.account(&["workers", "domains"])).query(filter, value);
        let envelope = self.fetch(&request).await?;
        decode_result(&request, envelope)
    }

    /// Attaches `hostname` of zone `zone_id` to `service` (`PUT …/workers/domains`). Never takes
    /// a hostname from another Worker (`override_existing_origin` is not sent).
    pub async fn attach_custom_domain(
        &self,
        hostname: &str,
        service: &str,
        zone_id: &str,
    ) -> Result<CustomDomain, Error> {
        let body = json!({"hostname": hostname, "service": service, "zone_id": zone_id,
                          "environment": "production"});
        let request = Request::new(Method::PUT, self.account(&["workers", "domains"]))
            .json_body(&body, "custom domain does not serialize")?
            .idempotency(Idempotency::Idempotent);
        let envelope = self.fetch(&request).await?;
        decode_result(&request, envelope)
    }

    /// Detaches the Custom Domain `domain_id`.
    pub async fn detach_custom_domain(&self, domain_id: &str) -> Result<(), Error> {
        let request = Request::new(
            Method::DELETE,
            self.account(&["workers", "domains", domain_id]),
        );
        self.fetch(&request.idempotency(Idempotency::Idempotent))
            .await
            .map(|_| ())
    }

    /// Adds a consumer to the queue `queue_id` (`POST …/queues/{id}/consumers`; sent once).
    pub async fn create_queue_consumer(
        &self,
        queue_id: &str,
        consumer: &NewQueueConsumer,
    ) -> Result<QueueConsumer, Error> {
        let request = Request::new(
            Method::POST,
            self.account(&["queues", queue_id, "consumers"]),
        )
        .json_body(consumer, "consumer does not serialize")?;
        let envelope = self.fetch(&request).await?;
        decode_result(&request, envelope)
    }

    /// Replaces the consumer `consumer_id` of `queue_id` (`PUT`, the whole consumer).
    pub async fn update_queue_consumer(
        &self,
        queue_id: &str,
        consumer_id: &str,
        consumer: &NewQueueConsumer,
    ) -> Result<QueueConsumer, Error> {
        let request = Request::new(
            Method::PUT,
            self.account(&["queues", queue_id, "consumers", consumer_id]),
        )
        .json_body(consumer, "consumer does not serialize")?
        .idempotency(Idempotency::Idempotent);
        let envelope = self.fetch(&request).await?;
        decode_result(&request, envelope)
    }

    /// Removes the consumer `consumer_id` from `queue_id`.
    pub async fn delete_queue_consumer(
        &self,
        queue_id: &str,
        consumer_id: &str,
    ) -> Result<(), Error> {
        let request = Request::new(
            Method::DELETE,
            self.account(&["queues", queue_id, "consumers", consumer_id]),
        );
        self.fetch(&request.idempotency(Idempotency::Idempotent))
            .await
            .map(|_| ())
    }
}
