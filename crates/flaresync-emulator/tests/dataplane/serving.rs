//! Serving, bindings and routing.

use serde_json::json;

use super::common;
use super::harness::{Plane, metadata, workerd};

const ECHO: &str = r#"
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/throw") throw new Error("boom");
    if (url.pathname === "/auth") return env.AUTH.fetch("https://auth/who");
    return Response.json({
      greeting: env.GREETING, config: env.CONFIG, secret: env.TOKEN,
      version: env.VERSION, host: url.host,
    });
  },
};
"#;

const AUTH: &str = r#"export default { async fetch() { return new Response("auth says hi"); } };"#;

#[tokio::test]
async fn a_deployed_worker_answers_with_its_bindings() {
    let Some(workerd) = workerd() else { return };
    let plane = Plane::start(workerd).await;
    let bindings = json!([
        {"type": "plain_text", "name": "GREETING", "text": "hello"},
        {"type": "json", "name": "CONFIG", "json": {"level": 3}},
        {"type": "secret_text", "name": "TOKEN", "text": "s3cret"},
        {"type": "version_metadata", "name": "VERSION"},
        {"type": "service", "name": "AUTH", "service": "auth"},
    ]);
    let put = plane.put_script("api", ECHO, metadata(bindings)).await;
    assert_eq!(put["success"], json!(true), "{put}");
    plane.put_script("auth", AUTH, metadata(json!([]))).await;
    let (status, body) = plane.until("api", "/", |s, _| s == 200).await;
    assert_eq!(status, 200, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).expect("json");
    let version = plane.current_versions("api").await;
    assert_eq!(answer["greeting"], json!("hello"));
    assert_eq!(answer["config"], json!({"level": 3}));
    assert_eq!(answer["secret"], json!("s3cret"));
    assert_eq!(answer["version"]["id"], json!(version[0]));
    assert_eq!(answer["host"], json!("api.flaresync-emulator.workers.dev"));
    let (status, body) = plane.until("api", "/auth", |s, _| s == 200).await;
    assert_eq!((status, body.as_str()), (200, "auth says hi"));
    let (status, body) = plane.get("api", "/throw", &[]).await;
    assert_eq!((status, body.as_str()), (500, "error code: 1101"));
    let (status, _) = plane.get("nobody", "/", &[]).await;
    assert_eq!(status, 404);
    let log = plane.emu.emulator().invocations();
    let statuses: Vec<&str> = log
        .select(|i| &*i.script == "api")
        .iter()
        .map(|i| i.outcome.as_str())
        .collect();
    assert!(statuses.contains(&"scriptThrewException"), "{statuses:?}");
}

const VERSIONED: &str = r#"
export class Counter {
  constructor(state) { this.state = state; }
  async fetch() {
    const n = ((await this.state.storage.get("n")) || 0) + 1;
    await this.state.storage.put("n", n);
    return new Response(String(n));
  }
}
export default {
  async fetch(request, env) {
    if (new URL(request.url).pathname === "/count") {
      const stub = env.COUNTER.get(env.COUNTER.idFromName("one"));
      return new Response(`${env.GREETING}:${await (await stub.fetch("https://do/")).text()}`);
    }
    return new Response(env.GREETING);
  },
};
"#;

fn greeting(text: &str) -> serde_json::Value {
    json!([
        {"type": "plain_text", "name": "GREETING", "text": text},
        {"type": "durable_object_namespace", "name": "COUNTER", "class_name": "Counter"},
    ])
}

#[tokio::test]
async fn splits_keys_overrides_and_durable_objects_across_versions() {
    let Some(workerd) = workerd() else { return };
    let plane = Plane::start(workerd).await;
    let mut first = metadata(greeting("one"));
    first["migrations"] = json!({"new_tag": "v1", "steps": [{"new_sqlite_classes": ["Counter"]}]});
    let put = plane.put_script("web", VERSIONED, first).await;
    assert_eq!(put["success"], json!(true), "{put}");
    let v1 = plane.current_versions("web").await.remove(0);
    let (_, body) = plane.until("web", "/count", |s, _| s == 200).await;
    assert_eq!(body, "one:1");
    let v2 = plane
        .upload_version("web", VERSIONED, greeting("two"))
        .await;
    plane.deploy("web", &[(&v1, 50.0), (&v2, 50.0)]).await;
    // No request fails across the switch: every answer is one version or the other until the
    // new one shows up (how long that takes: `--example dataplane_bench`).
    let mut across = Vec::new();
    plane
        .until("web", "/", |status, body| {
            across.push((status, body.to_owned()));
            body == "two"
        })
        .await;
    assert!(
        across
            .iter()
            .all(|(status, body)| *status == 200 && (body == "one" || body == "two")),
        "{across:?}"
    );
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    for _ in 0..200 {
        *seen.entry(plane.get("web", "/", &[]).await.1).or_default() += 1;
    }
    assert!(
        seen.get("one").is_some_and(|n| *n > 60) && seen.get("two").is_some_and(|n| *n > 60),
        "{seen:?}"
    );
    let key = [("Cloudflare-Workers-Version-Key", "user-42")];
    let first = plane.get("web", "/", &key).await.1;
    for _ in 0..20 {
        assert_eq!(plane.get("web", "/", &key).await.1, first);
    }
    let pin = format!("web=\"{v2}\"");
    for _ in 0..20 {
        let answer = plane
            .get(
                "web",
                "/",
                &[("Cloudflare-Workers-Version-Overrides", &pin)],
            )
            .await;
        assert_eq!(answer.1, "two");
    }
    plane.deploy("web", &[(&v2, 100.0)]).await;
    plane.until("web", "/", |_, b| b == "two").await;
    let (_, count) = plane.until("web", "/count", |s, _| s == 200).await;
    assert!(
        count.ends_with(":2") || count.ends_with(":3"),
        "DO storage survived: {count}"
    );
}

