//! The account resource kinds the emulator serves: for each, its path, its id parameter and how a
//! request's query, body and headers map onto its state-core functions. Adding a kind is one
//! entry here (and its state module).

use super::resources::Kind;
use crate::state::resources::{d1, kv, queues, r2};

pub(super) static KINDS: &[Kind] = &[KV, R2, D1, QUEUES];

const KV: Kind = Kind {
    path: "storage/kv/namespaces",
    id: "id",
    list: |tx, r| {
        let q = kv::ListQuery {
            page: r.param("page"),
            per_page: r.param("per_page"),
            order: r.param("order"),
            direction: r.param("direction"),
        };
        kv::list(tx, &q)
    },
    create: |tx, ctx, r| kv::create(tx, ctx, &r.field("title").unwrap_or_default()),
    get: |tx, id, _| kv::get(tx, id),
    delete: |tx, id, _| kv::delete(tx, id),
};

/// Buckets are named, and scoped by the `cf-r2-jurisdiction` header.
const R2: Kind = Kind {
    path: "r2/buckets",
    id: "name",
    list: |tx, r| {
        let q = r2::ListQuery {
            jurisdiction: r.jurisdiction(),
            name_contains: r.param("name_contains"),
            start_after: r.param("start_after"),
            per_page: r.param("per_page"),
            cursor: r.param("cursor"),
            direction: r.param("direction"),
        };
        r2::list(tx, &q)
    },
    create: |tx, ctx, r| {
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
    },
    get: |tx, name, r| r2::get(tx, name, r.jurisdiction()),
    delete: |tx, name, r| r2::delete(tx, name, r.jurisdiction()),
};

const D1: Kind = Kind {
    path: "d1/database",
    id: "id",
    list: |tx, r| d1::list(tx, r.param("name"), r.param("page"), r.param("per_page")),
    create: |tx, ctx, r| {
        let name = r.field("name").unwrap_or_default();
        d1::create(tx, ctx, &name, r.field("jurisdiction").as_deref())
    },
    get: |tx, id, _| d1::get(tx, id),
    delete: |tx, id, _| d1::delete(tx, id),
};

/// The `name` filter of the list may repeat.
const QUEUES: Kind = Kind {
    path: "queues",
    id: "id",
    list: |tx, r| queues::list(tx, &r.params("name"), r.param("page"), r.param("per_page")),
    create: |tx, ctx, r| queues::create(tx, ctx, &r.field("queue_name").unwrap_or_default()),
    get: |tx, id, _| queues::get(tx, id),
    delete: |tx, id, _| queues::delete(tx, id),
};
