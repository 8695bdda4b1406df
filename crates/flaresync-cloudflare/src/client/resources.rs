//! Bound resources of the account: KV namespaces, D1 databases, queues and R2 buckets.

use reqwest::Method;

use super::Client;
use super::request::{Request, decode_result};
use crate::error::Error;
use crate::pagination::{MAX_PAGES, next_cursor};
use crate::types::{D1Database, KvNamespace, Queue, R2Bucket, R2BucketList};

/// Page size for R2's cursor-style list.
const R2_PER_PAGE: u32 = 1000;
/// Header selecting the R2 jurisdiction.
const R2_JURISDICTION_HEADER: &str = "cf-r2-jurisdiction";

impl Client {
    /// All KV namespaces of the account (every page).
    pub async fn list_kv_namespaces(&self) -> Result<Vec<KvNamespace>, Error> {
        self.list_pages(self.account(&["storage", "kv", "namespaces"]))
            .await
    }

    /// All D1 databases of the account (every page).
    pub async fn list_d1_databases(&self) -> Result<Vec<D1Database>, Error> {
        self.list_pages(self.account(&["d1", "database"])).await
    }

    /// All queues of the account (every page).
    pub async fn list_queues(&self) -> Result<Vec<Queue>, Error> {
        self.list_pages(self.account(&["queues"])).await
    }

    /// All R2 buckets of the account in `jurisdiction` (`None`: the default jurisdiction;
    /// otherwise `eu`, `fedramp`, ...), following the cursor to the end.
    pub async fn list_r2_buckets(
        &self,
        jurisdiction: Option<&str>,
    ) -> Result<Vec<R2Bucket>, Error> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut request = Request::new(Method::GET, self.account(&["r2", "buckets"]))
                .query("per_page", R2_PER_PAGE.to_string());
            if let Some(cursor) = &cursor {
                request = request.query("cursor", cursor.clone());
            }
            if let Some(jurisdiction) = jurisdiction {
                request = request.header(R2_JURISDICTION_HEADER, jurisdiction);
            }
            let envelope = self.fetch(&request).await?;
            let info = envelope.result_info.clone();
            let list: R2BucketList = decode_result(&request, envelope)?;
            let received = list.buckets.len();
            all.extend(list.buckets);
            match next_cursor(info.as_ref(), cursor.as_deref()) {
                Some(next) if received > 0 => cursor = Some(next),
                _ => break,
            }
        }
        Ok(all)
    }
}
