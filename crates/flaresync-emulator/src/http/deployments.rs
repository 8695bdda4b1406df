//! Worker deployments: list, create (`?force=true` skips the rollback rules), get, delete.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;

use super::SCRIPT;
use super::app::AppState;
use super::endpoint::{Access, OnePath, on_item, on_script, run_json};
use super::input::{Params, flag};
use crate::state::deployments;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            &format!("{SCRIPT}/deployments"),
            get(on_script(Access::Read, deployments::list)).post(deployments_post),
        )
        .route(
            &format!("{SCRIPT}/deployments/{{deployment}}"),
            get(on_item(Access::Read, |tx, _, s, id| {
                deployments::get(tx, s, id)
            }))
            .delete(on_item(Access::Write, |tx, _, s, id| {
                deployments::delete(tx, s, id)
            })),
        )
}

async fn deployments_post(
    State(app): State<AppState>,
    Path((_, script)): OnePath,
    Query(q): Params,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let force = flag(&q, "force");
    run_json(
        &app,
        &headers,
        Access::Write,
        &body,
        move |tx, ctx, body| deployments::create(tx, ctx, &script, body, force),
    )
    .await
}
