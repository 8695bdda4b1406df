//! End-to-end tests of the emulator over HTTP with reqwest.

mod common;

use flaresync_emulator::testing::TestEmulator;
use flaresync_emulator::{EmulatorConfig, FaultKind, FaultSpec};
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

const MAIN: &str = r#"
export class Counter {
  async fetch(request) { return new Response("1"); }
}
export default {
  async fetch(request, env) { return new Response(env.GREETING); },
};
"#;

struct Api {
    emu: TestEmulator,
    http: reqwest::Client,
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Answer {
    fn ok(&self) -> &Value {
        assert_eq!(
            self.body["success"],
            json!(true),
            "expected success: {}",
            self.body
        );
        &self.body["result"]
    }
    fn code(&self) -> u64 {
        assert_eq!(
            self.body["success"],
            json!(false),
            "expected failure: {}",
            self.body
        );
        self.body["errors"][0]["code"].as_u64().expect("error code")
    }
    fn message(&self) -> String {
        self.body["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
    /// The answer is Cloudflare's error `code` with a message saying `needle`.
    fn refused(&self, code: u64, needle: &str) {
        assert_eq!(self.code(), code, "{}", self.body);
        assert!(self.message().contains(needle), "{}", self.message());
    }
}

impl Api {
    async fn start() -> Self {
        Self::with(flaresync_emulator::testing::test_config()).await
    }

    async fn with(config: EmulatorConfig) -> Self {
        Self {
            emu: TestEmulator::start_with(config)
                .await
                .expect("emulator starts"),
            http: reqwest::Client::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        common::account_url(&self.emu, path)
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Answer {
        let resp = common::send_authorized(&self.emu, req).await;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
        }
    }

    async fn get(&self, path: &str) -> Answer {
        self.send(self.http.get(self.url(path))).await
    }

    async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(self.http.post(self.url(path)).json(&body)).await
    }

    fn form(metadata: &Value) -> Form {
        common::module_form(metadata, MAIN)
    }

    async fn put_script(&self, name: &str, metadata: Value) -> Answer {
        self.send(
            self.http
                .put(self.url(&format!(
                    "/workers/scripts/{name}?excludeScript=true&bindings_inherit=strict"
                )))
                .multipart(Self::form(&metadata)),
        )
        .await
    }

    /// Uploads and deploys `demo` ([`first_metadata`]); returns the version it created.
    async fn first_version(&self, kv: &str) -> String {
        let put = self.put_script("demo", first_metadata(kv)).await;
        put.ok()["deployment_id"].as_str().expect("id").to_owned()
    }

    async fn upload_version(&self, name: &str, metadata: Value) -> Answer {
        self.send(
            self.http
                .post(self.url(&format!(
                    "/workers/scripts/{name}/versions?bindings_inherit=strict"
                )))
                .multipart(Self::form(&metadata)),
        )
        .await
    }

    async fn deploy(&self, name: &str, versions: &[(&str, f64)], force: bool) -> Answer {
        let versions: Vec<Value> = versions
            .iter()
            .map(|(id, p)| json!({"version_id": id, "percentage": p}))
            .collect();
        let q = if force { "?force=true" } else { "" };
        self.post(
            &format!("/workers/scripts/{name}/deployments{q}"),
            json!({"strategy": "percentage", "versions": versions, "annotations": {"workers/message": "m"}}),
        )
        .await
    }
}

fn first_metadata(kv: &str) -> Value {
    json!({
        "main_module": "index.js",
        "bindings": [
            {"name": "GREETING", "type": "plain_text", "text": "hello"},
            {"name": "CACHE", "type": "kv_namespace", "namespace_id": kv},
            {"name": "COUNTER", "type": "durable_object_namespace", "class_name": "Counter"},
            {"name": "API_TOKEN", "type": "secret_text", "text": "s3cret"}
        ],
        "compatibility_date": "2025-01-01",
        "compatibility_flags": [],
        "migrations": {"new_tag": "v1", "steps": [{"new_classes": ["Counter"]}]}
    })
}

fn version_metadata(kv: &str, tag: &str) -> Value {
    json!({
        "main_module": "index.js",
        "bindings": [
            {"name": "GREETING", "type": "plain_text", "text": tag},
            {"name": "CACHE", "type": "kv_namespace", "namespace_id": kv},
            {"name": "COUNTER", "type": "durable_object_namespace", "class_name": "Counter"}
        ],
        "compatibility_date": "2025-01-01",
        "keep_bindings": ["secret_text", "secret_key"],
        "annotations": {"workers/tag": tag, "workers/message": format!("upload {tag}")}
    })
}

#[tokio::test]
async fn put_creates_version_and_full_deployment_then_versions_flow() {
    let api = Api::start().await;
    let missing = api.get("/workers/services/demo").await;
    assert_eq!((missing.status, missing.code()), (404, 10007));

    let kv = api.emu.create_kv_namespace("demo-cache").expect("kv");
    let put = api.put_script("demo", first_metadata(&kv)).await;
    let script = put.ok().clone();
    let v1 = script["deployment_id"]
        .as_str()
        .expect("deployment_id")
        .to_owned();
    assert_eq!(script["migration_tag"], json!("v1"));
    assert_eq!(script["id"], json!("demo"));
    assert_eq!(script["tag"].as_str().map(str::len), Some(32));

    let deps = api.get("/workers/scripts/demo/deployments").await;
    let list = deps.ok()["deployments"]
        .as_array()
        .expect("deployments")
        .clone();
    assert_eq!(list.len(), 1);
    assert_eq!(
        list[0]["versions"],
        json!([{"version_id": v1, "percentage": 100}])
    );
    assert_eq!(
        list[0]["annotations"]["workers/triggered_by"],
        json!("upload")
    );

    let view = api
        .get(&format!("/workers/scripts/demo/versions/{v1}"))
        .await;
    let v = view.ok();
    assert_eq!(v["number"], json!(1));
    assert_eq!(
        v["resources"]["script_runtime"]["migration_tag"],
        json!("v1")
    );
    assert_eq!(v["resources"]["script"]["handlers"], json!(["fetch"]));
    let secret = v["resources"]["bindings"]
        .as_array()
        .expect("bindings")
        .iter()
        .find(|b| b["name"] == json!("API_TOKEN"))
        .expect("secret binding");
    assert_eq!(secret, &json!({"name": "API_TOKEN", "type": "secret_text"}));
    assert!(
        !view.body.to_string().contains("s3cret"),
        "secret value leaked"
    );
    let created = v["metadata"]["created_on"].as_str().expect("created_on");
    assert_eq!(
        created.len(),
        "2026-11-24T00:42:49.372020Z".len(),
        "{created}"
    );

    // Version upload keeps secrets, does not deploy.
    let up = api
        .upload_version("demo", version_metadata(&kv, "v2"))
        .await;
    let v2 = up.ok()["id"].as_str().expect("id").to_owned();
    assert_eq!(up.ok()["annotations"]["workers/tag"], json!("v2"));
    assert_eq!(up.ok()["metadata"]["has_preview"], json!(false));
    let deps = api.get("/workers/scripts/demo/deployments").await;
    assert_eq!(deps.ok()["deployments"].as_array().map(Vec::len), Some(1));
    let secrets = api.get("/workers/scripts/demo/secrets").await;
    assert_eq!(
        secrets.ok(),
        &json!([{"name": "API_TOKEN", "type": "secret_text"}])
    );

    // Split and full deploys; newest first.
    api.deploy("demo", &[(&v2, 90.0), (&v1, 10.0)], false)
        .await
        .ok();
    let full = api.deploy("demo", &[(&v2, 100.0)], false).await;
    let dep_id = full.ok()["id"].as_str().expect("id").to_owned();
    let deps = api.get("/workers/scripts/demo/deployments").await;
    let list = deps.ok()["deployments"].as_array().expect("list").clone();
    assert_eq!(list.len(), 3);
    assert_eq!(list[0]["id"], json!(dep_id));
    assert_eq!(list[1]["versions"][0]["percentage"], json!(90));
    let times: Vec<&str> = list
        .iter()
        .map(|d| d["created_on"].as_str().expect("ts"))
        .collect();
    assert!(times.windows(2).all(|w| w[0] > w[1]), "{times:?}");

    // Versions list: newest first, deployable ignores pagination.
    let page = api
        .get("/workers/scripts/demo/versions?per_page=1&page=2")
        .await;
    assert_eq!(page.ok()["items"][0]["id"], json!(v1));
    assert_eq!(page.body["result_info"]["total_count"], json!(2));
    let deployable = api
        .get("/workers/scripts/demo/versions?deployable=true&per_page=1")
        .await;
    let ids: Vec<&Value> = deployable.ok()["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| &i["id"])
        .collect();
    assert_eq!(ids, vec![&json!(v2), &json!(v1)]);

    // Scripts list and services metadata carry the migration tag.
    let scripts = api.get("/workers/scripts").await;
    assert_eq!(scripts.ok()[0]["migration_tag"], json!("v1"));
    let svc = api.get("/workers/services/demo").await;
    assert_eq!(
        svc.ok()["default_environment"]["script"]["migration_tag"],
        json!("v1")
    );

    // Deleting the active deployment is refused; an older one can go.
    let del = api
        .send(
            api.http
                .delete(api.url(&format!("/workers/scripts/demo/deployments/{dep_id}"))),
        )
        .await;
    assert!(
        del.message().contains("keep-active-deployment"),
        "{}",
        del.body
    );
    let old = list[2]["id"].as_str().expect("id");
    let del = api
        .send(
            api.http
                .delete(api.url(&format!("/workers/scripts/demo/deployments/{old}"))),
        )
        .await;
    assert_eq!(
        del.body,
        json!({"success": true, "errors": [], "messages": []})
    );
}

/// A change to a valid upload's metadata.
type Change = fn(&mut Value);

fn push_binding(metadata: &mut Value, binding: Value) {
    metadata["bindings"]
        .as_array_mut()
        .expect("list")
        .push(binding);
}

#[tokio::test]
async fn version_upload_rules() {
    let api = Api::start().await;
    let kv = api.emu.create_kv_namespace("c").expect("kv");
    let r = api.upload_version("nope", version_metadata(&kv, "x")).await;
    assert_eq!(r.code(), 10007);
    api.put_script("demo", first_metadata(&kv)).await.ok();

    // Each case changes a valid version upload in one way that Cloudflare refuses.
    let cases: [(&str, Change, u64); 6] = [
        (
            "a migration on a version upload",
            |m| {
                m["migrations"] =
                    json!({"old_tag": "v1", "new_tag": "v2", "steps": [{"new_classes": ["B"]}]});
            },
            10211,
        ),
        (
            "an unknown KV namespace",
            |m| {
                m["bindings"][1]["namespace_id"] = json!("ffffffffffffffffffffffffffffffff");
            },
            10042,
        ),
        (
            "a missing R2 bucket",
            |m| {
                push_binding(
                    m,
                    json!({"name": "B", "type": "r2_bucket", "bucket_name": "nobucket"}),
                );
            },
            10085,
        ),
        (
            "a missing D1 database",
            |m| {
                push_binding(
                    m,
                    json!({"name": "DB", "type": "d1", "id": "3b8e1f6a-92c4-4d7e-a5f0-6c1d9e2b4a87"}),
                );
            },
            10181,
        ),
        (
            "a Durable Object class the script does not export",
            |m| {
                push_binding(
                    m,
                    json!({"name": "R", "type": "durable_object_namespace", "class_name": "Room"}),
                );
            },
            10061,
        ),
        (
            "an inherit binding with nothing to inherit",
            |m| {
                m["keep_bindings"] = json!([]);
                push_binding(m, json!({"name": "MISSING", "type": "inherit"}));
            },
            10057,
        ),
    ];
    for (case, change, code) in cases {
        let mut metadata = version_metadata(&kv, "x");
        change(&mut metadata);
        let answer = api.upload_version("demo", metadata).await;
        assert_eq!(answer.code(), code, "{case}: {}", answer.message());
    }

    // Migration old_tag must match on PUT.
    let mut stale = first_metadata(&kv);
    stale["migrations"] =
        json!({"old_tag": "v0", "new_tag": "v2", "steps": [{"new_classes": ["Other"]}]});
    let r = api.put_script("demo", stale).await;
    r.refused(10021, "rule: migration-old-tag");
}

#[tokio::test]
async fn deployment_rules_window_migration_resources_secrets() {
    let mut config = flaresync_emulator::testing::test_config();
    config.version_window = 3;
    let api = Api::with(config).await;
    let kv = api.emu.create_kv_namespace("c").expect("kv");
    let v1 = api.first_version(&kv).await;
    let mut ids = vec![v1.clone()];
    for n in 2..=4 {
        let r = api
            .upload_version("demo", version_metadata(&kv, &format!("t{n}")))
            .await;
        ids.push(r.ok()["id"].as_str().expect("id").to_owned());
    }
    // Window of 3: v1 is out.
    let r = api.deploy("demo", &[(&ids[0], 100.0)], false).await;
    r.refused(100147, "last 3 uploaded versions");
    let deployable = api
        .get("/workers/scripts/demo/versions?deployable=true")
        .await;
    assert_eq!(deployable.ok()["items"].as_array().map(Vec::len), Some(3));

    // Shape rules.
    assert_eq!(
        api.deploy("demo", &[(&ids[1], 50.0), (&ids[2], 40.0)], false)
            .await
            .code(),
        10021
    );
    assert_eq!(
        api.deploy(
            "demo",
            &[(&ids[1], 50.0), (&ids[2], 25.0), (&ids[3], 25.0)],
            false
        )
        .await
        .code(),
        10021
    );

    // Secret change: new version, deployed, triggered_by secret.
    api.deploy("demo", &[(&ids[3], 100.0)], false).await.ok();
    let put = api
        .send(
            api.http
                .put(api.url("/workers/scripts/demo/secrets"))
                .json(&json!({"name": "API_TOKEN", "text": "rotated", "type": "secret_text"})),
        )
        .await;
    assert_eq!(
        put.ok(),
        &json!({"name": "API_TOKEN", "type": "secret_text"})
    );
    let deps = api.get("/workers/scripts/demo/deployments").await;
    assert_eq!(
        deps.ok()["deployments"][0]["annotations"]["workers/triggered_by"],
        json!("secret")
    );
    let r = api.deploy("demo", &[(&ids[3], 100.0)], false).await;
    assert_eq!(r.code(), 10220);
    assert!(
        r.message()
            .ends_with("The following secrets have changed: API_TOKEN"),
        "{}",
        r.message()
    );
    api.deploy("demo", &[(&ids[3], 100.0)], true).await.ok();

    // Latest version (the secret one) is no longer deployed: secret edits are refused.
    let put = api
        .send(
            api.http
                .put(api.url("/workers/scripts/demo/secrets"))
                .json(&json!({"name": "X", "text": "y", "type": "secret_text"})),
        )
        .await;
    assert_eq!(put.code(), 10215);

    // Deleted KV namespace blocks deploying versions that bind it.
    api.emu.delete_kv_namespace(&kv).expect("delete kv");
    let r = api.deploy("demo", &[(&ids[2], 100.0)], true).await;
    assert_eq!(r.code(), 100140);
    assert!(
        r.message().starts_with(&format!(
            "Failed to rollback due to external resources being modified (kv:{kv})"
        )),
        "{}",
        r.message()
    );
}

#[tokio::test]
async fn rollback_across_do_migration_is_refused() {
    let api = Api::start().await;
    let kv = api.emu.create_kv_namespace("c").expect("kv");
    let v1 = api.first_version(&kv).await;
    let mut second = first_metadata(&kv);
    second["migrations"] =
        json!({"old_tag": "v1", "new_tag": "v2", "steps": [{"new_sqlite_classes": ["Room"]}]});
    let put = api.put_script("demo", second).await;
    assert_eq!(put.ok()["migration_tag"], json!("v2"));
    let r = api.deploy("demo", &[(&v1, 100.0)], true).await;
    r.refused(100140, "(durable-object:v2)");
}

#[tokio::test]
async fn auth_account_and_routing_errors() {
    let api = Api::start().await;
    let url = api.url("/workers/scripts");
    let none = api.http.get(&url).send().await.expect("sent");
    assert_eq!(none.status().as_u16(), 401);
    let wrong = api
        .http
        .get(&url)
        .bearer_auth("wrong")
        .send()
        .await
        .expect("sent");
    assert_eq!(wrong.status().as_u16(), 403);
    let body: Value = wrong.json().await.expect("json");
    assert_eq!(body["errors"][0]["code"], json!(10000));
    let other = format!(
        "{}/accounts/{}/workers/scripts",
        api.emu.base_url(),
        "f".repeat(32)
    );
    let r = api.send(api.http.get(other)).await;
    assert_eq!((r.status, r.code()), (403, 9109));
    let r = api
        .send(api.http.get(format!("{}/nope", api.emu.base_url())))
        .await;
    assert_eq!((r.status, r.code()), (404, 7003));
    let verify = api
        .send(
            api.http
                .get(format!("{}/user/tokens/verify", api.emu.base_url())),
        )
        .await;
    assert_eq!(verify.ok()["status"], json!("active"));
    assert!(verify.headers.contains_key("ratelimit"));
    assert!(verify.headers.contains_key("ratelimit-policy"));
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let mut config = flaresync_emulator::testing::test_config();
    config.rate_limit = flaresync_emulator::RateLimit {
        requests: 3,
        window: std::time::Duration::from_secs(60),
    };
    let api = Api::with(config).await;
    for _ in 0..3 {
        assert_eq!(api.get("/workers/scripts").await.status, 200);
    }
    let r = api.get("/workers/scripts").await;
    assert_eq!((r.status, r.code()), (429, 971));
    let retry: u64 = r.headers["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("secs");
    assert!((1..=60).contains(&retry), "{retry}");
}

#[tokio::test]
async fn faults_status_drop_and_fail_after_commit() {
    let api = Api::start().await;
    api.emu
        .fault("GET", "/workers/scripts$", FaultKind::Status, 1);
    let r = api.get("/workers/scripts").await;
    assert_eq!((r.status, r.code()), (500, 10002));
    assert_eq!(api.get("/workers/scripts").await.status, 200);

    api.emu
        .fault("GET", "/workers/scripts$", FaultKind::Drop, 1);
    let dropped = api
        .http
        .get(api.url("/workers/scripts"))
        .bearer_auth(api.emu.token())
        .send()
        .await;
    assert!(
        dropped.is_err(),
        "connection should be dropped: {dropped:?}"
    );

    // fail_after_commit: the KV namespace exists although the answer was 500.
    api.emu.fault(
        "POST",
        "/storage/kv/namespaces$",
        FaultKind::FailAfterCommit,
        1,
    );
    let r = api
        .post("/storage/kv/namespaces", json!({"title": "ghost"}))
        .await;
    assert_eq!(r.status, 500);
    let list = api.get("/storage/kv/namespaces").await;
    assert_eq!(list.ok()[0]["title"], json!("ghost"));

    // Admin endpoint over HTTP with a 429 fault.
    let spec = FaultSpec {
        method: None,
        path_prefix: Some("/accounts".into()),
        path_regex: None,
        kind: FaultKind::RateLimit,
        count: Some(1),
        probability: None,
        status: None,
        retry_after: Some(7),
        latency_ms: None,
        code: None,
        message: None,
    };
    let faults = format!("{}/__emulator/faults", api.emu.root_url());
    let added = common::send_authorized(&api.emu, api.http.post(faults).json(&spec)).await;
    assert_eq!(added.status().as_u16(), 200);
    let r = api.get("/workers/scripts").await;
    assert_eq!((r.status, r.code()), (429, 971));
    assert_eq!(r.headers["retry-after"], "7");
    let log = common::get_json(
        format!("{}/__emulator/requests", api.emu.root_url()),
        api.emu.token(),
    )
    .await;
    let faults: Vec<&Value> = log["result"]
        .as_array()
        .expect("log")
        .iter()
        .map(|e| &e["fault"])
        .collect();
    assert!(
        faults.contains(&&json!("drop")) && faults.contains(&&json!("rate_limit")),
        "{log}"
    );
}

#[tokio::test]
async fn resources_list_create_delete() {
    let api = Api::start().await;
    let b = api
        .send(
            api.http
                .post(api.url("/r2/buckets"))
                .header("cf-r2-jurisdiction", "eu")
                .json(&json!({"name": "eu-bucket"})),
        )
        .await;
    assert_eq!(b.ok()["jurisdiction"], json!("eu"));
    let default_list = api.get("/r2/buckets").await;
    assert_eq!(default_list.ok()["buckets"], json!([]));
    let eu = api
        .send(
            api.http
                .get(api.url("/r2/buckets"))
                .header("cf-r2-jurisdiction", "eu"),
        )
        .await;
    assert_eq!(eu.ok()["buckets"][0]["name"], json!("eu-bucket"));

    let q1 = api
        .post("/queues", json!({"queue_name": "jobs"}))
        .await
        .ok()["queue_id"]
        .clone();
    api.post("/queues", json!({"queue_name": "other"}))
        .await
        .ok();
    assert_eq!(
        api.post("/queues", json!({"queue_name": "jobs"}))
            .await
            .code(),
        11009
    );
    let filtered = api.get("/queues?name=jobs&name=missing").await;
    assert_eq!(filtered.ok().as_array().map(Vec::len), Some(1));
    let both = api.get("/queues?name=jobs&name=other").await;
    assert_eq!(both.ok().as_array().map(Vec::len), Some(2));
    let del = api
        .send(
            api.http
                .delete(api.url(&format!("/queues/{}", q1.as_str().expect("id")))),
        )
        .await;
    del.ok();

    let db = api.post("/d1/database", json!({"name": "main-db"})).await;
    let uuid = db.ok()["uuid"].as_str().expect("uuid").to_owned();
    assert_eq!(api.get("/d1/database").await.ok()[0]["uuid"], json!(uuid));
    assert_eq!(
        api.get(&format!("/d1/database/{uuid}")).await.ok()["name"],
        json!("main-db")
    );
    assert_eq!(
        api.get("/d1/database/00000000-0000-0000-0000-000000000000")
            .await
            .code(),
        7404
    );
}

/// Sends a chunked multipart PUT over a raw socket (no Content-Length).
#[tokio::test]
async fn chunked_multipart_upload_is_accepted() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let api = Api::start().await;
    let boundary = "----flaresync-boundary";
    let metadata = json!({"main_module": "index.js", "compatibility_date": "2025-01-01"});
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\r\n{metadata}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"index.js\"; filename=\"index.js\"\r\n\
         Content-Type: application/javascript+module\r\n\r\nexport default {{ async fetch() {{ return new Response('x'); }} }};\r\n\
         --{boundary}--\r\n"
    );
    let mut chunked = String::new();
    for piece in body.as_bytes().chunks(50) {
        chunked.push_str(&format!(
            "{:x}\r\n{}\r\n",
            piece.len(),
            String::from_utf8_lossy(piece)
        ));
    }
    chunked.push_str("0\r\n\r\n");
    let path = format!(
        "/client/v4/accounts/{}/workers/scripts/chunky",
        api.emu.account_id()
    );
    let request = format!(
        "PUT {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\nTransfer-Encoding: chunked\r\n\
         Connection: close\r\n\r\n{chunked}",
        api.emu.addr(),
        api.emu.token()
    );
    let mut socket = tokio::net::TcpStream::connect(api.emu.addr())
        .await
        .expect("connect");
    socket.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    socket.read_to_string(&mut response).await.expect("read");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let script = api.get("/workers/scripts").await;
    assert_eq!(script.ok()[0]["id"], json!("chunky"));
}

#[tokio::test]
async fn service_worker_body_and_body_part_uploads() {
    let api = Api::start().await;
    let raw = api
        .send(
            api.http
                .put(api.url("/workers/scripts/sw"))
                .header("content-type", "application/javascript")
                .body("addEventListener('fetch', e => e.respondWith(new Response('hi')));"),
        )
        .await;
    assert_eq!(raw.ok()["id"], json!("sw"));
    let content =
        common::send_authorized(&api.emu, api.http.get(api.url("/workers/scripts/sw"))).await;
    assert_eq!(content.headers()["content-type"], "application/javascript");
    assert!(
        content
            .text()
            .await
            .expect("text")
            .contains("addEventListener")
    );

    // Service-worker syntax cannot be uploaded as a version.
    let form = common::file_form(
        &json!({"body_part": "w.js"}),
        "w.js",
        "application/javascript",
        "addEventListener('fetch', () => {})",
    );
    let r = api
        .send(
            api.http
                .post(api.url("/workers/scripts/sw/versions"))
                .multipart(form),
        )
        .await;
    r.refused(10021, "main_module is required");

    // Unknown module content types are refused.
    let form = common::file_form(&json!({"main_module": "a.js"}), "a.js", "image/png", "x");
    let r = api
        .send(api.http.put(api.url("/workers/scripts/sw")).multipart(form))
        .await;
    assert!(
        r.message().contains("unsupported content type image/png"),
        "{}",
        r.message()
    );
}

#[tokio::test]
async fn latency_fault_delays_and_admin_token_guards_admin_api() {
    let mut config = flaresync_emulator::testing::test_config();
    config.admin_token = Some("admin-only".into());
    let api = Api::with(config).await;
    api.emu
        .add_fault(FaultSpec {
            latency_ms: Some(150),
            ..FaultSpec::matching("GET", "/workers/scripts$", FaultKind::Latency, 1)
        })
        .expect("valid fault");
    let started = std::time::Instant::now();
    assert_eq!(api.get("/workers/scripts").await.status, 200);
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(150),
        "the injected delay happened"
    );
    let log = api.emu.requests();
    assert_eq!(
        log.last().and_then(|r| r.fault.clone()).as_deref(),
        Some("latency")
    );

    let admin = format!("{}/__emulator/requests", api.emu.root_url());
    let with_api_token = common::send_authorized(&api.emu, api.http.get(&admin)).await;
    assert_eq!(with_api_token.status().as_u16(), 401);
    let with_admin = api
        .http
        .get(&admin)
        .bearer_auth("admin-only")
        .send()
        .await
        .expect("sent");
    assert_eq!(with_admin.status().as_u16(), 200);
    let reset = api
        .http
        .post(format!("{}/__emulator/reset", api.emu.root_url()))
        .bearer_auth("admin-only")
        .send()
        .await
        .expect("sent");
    assert_eq!(reset.status().as_u16(), 200);
    assert!(api.emu.requests().is_empty());
}

#[tokio::test]
async fn settings_patch_creates_and_deploys_a_version_and_script_settings_do_not() {
    let api = Api::start().await;
    let kv = api.emu.create_kv_namespace("c").expect("kv");
    api.put_script("demo", first_metadata(&kv)).await.ok();
    let ss = api
        .send(
            api.http
                .patch(api.url("/workers/scripts/demo/script-settings"))
                .json(&json!({"logpush": true, "tags": ["t"]})),
        )
        .await;
    assert_eq!(ss.ok()["logpush"], json!(true));
    let versions = api.get("/workers/scripts/demo/versions").await;
    assert_eq!(versions.ok()["items"].as_array().map(Vec::len), Some(1));

    let form = Form::new().part(
        "settings",
        Part::text(json!({"compatibility_flags": ["nodejs_compat"]}).to_string()),
    );
    let patched = api
        .send(
            api.http
                .patch(api.url("/workers/scripts/demo/settings"))
                .multipart(form),
        )
        .await;
    assert_eq!(
        patched.ok()["compatibility_flags"],
        json!(["nodejs_compat"])
    );
    let versions = api.get("/workers/scripts/demo/versions").await;
    let latest = versions.ok()["items"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert_eq!(versions.ok()["items"].as_array().map(Vec::len), Some(2));
    let deps = api.get("/workers/scripts/demo/deployments").await;
    assert_eq!(
        deps.ok()["deployments"][0]["versions"][0]["version_id"],
        json!(latest)
    );
    // Secrets and the DO binding carried over.
    let v = api
        .get(&format!("/workers/scripts/demo/versions/{latest}"))
        .await;
    let names: Vec<&str> = v.ok()["resources"]["bindings"]
        .as_array()
        .expect("bindings")
        .iter()
        .filter_map(|b| b["name"].as_str())
        .collect();
    assert!(
        names.contains(&"API_TOKEN") && names.contains(&"COUNTER"),
        "{names:?}"
    );
    let settings = api.get("/workers/scripts/demo/settings").await;
    assert_eq!(settings.ok()["logpush"], json!(true));

    let sub = api
        .post("/workers/scripts/demo/subdomain", json!({"enabled": true}))
        .await;
    assert_eq!(
        sub.ok(),
        &json!({"enabled": true, "previews_enabled": false})
    );
    let acct = api.get("/workers/subdomain").await;
    assert_eq!(acct.ok()["subdomain"], json!("flaresync-emulator"));
}

#[tokio::test]
async fn large_uploads_pass_the_body_limit_and_script_size_limit_is_10027() {
    let mut config = flaresync_emulator::testing::test_config();
    config.max_script_bytes = 6 * 1024 * 1024;
    let api = Api::with(config).await;
    let big = |size: usize| {
        let mut code =
            String::from("export default { async fetch() { return new Response('x'); } };\n//");
        code.push_str(&"a".repeat(size));
        common::module_form(&json!({"main_module": "index.js"}), code)
    };
    let ok = api
        .send(
            api.http
                .put(api.url("/workers/scripts/big"))
                .multipart(big(5 * 1024 * 1024)),
        )
        .await;
    assert_eq!(ok.ok()["id"], json!("big"));
    let too_big = api
        .send(
            api.http
                .put(api.url("/workers/scripts/big"))
                .multipart(big(7 * 1024 * 1024)),
        )
        .await;
    assert_eq!((too_big.status, too_big.code()), (400, 10027));
}

#[tokio::test]
async fn malformed_requests_get_envelopes_not_panics() {
    let api = Api::start().await;
    let kv = api.emu.create_kv_namespace("c").expect("kv");
    api.put_script("demo", first_metadata(&kv)).await.ok();
    for body in [
        "not json",
        "[]",
        "{\"strategy\":\"percentage\"}",
        "{\"strategy\":\"percentage\",\"versions\":[{\"version_id\":\"nope\",\"percentage\":100}]}",
        "{\"strategy\":\"percentage\",\"versions\":[{\"version_id\":\"00000000-0000-0000-0000-000000000000\",\"percentage\":\"x\"}]}",
        "{\"strategy\":\"percentage\",\"versions\":[{\"version_id\":\"00000000-0000-0000-0000-000000000000\",\"percentage\":1e308}]}",
        "{\"strategy\":\"immediate\",\"versions\":[]}",
    ] {
        let r = api
            .send(
                api.http
                    .post(api.url("/workers/scripts/demo/deployments"))
                    .header("content-type", "application/json")
                    .body(body),
            )
            .await;
        assert!((400..500).contains(&r.status), "{body}: {}", r.body);
        assert_eq!(r.body["success"], json!(false), "{body}");
    }
    for metadata in [
        json!("text"),
        json!({"main_module": 3}),
        json!({"main_module": "index.js", "bindings": "x"}),
        json!({"main_module": "index.js", "bindings": [{"type": "plain_text"}]}),
        json!({"main_module": "index.js", "migrations": {"steps": "x"}}),
        json!({"main_module": "index.js", "compatibility_date": "yesterday"}),
    ] {
        let r = api.put_script("demo", metadata.clone()).await;
        assert_eq!(r.status, 400, "{metadata}: {}", r.body);
    }
    let garbage = api
        .send(
            api.http
                .put(api.url("/workers/scripts/demo"))
                .header("content-type", "multipart/form-data; boundary=xyz")
                .body("--xyz\r\nbroken"),
        )
        .await;
    assert_eq!(garbage.status, 400, "{}", garbage.body);
}

#[tokio::test]
async fn content_v2_returns_modules_as_multipart_with_entrypoint() {
    let api = Api::start().await;
    let kv = api.emu.create_kv_namespace("c").expect("kv");
    let v1 = api.first_version(&kv).await;
    let resp = common::send_authorized(
        &api.emu,
        api.http
            .get(api.url(&format!("/workers/scripts/demo/content/v2?version={v1}"))),
    )
    .await;
    assert_eq!(resp.headers()["cf-entrypoint"], "index.js");
    let ct = resp.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(ct.starts_with("multipart/form-data; boundary="), "{ct}");
    let body = resp.text().await.expect("text");
    assert!(body.contains("name=\"index.js\""), "{body}");
    assert!(
        body.contains("Content-Type: application/javascript+module"),
        "{body}"
    );
    assert!(body.contains(MAIN.trim()), "{body}");
    let missing = api
        .get("/workers/scripts/demo/content/v2?version=00000000-0000-0000-0000-000000000000")
        .await;
    assert_eq!(missing.status, 404);
}

#[tokio::test]
async fn framework_rejections_are_wrapped_in_envelopes() {
    let mut config = flaresync_emulator::testing::test_config();
    config.max_body_bytes = 1024;
    let api = Api::with(config).await;
    let r = api
        .send(
            api.http
                .post(api.url("/storage/kv/namespaces"))
                .header("content-type", "application/json")
                .body(format!("{{\"title\": \"{}\"}}", "x".repeat(4096))),
        )
        .await;
    assert_eq!((r.status, r.code()), (413, 10027), "{}", r.body);
    let huge_page = api
        .get("/storage/kv/namespaces?page=18446744073709551615")
        .await;
    assert_eq!(huge_page.ok(), &json!([]));
}

fn crons(result: &Value) -> Vec<String> {
    result["schedules"]
        .as_array()
        .expect("schedules array")
        .iter()
        .map(|s| s["cron"].as_str().expect("cron string").to_owned())
        .collect()
}

#[tokio::test]
async fn schedules_replace_the_set_and_survive_versions_deployments_and_rollbacks() {
    let api = Api::start().await;
    let kv = api.emu.create_kv_namespace("c").expect("kv");
    let path = "/workers/scripts/demo/schedules";
    let put = |body: Value| api.send(api.http.put(api.url(path)).json(&body));

    // No Worker: 10007 for both methods.
    let missing = api.get(path).await;
    assert_eq!((missing.status, missing.code()), (404, 10007));
    let missing = put(json!([{"cron": "* * * * *"}])).await;
    assert_eq!((missing.status, missing.code()), (404, 10007));

    let v1 = api.first_version(&kv).await;
    assert_eq!(api.get(path).await.ok(), &json!({"schedules": []}));

    let first = put(json!([{"cron": "*/15 * * * *"}, {"cron": "0 17 * * sun"}])).await;
    let first = first.ok().clone();
    assert_eq!(crons(&first), ["*/15 * * * *", "0 17 * * sun"]);
    for s in first["schedules"].as_array().expect("array") {
        let created = s["created_on"].as_str().expect("created_on");
        assert_eq!(
            created.len(),
            "2025-01-01T00:00:00.000000Z".len(),
            "{created}"
        );
        assert_eq!(s["modified_on"], s["created_on"]);
    }
    assert_eq!(api.get(path).await.ok(), &first);

    // Replacing keeps the timestamps of a kept cron and drops the missing one.
    let second = put(json!([{"cron": "*/15 * * * *"}, {"cron": "30 2 1 * *"}])).await;
    let second = second.ok().clone();
    assert_eq!(crons(&second), ["*/15 * * * *", "30 2 1 * *"]);
    assert_eq!(second["schedules"][0], first["schedules"][0]);
    assert!(
        second["schedules"][1]["created_on"].as_str()
            > first["schedules"][0]["created_on"].as_str()
    );

    // Invalid: 400 / 10100, nothing changes.
    for bad in [
        json!([{"cron": "*/15 * * *"}]),
        json!([{"cron": "61 * * * *"}]),
        json!({"cron": "* * * * *"}),
        json!([{"schedule": "* * * * *"}]),
    ] {
        let r = put(bad.clone()).await;
        assert_eq!((r.status, r.code()), (400, 10100), "{bad}");
        assert!(r.message().contains("cron"), "{}", r.message());
    }
    let not_json = api.send(api.http.put(api.url(path)).body("not json")).await;
    assert_eq!(not_json.status, 400);
    assert_eq!(api.get(path).await.ok(), &second);

    // Versions, deployments and a rollback leave the schedules alone.
    let v2 = api
        .upload_version("demo", version_metadata(&kv, "t2"))
        .await
        .ok()["id"]
        .as_str()
        .expect("id")
        .to_owned();
    api.deploy("demo", &[(&v2, 100.0)], false).await.ok();
    api.put_script("demo", first_metadata(&kv)).await;
    api.deploy("demo", &[(&v1, 100.0)], true).await.ok();
    assert_eq!(api.get(path).await.ok(), &second);

    // An empty array clears them; deleting the Worker deletes them.
    assert_eq!(put(json!([])).await.ok(), &json!({"schedules": []}));
    put(json!([{"cron": "0 0 * * *"}])).await.ok();
    let del = api
        .send(api.http.delete(api.url("/workers/scripts/demo?force=true")))
        .await;
    assert!(del.status < 300, "{}", del.body);
    api.put_script("demo", first_metadata(&kv)).await.ok();
    assert_eq!(api.get(path).await.ok(), &json!({"schedules": []}));
}
