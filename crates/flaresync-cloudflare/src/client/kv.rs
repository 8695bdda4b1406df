//! KV namespaces and keys as flaresync's own state record uses them: create a namespace, list
//! keys with their metadata (cursor pages of up to 1,000), write many keys in one request
//! (`PUT …/bulk`, up to 10,000 per request).

use reqwest::Method;
use serde_json::json;

use super::Client;
use super::request::{Request, decode_result};
use crate::error::Error;
use crate::pagination::{MAX_PAGES, next_cursor};
use crate::retry::Idempotency;
use crate::types::{KvKey, KvNamespace, KvWrite};

/// Keys per page of `GET …/keys` (Cloudflare's maximum).
const KEYS_PER_PAGE: u32 = 1000;
/// Keys per `PUT …/bulk` request (Cloudflare's maximum).
pub const BULK_MAX: usize = 10_000;

fn namespace_path(client: &Client, namespace_id: &str, rest: &[&str]) -> Vec<String> {
    let mut parts = vec!["storage", "kv", "namespaces", namespace_id];
    parts.extend_from_slice(rest);
    client.account(&parts)
}

impl Client {
    /// Creates the KV namespace `title` (`POST`; sent once).
    pub async fn create_kv_namespace(&self, title: &str) -> Result<KvNamespace, Error> {
        let request = Request::new(Method::POST, self.account(&["storage", "kv", "namespaces"]))
            .json_body(&json!({ "title": title }), "namespace does not serialize")?;
        let envelope = self.fetch(&request).await?;
        decode_result(&request, envelope)
    }

    /// Every key of `namespace_id` starting with `prefix`, with its metadata (every page).
    pub async fn list_kv_keys(
        &self,
        namespace_id: &str,
        prefix: &str,
    ) -> Result<Vec<KvKey>, Error> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut request =
                Request::new(Method::GET, namespace_path(self, namespace_id, &["keys"]))
                    .query("prefix", prefix)
                    .query("limit", KEYS_PER_PAGE.to_string());
            if let Some(cursor) = &cursor {
                request = request.query("cursor", cursor.clone());
            }
            let envelope = self.fetch(&request).await?;
            let info = envelope.result_info.clone();
            let keys: Vec<KvKey> = decode_result(&request, envelope)?;
            let received = keys.len();
            all.extend(keys);
            match next_cursor(info.as_ref(), cursor.as_deref()) {
                Some(next) if received > 0 => cursor = Some(next),
                _ => break,
            }
        }
        Ok(all)
    }

    /// Writes `writes` into `namespace_id`, [`BULK_MAX`] per request (`PUT …/bulk`: the whole
    /// value of each key, so retried like a read).
    pub async fn put_kv_bulk(&self, namespace_id: &str, writes: &[KvWrite]) -> Result<(), Error> {
        for chunk in writes.chunks(BULK_MAX) {
            let request = Request::new(Method::PUT, namespace_path(self, namespace_id, &["bulk"]))
                .json_body(&chunk, "KV writes do not serialize")?
                .idempotency(Idempotency::Idempotent);
            let envelope = self.fetch(&request).await?;
            let _: serde_json::Value = decode_result(&request, envelope)?;
        }
        Ok(())
    }
}
