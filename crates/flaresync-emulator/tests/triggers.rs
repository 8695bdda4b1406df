//! Zones, Worker routes, custom domains and queue consumers over HTTP: Cloudflare's envelopes,
//! validations and error codes, and persistence across a restart.

mod common;

use flaresync_emulator::testing::TestEmulator;
use reqwest::Method;
use serde_json::{Value, json};

/// Sends `method path` (below `/client/v4`) with an optional JSON body; `(status, envelope)`.
async fn call(emu: &TestEmulator, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let path = path.replace("{a}", emu.account_id());
    let mut request = reqwest::Client::new()
        .request(method, format!("{}{path}", emu.base_url()))
        .bearer_auth(emu.token());
    if let Some(body) = body {
        request = request.json(&body);
    }
    let answer = request.send().await.expect("sent");
    let status = answer.status().as_u16();
    (status, answer.json().await.expect("json envelope"))
}

/// `POST path` with a JSON body.
async fn post(emu: &TestEmulator, path: &str, body: Value) -> (u16, Value) {
    call(emu, Method::POST, path, Some(body)).await
}

/// `PUT path` with a JSON body.
async fn put(emu: &TestEmulator, path: &str, body: Value) -> (u16, Value) {
    call(emu, Method::PUT, path, Some(body)).await
}

fn code(envelope: &Value) -> u64 {
    assert_eq!(envelope["success"], json!(false), "{envelope}");
    envelope["errors"][0]["code"].as_u64().expect("code")
}

fn ok(envelope: &Value) -> &Value {
    assert_eq!(envelope["success"], json!(true), "{envelope}");
    &envelope["result"]
}

async fn worker(emu: &TestEmulator, name: &str) {
    let form = common::module_form(
        &json!({"main_module": "index.js", "compatibility_date": "2025-01-01"}),
        "export default { fetch() { return new Response('hi'); } };",
    );
    let answer = reqwest::Client::new()
        .put(format!(
            "{}/accounts/{}/workers/scripts/{name}",
            emu.base_url(),
            emu.account_id()
        ))
        .bearer_auth(emu.token())
        .multipart(form)
        .send()
        .await
        .expect("sent");
    assert_eq!(
        answer.status(),
        200,
        "{}",
        answer.text().await.unwrap_or_default()
    );
}

async fn zone_id(emu: &TestEmulator, name: &str) -> String {
    let (_, list) = call(
        emu,
        Method::GET,
        &format!("/zones?name={name}&account.id={{a}}"),
        None,
    )
    .await;
    ok(&list)[0]["id"].as_str().expect("zone id").to_owned()
}

