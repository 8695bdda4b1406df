//! The collections the generic router serves: for each, its path, its id parameter and how a
//! request's path, query, body and headers map onto its state-core functions. Adding a kind is
//! one entry here (and its state module).

use super::resources::Kind;
use crate::state::resources::{consumers, d1, kv, queues, r2};
use crate::state::{domains, routes, zones};

pub(super) static KINDS: &[Kind] = &[
    KV,
    R2,
    D1,
    QUEUES,
    CONSUMERS,
    ZONES,
    ZONE_ROUTES,
    DOMAINS,
    DOMAIN_RECORDS,
];

const KV: Kind = Kind {
    path: "accounts/{account_id}/storage/kv/namespaces",
    id: "id",
    list: Some(|tx, r| {
        let q = kv::ListQuery {
            page: r.param("page"),
            per_page: r.param("per_page"),
            order: r.param("order"),
            direction: r.param("direction"),
        };
        kv::list(tx, &q)
    }),
    create: Some(|tx, ctx, r| kv::create(tx, ctx, &r.field("title").unwrap_or_default())),
    get: Some(|tx, id, _| kv::get(tx, id)),
    delete: Some(|tx, id, _| kv::delete(tx, id)),
    ..Kind::NONE
};

/// Buckets are named, and scoped by the `cf-r2-jurisdiction` header.
const R2: Kind = Kind {
    path: "accounts/{account_id}/r2/buckets",
    id: "name",
    list: Some(|tx, r| {
        let q = r2::ListQuery {
            jurisdiction: r.jurisdiction(),
            name_contains: r.param("name_contains"),
            start_after: r.param("start_after"),
            per_page: r.param("per_page"),
            cursor: r.param("cursor"),
            direction: r.param("direction"),
        };
        r2::list(tx, &q)
    }),
    create: Some(|tx, ctx, r| {
        let name = r.field("name").unwrap_or_default();
        let location = r.field("locationHint");
        let class = r.field("storageClass");
        r2::create(
            tx,
            ctx,
            &name,
            r.jurisdiction(),
            location.as_deref(),
            class.as_deref(),
        )
    }),
    get: Some(|tx, name, r| r2::get(tx, name, r.jurisdiction())),
    delete: Some(|tx, name, r| r2::delete(tx, name, r.jurisdiction())),
    ..Kind::NONE
};

const D1: Kind = Kind {
    path: "accounts/{account_id}/d1/database",
    id: "id",
    list: Some(|tx, r| d1::list(tx, r.param("name"), r.param("page"), r.param("per_page"))),
    create: Some(|tx, ctx, r| {
        let name = r.field("name").unwrap_or_default();
        d1::create(tx, ctx, &name, r.field("jurisdiction").as_deref())
    }),
    get: Some(|tx, id, _| d1::get(tx, id)),
    delete: Some(|tx, id, _| d1::delete(tx, id)),
    ..Kind::NONE
};

/// The `name` filter of the list may repeat.
const QUEUES: Kind = Kind {
    path: "accounts/{account_id}/queues",
    id: "id",
    list: Some(|tx, r| queues::list(tx, &r.params("name"), r.param("page"), r.param("per_page"))),
    create: Some(|tx, ctx, r| queues::create(tx, ctx, &r.field("queue_name").unwrap_or_default())),
    get: Some(|tx, id, _| queues::get(tx, id)),
    delete: Some(|tx, id, _| queues::delete(tx, id)),
    ..Kind::NONE
};

/// The consumers of one queue (the path names it by id).
const CONSUMERS: Kind = Kind {
    path: "accounts/{account_id}/queues/{queue_id}/consumers",
    id: "consumer_id",
    list: Some(|tx, r| consumers::list(tx, r.path("queue_id"))),
    create: Some(|tx, ctx, r| consumers::create(tx, ctx, r.path("queue_id"), r.body())),
    get: Some(|tx, id, r| consumers::get(tx, r.path("queue_id"), id)),
    update: Some(|tx, ctx, id, r| consumers::update(tx, ctx, r.path("queue_id"), id, r.body())),
    delete: Some(|tx, id, r| consumers::delete(tx, r.path("queue_id"), id)),
    ..Kind::NONE
};

/// Zones (wrangler looks them up by `name` and `account.id`).
const ZONES: Kind = Kind {
    path: "zones",
    id: "zone_id",
    list: Some(|tx, r| {
        let q = zones::ListQuery {
            name: r.param("name"),
            account_id: r.param("account.id"),
            page: r.param("page"),
            per_page: r.param("per_page"),
        };
        zones::list(tx, &q, r.account())
    }),
    create: Some(|tx, ctx, r| zones::create(tx, ctx, r.account(), r.body())),
    get: Some(|tx, id, r| zones::get(tx, id, r.account())),
    ..Kind::NONE
};

/// The Worker routes of one zone.
const ZONE_ROUTES: Kind = Kind {
    path: "zones/{zone_id}/workers/routes",
    id: "route_id",
    list: Some(|tx, r| routes::list(tx, r.path("zone_id"))),
    create: Some(|tx, _, r| routes::create(tx, r.path("zone_id"), r.body())),
    get: Some(|tx, id, r| routes::get(tx, r.path("zone_id"), id)),
    update: Some(|tx, _, id, r| routes::update(tx, r.path("zone_id"), id, r.body())),
    delete: Some(|tx, id, r| routes::delete(tx, r.path("zone_id"), id)),
    ..Kind::NONE
};

fn domain_query(r: &super::resources::Input) -> domains::ListQuery<'_> {
    domains::ListQuery {
        hostname: r.param("hostname"),
        service: r.param("service"),
        zone_id: r.param("zone_id"),
        zone_name: r.param("zone_name"),
        environment: r.param("environment"),
    }
}

/// Workers Custom Domains: attached with `PUT` on the collection.
const DOMAINS: Kind = Kind {
    path: "accounts/{account_id}/workers/domains",
    id: "domain_id",
    list: Some(|tx, r| domains::list(tx, &domain_query(r))),
    create: Some(|tx, _, r| domains::attach(tx, r.body())),
    create_with_put: true,
    get: Some(|tx, id, _| domains::get(tx, id)),
    delete: Some(|tx, id, _| domains::delete(tx, id)),
    ..Kind::NONE
};

/// wrangler's paged view of the same domains.
const DOMAIN_RECORDS: Kind = Kind {
    path: "accounts/{account_id}/workers/domains/records",
    id: "record_id",
    list: Some(|tx, r| {
        domains::list_records(tx, &domain_query(r), r.param("page"), r.param("per_page"))
    }),
    get: Some(|tx, id, _| domains::get(tx, id)),
    ..Kind::NONE
};
