//! Reading versions: the full list, the deployable ones, the oldest with a tag, one in full.

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

    /// The oldest deployable version of `script` carrying `workers/tag` = `tag`, if any. `None`
    /// also when the script does not exist (404: a first upload never created it).
    ///
    /// Searches the deployable versions (the newest 100, in one request), as wrangler's
    /// `versions deploy --version-tag` does; an upload just made is always among them. The
    /// oldest copy wins because every flaresync that uploaded the same commit deploys that
    /// one, so concurrent uploaders settle on one version.
    pub async fn oldest_version_with_tag(
        &self,
        script: &str,
        tag: &str,
    ) -> Result<Option<VersionSummary>, Error> {
        let versions = match self.list_deployable_versions(script).await {
            Ok(versions) => versions,
            Err(error) if error.is_not_found() => return Ok(None),
            Err(error) => return Err(error),
        };
        Ok(versions
            .into_iter()
            .filter(|v| v.tag() == Some(tag))
            .min_by_key(|v| v.number.unwrap_or(u64::MAX)))
    }

    /// One version with its bindings, annotations and runtime settings.
    pub async fn get_version(&self, script: &str, version_id: &str) -> Result<Version, Error> {
        let request = Request::new(Method::GET, self.script(script, &["versions", version_id]));
        let envelope = self.fetch(&request).await?;
        decode_result(&request, envelope)
    }
}
