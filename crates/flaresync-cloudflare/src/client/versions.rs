//! Reading versions: the full list, the deployable ones, one by tag, one in full.

use reqwest::Method;

use super::Client;
use super::request::{Request, decode_result};
use crate::error::Error;
use crate::types::{Version, VersionItems, VersionSummary};

impl Client {
    /// All versions of `script`, newest first (every page).
    pub async fn list_versions(&self, script: &str) -> Result<Vec<VersionSummary>, Error> {
        self.list_pages_of(self.script(script, &["versions"]), |list: VersionItems| {
            list.items
        })
        .await
    }

    /// The versions that may be deployed or rolled back to (`?deployable=true`, the newest 100),
    /// newest first.
    pub async fn list_deployable_versions(
        &self,
        script: &str,
    ) -> Result<Vec<VersionSummary>, Error> {
        let request = Request::new(Method::GET, self.script(script, &["versions"]))
            .query("deployable", "true");
        let envelope = self.fetch(&request).await?;
        let items: VersionItems = decode_result(&request, envelope)?;
        Ok(items.items)
    }

    /// The newest version of `script` carrying `workers/tag` = `tag`, if any.
    ///
    /// Searches the deployable versions (the newest 100, in one request), as wrangler's
    /// `versions deploy --version-tag` does; an upload just made is always among them.
    pub async fn find_version_by_tag(
        &self,
        script: &str,
        tag: &str,
    ) -> Result<Option<VersionSummary>, Error> {
        Ok(self
            .list_deployable_versions(script)
            .await?
            .into_iter()
            .find(|v| v.tag() == Some(tag)))
    }

    /// One version with its bindings, annotations and runtime settings.
    pub async fn get_version(&self, script: &str, version_id: &str) -> Result<Version, Error> {
        let request = Request::new(Method::GET, self.script(script, &["versions", version_id]));
        let envelope = self.fetch(&request).await?;
        decode_result(&request, envelope)
    }
}
