//! A Worker's per-version settings (limits, placement), its source maps and its non-versioned
//! script settings over HTTP: stored, returned where Cloudflare returns them (`versions/{id}`,
//! `content/v2`, `script-settings`), and refused with Cloudflare's envelope (400, 10021) when
//! their shape is wrong.

mod common;

use flaresync_emulator::testing::TestEmulator;
use reqwest::multipart::Part;
use serde_json::{Value, json};

const MAIN: &str = "export default { fetch() { return new Response('ok'); } };\n\
                    //# sourceMappingURL=index.js.map\n";
const MAP: &str = r#"{"version":3,"file":"index.js","sources":["src/index.ts"],"mappings":"AAAA"}"#;

async fn put(emu: &TestEmulator, metadata: Value, with_map: bool) -> Value {
    let mut form = common::module_form(&metadata, MAIN);
    if with_map {
        form = form.part(
            "index.js.map",
            Part::text(MAP)
                .file_name("index.js.map")
                .mime_str("application/source-map")
                .expect("mime"),
        );
    }
    let url = common::account_url(emu, "/workers/scripts/api?excludeScript=true");
    common::json_answer(emu, reqwest::Client::new().put(url).multipart(form)).await
}

async fn patch_settings(emu: &TestEmulator, body: Value) -> Value {
    let url = common::account_url(emu, "/workers/scripts/api/script-settings");
    common::json_answer(emu, reqwest::Client::new().patch(url).json(&body)).await
}

fn refused(answer: &Value) -> bool {
    answer["success"] == json!(false) && answer["errors"][0]["code"] == json!(10021)
}

#[tokio::test]
async fn settings_and_source_maps_are_stored_returned_and_checked() {
    let emu = TestEmulator::start().await.expect("emulator");
    let metadata = json!({
        "main_module": "index.js",
        "compatibility_date": "2025-06-01",
        "limits": {"cpu_ms": 50},
        "placement": {"mode": "smart"},
        "logpush": true,
        "observability": {"enabled": true, "head_sampling_rate": 0.25},
        "tail_consumers": [{"service": "tail"}],
    });
    let created = put(&emu, metadata.clone(), true).await;
    assert_eq!(created["success"], json!(true), "{created}");
    let version = created["result"]["deployment_id"].as_str().expect("id");
    let url = common::account_url(&emu, &format!("/workers/scripts/api/versions/{version}"));
    let view = common::get_json(url, emu.token()).await;
    let resources = &view["result"]["resources"];
    assert_eq!(resources["script_runtime"]["limits"], json!({"cpu_ms": 50}));
    assert_eq!(resources["script"]["placement_mode"], json!("smart"));
    let url = common::account_url(&emu, "/workers/scripts/api/script-settings");
    let settings = common::get_json(url, emu.token()).await;
    assert_eq!(settings["result"]["logpush"], json!(true));
    assert_eq!(
        settings["result"]["observability"]["head_sampling_rate"],
        json!(0.25)
    );
    assert_eq!(
        settings["result"]["tail_consumers"],
        json!([{"service": "tail"}])
    );

    // The map is kept with the version and comes back from content/v2 as its own part.
    let url = common::account_url(
        &emu,
        &format!("/workers/scripts/api/content/v2?version={version}"),
    );
    let content = common::send_authorized(&emu, reqwest::Client::new().get(url))
        .await
        .text()
        .await
        .expect("text");
    assert!(content.contains("name=\"index.js.map\""), "{content}");
    assert!(
        content.contains("Content-Type: application/source-map"),
        "{content}"
    );
    assert!(content.contains("src/index.ts"), "{content}");

    // Wrong shapes are refused, nothing is stored.
    for (key, value) in [
        ("limits", json!({"cpu_ms": 900_000})),
        ("limits", json!({"cpu_ms": "fast"})),
        ("placement", json!({"mode": "anywhere"})),
        ("logpush", json!("yes")),
        ("observability", json!({"head_sampling_rate": 3})),
        ("tail_consumers", json!([{"environment": "production"}])),
    ] {
        let mut bad = metadata.clone();
        bad[key] = value.clone();
        let answer = put(&emu, bad, false).await;
        assert!(refused(&answer), "{key} = {value}: {answer}");
    }
    let answer = patch_settings(&emu, json!({"observability": {"enabled": "on"}})).await;
    assert!(refused(&answer), "{answer}");
    let answer = patch_settings(&emu, json!({"tail_consumers": [{"service": ""}]})).await;
    assert!(refused(&answer), "{answer}");
    let url = common::account_url(&emu, "/workers/scripts/api/versions");
    let versions = common::get_json(url, emu.token()).await;
    assert_eq!(
        versions["result"]["items"].as_array().map(Vec::len),
        Some(1)
    );
    let answer = patch_settings(&emu, json!({"logpush": false, "tail_consumers": []})).await;
    assert_eq!(answer["result"]["logpush"], json!(false), "{answer}");
}
