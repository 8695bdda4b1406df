//! The static-assets upload protocol over HTTP (SPEC-2 §1.3–§1.5): session, bucketed upload with
//! the session JWT, the completion token attached to script and version uploads; refusals in
//! Cloudflare's envelope. (Real wrangler drives the same endpoints in `tests/dataplane/assets.rs`.)

mod common;

use base64::Engine;
use flaresync_emulator::testing::TestEmulator;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

const INDEX: &[u8] = b"<h1>hello</h1>\n";
const INDEX_HASH: &str = "0123456789abcdef0123456789abcdef";
const LOGO: &[u8] = &[0x89, b'P', b'N', b'G', 0, 1, 2, 255];
const LOGO_HASH: &str = "fedcba9876543210fedcba9876543210";

struct Api {
    emu: TestEmulator,
    http: reqwest::Client,
}

impl Api {
    async fn start() -> Self {
        Self {
            emu: TestEmulator::start().await.expect("emulator"),
            http: reqwest::Client::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{}/accounts/{}{path}",
            self.emu.base_url(),
            self.emu.account_id()
        )
    }

    async fn answer(request: reqwest::RequestBuilder) -> (u16, Value) {
        let response = request.send().await.expect("sent");
        let status = response.status().as_u16();
        (status, response.json().await.expect("json envelope"))
    }

    async fn session(&self, script: &str, manifest: Value) -> (u16, Value) {
        let post = self
            .http
            .post(self.url(&format!("/workers/scripts/{script}/assets-upload-session")))
            .bearer_auth(self.emu.token())
            .json(&json!({ "manifest": manifest }));
        Self::answer(post).await
    }

    /// Uploads `files` (hash, bytes, content type) base64-encoded with `jwt`.
    async fn upload(&self, jwt: &str, files: &[(&str, &[u8], &str)]) -> (u16, Value) {
        let mut form = Form::new();
        for (hash, bytes, content_type) in files {
            let text = base64::engine::general_purpose::STANDARD.encode(bytes);
            let part = Part::text(text)
                .file_name(hash.to_string())
                .mime_str(content_type)
                .expect("mime");
            form = form.part(hash.to_string(), part);
        }
        let post = self
            .http
            .post(self.url("/workers/assets/upload?base64=true"))
            .bearer_auth(jwt)
            .multipart(form);
        Self::answer(post).await
    }

    async fn put_script(&self, script: &str, metadata: Value, code: bool) -> (u16, Value) {
        let form = if code {
            common::module_form(
                &metadata,
                "export default { fetch() { return new Response('w'); } }",
            )
        } else {
            Form::new().part("metadata", Part::text(metadata.to_string()))
        };
        let put = self
            .http
            .put(self.url(&format!("/workers/scripts/{script}")))
            .bearer_auth(self.emu.token())
            .multipart(form);
        Self::answer(put).await
    }
}

fn manifest() -> Value {
    json!({
        "/index.html": {"hash": INDEX_HASH, "size": INDEX.len()},
        "/docs/index.html": {"hash": INDEX_HASH, "size": INDEX.len()},
        "/logo.png": {"hash": LOGO_HASH, "size": LOGO.len()},
    })
}

fn jwt(body: &Value) -> String {
    body["result"]["jwt"]
        .as_str()
        .unwrap_or_else(|| panic!("a jwt in {body}"))
        .to_owned()
}

#[tokio::test]
async fn session_upload_and_completion_attach_the_manifest_and_dedupe_next_time() {
    let api = Api::start().await;
    let (status, opened) = api.session("site", manifest()).await;
    assert_eq!(status, 200, "{opened}");
    let buckets: Vec<Vec<String>> =
        serde_json::from_value(opened["result"]["buckets"].clone()).expect("buckets");
    let mut wanted: Vec<String> = buckets.concat();
    wanted.sort();
    assert_eq!(wanted, vec![INDEX_HASH.to_owned(), LOGO_HASH.to_owned()]);
    let upload_jwt = jwt(&opened);

    let (status, partial) = api
        .upload(
            &upload_jwt,
            &[(INDEX_HASH, INDEX, "text/html; charset=utf-8")],
        )
        .await;
    assert_eq!((status, &partial["result"]), (202, &json!({})), "{partial}");
    let (status, done) = api
        .upload(&upload_jwt, &[(LOGO_HASH, LOGO, "image/png")])
        .await;
    assert_eq!(status, 201, "{done}");
    let completion = jwt(&done);

    let metadata = json!({
        "main_module": "index.js",
        "compatibility_date": "2025-01-01",
        "bindings": [{"name": "ASSETS", "type": "assets"}],
        "assets": {"jwt": completion, "config": {"not_found_handling": "404-page"}},
    });
    let (status, put) = api.put_script("site", metadata, true).await;
    assert_eq!(status, 200, "{put}");
    assert_eq!(put["result"]["has_assets"], json!(true));
    let version = common::get_json(
        api.url("/workers/scripts/site/versions?per_page=1"),
        api.emu.token(),
    )
    .await["result"]["items"][0]["id"]
        .as_str()
        .expect("version id")
        .to_owned();
    let stored = api
        .emu
        .emulator()
        .with_state(|tx, _| {
            flaresync_emulator::state::assets::manifest_of_version(tx, "site", &version)
        })
        .expect("read")
        .expect("the version has assets");
    assert_eq!(stored["/logo.png"].hash, LOGO_HASH);
    assert_eq!(stored["/docs/index.html"].size, INDEX.len() as u64);
    let settings =
        common::get_json(api.url("/workers/scripts/site/settings"), api.emu.token()).await;
    assert_eq!(
        settings["result"]["bindings"],
        json!([{"name": "ASSETS", "type": "assets"}])
    );

    // Same files again: nothing to upload, the session's jwt completes at once.
    let (status, again) = api.session("site", manifest()).await;
    assert_eq!(status, 200);
    assert_eq!(again["result"]["buckets"], json!([]));
    let metadata = json!({"main_module": "index.js", "assets": {"jwt": jwt(&again)}});
    let (status, put) = api.put_script("site", metadata, true).await;
    assert_eq!(status, 200, "{put}");
}

