//! A stand-in for the HTTP services flaresync calls out to (GitHub's REST API, webhook and
//! Slack receivers) on 127.0.0.1:0: it records every request and answers as GitHub does
//! (`201` with an `id` for a new deployment, an `html_url` for a pull request), or with the
//! statuses a test scripts first.

use std::{
    collections::{BTreeMap, VecDeque},
    sync::{Arc, Mutex},
};

use axum::{
    Json, Router,
    body::Bytes,
    http::{HeaderMap, Method, StatusCode, Uri},
};
use serde_json::{Value, json};

/// One request as received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// Lower-case names.
    pub headers: BTreeMap<String, String>,
    pub raw: Vec<u8>,
    /// `Null` when the body is not JSON.
    pub body: Value,
    pub at: std::time::Instant,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

#[derive(Debug, Default)]
struct State {
    seen: Vec<Recorded>,
    /// Statuses to answer before the normal answers, first first.
    script: VecDeque<u16>,
    deployments: u64,
}

type Shared = Arc<Mutex<State>>;

pub struct Recorder {
    pub url: String,
    state: Shared,
}

/// Serves `app` on 127.0.0.1:0 for the rest of the test; its base URL.
pub async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

impl Recorder {
    pub async fn start() -> Recorder {
        let state: Shared = Arc::default();
        let app = Router::new().fallback(answer).with_state(state.clone());
        Recorder {
            url: serve(app).await,
            state,
        }
    }

    /// Answers the next requests with `statuses`, in order, before answering normally.
    pub fn fail_next(&self, statuses: &[u16]) {
        self.lock().script.extend(statuses);
    }

    /// Every request so far, oldest first.
    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().seen.clone()
    }

    /// The requests whose path is `path`.
    pub fn to(&self, path: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("lock")
    }
}

async fn answer(
    axum::extract::State(state): axum::extract::State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, Json<Value>) {
    let mut state = state.lock().expect("lock");
    state.seen.push(Recorded {
        method: method.to_string(),
        path: uri.path().to_owned(),
        headers: headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    value.to_str().unwrap_or_default().to_owned(),
                )
            })
            .collect(),
        raw: body.to_vec(),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        at: std::time::Instant::now(),
    });
    if let Some(status) = state.script.pop_front() {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return (status, Json(json!({"message": "scripted failure"})));
    }
    let path = uri.path();
    if path.ends_with("/deployments") {
        state.deployments += 1;
        let id = state.deployments;
        return (
            StatusCode::CREATED,
            Json(json!({"id": id, "url": format!("{path}/{id}")})),
        );
    }
    if path.ends_with("/pulls") {
        return (
            StatusCode::CREATED,
            Json(
                json!({"number": 1, "html_url": format!("https://github.test{}/1", path.trim_end_matches("/pulls"))}),
            ),
        );
    }
    (StatusCode::CREATED, Json(json!({})))
}