#[tokio::test]
async fn an_upload_workerd_rejects_fails_with_cloudflares_error() {
    let Some(workerd) = workerd() else { return };
    let plane = Plane::start(workerd).await;
    let put = plane
        .put_script("bad", "export default { fetch( {", metadata(json!([])))
        .await;
    assert_eq!(put["success"], json!(false), "{put}");
    assert_eq!(put["errors"][0]["code"], json!(10021));
    let message = put["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.starts_with("Uncaught SyntaxError"), "{message}");
    let put = plane.put_script("good", AUTH, metadata(json!([]))).await;
    assert_eq!(put["success"], json!(true), "{put}");
}

#[tokio::test]
async fn a_broken_stored_bundle_does_not_stop_the_other_workers() {
    let Some(workerd) = workerd() else { return };
    // Uploaded before the data plane (and its upload check) started.
    let mut plane = Plane::control_plane_only().await;
    plane.put_script("good", AUTH, metadata(json!([]))).await;
    let put = plane
        .put_script("bad", "export default { fetch( {", metadata(json!([])))
        .await;
    assert_eq!(put["success"], json!(true), "{put}");
    plane.start_data_plane(workerd);
    let (status, body) = plane.until("good", "/", |s, _| s == 200).await;
    assert_eq!((status, body.as_str()), (200, "auth says hi"));
    let (status, body) = plane.until("bad", "/", |s, _| s != 0 && s != 404).await;
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("SyntaxError"), "{body}");
}

const KV_WORKER: &str = r#"
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/write") {
      await env.CACHE.put("from/worker", "written by the worker", { metadata: { by: "worker" } });
      return new Response("ok");
    }
    const seen = await env.CACHE.get("from/api");
    const listed = await env.CACHE.list({ prefix: "from/" });
    return Response.json({ seen, names: listed.keys.map((k) => k.name) });
  },
};
"#;

#[tokio::test]
async fn kv_bindings_share_the_emulators_kv_store() {
    let Some(workerd) = workerd() else { return };
    let plane = Plane::start(workerd).await;
    let ns = plane.emu.create_kv_namespace("cache").expect("namespace");
    let values = common::account_url(&plane.emu, &format!("/storage/kv/namespaces/{ns}/values"));
    let put = plane
        .http
        .put(format!("{values}/from%2Fapi"))
        .body("written by the api");
    let put = common::send_authorized(&plane.emu, put).await;
    assert!(put.status().is_success());
    let bindings = json!([{"type": "kv_namespace", "name": "CACHE", "namespace_id": ns}]);
    plane.put_script("kv", KV_WORKER, metadata(bindings)).await;
    let (status, _) = plane.until("kv", "/write", |s, _| s == 200).await;
    assert_eq!(status, 200);
    let (_, body) = plane.get("kv", "/", &[]).await;
    let seen: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(
        seen,
        json!({"seen": "written by the api", "names": ["from/api", "from/worker"]})
    );
    let written = plane.http.get(format!("{values}/from%2Fworker"));
    let written = common::send_authorized(&plane.emu, written).await;
    assert_eq!(written.text().await.expect("text"), "written by the worker");
}

#[tokio::test]
async fn workerd_checks_new_code_once_per_upload_and_not_on_a_rollback() {
    let Some(workerd) = workerd() else { return };
    let plane = Plane::start(workerd).await;
    let emulator = plane.emu.emulator().clone();
    let one = r#"export default { fetch() { return new Response("one"); } };"#;
    let two = r#"export default { fetch() { return new Response("two"); } };"#;
    let put = plane.put_script("once", one, metadata(json!([]))).await;
    assert_eq!(put["success"], json!(true), "{put}");
    plane.until("once", "/", |_, body| body == "one").await;
    assert_eq!(emulator.workerd_checks(), 1, "the upload's check only");
    let first = plane.current_versions("once").await;
    let bindings = json!([{"type": "plain_text", "name": "GREETING", "text": "hi"}]);
    let second = plane.upload_version("once", two, bindings).await;
    plane.deploy("once", &[(&second, 100.0)]).await;
    plane.until("once", "/", |_, body| body == "two").await;
    assert_eq!(emulator.workerd_checks(), 2, "one check per new version");
    plane.deploy("once", &[(&first[0], 100.0)]).await;
    plane.until("once", "/", |_, body| body == "one").await;
    assert_eq!(emulator.workerd_checks(), 2, "a rollback runs no check");
}
