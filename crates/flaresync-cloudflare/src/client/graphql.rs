//! The GraphQL Analytics API (`POST /graphql`): one query, its `data` back.

use reqwest::Method;

use super::Client;
use super::request::Request;
use crate::error::Error;
use crate::retry::Idempotency;

impl Client {
    /// Runs a GraphQL query (a read: safe to retry) and returns the answer's `data`. A GraphQL
    /// error (reported with HTTP 200) is an [`Error::Api`] carrying its messages.
    pub async fn graphql(
        &self,
        query: &str,
        variables: serde_json::Value,
    ) -> Result<serde_json::Value, Error> {
        let body = serde_json::json!({"query": query, "variables": variables});
        let request = Request::new(Method::POST, vec!["graphql".to_owned()])
            .json_body(&body, "graphql request does not serialize")?
            .idempotency(Idempotency::Idempotent)
            .graphql();
        let envelope = self.fetch(&request).await?;
        Ok(envelope.result.unwrap_or(serde_json::Value::Null))
    }
}
