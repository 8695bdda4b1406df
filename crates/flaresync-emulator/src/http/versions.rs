//! Worker versions: list, upload (`POST`, not deployed) and get.

use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;

use super::SCRIPT;
use super::app::AppState;
use super::endpoint::{Access, OnePath, on_item, run, run_upload};
use super::input::{Params, flag, param, strict_inherit};
use crate::state::versions;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            &format!("{SCRIPT}/versions"),
            get(versions_list).post(versions_post),
        )
        .route(
            &format!("{SCRIPT}/versions/{{version}}"),
            get(on_item(Access::Read, |tx, _, s, id| {
                versions::get(tx, s, id)
            })),
        )
}

async fn versions_list(
    State(app): State<AppState>,
    Path((_, script)): OnePath,
    Query(q): Params,
    headers: HeaderMap,
) -> Response {
    run(&app, &headers, Access::Read, move |tx, ctx| {
        versions::list(
            tx,
            ctx,
            &script,
            flag(&q, "deployable"),
            param(&q, "page"),
            param(&q, "per_page"),
        )
    })
    .await
}

async fn versions_post(
    State(app): State<AppState>,
    Path((_, script)): OnePath,
    Query(q): Params,
    req: Request,
) -> Response {
    let strict = strict_inherit(&q);
    run_upload(&app, req, None, move |tx, ctx, upload| {
        versions::upload(tx, ctx, &script, upload, strict)
    })
    .await
}
