//! `POST /client/v4/graphql`: Cloudflare's GraphQL Analytics API over the data plane's
//! invocation log (see `crate::dataplane::graphql`).

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use super::app::AppState;
use crate::dataplane::graphql::{self, GraphqlError};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/client/v4/graphql", post(query))
}

async fn query(State(app): State<AppState>, body: Bytes) -> Response {
    let answer = match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(request) => graphql::answer(&request, &app.config.account_id, &app.invocations),
        Err(error) => {
            let error = GraphqlError::new(format!("the request body is not JSON: {error}"));
            let body = graphql::errors(&error).to_string();
            return (
                StatusCode::BAD_REQUEST,
                [(header::CONTENT_TYPE, "application/json")],
                body,
            )
                .into_response();
        }
    };
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        answer.to_string(),
    )
        .into_response()
}