#[tokio::test]
async fn zones_are_seeded_listed_by_name_and_created() {
    let emu = TestEmulator::start().await.expect("emulator");
    let (status, list) = call(
        &emu,
        Method::GET,
        "/zones?name=example.com&account.id={a}",
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(ok(&list)[0]["name"], "example.com");
    assert_eq!(list["result_info"]["total_count"], 1);
    let (_, none) = call(&emu, Method::GET, "/zones?name=other.dev", None).await;
    assert_eq!(ok(&none), &json!([]));
    let (status, created) = post(
        &emu,
        "/zones",
        json!({"name": "other.dev", "account": {"id": emu.account_id()}}),
    )
    .await;
    assert_eq!(status, 200);
    let id = ok(&created)["id"].as_str().expect("id").to_owned();
    let (_, again) = post(&emu, "/zones", json!({"name": "other.dev"})).await;
    assert_eq!(code(&again), 1061);
    let (_, one) = call(&emu, Method::GET, &format!("/zones/{id}"), None).await;
    assert_eq!(ok(&one)["name"], "other.dev");
    let (status, missing) = call(&emu, Method::GET, "/zones/0000/workers/routes", None).await;
    assert_eq!((status, code(&missing)), (404, 7003));
}

#[tokio::test]
async fn zone_routes_follow_cloudflares_rules() {
    let emu = TestEmulator::start().await.expect("emulator");
    worker(&emu, "api").await;
    worker(&emu, "web").await;
    let zone = zone_id(&emu, "example.com").await;
    let routes = format!("/zones/{zone}/workers/routes");
    let (status, created) = post(
        &emu,
        &routes,
        json!({"pattern": "api.example.com/*", "script": "api"}),
    )
    .await;
    assert_eq!(status, 200);
    let id = ok(&created)["id"].as_str().expect("id").to_owned();
    assert_eq!(ok(&created)["script"], "api");

    // Another Worker cannot take the pattern; a missing Worker or a foreign host is refused.
    let (status, taken) = post(
        &emu,
        &routes,
        json!({"pattern": "api.example.com/*", "script": "web"}),
    )
    .await;
    assert_eq!((status, code(&taken)), (409, 10020));
    assert!(
        taken["errors"][0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("\"api\""),
        "{taken}"
    );
    let (_, ghost) = post(
        &emu,
        &routes,
        json!({"pattern": "x.example.com/*", "script": "ghost"}),
    )
    .await;
    assert_eq!(code(&ghost), 10019);
    let (_, foreign) = post(
        &emu,
        &routes,
        json!({"pattern": "example.org/*", "script": "web"}),
    )
    .await;
    assert_eq!(code(&foreign), 10022);

    let (_, updated) = put(
        &emu,
        &format!("{routes}/{id}"),
        json!({"pattern": "api.example.com/v2/*", "script": "api"}),
    )
    .await;
    assert_eq!(ok(&updated)["pattern"], "api.example.com/v2/*");
    let (_, listed) = call(&emu, Method::GET, &routes, None).await;
    assert_eq!(
        ok(&listed),
        &json!([{"id": id, "pattern": "api.example.com/v2/*", "script": "api"}])
    );
    let (_, deleted) = call(&emu, Method::DELETE, &format!("{routes}/{id}"), None).await;
    assert_eq!(ok(&deleted), &json!({"id": id}));
    let (status, gone) = call(&emu, Method::GET, &format!("{routes}/{id}"), None).await;
    assert_eq!((status, code(&gone)), (404, 10005));
}

#[tokio::test]
async fn wranglers_script_routes_put_replaces_the_set_and_never_steals() {
    let emu = TestEmulator::start().await.expect("emulator");
    worker(&emu, "api").await;
    worker(&emu, "web").await;
    let put = |script: &str, body: Value| {
        let path = format!("/accounts/{{a}}/workers/scripts/{script}/routes");
        let emu = &emu;
        async move { call(emu, Method::PUT, &path, Some(body)).await }
    };
    let (status, _) = put(
        "api",
        json!(["api.example.com/*", {"pattern": "example.com/api/*", "zone_name": "example.com"}]),
    )
    .await;
    assert_eq!(status, 200);
    let (_, set) = put("api", json!([{"pattern": "api.example.com/*"}])).await;
    assert_eq!(ok(&set).as_array().map(Vec::len), Some(1), "{set}");
    let (status, stolen) = put("web", json!(["api.example.com/*"])).await;
    assert_eq!((status, code(&stolen)), (409, 10020));
    let (_, read) = call(
        &emu,
        Method::GET,
        "/accounts/{a}/workers/services/api/environments/production/routes?show_zonename=true",
        None,
    )
    .await;
    assert_eq!(ok(&read)[0]["zone_name"], "example.com");
    let (_, unknown_zone) = put("web", json!(["www.example.org/*"])).await;
    assert_eq!(code(&unknown_zone), 7003);
}

#[tokio::test]
async fn custom_domains_attach_list_refuse_another_worker_and_detach() {
    let emu = TestEmulator::start().await.expect("emulator");
    worker(&emu, "shop").await;
    worker(&emu, "blog").await;
    let (status, attached) = put(
        &emu,
        "/accounts/{a}/workers/domains",
        json!({"hostname": "shop.example.com", "service": "shop", "zone_name": "example.com"}),
    )
    .await;
    assert_eq!(status, 200);
    let id = ok(&attached)["id"].as_str().expect("id").to_owned();
    assert_eq!(ok(&attached)["zone_id"], zone_id(&emu, "example.com").await);
    let (status, taken) = put(
        &emu,
        "/accounts/{a}/workers/domains",
        json!({"hostname": "shop.example.com", "service": "blog"}),
    )
    .await;
    assert_eq!((status, code(&taken)), (409, 100116));
    let (_, wildcard) = put(
        &emu,
        "/accounts/{a}/workers/domains",
        json!({"hostname": "*.example.com", "service": "blog"}),
    )
    .await;
    assert_eq!(code(&wildcard), 100101);
    let (_, listed) = call(
        &emu,
        Method::GET,
        "/accounts/{a}/workers/domains?service=shop",
        None,
    )
    .await;
    assert_eq!(ok(&listed).as_array().map(Vec::len), Some(1));
    // wrangler's replace: the Worker's set becomes exactly `origins`.
    let (status, _) = put(
        &emu,
        "/accounts/{a}/workers/scripts/shop/domains/records",
        json!({"override_scope": true, "override_existing_origin": false,
                    "override_existing_dns_record": false,
                    "origins": [{"hostname": "store.example.com"}]}),
    )
    .await;
    assert_eq!(status, 200);
    let (_, records) = call(&emu, Method::GET, "/accounts/{a}/workers/domains/records?page=0&per_page=5&service=shop&environment=production", None).await;
    let hosts: Vec<&str> = ok(&records)
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|d| d["hostname"].as_str())
        .collect();
    assert_eq!(hosts, ["store.example.com"]);
    let (status, gone) = call(
        &emu,
        Method::DELETE,
        &format!("/accounts/{{a}}/workers/domains/{id}"),
        None,
    )
    .await;
    assert_eq!(
        (status, code(&gone)),
        (404, 100100),
        "the replace detached it"
    );
}

#[tokio::test]
async fn queue_consumers_are_validated_listed_on_the_queue_and_persist() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = flaresync_emulator::testing::test_config();
    config.state_dir = Some(dir.path().to_path_buf());
    let emu = TestEmulator::start_with(config.clone())
        .await
        .expect("emulator");
    worker(&emu, "consumer").await;
    let (_, queue) = post(&emu, "/accounts/{a}/queues", json!({"queue_name": "jobs"})).await;
    let queue_id = ok(&queue)["queue_id"].as_str().expect("id").to_owned();
    let consumers = format!("/accounts/{{a}}/queues/{queue_id}/consumers");
    let (status, bad) = post(
        &emu,
        &consumers,
        json!({"type": "worker", "script_name": "consumer", "settings": {"batch_size": 500}}),
    )
    .await;
    assert_eq!((status, code(&bad)), (400, 100127));
    let (_, ghost) = post(
        &emu,
        &consumers,
        json!({"type": "worker", "script_name": "ghost"}),
    )
    .await;
    assert_eq!(code(&ghost), 10007);
    let (status, created) = post(
        &emu,
        &consumers,
        json!({
        "type": "worker", "script_name": "consumer", "dead_letter_queue": "jobs-dlq",
        "settings": {"batch_size": 25, "max_wait_time_ms": 2000, "retry_delay": 30}}),
    )
    .await;
    assert_eq!(status, 200);
    let consumer_id = ok(&created)["consumer_id"].as_str().expect("id").to_owned();
    assert_eq!(
        ok(&created)["settings"]["max_retries"],
        3,
        "defaults filled in"
    );
    let (_, second) = post(&emu, &consumers, json!({"type": "http_pull"})).await;
    assert_eq!(code(&second), 100129);
    let (_, dlq) = call(
        &emu,
        Method::GET,
        "/accounts/{a}/queues?name=jobs-dlq",
        None,
    )
    .await;
    assert_eq!(
        ok(&dlq).as_array().map(Vec::len),
        Some(1),
        "the dead letter queue was created"
    );
    drop(emu);

    let emu = TestEmulator::start_with(config)
        .await
        .expect("emulator again");
    let (_, queues) = call(
        &emu,
        Method::GET,
        "/accounts/{a}/queues?page=1&name=jobs",
        None,
    )
    .await;
    assert_eq!(ok(&queues)[0]["consumers"][0]["script"], "consumer");
    assert_eq!(ok(&queues)[0]["consumers_total_count"], 1);
    let one = format!("{consumers}/{consumer_id}");
    let (_, updated) = put(
        &emu,
        &one,
        json!({"type": "worker", "script_name": "consumer", "settings": {"max_retries": 7}}),
    )
    .await;
    assert_eq!(ok(&updated)["settings"]["max_retries"], 7);
    assert_eq!(
        ok(&updated).get("dead_letter_queue"),
        None,
        "a PUT replaces the consumer"
    );
    let (status, _) = call(&emu, Method::DELETE, &one, None).await;
    assert_eq!(status, 200);
    let (_, listed) = call(&emu, Method::GET, &consumers, None).await;
    assert_eq!(ok(&listed), &json!([]));
}
