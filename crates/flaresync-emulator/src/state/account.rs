//! Identity endpoints wrangler's `whoami` reads: token verify, user, accounts, memberships.

use serde_json::{Value, json};

use super::{Reply, page_info};

/// Who the emulator says the caller is.
#[derive(Debug, Clone)]
pub struct Identity {
    pub account_id: String,
    pub account_name: String,
    pub user_email: String,
    pub user_id: String,
    /// A stable, non-secret id for the presented token.
    pub token_id: String,
}

pub fn verify(identity: &Identity) -> Reply {
    Reply::new(json!({"id": identity.token_id, "status": "active"}))
}

pub fn user(identity: &Identity) -> Reply {
    Reply::new(json!({
        "id": identity.user_id,
        "email": identity.user_email,
        "first_name": Value::Null,
        "last_name": Value::Null,
        "suspended": false,
        "two_factor_authentication_enabled": false,
    }))
}

fn account(identity: &Identity) -> Value {
    json!({
        "id": identity.account_id,
        "name": identity.account_name,
        "type": "standard",
        "settings": {"enforce_twofactor": false},
        "created_on": "2026-01-01T00:00:00.000000Z",
    })
}

pub fn accounts(identity: &Identity) -> Reply {
    Reply::paged(json!([account(identity)]), page_info(1, 20, 1, 1))
}

pub fn account_get(identity: &Identity) -> Reply {
    Reply::new(account(identity))
}

pub fn memberships(identity: &Identity) -> Reply {
    Reply::paged(
        json!([{
            "id": identity.token_id,
            "status": "accepted",
            "account": {"id": identity.account_id, "name": identity.account_name},
            "roles": ["Administrator"],
            "permissions": {},
        }]),
        page_info(1, 20, 1, 1),
    )
}
