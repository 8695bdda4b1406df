//! The demo's view of the data plane: deployed Workers answering real HTTP on workerd, asked
//! through `Host: <script>.<subdomain>.workers.dev`. Without workerd the demo says once what it
//! skips.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The session cookie the demo's requests carry (demo-auth looks it up in its SESSIONS KV).
pub const SESSION: &str = "demo-session";

/// Requests to the data plane (`None`: it is off).
pub struct Web {
    pub addr: Option<SocketAddr>,
    pub subdomain: String,
    http: reqwest::Client,
}

impl Web {
    pub fn new(addr: Option<SocketAddr>, subdomain: &str) -> Self {
        Self {
            addr,
            subdomain: subdomain.to_owned(),
            http: reqwest::Client::new(),
        }
    }

    /// Asks `script` until its answer starts with `expected` (5 s at most) and prints it.
    pub async fn show(&self, script: &str, expected: &str) {
        let Some(addr) = self.addr else { return };
        let host = format!("{script}.{}.workers.dev", self.subdomain);
        let started = Instant::now();
        let mut last = String::new();
        while started.elapsed() < Duration::from_secs(5) {
            let answer = self
                .http
                .get(format!("http://{addr}/"))
                .header("host", &host)
                .header("cookie", SESSION)
                .send()
                .await;
            if let Ok(response) = answer {
                let status = response.status().as_u16();
                last = format!("{status} {}", response.text().await.unwrap_or_default());
                if status == 200 && last[4..].starts_with(expected) {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        println!("  GET https://{host}/ -> {last}");
    }
}
