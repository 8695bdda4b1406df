//! Secrets of a script: names and types only, never values.

use reqwest::Method;

use super::Client;
use super::request::{Request, decode_result};
use crate::error::Error;
use crate::types::SecretInfo;

impl Client {
    /// Names and types of the secrets of `script` (never values).
    pub async fn list_secrets(&self, script: &str) -> Result<Vec<SecretInfo>, Error> {
        let request = Request::new(Method::GET, self.script(script, &["secrets"]));
        let envelope = self.fetch(&request).await?;
        decode_result(&request, envelope)
    }
}
