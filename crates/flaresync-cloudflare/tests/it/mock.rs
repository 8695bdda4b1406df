//! A small in-test Cloudflare API mock (axum, real HTTP on 127.0.0.1:0) with scripted faults.
//!
//! It implements just enough of the versions/deployments/lists surface to observe the client
//! from the server side: how many writes arrived, what the multipart looked like, which headers
//! and queries were sent. Faults are consumed in order, one per matching request.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Request, State as AxumState};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

pub const ACCOUNT: &str = "0123456789abcdef0123456789abcdef";
pub const TOKEN: &str = "mock-token-7f3a9c1e-do-not-leak";
/// The bearer of asset bucket uploads, and the token that completes them (SPEC-2 §1.3-1.4).
pub const ASSETS_SESSION_JWT: &str = "session-jwt-for-buckets";
pub const ASSETS_COMPLETION_JWT: &str = "completion-jwt-attach-me";

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FaultKind {
    /// Answer this status with an error envelope; the handler does not run.
    Status(u16),
    /// Run the handler (the write commits), then answer 500.
    FailAfterCommit,
    /// Run the handler, then break the connection mid-body.
    DropAfterCommit,
}

#[derive(Debug, Clone)]
pub struct Fault {
    pub method: Method,
    pub path_suffix: String,
    pub kind: FaultKind,
    pub remaining: u32,
}

#[derive(Debug, Clone)]
pub struct Logged {
    pub method: Method,
    pub path: String,
    pub query: String,
    pub authorization: Option<String>,
    pub r2_jurisdiction: Option<String>,
}

#[derive(Debug, Clone)]
pub struct UploadPart {
    pub name: String,
    pub file_name: Option<String>,
    pub content_type: Option<String>,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Default)]
pub struct MockState {
    /// Newest first.
    pub versions: Vec<Value>,
    /// Newest first.
    pub deployments: Vec<Value>,
    pub faults: Vec<Fault>,
    pub log: Vec<Logged>,
    pub uploads: Vec<Vec<UploadPart>>,
    pub kv_namespaces: usize,
    /// Asset hashes the mock holds (sent in a bucket, or seeded by a test).
    pub assets_held: std::collections::BTreeSet<String>,
    /// Hashes of the last upload session's manifest.
    pub assets_manifest: Vec<String>,
    /// Every asset part received, in order.
    pub asset_parts: Vec<UploadPart>,
    next_id: u64,
}

impl MockState {
    pub fn count(&self, method: &Method, path_suffix: &str) -> usize {
        self.log
            .iter()
            .filter(|l| l.method == *method && l.path.ends_with(path_suffix))
            .count()
    }
}

pub type Shared = Arc<Mutex<MockState>>;

pub struct MockServer {
    pub base_url: String,
    pub state: Shared,
}

impl MockServer {
    pub async fn start() -> MockServer {
        let state: Shared = Arc::new(Mutex::new(MockState::default()));
        let app = Router::new().fallback(handle).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind mock listener");
        let addr = listener.local_addr().expect("local addr");
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("mock server runs");
        });
        MockServer {
            base_url: format!("http://{addr}/client/v4"),
            state,
        }
    }

    pub fn fault(&self, method: Method, path_suffix: &str, kind: FaultKind, times: u32) {
        self.state.lock().expect("mock lock").faults.push(Fault {
            method,
            path_suffix: path_suffix.to_owned(),
            kind,
            remaining: times,
        });
    }

    pub fn with<T>(&self, f: impl FnOnce(&mut MockState) -> T) -> T {
        f(&mut self.state.lock().expect("mock lock"))
    }
}

fn envelope(result: Value) -> Value {
    json!({"success": true, "errors": [], "messages": [], "result": result})
}

fn error(status: u16, code: u32, message: &str) -> Response {
    (
        StatusCode::from_u16(status).expect("valid status"),
        axum::Json(json!({
            "success": false,
            "errors": [{"code": code, "message": message}],
            "messages": [],
            "result": null
        })),
    )
        .into_response()
}

