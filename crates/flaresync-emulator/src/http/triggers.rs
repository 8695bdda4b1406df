//! A Worker's routes and custom domains as wrangler writes them (SPEC-2 §2.3–2.4): `PUT
//! …/scripts/{s}/routes` (the whole route set), `GET` of the same, wrangler's read
//! `…/workers/services/{s}/environments/{env}/routes`, `PUT …/scripts/{s}/domains/records`
//! (the whole custom-domain set) and `POST …/domains/changeset`. The zone routes and the public
//! domains API are collections of the generic router (`resource_kinds.rs`).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};

use super::app::AppState;
use super::endpoint::{Access, OnePath, on_script, on_script_json, run, run_json};
use super::input::{Params, flag};
use super::{ACCOUNT, SCRIPT};
use crate::state::{domains, routes};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            &format!("{SCRIPT}/routes"),
            get(on_script(Access::Read, routes::script_routes)).put(on_script_json(
                |tx, _, s, body| routes::replace_for_script(tx, s, body),
            )),
        )
        .route(
            &format!("{ACCOUNT}/workers/services/{{script}}/environments/{{environment}}/routes"),
            get(service_routes),
        )
        .route(
            &format!("{SCRIPT}/domains/records"),
            axum::routing::put(on_script_json(|tx, _, s, body| {
                domains::replace_for_script(tx, s, body)
            })),
        )
        .route(&format!("{SCRIPT}/domains/changeset"), post(changeset))
}

/// `GET …/services/{s}/environments/{env}/routes?show_zonename=true`.
async fn service_routes(
    State(app): State<AppState>,
    Path((_, script, _environment)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    run(&app, &headers, Access::Read, move |tx, _| {
        routes::script_routes(tx, &script)
    })
    .await
}

/// `POST …/scripts/{s}/domains/changeset[?replace_state=true]`.
async fn changeset(
    State(app): State<AppState>,
    Path((_, script)): OnePath,
    Query(query): Params,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let replace_state = flag(&query, "replace_state");
    run_json(&app, &headers, Access::Read, &body, move |tx, _, body| {
        domains::changeset(tx, &script, body, replace_state)
    })
    .await
}
