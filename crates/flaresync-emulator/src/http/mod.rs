//! The thin axum shell: routes under `/client/v4`, the Cloudflare envelope, bearer auth, the
//! per-token rate limit, fault injection, the request log and the `/__emulator` admin API.
//! Every handler parses its input into values and calls one state-core function inside one
//! SQLite transaction on a blocking thread.
//!
//! Layout: this file assembles the router. `app.rs` is the shared state and request log,
//! `gate.rs` the middleware (faults, then `auth.rs`: token, account, rate limit; the log),
//! `envelope.rs` the response bodies, `input.rs` query/body/upload parsing and `endpoint.rs`
//! runs core functions and makes the handlers that only call one. The endpoint families have a
//! file each: `identity.rs`, `scripts.rs`, `settings.rs` (settings, subdomain, schedules),
//! `versions.rs`, `deployments.rs`, `assets.rs` (static assets upload), `secrets.rs`,
//! `resources.rs` with `resource_kinds.rs` (KV, R2, D1, Queues and consumers, zones and their
//! routes, custom domains), `triggers.rs` (a Worker's routes and custom domains as wrangler writes
//! them), `kv_values.rs` (KV pairs), `graphql.rs` (analytics over the data plane) and `admin.rs`.

mod admin;
mod app;
mod assets;
mod auth;
mod deployments;
mod endpoint;
mod envelope;
mod gate;
mod graphql;
mod identity;
mod input;
mod kv_values;
mod resource_kinds;
mod resources;
mod scripts;
mod secrets;
mod settings;
mod triggers;
mod versions;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware;
use axum::response::Response;

pub use self::app::{AppState, LoggedRequest, Shared};
use self::envelope::error_response;
pub use self::gate::DropConnection;
use crate::error::ApiError;

/// The account every API path is under.
const ACCOUNT: &str = "/client/v4/accounts/{account_id}";

/// One Worker of the account.
const SCRIPT: &str = "/client/v4/accounts/{account_id}/workers/scripts/{script}";

/// Builds the router (API + admin) for `app`.
pub fn router(app: AppState) -> Router {
    let api = Router::new()
        .merge(identity::routes())
        .merge(scripts::routes())
        .merge(assets::routes())
        .merge(settings::routes())
        .merge(versions::routes())
        .merge(deployments::routes())
        .merge(secrets::routes())
        .merge(resources::routes())
        .merge(graphql::routes())
        .merge(kv_values::routes())
        .merge(triggers::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(app.clone(), gate::gate));
    api.merge(admin::routes())
        .layer(DefaultBodyLimit::max(app.config.max_body_bytes))
        .with_state(app)
}

async fn not_found(req: Request) -> Response {
    error_response(&ApiError::new(
        404,
        7003,
        format!(
            "Could not route to {}, perhaps your object identifier is invalid?",
            req.uri().path()
        ),
    ))
}

async fn method_not_allowed(req: Request) -> Response {
    error_response(&ApiError::new(
        405,
        7001,
        format!(
            "Method {} not allowed for {}",
            req.method(),
            req.uri().path()
        ),
    ))
}