async fn handle(AxumState(state): AxumState<Shared>, request: Request) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or("").to_owned();
    let headers: HeaderMap = request.headers().clone();
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let fault = {
        let mut s = state.lock().expect("mock lock");
        s.log.push(Logged {
            method: method.clone(),
            path: path.clone(),
            query: query.clone(),
            authorization: authorization.clone(),
            r2_jurisdiction: headers
                .get("cf-r2-jurisdiction")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        });
        let index = s
            .faults
            .iter()
            .position(|f| f.remaining > 0 && f.method == method && path.ends_with(&f.path_suffix));
        index.map(|i| {
            s.faults[i].remaining -= 1;
            s.faults[i].kind
        })
    };
    // Bucket uploads carry the session's token, never the API token.
    let bearer = if path.ends_with("/workers/assets/upload") {
        ASSETS_SESSION_JWT
    } else {
        TOKEN
    };
    if authorization.as_deref() != Some(&format!("Bearer {bearer}")) {
        return error(401, 10000, "Authentication error");
    }
    if let Some(FaultKind::Status(status)) = fault {
        return error(status, 10002, "injected failure");
    }
    let response = route(&state, &method, &path, &query, &headers, request).await;
    match fault {
        Some(FaultKind::FailAfterCommit) => error(500, 10002, "injected failure after commit"),
        Some(FaultKind::DropAfterCommit) => {
            let stream = futures_util::stream::iter(vec![
                Ok::<_, std::io::Error>(bytes_of("{\"success\":")),
                Err(std::io::Error::other("injected connection drop")),
            ]);
            Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .header("content-length", "500")
                .body(Body::from_stream(stream))
                .expect("response builds")
        }
        _ => response,
    }
}

fn bytes_of(s: &str) -> axum::body::Bytes {
    axum::body::Bytes::copy_from_slice(s.as_bytes())
}

fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then_some(v)
    })
}

async fn route(
    state: &Shared,
    method: &Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    request: Request,
) -> Response {
    let prefix = format!("/client/v4/accounts/{ACCOUNT}/");
    let Some(rest) = path.strip_prefix(&prefix) else {
        return error(404, 7003, "No route for that URI");
    };
    let segments: Vec<&str> = rest.split('/').collect();
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["workers", "scripts", _, "versions"]) => list_versions(state, query),
        ("GET", ["workers", "scripts", _, "versions", id]) => {
            let s = state.lock().expect("mock lock");
            match s.versions.iter().find(|v| v["id"] == *id) {
                Some(v) => axum::Json(envelope(v.clone())).into_response(),
                None => error(404, 10007, "version not found"),
            }
        }
        ("POST", ["workers", "scripts", _, "versions"]) => upload(state, request, false).await,
        ("PUT", ["workers", "scripts", _]) => upload(state, request, true).await,
        ("POST", ["workers", "scripts", _, "assets-upload-session"]) => {
            assets_session(state, request).await
        }
        ("POST", ["workers", "assets", "upload"]) => assets_bucket(state, query, request).await,
        ("GET", ["workers", "scripts", _, "deployments"]) => {
            let s = state.lock().expect("mock lock");
            axum::Json(envelope(json!({"deployments": s.deployments}))).into_response()
        }
        ("GET", ["storage", "kv", "namespaces"]) => {
            let total = state.lock().expect("mock lock").kv_namespaces;
            let page: usize = query_param(query, "page")
                .and_then(|p| p.parse().ok())
                .unwrap_or(1);
            // The server caps per_page at 40 whatever the client asks.
            let per_page = query_param(query, "per_page")
                .and_then(|p| p.parse::<usize>().ok())
                .unwrap_or(20)
                .min(40);
            let items: Vec<Value> = (0..total)
                .skip((page - 1) * per_page)
                .take(per_page)
                .map(|i| json!({"id": format!("{i:032x}"), "title": format!("ns-{i}")}))
                .collect();
            let mut body = envelope(Value::Array(items.clone()));
            body["result_info"] = json!({
                "page": page, "per_page": per_page, "count": items.len(), "total_count": total
            });
            axum::Json(body).into_response()
        }
        ("GET", ["r2", "buckets"]) => {
            let jurisdiction = headers
                .get("cf-r2-jurisdiction")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("default");
            let count = if jurisdiction == "eu" { 5 } else { 3 };
            let start: usize = query_param(query, "cursor")
                .and_then(|c| c.strip_prefix("after-"))
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            // Pages of 2 whatever the client asks, cursor style.
            let end = (start + 2).min(count);
            let buckets: Vec<Value> = (start..end)
                .map(|i| json!({"name": format!("{jurisdiction}-bucket-{i}"), "jurisdiction": jurisdiction}))
                .collect();
            let mut body = envelope(json!({"buckets": buckets}));
            body["result_info"] = if end < count {
                json!({"cursor": format!("after-{end}"), "per_page": 2})
            } else {
                json!({"per_page": 2})
            };
            axum::Json(body).into_response()
        }
        _ => error(404, 7003, "No route for that URI"),
    }
}

