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
use reqwest::Method;
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

enum Body {
    Empty,
    Json(Value),
    Form(Form),
}

async fn call(emu: &TestEmulator, method: Method, path: &str, body: Body) -> Value {
    let req = reqwest::Client::new().request(method, common::account_url(emu, path));
    let req = match body {
        Body::Empty => req,
        Body::Json(b) => req.json(&b),
        Body::Form(f) => req.multipart(f),
    };
    common::json_answer(emu, req).await
}

fn form(metadata: Value) -> Form {
    common::module_form(&metadata, MAIN)
}

/// The OpenAPI path of a script operation (`tail` below `/workers/scripts/{script_name}`).
fn script(tail: &str) -> String {
    format!("{SCRIPT}{tail}")
}

const SCRIPT: &str = "/workers/scripts/{script_name}";

/// One request whose answer must match the `200` schema of its OpenAPI operation.
struct Step {
    label: &'static str,
    method: Method,
    /// The operation's path below `/accounts/{account_id}`; the request goes to this path with
    /// its `{placeholders}` filled from the variables known so far.
    op: String,
    query: &'static str,
    /// JSON bodies may use the same `{placeholders}` inside strings.
    body: Body,
    exceptions: Vec<Exception>,
    /// Names the answer's value at a JSON pointer as a variable for later steps.
    capture: Option<(&'static str, &'static str)>,
}

fn get(label: &'static str, op: &str) -> Step {
    send(label, Method::GET, op, Body::Empty)
}

fn send(label: &'static str, method: Method, op: &str, body: Body) -> Step {
    Step {
        label,
        method,
        op: op.to_owned(),
        query: "",
        body,
        exceptions: Vec::new(),
        capture: None,
    }
}

impl Step {
    fn query(self, query: &'static str) -> Self {
        Self { query, ..self }
    }

    fn except(self, exceptions: Vec<Exception>) -> Self {
        Self { exceptions, ..self }
    }

    fn capture(self, name: &'static str, pointer: &'static str) -> Self {
        let capture = Some((name, pointer));
        Self { capture, ..self }
    }

    /// Sends the request, checks the answer and records any captured variable.
    async fn run(self, emu: &TestEmulator, s: &Schemas, vars: &mut Vec<(String, String)>) -> Value {
        let fill = |text: &str| {
            let filled = vars.iter().fold(text.to_owned(), |t, (name, value)| {
                t.replace(&format!("{{{name}}}"), value)
            });
            assert!(!filled.contains("\"{"), "{}: unfilled {filled}", self.label);
            filled
        };
        let path = format!("{}{}", fill(&self.op), self.query);
        assert!(
            !path.contains('{'),
            "{}: unfilled placeholder in {path}",
            self.label
        );
        let body = match self.body {
            Body::Json(v) => Body::Json(serde_json::from_str(&fill(&v.to_string())).expect("JSON")),
            other => other,
        };
        let method = self.method.as_str().to_ascii_lowercase();
        let schema = s.response_schema(&method, &format!("/accounts/{{account_id}}{}", self.op));
        let answer = call(emu, self.method, &path, body).await;
        check(self.label, &schema, &answer, &self.exceptions);
        if let Some((name, pointer)) = self.capture {
            let value = answer.pointer(pointer).and_then(Value::as_str);
            let value = value.unwrap_or_else(|| panic!("{}: no {pointer} in {answer}", self.label));
            vars.push((name.to_owned(), value.to_owned()));
        }
        answer
    }
}

/// The queue operations' documented differences, for the list or for one queue.
fn queue_exceptions(list: bool, envelope_why: &'static str) -> Vec<Exception> {
    let (producers, consumers) = if list {
        ("/result/*/producers", "/result/*/consumers")
    } else {
        ("/result/producers", "/result/consumers")
    };
    vec![
        Exception::at(
            producers,
            "the 2026 SDK and wrangler type producers/consumers as arrays; the 2024 schema says object (SPEC.md §8)",
        ),
        Exception::at(consumers, "as producers"),
        // The 2024 queue operations put the queue's `required` list on the envelope instead of
        // on `result`, which no response can satisfy (SOURCE.md: the Queues entries contradict
        // themselves).
        Exception {
            at: "",
            error: "is a required property",
            why: envelope_why,
        },
    ]
}

