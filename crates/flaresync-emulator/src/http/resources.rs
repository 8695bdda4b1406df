//! One router for the collections of the API that share a shape: account resources (KV
//! namespaces, R2 buckets, D1 databases, Queues and their consumers), zones and their Worker
//! routes, Workers Custom Domains. Each kind is an entry of [`KINDS`]: where it lives and how a
//! request maps onto its state-core functions; the handlers and routes here are the same for
//! all. A collection is listed with GET and created with POST (or PUT); an item is read with
//! GET, replaced with PUT and deleted with DELETE, where the kind has those functions.

use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::routing::{MethodRouter, delete, get, post, put};
use rusqlite::Transaction;
use serde_json::Value;

use super::app::AppState;
use super::endpoint::{Access, Answer, run};
use super::envelope::error_response;
use super::input::{Params, parse_json};
use super::resource_kinds::KINDS;
use crate::error::ApiError;
use crate::state::{Ctx, Reply};

/// What a request says besides the item id: its path parameters, query parameters, JSON body
/// and the `cf-r2-jurisdiction` header, and the account the emulator serves.
pub(super) struct Input {
    path: HashMap<String, String>,
    query: Vec<(String, String)>,
    body: Value,
    jurisdiction: Option<String>,
    account: String,
}

impl Input {
    fn new(
        app: &AppState,
        path: HashMap<String, String>,
        query: Vec<(String, String)>,
        body: Value,
        headers: &HeaderMap,
    ) -> Self {
        let jurisdiction = headers
            .get("cf-r2-jurisdiction")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Self {
            path,
            query,
            body,
            jurisdiction,
            account: app.config.account_id.clone(),
        }
    }

    /// The first value of the query parameter `key`.
    pub(super) fn param(&self, key: &str) -> Option<&str> {
        super::input::param(&self.query, key)
    }

    /// Every value of the (repeatable) query parameter `key`.
    pub(super) fn params(&self, key: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The path parameter `key` (`zone_id`, `queue_id`, …); "" when the route has none.
    pub(super) fn path(&self, key: &str) -> &str {
        self.path.get(key).map_or("", String::as_str)
    }

    /// The string field `key` of the JSON body.
    pub(super) fn field(&self, key: &str) -> Option<String> {
        self.body
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    /// The JSON body.
    pub(super) fn body(&self) -> &Value {
        &self.body
    }

    /// The `cf-r2-jurisdiction` header.
    pub(super) fn jurisdiction(&self) -> Option<&str> {
        self.jurisdiction.as_deref()
    }

    /// The account the emulator serves.
    pub(super) fn account(&self) -> &str {
        &self.account
    }
}

/// What a state-core function answers.
type Outcome = Result<Reply, ApiError>;
type ListFn = fn(&Transaction<'_>, &Input) -> Outcome;
type CreateFn = fn(&Transaction<'_>, &Ctx, &Input) -> Outcome;
type ItemFn = fn(&Transaction<'_>, &str, &Input) -> Outcome;
type UpdateFn = fn(&Transaction<'_>, &Ctx, &str, &Input) -> Outcome;

/// A kind of collection, served at `/client/v4/<path>` and `…/<path>/{<id>}`.
pub(super) struct Kind {
    /// Below `/client/v4/`, with axum path parameters.
    pub path: &'static str,
    /// Name of the id path parameter (axum's path errors name it).
    pub id: &'static str,
    pub list: Option<ListFn>,
    pub create: Option<CreateFn>,
    /// Whether the collection is written with PUT (custom domains) instead of POST.
    pub create_with_put: bool,
    pub get: Option<ItemFn>,
    pub update: Option<UpdateFn>,
    pub delete: Option<ItemFn>,
}

impl Kind {
    /// A kind with no functions, for `..Kind::NONE` in [`KINDS`].
    pub const NONE: Kind = Kind {
        path: "",
        id: "",
        list: None,
        create: None,
        create_with_put: false,
        get: None,
        update: None,
        delete: None,
    };
}

/// The routes of every kind.
pub(super) fn routes() -> Router<AppState> {
    KINDS
        .iter()
        .fold(Router::new(), |router, kind| router.merge(kind.routes()))
}

impl Kind {
    fn routes(&'static self) -> Router<AppState> {
        let base = format!("/client/v4/{}", self.path);
        let mut collection: MethodRouter<AppState> = MethodRouter::new();
        if let Some(list) = self.list {
            collection = collection.merge(get(with_input(Access::Read, move |tx, _, input| {
                list(tx, input)
            })));
        }
        if let Some(create) = self.create {
            let handler = with_input(Access::Write, create);
            collection = collection.merge(if self.create_with_put {
                put(handler)
            } else {
                post(handler)
            });
        }
        let mut item: MethodRouter<AppState> = MethodRouter::new();
        let id = self.id;
        if let Some(f) = self.get {
            item = item.merge(get(with_input(Access::Read, move |tx, _, input| {
                f(tx, input.path(id), input)
            })));
        }
        if let Some(f) = self.update {
            item = item.merge(put(with_input(Access::Write, move |tx, ctx, input| {
                f(tx, ctx, input.path(id), input)
            })));
        }
        if let Some(f) = self.delete {
            item = item.merge(delete(with_input(Access::Write, move |tx, _, input| {
                f(tx, input.path(id), input)
            })));
        }
        let mut router = Router::new();
        if self.list.is_some() || self.create.is_some() {
            router = router.route(&base, collection);
        }
        if self.get.is_some() || self.update.is_some() || self.delete.is_some() {
            router = router.route(&format!("{base}/{{{}}}", self.id), item);
        }
        router
    }
}

/// Every path parameter by name.
type PathParams = Path<HashMap<String, String>>;

/// A handler that reads the path, query and (JSON) body into an [`Input`] and answers
/// `f(tx, ctx, input)` in a transaction of `access`.
fn with_input<F>(
    access: Access,
    f: F,
) -> impl FnOnce(State<AppState>, PathParams, Params, HeaderMap, Bytes) -> Answer
+ Clone
+ Send
+ Sync
+ 'static
where
    F: Fn(&Transaction<'_>, &Ctx, &Input) -> Outcome + Copy + Send + Sync + 'static,
{
    move |State(app): State<AppState>,
          Path(path): PathParams,
          Query(query): Params,
          headers: HeaderMap,
          body: Bytes|
          -> Answer {
        Box::pin(async move {
            let body = match access {
                Access::Read => Value::Null,
                Access::Write => match parse_json(&body) {
                    Ok(body) => body,
                    Err(e) => return error_response(&e),
                },
            };
            let input = Input::new(&app, path, query, body, &headers);
            run(&app, &headers, access, move |tx, ctx| f(tx, ctx, &input)).await
        })
    }
}
