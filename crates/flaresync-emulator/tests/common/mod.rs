//! Helpers shared by the emulator's integration tests (each test binary uses some of them).
#![allow(dead_code)]

use reqwest::multipart::{Form, Part};
use serde_json::Value;

/// `GET url` with `token` as the bearer token; the answer's JSON body.
pub async fn get_json(url: impl reqwest::IntoUrl, token: &str) -> Value {
    let answer = reqwest::Client::new()
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .expect("sent");
    answer.json().await.expect("json")
}

/// A script upload as wrangler sends it: `metadata`, and `main` as the module `index.js`.
pub fn module_form(metadata: &Value, main: impl Into<Vec<u8>>) -> Form {
    Form::new()
        .part("metadata", Part::text(metadata.to_string()))
        .part(
            "index.js",
            Part::bytes(main.into())
                .file_name("index.js")
                .mime_str("application/javascript+module")
                .expect("mime"),
        )
}
