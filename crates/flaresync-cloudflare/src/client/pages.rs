//! Following page-style pagination (`?page=&per_page=`) of a list endpoint to its end.

use reqwest::Method;
use serde::de::DeserializeOwned;

use super::Client;
use super::request::{Request, decode_result};
use crate::error::Error;
use crate::pagination::next_page;

/// Page size for page-style lists (the largest every list endpoint accepts).
const PER_PAGE: u32 = 100;

impl Client {
    /// Follows page-style pagination of a list whose `result` is an array.
    pub(super) async fn list_pages<T: DeserializeOwned>(
        &self,
        segments: Vec<String>,
    ) -> Result<Vec<T>, Error> {
        self.list_pages_of(segments, |items: Vec<T>| items).await
    }

    /// Follows page-style pagination of a list whose `result` decodes as `R`; `items` takes
    /// the page's entries out of it.
    pub(super) async fn list_pages_of<R, T>(
        &self,
        segments: Vec<String>,
        items: impl Fn(R) -> Vec<T>,
    ) -> Result<Vec<T>, Error>
    where
        R: DeserializeOwned,
    {
        let mut all: Vec<T> = Vec::new();
        let mut page = 1u32;
        loop {
            let request = Request::new(Method::GET, segments.clone())
                .query("page", page.to_string())
                .query("per_page", PER_PAGE.to_string());
            let envelope = self.fetch(&request).await?;
            let info = envelope.result_info.clone();
            let page_items = items(decode_result(&request, envelope)?);
            let received = page_items.len();
            all.extend(page_items);
            match next_page(page, received, all.len(), PER_PAGE, info.as_ref()) {
                Some(next) => page = next,
                None => return Ok(all),
            }
        }
    }
}
