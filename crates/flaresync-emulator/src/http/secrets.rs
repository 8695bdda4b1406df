//! Worker secrets: list, put, get, delete.

use axum::Router;
use axum::routing::get;

use super::SCRIPT;
use super::app::AppState;
use super::endpoint::{Access, on_item, on_script, on_script_json};
use crate::state::secrets;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            &format!("{SCRIPT}/secrets"),
            get(on_script(Access::Read, secrets::list)).put(on_script_json(secrets::put)),
        )
        .route(
            &format!("{SCRIPT}/secrets/{{secret}}"),
            get(on_item(Access::Read, |tx, _, s, name| {
                secrets::get(tx, s, name)
            }))
            .delete(on_item(Access::Write, secrets::delete)),
        )
}
