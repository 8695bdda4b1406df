//! Validates real emulator responses against the extracted 2024 OpenAPI schema
//! (`fixtures/cloudflare-api/workers-openapi.json`).
//!
//! Each response is validated against the schema of its operation's `200` response, with the
//! document's `components` embedded so `#/components/...` references resolve, and OpenAPI's
//! `nullable` translated to JSON Schema. Where SPEC.md documents a newer (2026) shape than the
//! 2024 schema, the difference is listed as an [`Exception`] with its reason: errors at exactly
//! those instance paths are tolerated, any other error fails the test, and an exception that no
//! longer matches any error also fails (so the list stays true).

mod common;

use flaresync_emulator::testing::TestEmulator;
use reqwest::multipart::{Form, Part};
use serde_json::{Map, Value, json};

fn openapi() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/cloudflare-api/workers-openapi.json"
    );
    let text = std::fs::read_to_string(path).expect("the OpenAPI fixture is readable");
    serde_json::from_str(&text).expect("the OpenAPI fixture is JSON")
}

/// OpenAPI 3.0 `nullable: true` -> JSON Schema `type: [T, "null"]` (and `enum` gets `null`).
fn translate(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            if map.remove("nullable") == Some(Value::Bool(true)) {
                if let Some(Value::String(t)) = map.get("type").cloned() {
                    map.insert("type".into(), json!([t, "null"]));
                }
                if let Some(Value::Array(items)) = map.get_mut("enum")
                    && !items.contains(&Value::Null)
                {
                    items.push(Value::Null);
                }
            }
            for v in map.values_mut() {
                translate(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(translate),
        _ => {}
    }
}

struct Schemas {
    doc: Value,
    components: Value,
}

impl Schemas {
    fn load() -> Self {
        let doc = openapi();
        let mut components = doc["components"].clone();
        translate(&mut components);
        Self { doc, components }
    }

    fn response_schema(&self, method: &str, path: &str) -> Value {
        let schema = self.doc["paths"][path][method]["responses"]["200"]["content"]
            ["application/json"]["schema"]
            .clone();
        assert!(schema.is_object(), "no 200 JSON schema for {method} {path}");
        self.wrap(schema)
    }

    fn component(&self, name: &str) -> Value {
        self.wrap(json!({"$ref": format!("#/components/schemas/{name}")}))
    }

    fn wrap(&self, mut schema: Value) -> Value {
        translate(&mut schema);
        let mut root = Map::new();
        root.insert("allOf".into(), json!([schema]));
        root.insert("components".into(), self.components.clone());
        Value::Object(root)
    }
}

/// A documented difference between the emulator (following SPEC.md) and the 2024 schema.
struct Exception {
    /// JSON pointer prefix of the tolerated errors (`*` matches one array index; `""` is the
    /// document root only, never a prefix of everything).
    at: &'static str,
    /// Substring the error text must contain (`""` = any).
    error: &'static str,
    why: &'static str,
}

impl Exception {
    const fn at(at: &'static str, why: &'static str) -> Self {
        Self { at, error: "", why }
    }

    fn covers(&self, path: &str, error: &str) -> bool {
        let path_ok = if self.at.is_empty() {
            path.is_empty()
        } else {
            matches(self.at, path)
        };
        path_ok && error.contains(self.error)
    }
}

fn matches(pattern: &str, path: &str) -> bool {
    let p: Vec<&str> = pattern.split('/').collect();
    let a: Vec<&str> = path.split('/').collect();
    a.len() >= p.len()
        && p.iter()
            .zip(&a)
            .all(|(p, a)| *p == "*" && a.parse::<usize>().is_ok() || p == a)
}

fn check(label: &str, schema: &Value, instance: &Value, exceptions: &[Exception]) {
    let validator = jsonschema::draft4::new(schema)
        .unwrap_or_else(|e| panic!("{label}: the schema does not compile: {e}"));
    let errors: Vec<(String, String)> = validator
        .iter_errors(instance)
        .map(|e| (e.instance_path().to_string(), e.to_string()))
        .collect();
    let unexpected: Vec<&(String, String)> = errors
        .iter()
        .filter(|(path, error)| !exceptions.iter().any(|x| x.covers(path, error)))
        .collect();
    assert!(
        unexpected.is_empty(),
        "{label}: response does not match the OpenAPI schema:\n{unexpected:#?}\nresponse: {instance:#}"
    );
    for x in exceptions {
        assert!(
            errors.iter().any(|(path, error)| x.covers(path, error)),
            "{label}: documented exception at {} ({}) no longer occurs; remove it",
            x.at,
            x.why
        );
    }
}

const MAIN: &str = "export class Room { async fetch() { return new Response('r'); } }\n\
                    export default { async fetch() { return new Response('ok'); } };\n";

async fn call(
    emu: &TestEmulator,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
    form: Option<Form>,
) -> Value {
    let mut req = reqwest::Client::new().request(method, common::account_url(emu, path));
    if let Some(b) = body {
        req = req.json(&b);
    }
    if let Some(f) = form {
        req = req.multipart(f);
    }
    common::json_answer(emu, req).await
}

fn form(metadata: Value) -> Form {
    common::module_form(&metadata, MAIN)
}

#[tokio::test]
async fn responses_match_the_openapi_schema() {
    use reqwest::Method;
    let s = Schemas::load();
    let emu = TestEmulator::start().await.expect("emulator");
    let kv = emu.create_kv_namespace("cache").expect("kv");
    emu.create_r2_bucket("assets", None).expect("bucket");
    let d1 = emu.create_d1_database("main").expect("d1");
    let queue = emu.create_queue("jobs").expect("queue");
    let metadata = json!({
        "main_module": "index.js",
        "compatibility_date": "2025-01-01",
        "bindings": [
            {"name": "CACHE", "type": "kv_namespace", "namespace_id": kv},
            {"name": "ASSETS", "type": "r2_bucket", "bucket_name": "assets"},
            {"name": "DB", "type": "d1", "id": d1},
            {"name": "JOBS", "type": "queue", "queue_name": "jobs"},
            {"name": "ROOMS", "type": "durable_object_namespace", "class_name": "Room"},
            {"name": "TOKEN", "type": "secret_text", "text": "x"},
            {"name": "MODE", "type": "plain_text", "text": "prod"}
        ],
        "migrations": {"new_tag": "v1", "new_sqlite_classes": ["Room"]},
        "annotations": {"workers/message": "first", "workers/tag": "abc"}
    });
    let a = "/accounts/{account_id}";
    let sc = "/accounts/{account_id}/workers/scripts/{script_name}";

    // Newer shapes documented in SPEC.md.
    let script_exceptions = [Exception::at(
        "/result/usage_model",
        "2026 SDK allows usage_model \"standard\"; the 2024 pattern allows only bundled|unbound (SPEC.md §2.1)",
    )];
    let put = call(
        &emu,
        Method::PUT,
        "/workers/scripts/demo",
        None,
        Some(form(metadata.clone())),
    )
    .await;
    check(
        "PUT script",
        &s.response_schema("put", sc),
        &put,
        &script_exceptions,
    );
    let v1 = put["result"]["deployment_id"]
        .as_str()
        .expect("id")
        .to_owned();

    let list = call(&emu, Method::GET, "/workers/scripts", None, None).await;
    check(
        "GET scripts",
        &s.response_schema("get", &format!("{a}/workers/scripts")),
        &list,
        &[Exception::at(
            "/result/*/usage_model",
            script_exceptions[0].why,
        )],
    );

    let mut second = metadata.clone();
    second.as_object_mut().expect("object").remove("migrations");
    let up = call(
        &emu,
        Method::POST,
        "/workers/scripts/demo/versions",
        None,
        Some(form(second)),
    )
    .await;
    check(
        "POST versions",
        &s.response_schema("post", &format!("{sc}/versions")),
        &up,
        &[],
    );
    let v2 = up["result"]["id"].as_str().expect("id").to_owned();

    let versions = call(
        &emu,
        Method::GET,
        "/workers/scripts/demo/versions",
        None,
        None,
    )
    .await;
    check(
        "GET versions",
        &s.response_schema("get", &format!("{sc}/versions")),
        &versions,
        &[],
    );
    let deployable = call(
        &emu,
        Method::GET,
        "/workers/scripts/demo/versions?deployable=true",
        None,
        None,
    )
    .await;
    check(
        "GET versions deployable",
        &s.response_schema("get", &format!("{sc}/versions")),
        &deployable,
        &[],
    );
    let one = call(
        &emu,
        Method::GET,
        &format!("/workers/scripts/demo/versions/{v1}"),
        None,
        None,
    )
    .await;
    check(
        "GET version",
        &s.response_schema("get", &format!("{sc}/versions/{{version_id}}")),
        &one,
        &[],
    );

    let dep = call(
        &emu,
        Method::POST,
        "/workers/scripts/demo/deployments",
        Some(json!({"strategy": "percentage", "versions": [{"version_id": v2, "percentage": 90}, {"version_id": v1, "percentage": 10}], "annotations": {"workers/message": "canary"}})),
        None,
    )
    .await;
    check(
        "POST deployments",
        &s.response_schema("post", &format!("{sc}/deployments")),
        &dep,
        &[],
    );
    let deps = call(
        &emu,
        Method::GET,
        "/workers/scripts/demo/deployments",
        None,
        None,
    )
    .await;
    check(
        "GET deployments",
        &s.response_schema("get", &format!("{sc}/deployments")),
        &deps,
        &[],
    );

    let ss = call(
        &emu,
        Method::GET,
        "/workers/scripts/demo/script-settings",
        None,
        None,
    )
    .await;
    check(
        "GET script-settings",
        &s.response_schema("get", &format!("{sc}/script-settings")),
        &ss,
        &[],
    );
    let ssp = call(
        &emu,
        Method::PATCH,
        "/workers/scripts/demo/script-settings",
        Some(json!({"logpush": true, "observability": {"enabled": true}, "tags": ["a"]})),
        None,
    )
    .await;
    check(
        "PATCH script-settings",
        &s.response_schema("patch", &format!("{sc}/script-settings")),
        &ssp,
        &[],
    );

    // Bindings 2 (d1), 5 (secret_text) and 6 (plain_text) of `metadata` above.
    let binding_why = "the 2024 binding union has no plain_text/secret_text kinds and types D1 \
                       as {binding, id, name}; responses use the 2026 {name, type, ...} shapes \
                       with D1 `database_id` (SPEC.md §2.4)";
    let settings_exceptions = [
        Exception::at("/result/usage_model", script_exceptions[0].why),
        Exception::at("/result/bindings/2", binding_why),
        Exception::at("/result/bindings/5", binding_why),
        Exception::at("/result/bindings/6", binding_why),
    ];
    let st = call(
        &emu,
        Method::GET,
        "/workers/scripts/demo/settings",
        None,
        None,
    )
    .await;
    check(
        "GET settings",
        &s.response_schema("get", &format!("{sc}/settings")),
        &st,
        &settings_exceptions,
    );
    let patch_form = Form::new().part(
        "settings",
        Part::text(json!({"compatibility_flags": ["nodejs_compat"]}).to_string()),
    );
    let stp = call(
        &emu,
        Method::PATCH,
        "/workers/scripts/demo/settings",
        None,
        Some(patch_form),
    )
    .await;
    check(
        "PATCH settings",
        &s.response_schema("patch", &format!("{sc}/settings")),
        &stp,
        &settings_exceptions,
    );

    // Storage resources.
    let kvl = call(&emu, Method::GET, "/storage/kv/namespaces", None, None).await;
    check(
        "GET kv",
        &s.response_schema("get", &format!("{a}/storage/kv/namespaces")),
        &kvl,
        &[],
    );
    let kvg = call(
        &emu,
        Method::GET,
        &format!("/storage/kv/namespaces/{kv}"),
        None,
        None,
    )
    .await;
    check(
        "GET kv one",
        &s.response_schema(
            "get",
            &format!("{a}/storage/kv/namespaces/{{namespace_id}}"),
        ),
        &kvg,
        &[],
    );

    let r2l = call(&emu, Method::GET, "/r2/buckets", None, None).await;
    check(
        "GET r2",
        &s.response_schema("get", &format!("{a}/r2/buckets")),
        &r2l,
        &[Exception::at(
            "/result",
            "wrangler and the 2026 SDK read result.buckets[]; the 2024 schema says result is an array (SPEC.md §8, SOURCE.md)",
        )],
    );
    let r2g = call(&emu, Method::GET, "/r2/buckets/assets", None, None).await;
    check(
        "GET r2 one",
        &s.response_schema("get", &format!("{a}/r2/buckets/{{bucket_name}}")),
        &r2g,
        &[],
    );

    let d1l = call(&emu, Method::GET, "/d1/database", None, None).await;
    check(
        "GET d1",
        &s.response_schema("get", &format!("{a}/d1/database")),
        &d1l,
        &[Exception::at(
            "/result",
            "the 2024 schema contradicts itself: d1_api-response-common says result is an \
                  object, the list operation says an array; wrangler reads an array (SPEC.md §8)",
        )],
    );
    let d1g = call(&emu, Method::GET, &format!("/d1/database/{d1}"), None, None).await;
    check(
        "GET d1 one",
        &s.response_schema("get", &format!("{a}/d1/database/{{database_id}}")),
        &d1g,
        &[],
    );

    let queue_exceptions = |prefix: &'static str| {
        [
            Exception::at(
                if prefix.is_empty() {
                    "/result/producers"
                } else {
                    "/result/*/producers"
                },
                "the 2026 SDK and wrangler type producers/consumers as arrays; the 2024 schema says object (SPEC.md §8)",
            ),
            Exception::at(
                if prefix.is_empty() {
                    "/result/consumers"
                } else {
                    "/result/*/consumers"
                },
                "as producers",
            ),
        ]
    };
    // The 2024 queue operations put the queue's `required` list on the envelope instead of on
    // `result`, which no response can satisfy (SOURCE.md: the Queues entries contradict
    // themselves).
    let misplaced = Exception {
        at: "",
        error: "is a required property",
        why: "queue `required` list misplaced on the envelope in the 2024 schema",
    };
    let ql = call(&emu, Method::GET, "/queues", None, None).await;
    let [p, c] = queue_exceptions("list");
    check(
        "GET queues",
        &s.response_schema("get", &format!("{a}/queues")),
        &ql,
        &[p, c, misplaced],
    );
    let qg = call(&emu, Method::GET, &format!("/queues/{queue}"), None, None).await;
    let [p, c] = queue_exceptions("");
    let misplaced = Exception {
        at: "",
        error: "is a required property",
        why: "as for the list",
    };
    let collection = Exception {
        at: "/result",
        error: "is not of types \"null\", \"array\"",
        why: "the 2024 single-queue operation reuses the collection envelope (result: array) \
              while typing result as an object; the API returns the queue object",
    };
    check(
        "GET queue",
        &s.response_schema("get", &format!("{a}/queues/{{queue_id}}")),
        &qg,
        &[p, c, misplaced, collection],
    );

    // Cron Triggers: the 2024 schema only fixes `result.schedules` as an array of objects, so
    // the item fields are also checked directly.
    let schedules_schema = |m: &str| s.response_schema(m, &format!("{sc}/schedules"));
    let empty = call(
        &emu,
        Method::GET,
        "/workers/scripts/demo/schedules",
        None,
        None,
    )
    .await;
    check(
        "GET schedules (none)",
        &schedules_schema("get"),
        &empty,
        &[],
    );
    assert_eq!(empty["result"], json!({"schedules": []}));
    let put_crons = call(
        &emu,
        Method::PUT,
        "/workers/scripts/demo/schedules",
        Some(json!([{"cron": "*/30 * * * *"}, {"cron": "0 9 * * MON-FRI"}])),
        None,
    )
    .await;
    check("PUT schedules", &schedules_schema("put"), &put_crons, &[]);
    let got_crons = call(
        &emu,
        Method::GET,
        "/workers/scripts/demo/schedules",
        None,
        None,
    )
    .await;
    check("GET schedules", &schedules_schema("get"), &got_crons, &[]);
    assert_eq!(got_crons["result"], put_crons["result"]);
    for item in got_crons["result"]["schedules"].as_array().expect("array") {
        let keys: Vec<&str> = item
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["created_on", "cron", "modified_on"], "{item}");
        assert!(
            item.as_object()
                .expect("object")
                .values()
                .all(Value::is_string)
        );
    }

    // Failures: the schema's 4XX entries combine the success schema (success: true) with the
    // failure schema (success: false) in one allOf, which nothing satisfies, so error envelopes
    // are checked against the failure component alone.
    let failure = s.component("workers_api-response-common-failure");
    for (label, path) in [
        ("missing worker", "/workers/scripts/nope/versions"),
        (
            "missing version",
            "/workers/scripts/demo/versions/00000000-0000-0000-0000-000000000000",
        ),
        (
            "missing deployment list",
            "/workers/scripts/nope/deployments",
        ),
    ] {
        let body = call(&emu, Method::GET, path, None, None).await;
        check(label, &failure, &body, &[]);
    }
    let refused = call(
        &emu,
        Method::POST,
        "/workers/scripts/demo/deployments",
        Some(json!({"strategy": "percentage", "versions": [{"version_id": v1, "percentage": 50}]})),
        None,
    )
    .await;
    check("refused deployment", &failure, &refused, &[]);
    let bad_cron = call(
        &emu,
        Method::PUT,
        "/workers/scripts/demo/schedules",
        Some(json!([{"cron": "every minute"}])),
        None,
    )
    .await;
    check("invalid cron", &failure, &bad_cron, &[]);
    let no_worker = call(
        &emu,
        Method::GET,
        "/workers/scripts/nope/schedules",
        None,
        None,
    )
    .await;
    check("schedules of a missing worker", &failure, &no_worker, &[]);
}

#[test]
fn exception_paths_match_array_indices() {
    assert!(matches("/result/*/usage_model", "/result/0/usage_model"));
    assert!(matches("/result", "/result/buckets"));
    assert!(!matches("/result/*/usage_model", "/result/x/usage_model"));
    assert!(!matches("/result/usage_model", "/result"));
}