#[tokio::test]
async fn bad_tokens_foreign_hashes_and_wrong_sizes_are_refused_in_the_envelope() {
    let api = Api::start().await;
    let (_, opened) = api.session("site", manifest()).await;
    let upload_jwt = jwt(&opened);

    for token in ["not-a-jwt", &format!("{upload_jwt}x"), api.emu.token()] {
        let (status, body) = api.upload(token, &[(INDEX_HASH, INDEX, "text/html")]).await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["success"], json!(false));
        assert_eq!(body["errors"][0]["code"], json!(10000));
        assert_eq!(body["result"], Value::Null);
    }
    let (status, body) = api
        .upload(
            &upload_jwt,
            &[("00000000000000000000000000000000", INDEX, "text/html")],
        )
        .await;
    assert_eq!(
        (status, &body["errors"][0]["code"]),
        (400, &json!(10021)),
        "{body}"
    );
    let (status, body) = api
        .upload(&upload_jwt, &[(LOGO_HASH, INDEX, "image/png")])
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("bytes")
    );

    // The upload token is not a completion token; a binding needs assets.
    let metadata = json!({"main_module": "index.js", "assets": {"jwt": upload_jwt}});
    let (status, body) = api.put_script("site", metadata, true).await;
    assert_eq!(
        (status, &body["errors"][0]["code"]),
        (400, &json!(10021)),
        "{body}"
    );
    let metadata =
        json!({"main_module": "index.js", "bindings": [{"name": "A", "type": "assets"}]});
    let (status, body) = api.put_script("site", metadata, true).await;
    assert_eq!(status, 400);
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("Cannot use an assets binding without assets"),
        "{body}"
    );
    let (status, body) = api
        .session("site", json!({"/a.txt": {"hash": "nothex", "size": 1}}))
        .await;
    assert_eq!(
        (status, &body["errors"][0]["code"]),
        (400, &json!(10021)),
        "{body}"
    );
}

#[tokio::test]
async fn assets_only_workers_and_keep_assets() {
    let api = Api::start().await;
    let (_, opened) = api
        .session(
            "static",
            json!({"/index.html": {"hash": INDEX_HASH, "size": INDEX.len()}}),
        )
        .await;
    let (status, done) = api
        .upload(&jwt(&opened), &[(INDEX_HASH, INDEX, "text/html")])
        .await;
    assert_eq!(status, 201);
    let metadata = json!({
        "assets": {"jwt": jwt(&done), "config": {"html_handling": "none"}},
        "compatibility_date": "2025-01-01",
    });
    let (status, put) = api.put_script("static", metadata, false).await;
    assert_eq!(status, 200, "{put}");
    assert_eq!(put["result"]["has_assets"], json!(true));
    assert_eq!(put["result"]["has_modules"], json!(false));

    // Without assets, a Worker still needs code.
    let (status, body) = api
        .put_script(
            "nothing",
            json!({"compatibility_date": "2025-01-01"}),
            false,
        )
        .await;
    assert_eq!(status, 400, "{body}");

    // `keep_assets` (what `wrangler versions secret put` sends) keeps the latest version's.
    let metadata = json!({"main_module": "index.js", "keep_assets": true});
    let post = api
        .http
        .post(api.url("/workers/scripts/static/versions"))
        .bearer_auth(api.emu.token())
        .multipart(common::module_form(&metadata, "export default {}"));
    let (status, body) = Api::answer(post).await;
    assert_eq!(status, 200, "{body}");
    let version = body["result"]["id"].as_str().expect("id").to_owned();
    let kept = api
        .emu
        .emulator()
        .with_state(|tx, _| {
            flaresync_emulator::state::assets::manifest_of_version(tx, "static", &version)
        })
        .expect("read");
    assert!(kept.is_some_and(|m| m.contains_key("/index.html")));
}

/// wrangler's "Assets already uploaded have been saved, so the next attempt will automatically
/// resume": files of an abandoned session are kept, and a new session asks only for the rest.
#[tokio::test]
async fn an_interrupted_upload_resumes_with_only_the_missing_files() {
    let api = Api::start().await;
    let (_, opened) = api.session("site", manifest()).await;
    let (status, _) = api
        .upload(&jwt(&opened), &[(INDEX_HASH, INDEX, "text/html")])
        .await;
    assert_eq!(status, 202);
    let (_, again) = api.session("site", manifest()).await;
    assert_eq!(again["result"]["buckets"], json!([[LOGO_HASH]]));
    // Re-sending a stored file is harmless.
    let (status, done) = api
        .upload(
            &jwt(&again),
            &[
                (INDEX_HASH, INDEX, "text/html"),
                (LOGO_HASH, LOGO, "image/png"),
            ],
        )
        .await;
    assert_eq!(status, 201, "{done}");
}