fn list_versions(state: &Shared, query: &str) -> Response {
    let s = state.lock().expect("mock lock");
    let summaries: Vec<Value> = s
        .versions
        .iter()
        .map(|v| json!({"id": v["id"], "number": v["number"], "metadata": v["metadata"], "annotations": v["annotations"]}))
        .collect();
    if query_param(query, "deployable") == Some("true") {
        return axum::Json(envelope(json!({"items": summaries}))).into_response();
    }
    let page: usize = query_param(query, "page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1);
    let per_page: usize = query_param(query, "per_page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(10);
    let items: Vec<Value> = summaries
        .iter()
        .skip((page.max(1) - 1) * per_page)
        .take(per_page)
        .cloned()
        .collect();
    let mut body = envelope(json!({"items": items}));
    body["result_info"] = json!({
        "page": page, "per_page": per_page, "count": items.len(), "total_count": summaries.len()
    });
    axum::Json(body).into_response()
}

/// Opens a session: the hashes the mock does not hold, two per bucket; the completion token
/// right away when it holds them all (HTTP 201, as wrangler's mocks answer).
async fn assets_session(state: &Shared, request: Request) -> Response {
    let Ok(axum::Json(body)) = axum::Json::<Value>::from_request(request, &()).await else {
        return error(400, 10001, "body is not json");
    };
    let Some(manifest) = body["manifest"].as_object() else {
        return error(400, 10001, "manifest missing");
    };
    let mut s = state.lock().expect("mock lock");
    s.assets_manifest = manifest
        .values()
        .filter_map(|entry| entry["hash"].as_str().map(str::to_owned))
        .collect();
    let mut missing: Vec<String> = s
        .assets_manifest
        .iter()
        .filter(|hash| !s.assets_held.contains(*hash))
        .cloned()
        .collect();
    missing.dedup();
    let buckets: Vec<Vec<String>> = missing.chunks(2).map(<[String]>::to_vec).collect();
    let jwt = if buckets.is_empty() {
        ASSETS_COMPLETION_JWT
    } else {
        ASSETS_SESSION_JWT
    };
    let answer = envelope(json!({"jwt": jwt, "buckets": buckets}));
    (StatusCode::CREATED, axum::Json(answer)).into_response()
}

/// One bucket: base64 parts named by hash; 202 `{}` while files are missing, then 201 with the
/// completion token.
async fn assets_bucket(state: &Shared, query: &str, request: Request) -> Response {
    if query_param(query, "base64") != Some("true") {
        return error(400, 10001, "base64=true expected");
    }
    let parts = match read_parts(request).await {
        Ok(parts) => parts,
        Err(response) => return response,
    };
    let mut s = state.lock().expect("mock lock");
    for part in parts {
        s.assets_held.insert(part.name.clone());
        s.asset_parts.push(part);
    }
    if s.assets_manifest
        .iter()
        .all(|hash| s.assets_held.contains(hash))
    {
        let answer = envelope(json!({"jwt": ASSETS_COMPLETION_JWT}));
        return (StatusCode::CREATED, axum::Json(answer)).into_response();
    }
    (StatusCode::ACCEPTED, axum::Json(envelope(json!({})))).into_response()
}

/// Every part of a multipart body.
async fn read_parts(request: Request) -> Result<Vec<UploadPart>, Response> {
    let mut multipart = match Multipart::from_request(request, &()).await {
        Ok(m) => m,
        Err(e) => return Err(error(400, 10001, &format!("not multipart: {e}"))),
    };
    let mut parts = Vec::new();
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or_default().to_owned();
                let file_name = field.file_name().map(str::to_owned);
                let content_type = field.content_type().map(str::to_owned);
                let bytes = match field.bytes().await {
                    Ok(b) => b.to_vec(),
                    Err(e) => return Err(error(400, 10001, &format!("bad part: {e}"))),
                };
                parts.push(UploadPart {
                    name,
                    file_name,
                    content_type,
                    bytes,
                });
            }
            Ok(None) => break,
            Err(e) => return Err(error(400, 10001, &format!("bad multipart: {e}"))),
        }
    }
    Ok(parts)
}

