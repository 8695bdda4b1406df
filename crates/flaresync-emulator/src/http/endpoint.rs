//! Running state-core functions for handlers (one transaction on a blocking thread, the reply in
//! the envelope), and the handlers whose whole job is that, made from the core function: they
//! take the Worker (and an item below it) from the path, maybe a JSON body, and answer.

use std::future::Future;
use std::pin::Pin;

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::HeaderMap;
use axum::response::Response;
use rusqlite::Transaction;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::app::AppState;
use super::envelope::{error_response, reply_response};
use super::input::{parse_json, read_upload};
use crate::error::ApiError;
use crate::state::upload::Upload;
use crate::state::{Ctx, Reply};

/// Whether a core function reads (in a deferred transaction) or writes (in an immediate one).
#[derive(Debug, Clone, Copy)]
pub(super) enum Access {
    Read,
    Write,
}

/// Runs `f` in one transaction on a blocking thread and answers its reply.
pub(super) async fn run<F>(app: &AppState, headers: &HeaderMap, access: Access, f: F) -> Response
where
    F: FnOnce(&Transaction<'_>, &Ctx) -> Result<Reply, ApiError> + Send + 'static,
{
    let ctx = app.ctx(headers);
    let app = app.clone();
    let joined = tokio::task::spawn_blocking(move || match access {
        Access::Read => app.db.read(|tx| f(tx, &ctx)),
        Access::Write => app.db.write(|tx| f(tx, &ctx)),
    })
    .await;
    reply_response(joined.unwrap_or_else(|_| Err(ApiError::internal())))
}

/// Reads `body` as JSON and, unless it is malformed (answered as Cloudflare does), runs
/// `f(tx, ctx, &body)` like [`run`].
pub(super) async fn run_json<F>(
    app: &AppState,
    headers: &HeaderMap,
    access: Access,
    body: &Bytes,
    f: F,
) -> Response
where
    F: FnOnce(&Transaction<'_>, &Ctx, &Value) -> Result<Reply, ApiError> + Send + 'static,
{
    match parse_json(body) {
        Ok(body) => run(app, headers, access, move |tx, ctx| f(tx, ctx, &body)).await,
        Err(e) => error_response(&e),
    }
}

/// The future a made handler returns.
pub(super) type Answer = Pin<Box<dyn Future<Output = Response> + Send>>;

/// `{account_id}` and one name below it: the Worker (`…/scripts/{script}`), or a resource id.
pub(super) type OnePath = Path<(String, String)>;

/// `{account_id}`, the Worker and one item of it (version, deployment, secret).
type ItemPath = Path<(String, String, String)>;

/// A handler answering `f(tx, ctx, &params)` for the path parameters `P`.
fn on_path<P, F>(
    access: Access,
    f: F,
) -> impl FnOnce(State<AppState>, Path<P>, HeaderMap) -> Answer + Clone + Send + Sync + 'static
where
    P: DeserializeOwned + Send + 'static,
    F: Fn(&Transaction<'_>, &Ctx, &P) -> Result<Reply, ApiError> + Clone + Send + Sync + 'static,
{
    move |State(app): State<AppState>, Path(params): Path<P>, headers: HeaderMap| -> Answer {
        Box::pin(
            async move { run(&app, &headers, access, move |tx, ctx| f(tx, ctx, &params)).await },
        )
    }
}

/// A handler answering `f(tx, script)` for `…/scripts/{script}[/…]`.
pub(super) fn on_script<F>(
    access: Access,
    f: F,
) -> impl FnOnce(State<AppState>, OnePath, HeaderMap) -> Answer + Clone + Send + Sync + 'static
where
    F: Fn(&Transaction<'_>, &str) -> Result<Reply, ApiError> + Clone + Send + Sync + 'static,
{
    on_path(access, move |tx, _, (_, script): &(String, String)| {
        f(tx, script)
    })
}

/// A handler answering `f(tx, ctx, script, item)` for `…/scripts/{script}/<family>/{item}`.
pub(super) fn on_item<F>(
    access: Access,
    f: F,
) -> impl FnOnce(State<AppState>, ItemPath, HeaderMap) -> Answer + Clone + Send + Sync + 'static
where
    F: Fn(&Transaction<'_>, &Ctx, &str, &str) -> Result<Reply, ApiError>
        + Clone
        + Send
        + Sync
        + 'static,
{
    on_path(
        access,
        move |tx, ctx, (_, script, item): &(String, String, String)| f(tx, ctx, script, item),
    )
}

/// A handler reading a JSON body and answering `f(tx, ctx, script, &body)` in a write
/// transaction.
pub(super) fn on_script_json<F>(
    f: F,
) -> impl FnOnce(State<AppState>, OnePath, HeaderMap, Bytes) -> Answer + Clone + Send + Sync + 'static
where
    F: Fn(&Transaction<'_>, &Ctx, &str, &Value) -> Result<Reply, ApiError>
        + Clone
        + Send
        + Sync
        + 'static,
{
    move |State(app): State<AppState>,
          Path((_, script)): OnePath,
          headers: HeaderMap,
          body: Bytes|
          -> Answer {
        Box::pin(async move {
            run_json(
                &app,
                &headers,
                Access::Write,
                &body,
                move |tx, ctx, body| f(tx, ctx, &script, body),
            )
            .await
        })
    }
}

/// Reads the Worker upload in `req` (`PUT …/scripts/{s}`, `POST …/versions`); unless `refused`,
/// answers `f(tx, ctx, &upload)` in a write transaction.
pub(super) async fn run_upload<F>(
    app: &AppState,
    req: Request,
    refused: Option<ApiError>,
    f: F,
) -> Response
where
    F: FnOnce(&Transaction<'_>, &Ctx, &Upload) -> Result<Reply, ApiError> + Send + 'static,
{
    let headers = req.headers().clone();
    let upload = match read_upload(req).await {
        Ok(u) => u,
        Err(e) => return error_response(&e),
    };
    if let Some(e) = refused {
        return error_response(&e);
    }
    if let Some(check) = app.upload_check.get()
        && let Err(e) = check.check(&upload).await
    {
        return error_response(&e);
    }
    run(app, &headers, Access::Write, move |tx, ctx| {
        f(tx, ctx, &upload)
    })
    .await
}
