//! Scripts of the account and their services metadata.

use reqwest::Method;

use super::Client;
use super::request::{Request, decode_result};
use crate::error::Error;
use crate::types::{Script, ServiceMetadata};

impl Client {
    /// All Worker scripts of the account (with their current `migration_tag`).
    pub async fn list_scripts(&self) -> Result<Vec<Script>, Error> {
        let request = Request::new(Method::GET, self.account(&["workers", "scripts"]));
        let envelope = self.fetch(&request).await?;
        decode_result(&request, envelope)
    }

    /// Services metadata of `script` (current migration tag, last deployer). `None` when the
    /// Worker does not exist (code 10007). Other 404s (a wrong base URL answers "no route",
    /// code 7003) stay errors, so a misconfiguration is never mistaken for a missing Worker.
    pub async fn service_metadata(&self, script: &str) -> Result<Option<ServiceMetadata>, Error> {
        let request = Request::new(Method::GET, self.account(&["workers", "services", script]));
        match self.fetch(&request).await {
            Ok(envelope) => decode_result(&request, envelope).map(Some),
            Err(error) if error.has_code(crate::error::codes::WORKER_NOT_FOUND) => Ok(None),
            Err(error) => Err(error),
        }
    }
}
