//! A fake GitHub REST API on 127.0.0.1:0 that records every request: the issue-comment calls
//! `flaresync github comment` makes (list with `Link` paging, create, update, delete), with
//! GitHub's status codes and its 65,536-character body limit.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use axum::{
    Router,
    body::Bytes,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode, Uri},
    response::{IntoResponse, Response},
    routing::{get, patch},
};
use serde_json::{Value, json};

pub const TOKEN: &str = "ghs_fakeGithubToken0123456789abcdef";
pub const REPOSITORY: &str = "acme/workers-config";

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub authorization: Option<String>,
    pub accept: Option<String>,
    pub api_version: Option<String>,
    pub user_agent: Option<String>,
    pub body: Option<Value>,
}

#[derive(Debug, Default)]
pub struct Github {
    /// (id, issue number, body), oldest first.
    pub comments: Vec<(u64, u64, String)>,
    pub log: Vec<Recorded>,
    next_id: u64,
    /// Answer every call with this status (e.g. 403), as GitHub does for a read-only token.
    pub refuse_with: Option<u16>,
}

impl Github {
    pub fn add(&mut self, issue: u64, body: &str) -> u64 {
        self.next_id += 1;
        let id = 1_000 + self.next_id;
        self.comments.push((id, issue, body.to_owned()));
        id
    }

    pub fn bodies(&self, issue: u64) -> Vec<(u64, String)> {
        self.comments
            .iter()
            .filter(|(_, number, _)| *number == issue)
            .map(|(id, _, body)| (*id, body.clone()))
            .collect()
    }

    /// The writes (POST, PATCH, DELETE) recorded so far.
    pub fn writes(&self) -> Vec<(String, String)> {
        self.log
            .iter()
            .filter(|r| r.method != "GET")
            .map(|r| (r.method.clone(), r.path.clone()))
            .collect()
    }
}

pub type Shared = Arc<Mutex<Github>>;

pub struct FakeGithub {
    pub url: String,
    pub state: Shared,
    _runtime: tokio::runtime::Runtime,
}

impl FakeGithub {
    pub fn start() -> FakeGithub {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let state: Shared = Arc::default();
        let app = Router::new()
            .route(
                "/repos/{owner}/{name}/issues/{number}/comments",
                get(list).post(create),
            )
            .route(
                "/repos/{owner}/{name}/issues/comments/{id}",
                patch(update).delete(delete),
            )
            .layer(axum::middleware::from_fn_with_state(state.clone(), record))
            .with_state(state.clone());
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let address: SocketAddr = listener.local_addr().expect("address");
        runtime.spawn(async move {
            axum::serve(listener, app)
                .await
                .expect("fake github serves");
        });
        FakeGithub {
            url: format!("http://{address}"),
            state,
            _runtime: runtime,
        }
    }

    pub fn with<T>(&self, f: impl FnOnce(&mut Github) -> T) -> T {
        f(&mut self.state.lock().expect("lock"))
    }
}

async fn record(
    State(state): State<Shared>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 10 << 20)
        .await
        .unwrap_or_default();
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let refuse = {
        let mut github = state.lock().expect("lock");
        github.log.push(Recorded {
            method: parts.method.to_string(),
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().unwrap_or("").to_owned(),
            authorization: header("authorization"),
            accept: header("accept"),
            api_version: header("x-github-api-version"),
            user_agent: header("user-agent"),
            body: serde_json::from_slice(&bytes).ok(),
        });
        github.refuse_with
    };
    if header("authorization").as_deref() != Some(&format!("Bearer {TOKEN}")) {
        return message(StatusCode::UNAUTHORIZED, "Bad credentials");
    }
    if let Some(status) = refuse {
        return message(
            StatusCode::from_u16(status).expect("status"),
            "Resource not accessible by integration",
        );
    }
    let request = axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes));
    next.run(request).await
}

fn message(status: StatusCode, text: &str) -> Response {
    (
        status,
        axum::Json(json!({"message": text, "documentation_url": "https://docs.github.com/rest"})),
    )
        .into_response()
}

fn comment_json(id: u64, body: &str) -> Value {
    json!({
        "id": id,
        "node_id": format!("IC_{id}"),
        "body": body,
        "user": {"login": "github-actions[bot]", "type": "Bot"},
        "created_at": "2026-11-24T10:00:00Z",
        "updated_at": "2026-11-24T10:00:00Z",
    })
}

async fn list(
    State(state): State<Shared>,
    Path((_owner, _name, number)): Path<(String, String, u64)>,
    Query(query): Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let per_page: usize = query
        .get("per_page")
        .and_then(|v| v.parse().ok())
        .unwrap_or(30)
        .min(100);
    let page: usize = query.get("page").and_then(|v| v.parse().ok()).unwrap_or(1);
    let all = state.lock().expect("lock").bodies(number);
    let slice: Vec<Value> = all
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|(id, body)| comment_json(*id, body))
        .collect();
    let mut response = axum::Json(slice).into_response();
    if page * per_page < all.len() {
        let host = headers
            .get("host")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("127.0.0.1");
        let next = format!(
            "<http://{host}{}?per_page={per_page}&page={}>; rel=\"next\"",
            uri.path(),
            page + 1
        );
        response
            .headers_mut()
            .insert("link", next.parse().expect("header"));
    }
    response
}

/// The `body` of a create or update request, or GitHub's refusal of it.
fn comment_text(request: &Bytes) -> Result<String, Box<Response>> {
    let Ok(request) = serde_json::from_slice::<Value>(request) else {
        return Err(Box::new(message(
            StatusCode::BAD_REQUEST,
            "Problems parsing JSON",
        )));
    };
    let text = request.get("body").and_then(Value::as_str).unwrap_or("");
    if text.chars().count() > 65_536 {
        return Err(Box::new(message(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Validation Failed: body is too long (maximum is 65536 characters)",
        )));
    }
    Ok(text.to_owned())
}

async fn create(
    State(state): State<Shared>,
    Path((_owner, _name, number)): Path<(String, String, u64)>,
    body: Bytes,
) -> Response {
    let text = match comment_text(&body) {
        Ok(text) => text,
        Err(refused) => return *refused,
    };
    let id = state.lock().expect("lock").add(number, &text);
    (StatusCode::CREATED, axum::Json(comment_json(id, &text))).into_response()
}

async fn update(
    State(state): State<Shared>,
    Path((_owner, _name, id)): Path<(String, String, u64)>,
    body: Bytes,
) -> Response {
    let text = match comment_text(&body) {
        Ok(text) => text,
        Err(refused) => return *refused,
    };
    let mut github = state.lock().expect("lock");
    match github.comments.iter_mut().find(|(cid, _, _)| *cid == id) {
        Some(comment) => {
            comment.2 = text.clone();
            axum::Json(comment_json(id, &text)).into_response()
        }
        None => message(StatusCode::NOT_FOUND, "Not Found"),
    }
}

async fn delete(
    State(state): State<Shared>,
    Path((_owner, _name, id)): Path<(String, String, u64)>,
) -> Response {
    let mut github = state.lock().expect("lock");
    let before = github.comments.len();
    github.comments.retain(|(cid, _, _)| *cid != id);
    if github.comments.len() == before {
        message(StatusCode::NOT_FOUND, "Not Found")
    } else {
        StatusCode::NO_CONTENT.into_response()
    }
}
