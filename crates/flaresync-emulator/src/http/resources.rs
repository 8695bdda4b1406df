//! One router for the account resources (KV namespaces, R2 buckets, D1 databases, Queues). Each
//! kind is an entry of [`KINDS`]: where it lives and how a request maps onto its state-core
//! functions; the handlers and routes here are the same for all.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::routing::get;
use rusqlite::Transaction;
use serde_json::Value;

use super::ACCOUNT;
use super::app::AppState;
use super::endpoint::{Access, Answer, OnePath, run};
use super::envelope::error_response;
use super::input::{Params, parse_json};
use super::resource_kinds::KINDS;
use crate::error::ApiError;
use crate::state::{Ctx, Reply};

/// What a resource request says besides the id: its query parameters, its JSON body (create)
/// and the `cf-r2-jurisdiction` header.
pub(super) struct Input {
    query: Vec<(String, String)>,
    body: Value,
    jurisdiction: Option<String>,
}

impl Input {
    fn new(query: Vec<(String, String)>, body: Value, headers: &HeaderMap) -> Self {
        let jurisdiction = headers
            .get("cf-r2-jurisdiction")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Self {
            query,
            body,
            jurisdiction,
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

    /// The string field `key` of the JSON body.
    pub(super) fn field(&self, key: &str) -> Option<String> {
        self.body
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    /// The `cf-r2-jurisdiction` header.
    pub(super) fn jurisdiction(&self) -> Option<&str> {
        self.jurisdiction.as_deref()
    }
}

/// What a resource's state-core function answers.
type Outcome = Result<Reply, ApiError>;

/// A kind of account resource, served at `/client/v4/accounts/{account_id}/<path>` (list with
/// GET, create with POST) and `…/<path>/{<id>}` (GET, DELETE).
pub(super) struct Kind {
    pub path: &'static str,
    /// Name of the id path parameter (axum's path errors name it).
    pub id: &'static str,
    pub list: fn(&Transaction<'_>, &Input) -> Outcome,
    pub create: fn(&Transaction<'_>, &Ctx, &Input) -> Outcome,
    pub get: fn(&Transaction<'_>, &str, &Input) -> Outcome,
    pub delete: fn(&Transaction<'_>, &str, &Input) -> Outcome,
}

/// The routes of every resource kind.
pub(super) fn routes() -> Router<AppState> {
    KINDS
        .iter()
        .fold(Router::new(), |router, kind| router.merge(kind.routes()))
}

impl Kind {
    fn routes(&'static self) -> Router<AppState> {
        let base = format!("{ACCOUNT}/{}", self.path);
        Router::new()
            .route(&base, get(self.lister()).post(self.creator()))
            .route(
                &format!("{base}/{{{}}}", self.id),
                get(by_id(Access::Read, self.get)).delete(by_id(Access::Write, self.delete)),
            )
    }

    fn lister(
        &'static self,
    ) -> impl FnOnce(State<AppState>, Params, HeaderMap) -> Answer + Clone + Send + Sync + 'static
    {
        move |State(app): State<AppState>, Query(query): Params, headers: HeaderMap| -> Answer {
            Box::pin(async move {
                let input = Input::new(query, Value::Null, &headers);
                run(&app, &headers, Access::Read, move |tx, _| {
                    (self.list)(tx, &input)
                })
                .await
            })
        }
    }

    fn creator(
        &'static self,
    ) -> impl FnOnce(State<AppState>, HeaderMap, Bytes) -> Answer + Clone + Send + Sync + 'static
    {
        move |State(app): State<AppState>, headers: HeaderMap, body: Bytes| -> Answer {
            Box::pin(async move {
                let body = match parse_json(&body) {
                    Ok(b) => b,
                    Err(e) => return error_response(&e),
                };
                let input = Input::new(Vec::new(), body, &headers);
                run(&app, &headers, Access::Write, move |tx, ctx| {
                    (self.create)(tx, ctx, &input)
                })
                .await
            })
        }
    }
}

/// A handler answering `f(tx, id, input)` for `…/<path>/{id}`.
fn by_id(
    access: Access,
    f: fn(&Transaction<'_>, &str, &Input) -> Outcome,
) -> impl FnOnce(State<AppState>, OnePath, HeaderMap) -> Answer + Clone + Send + Sync + 'static {
    move |State(app): State<AppState>, Path((_, id)): OnePath, headers: HeaderMap| -> Answer {
        Box::pin(async move {
            let input = Input::new(Vec::new(), Value::Null, &headers);
            run(&app, &headers, access, move |tx, _| f(tx, &id, &input)).await
        })
    }
}