async fn upload(state: &Shared, request: Request, deploy: bool) -> Response {
    let parts = match read_parts(request).await {
        Ok(parts) => parts,
        Err(response) => return response,
    };
    let Some(metadata) = parts
        .iter()
        .find(|p| p.name == "metadata")
        .and_then(|p| serde_json::from_slice::<Value>(&p.bytes).ok())
    else {
        return error(400, 10021, "metadata part missing");
    };
    let mut s = state.lock().expect("mock lock");
    s.uploads.push(parts);
    s.next_id += 1;
    let id = format!("{:08x}-0000-4000-8000-{:012x}", s.next_id, s.next_id);
    let number = s.versions.len() + 1;
    let mut annotations = metadata["annotations"].clone();
    if !annotations.is_object() {
        annotations = json!({});
    }
    annotations["workers/triggered_by"] = json!("upload");
    let migration_tag = if deploy {
        metadata["migrations"]["new_tag"].clone()
    } else {
        s.versions
            .first()
            .map(|v| v["resources"]["script_runtime"]["migration_tag"].clone())
            .unwrap_or(Value::Null)
    };
    let version = json!({
        "id": id,
        "number": number,
        "metadata": {"source": "api", "created_on": "2026-11-25T10:00:00Z"},
        "annotations": annotations,
        "resources": {
            "bindings": metadata["bindings"],
            "script": {"etag": format!("etag-{number}"), "handlers": ["fetch"]},
            "script_runtime": {"migration_tag": migration_tag}
        }
    });
    s.versions.insert(0, version.clone());
    if deploy {
        s.next_id += 1;
        let deployment = json!({
            "id": format!("d{:07x}-0000-4000-8000-{:012x}", s.next_id, s.next_id),
            "source": "api",
            "strategy": "percentage",
            "versions": [{"version_id": id, "percentage": 100}],
            "annotations": {"workers/triggered_by": "upload"}
        });
        s.deployments.insert(0, deployment);
        let bare: String = id.chars().filter(|c| *c != '-').collect();
        return axum::Json(envelope(json!({
            "id": "demo",
            "etag": format!("etag-{number}"),
            "deployment_id": bare,
            "migration_tag": migration_tag,
            "handlers": ["fetch"]
        })))
        .into_response();
    }
    axum::Json(envelope(version)).into_response()
}
