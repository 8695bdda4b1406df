//! Helpers shared by the emulator's integration tests (each test binary uses some of them).
#![allow(dead_code)]

use flaresync_emulator::testing::TestEmulator;
use reqwest::multipart::{Form, Part};
use serde_json::Value;

/// The URL of `path` under the emulator's account: `…/accounts/{account_id}{path}`.
pub fn account_url(emu: &TestEmulator, path: &str) -> String {
    format!("{}/accounts/{}{path}", emu.base_url(), emu.account_id())
}

/// Sends `request` with the emulator's API token; panics when no answer comes.
pub async fn send_authorized(
    emu: &TestEmulator,
    request: reqwest::RequestBuilder,
) -> reqwest::Response {
    request
        .bearer_auth(emu.token())
        .send()
        .await
        .expect("the emulator answers")
}

/// Sends `request` with the emulator's API token; the answer's JSON body.
pub async fn json_answer(emu: &TestEmulator, request: reqwest::RequestBuilder) -> Value {
    let answer = send_authorized(emu, request).await;
    answer.json().await.expect("a JSON answer")
}

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
    file_form(metadata, "index.js", "application/javascript+module", main)
}

/// A script upload of `metadata` and one file part `name` of content type `mime`.
pub fn file_form(metadata: &Value, name: &str, mime: &str, bytes: impl Into<Vec<u8>>) -> Form {
    Form::new()
        .part("metadata", Part::text(metadata.to_string()))
        .part(
            name.to_owned(),
            Part::bytes(bytes.into())
                .file_name(name.to_owned())
                .mime_str(mime)
                .expect("mime"),
        )
}