/// The requests of the scenario, in order, with the documented differences of their answers.
fn steps(metadata: Value) -> [Step; 23] {
    let mut second = metadata.clone();
    second.as_object_mut().expect("object").remove("migrations");
    // Newer shapes documented in SPEC.md.
    let usage_why = "2026 SDK allows usage_model \"standard\"; the 2024 pattern allows only \
                     bundled|unbound (SPEC.md §2.1)";
    // Bindings 2 (d1), 5 (secret_text) and 6 (plain_text) of `metadata`.
    let binding_why = "the 2024 binding union has no plain_text/secret_text kinds and types D1 \
                       as {binding, id, name}; responses use the 2026 {name, type, ...} shapes \
                       with D1 `database_id` (SPEC.md §2.4)";
    let settings_exceptions = || {
        vec![
            Exception::at("/result/usage_model", usage_why),
            Exception::at("/result/bindings/2", binding_why),
            Exception::at("/result/bindings/5", binding_why),
            Exception::at("/result/bindings/6", binding_why),
        ]
    };
    let mut queue_one = queue_exceptions(false, "as for the list");
    queue_one.push(Exception {
        at: "/result",
        error: "is not of types \"null\", \"array\"",
        why: "the 2024 single-queue operation reuses the collection envelope (result: array) \
              while typing result as an object; the API returns the queue object",
    });
    let deployment = json!({"strategy": "percentage", "versions": [
        {"version_id": "{new_version_id}", "percentage": 90},
        {"version_id": "{version_id}", "percentage": 10}
    ], "annotations": {"workers/message": "canary"}});
    let patch_form = Form::new().part(
        "settings",
        Part::text(json!({"compatibility_flags": ["nodejs_compat"]}).to_string()),
    );
    let settings = json!({"logpush": true, "observability": {"enabled": true}, "tags": ["a"]});
    let crons = json!([{"cron": "*/30 * * * *"}, {"cron": "0 9 * * MON-FRI"}]);
    [
        send(
            "PUT script",
            Method::PUT,
            SCRIPT,
            Body::Form(form(metadata)),
        )
        .except(vec![Exception::at("/result/usage_model", usage_why)])
        .capture("version_id", "/result/deployment_id"),
        get("GET scripts", "/workers/scripts")
            .except(vec![Exception::at("/result/*/usage_model", usage_why)]),
        send(
            "POST versions",
            Method::POST,
            &script("/versions"),
            Body::Form(form(second)),
        )
        .capture("new_version_id", "/result/id"),
        get("GET versions", &script("/versions")),
        get("GET versions deployable", &script("/versions")).query("?deployable=true"),
        get("GET version", &script("/versions/{version_id}")),
        send(
            "POST deployments",
            Method::POST,
            &script("/deployments"),
            Body::Json(deployment),
        ),
        get("GET deployments", &script("/deployments")),
        get("GET script-settings", &script("/script-settings")),
        send(
            "PATCH script-settings",
            Method::PATCH,
            &script("/script-settings"),
            Body::Json(settings),
        ),
        get("GET settings", &script("/settings")).except(settings_exceptions()),
        send(
            "PATCH settings",
            Method::PATCH,
            &script("/settings"),
            Body::Form(patch_form),
        )
        .except(settings_exceptions()),
        // Storage resources.
        get("GET kv", "/storage/kv/namespaces"),
        get("GET kv one", "/storage/kv/namespaces/{namespace_id}"),
        get("GET r2", "/r2/buckets").except(vec![Exception::at(
            "/result",
            "wrangler and the 2026 SDK read result.buckets[]; the 2024 schema says result is an \
             array (SPEC.md §8, SOURCE.md)",
        )]),
        get("GET r2 one", "/r2/buckets/{bucket_name}"),
        get("GET d1", "/d1/database").except(vec![Exception::at(
            "/result",
            "the 2024 schema contradicts itself: d1_api-response-common says result is an \
             object, the list operation says an array; wrangler reads an array (SPEC.md §8)",
        )]),
        get("GET d1 one", "/d1/database/{database_id}"),
        get("GET queues", "/queues").except(queue_exceptions(
            true,
            "queue `required` list misplaced on the envelope in the 2024 schema",
        )),
        get("GET queue", "/queues/{queue_id}").except(queue_one),
        // Cron Triggers: the 2024 schema only fixes `result.schedules` as an array of objects,
        // so the item fields are also checked directly below.
        get("GET schedules (none)", &script("/schedules")),
        send(
            "PUT schedules",
            Method::PUT,
            &script("/schedules"),
            Body::Json(crons),
        ),
        get("GET schedules", &script("/schedules")),
    ]
}

#[tokio::test]
async fn responses_match_the_openapi_schema() {
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
    let mut vars: Vec<(String, String)> = [
        ("script_name", "demo".to_owned()),
        ("namespace_id", kv),
        ("bucket_name", "assets".to_owned()),
        ("database_id", d1),
        ("queue_id", queue),
    ]
    .map(|(name, value)| (name.to_owned(), value))
    .into();

    let steps = steps(metadata);
    let mut answers = std::collections::BTreeMap::new();
    for step in steps {
        let label = step.label;
        answers.insert(label, step.run(&emu, &s, &mut vars).await);
    }

    assert_eq!(
        answers["GET schedules (none)"]["result"],
        json!({"schedules": []})
    );
    let got_crons = &answers["GET schedules"];
    assert_eq!(got_crons["result"], answers["PUT schedules"]["result"]);
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
    let v1 = vars
        .iter()
        .find(|(name, _)| name == "version_id")
        .expect("v1");
    let refused =
        json!({"strategy": "percentage", "versions": [{"version_id": v1.1, "percentage": 50}]});
    let failures = [
        (
            "missing worker",
            Method::GET,
            "/workers/scripts/nope/versions",
            Body::Empty,
        ),
        (
            "missing version",
            Method::GET,
            "/workers/scripts/demo/versions/00000000-0000-0000-0000-000000000000",
            Body::Empty,
        ),
        (
            "missing deployment list",
            Method::GET,
            "/workers/scripts/nope/deployments",
            Body::Empty,
        ),
        (
            "refused deployment",
            Method::POST,
            "/workers/scripts/demo/deployments",
            Body::Json(refused),
        ),
        (
            "invalid cron",
            Method::PUT,
            "/workers/scripts/demo/schedules",
            Body::Json(json!([{"cron": "every minute"}])),
        ),
        (
            "schedules of a missing worker",
            Method::GET,
            "/workers/scripts/nope/schedules",
            Body::Empty,
        ),
    ];
    for (label, method, path, body) in failures {
        let body = call(&emu, method, path, body).await;
        check(label, &failure, &body, &[]);
    }
}

#[test]
fn exception_paths_match_array_indices() {
    assert!(matches("/result/*/usage_model", "/result/0/usage_model"));
    assert!(matches("/result", "/result/buckets"));
    assert!(!matches("/result/*/usage_model", "/result/x/usage_model"));
    assert!(!matches("/result/usage_model", "/result"));
}
