//! State survives a restart on the same `state_dir`, and concurrent writes are serialised.

mod common;

use common::{account_url, json_answer};
use flaresync_emulator::EmulatorConfig;
use flaresync_emulator::testing::{TestEmulator, test_config};
use reqwest::multipart::Form;
use serde_json::{Value, json};

fn form(text: &str) -> Form {
    let metadata = json!({
        "main_module": "index.js",
        "compatibility_date": "2025-01-01",
        "bindings": [{"name": "S", "type": "secret_text", "text": "persisted-secret"}],
        "keep_bindings": ["secret_text"],
    });
    let main = format!("export default {{ async fetch() {{ return new Response({text:?}); }} }};");
    common::module_form(&metadata, main)
}

/// The test configuration with its state in a new directory (kept while the `TempDir` lives).
fn persistent_config() -> (tempfile::TempDir, EmulatorConfig) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = test_config();
    config.state_dir = Some(dir.path().to_path_buf());
    (dir, config)
}

#[tokio::test]
async fn state_survives_restart() {
    let (dir, config) = persistent_config();
    let http = reqwest::Client::new();

    let emu = TestEmulator::start_with(config.clone())
        .await
        .expect("first start");
    let kv = emu.create_kv_namespace("persisted").expect("kv");
    let put = json_answer(
        &emu,
        http.put(account_url(&emu, "/workers/scripts/keep"))
            .multipart(form("one")),
    )
    .await;
    let v1 = put["result"]["deployment_id"]
        .as_str()
        .expect("v1")
        .to_owned();
    let up = json_answer(
        &emu,
        http.post(account_url(&emu, "/workers/scripts/keep/versions"))
            .multipart(form("two")),
    )
    .await;
    let v2 = up["result"]["id"].as_str().expect("v2").to_owned();
    let before = json_answer(
        &emu,
        http.get(account_url(&emu, "/workers/scripts/keep/deployments")),
    )
    .await;
    emu.stop().await.expect("clean stop");

    let emu = TestEmulator::start_with(config)
        .await
        .expect("second start");
    let after = json_answer(
        &emu,
        http.get(account_url(&emu, "/workers/scripts/keep/deployments")),
    )
    .await;
    assert_eq!(
        before["result"], after["result"],
        "deployments survive a restart"
    );
    let kvs = json_answer(&emu, http.get(account_url(&emu, "/storage/kv/namespaces"))).await;
    assert_eq!(kvs["result"][0]["id"], json!(kv));

    let secrets = json_answer(
        &emu,
        http.get(account_url(&emu, "/workers/scripts/keep/secrets")),
    )
    .await;
    assert_eq!(
        secrets["result"],
        json!([{"name": "S", "type": "secret_text"}])
    );

    // Deployments still work against the persisted versions.
    let dep = json_answer(
        &emu,
        http.post(account_url(&emu, "/workers/scripts/keep/deployments"))
            .json(&json!({"strategy": "percentage", "versions": [{"version_id": v2, "percentage": 100}]})),
    )
    .await;
    assert_eq!(dep["success"], json!(true), "{dep}");
    let latest_ts = dep["result"]["created_on"].as_str().expect("ts").to_owned();
    let before_ts = before["result"]["deployments"][0]["created_on"]
        .as_str()
        .expect("ts");
    assert!(
        latest_ts.as_str() > before_ts,
        "timestamps keep increasing after a restart"
    );
    let v = json_answer(
        &emu,
        http.get(account_url(
            &emu,
            &format!("/workers/scripts/keep/versions/{v1}"),
        )),
    )
    .await;
    assert_eq!(v["result"]["number"], json!(1));
    assert!(dir.path().join("emulator.sqlite3").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_uploads_get_distinct_numbers() {
    let emu = TestEmulator::start().await.expect("start");
    let http = reqwest::Client::new();
    let put = json_answer(
        &emu,
        http.put(account_url(&emu, "/workers/scripts/busy"))
            .multipart(form("0")),
    )
    .await;
    assert_eq!(put["success"], json!(true), "{put}");
    let mut tasks = Vec::new();
    for n in 0..16 {
        let http = http.clone();
        let target = account_url(&emu, "/workers/scripts/busy/versions");
        let token = emu.token().to_owned();
        tasks.push(tokio::spawn(async move {
            let resp = http
                .post(target)
                .bearer_auth(token)
                .multipart(form(&n.to_string()))
                .send()
                .await
                .expect("sent");
            resp.json::<Value>().await.expect("json")
        }));
    }
    let mut numbers = Vec::new();
    for t in tasks {
        let body = t.await.expect("task");
        assert_eq!(body["success"], json!(true), "{body}");
        numbers.push(body["result"]["number"].as_i64().expect("number"));
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (2..=17).collect::<Vec<_>>());
    let list = json_answer(
        &emu,
        http.get(account_url(
            &emu,
            "/workers/scripts/busy/versions?per_page=100",
        )),
    )
    .await;
    let created: Vec<&str> = list["result"]["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["metadata"]["created_on"].as_str().expect("ts"))
        .collect();
    assert!(
        created.windows(2).all(|w| w[0] > w[1]),
        "newest first, strictly: {created:?}"
    );
}

#[tokio::test]
async fn serve_runs_until_shutdown_and_rejects_bad_config() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(flaresync_emulator::serve(
        listener,
        test_config(),
        async move {
            let _ = stopped.await;
        },
    ));
    let body = common::get_json(
        format!("http://{addr}/client/v4/user/tokens/verify"),
        flaresync_emulator::testing::TEST_TOKEN,
    )
    .await;
    assert_eq!(body["result"]["status"], json!("active"));
    stop.send(()).expect("server still running");
    server.await.expect("joined").expect("clean shutdown");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let mut bad = test_config();
    bad.account_id = "not-hex".into();
    let err = flaresync_emulator::serve(listener, bad, async {})
        .await
        .expect_err("bad account id");
    assert!(
        err.to_string()
            .contains("account_id must be 32 hex characters"),
        "{err}"
    );
}

/// `PUT …/scripts/cron/schedules` with the one cron `cron`: the successful answer.
async fn put_schedule(emu: &TestEmulator, cron: &str) -> Value {
    let path = "/workers/scripts/cron/schedules";
    let request = reqwest::Client::new()
        .put(account_url(emu, path))
        .json(&json!([{ "cron": cron }]));
    let put = json_answer(emu, request).await;
    assert_eq!(put["success"], json!(true), "{put}");
    put
}

#[tokio::test]
async fn schedules_survive_restart_and_older_state_dirs_gain_the_table() {
    let (dir, config) = persistent_config();
    let http = reqwest::Client::new();
    let path = "/workers/scripts/cron/schedules";

    let emu = TestEmulator::start_with(config.clone())
        .await
        .expect("first start");
    json_answer(
        &emu,
        http.put(account_url(&emu, "/workers/scripts/cron"))
            .multipart(form("one")),
    )
    .await;
    let put = put_schedule(&emu, "*/5 * * * *").await;
    emu.stop().await.expect("clean stop");

    let emu = TestEmulator::start_with(config.clone())
        .await
        .expect("second start");
    let got = json_answer(&emu, http.get(account_url(&emu, path))).await;
    assert_eq!(got["result"], put["result"]);
    emu.stop().await.expect("clean stop");

    // A state dir written before schedules existed has no such table: opening it adds one.
    let db = dir.path().join("emulator.sqlite3");
    rusqlite::Connection::open(&db)
        .and_then(|c| c.execute_batch("DROP TABLE schedules"))
        .expect("make the state dir look like an older one");
    let emu = TestEmulator::start_with(config)
        .await
        .expect("older state dir opens");
    let got = json_answer(&emu, http.get(account_url(&emu, path))).await;
    assert_eq!(got["result"], json!({"schedules": []}), "{got}");
    let versions = json_answer(
        &emu,
        http.get(account_url(&emu, "/workers/scripts/cron/versions")),
    )
    .await;
    assert_eq!(versions["success"], json!(true), "{versions}");
    put_schedule(&emu, "0 0 * * *").await;
}
