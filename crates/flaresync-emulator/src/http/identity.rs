//! Identity: token verify, the user, accounts, the account and memberships of the caller the
//! gate identified.

use std::future::{Ready, ready};

use axum::Router;
use axum::extract::Extension;
use axum::response::Response;
use axum::routing::get;

use super::ACCOUNT;
use super::app::AppState;
use super::envelope::reply_response;
use crate::state::Reply;
use crate::state::account::{self, Identity};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/client/v4/user/tokens/verify",
            get(answer(account::verify)),
        )
        .route("/client/v4/user", get(answer(account::user)))
        .route("/client/v4/accounts", get(answer(account::accounts)))
        .route(ACCOUNT, get(answer(account::account_get)))
        .route("/client/v4/memberships", get(answer(account::memberships)))
}

/// A handler answering `f(identity)`.
fn answer(
    f: fn(&Identity) -> Reply,
) -> impl FnOnce(Extension<Identity>) -> Ready<Response> + Clone + Send + Sync + 'static {
    move |Extension(id): Extension<Identity>| ready(reply_response(Ok(f(&id))))
}
