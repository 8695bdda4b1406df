//! Uploads: a new version without deploying it, or upload-and-deploy of the whole script. Both
//! are made safe to retry by the `workers/tag` annotation (see [`Client::upload_version`]).

use flaresync_config::Module;
use reqwest::Method;

use super::Client;
use super::request::{Body, Request, decode_result};
use super::retry_loop::Outcome;
use crate::error::Error;
use crate::retry::Idempotency;
use crate::types::{ScriptUpload, Version};

impl Client {
    /// Uploads a new version without deploying it (`POST …/versions?bindings_inherit=strict`).
    ///
    /// `metadata` is the multipart `metadata` part (build it with the config crate's
    /// `upload_metadata`); `modules` become one part each.
    ///
    /// # Guarantees
    /// When `metadata.annotations["workers/tag"]` is set, a retry never creates a second version:
    /// before re-sending an upload whose outcome is unknown (5xx, timeout, dropped connection),
    /// the client looks for a version carrying that tag and returns it if found. Without a tag,
    /// an upload with an unknown outcome is not repeated and fails with
    /// [`Error::OutcomeUnknown`].
    ///
    /// # Caveats
    /// The tag must be unique per upload: a version already carrying it (from an earlier upload)
    /// would be taken as this upload's result once an attempt's outcome is unknown. And a server
    /// still working on a timed-out attempt may commit it after the check found nothing; keep
    /// the request timeout well above Cloudflare's upload times to make that unlikely.
    pub async fn upload_version(
        &self,
        script: &str,
        metadata: &serde_json::Value,
        modules: &[Module],
    ) -> Result<Version, Error> {
        let tag = upload_tag(metadata);
        let segments = self.script(script, &["versions"]);
        let request = upload_request(Method::POST, segments, metadata, modules, tag.as_deref());
        let verify = || self.tagged_version(script, tag.as_deref());
        match self.run(&request, verify).await? {
            Outcome::Answered(envelope) => decode_result(&request, envelope),
            Outcome::Recovered(version) => Ok(version),
        }
    }

    /// Uploads and deploys at once (`PUT …/scripts/{name}?bindings_inherit=strict&excludeScript=true`).
    /// Required for a Worker's first upload and for Durable Object migrations.
    ///
    /// # Guarantees
    /// As for [`Client::upload_version`]: with a `workers/tag` annotation, a retry after an
    /// unknown outcome first looks for a version with that tag and, if found, returns a
    /// [`ScriptUpload`] describing it instead of uploading again.
    pub async fn upload_script(
        &self,
        script: &str,
        metadata: &serde_json::Value,
        modules: &[Module],
    ) -> Result<ScriptUpload, Error> {
        let tag = upload_tag(metadata);
        let segments = self.script(script, &[]);
        let request = upload_request(Method::PUT, segments, metadata, modules, tag.as_deref())
            .query("excludeScript", "true");
        let verify = || async {
            let found = self.tagged_version(script, tag.as_deref()).await?;
            Ok(found.map(|version| script_upload_of(script, &version)))
        };
        match self.run(&request, verify).await? {
            Outcome::Answered(envelope) => decode_result(&request, envelope),
            Outcome::Recovered(upload) => Ok(upload),
        }
    }

    /// The oldest deployable version of `script` carrying `tag`, read in full: what an upload
    /// with that tag created. `None` without a tag, when no deployable version carries it, or
    /// when the script does not exist (a new Worker's first upload was not created, so it is
    /// sent again rather than failing the verification).
    async fn tagged_version(
        &self,
        script: &str,
        tag: Option<&str>,
    ) -> Result<Option<Version>, Error> {
        let Some(tag) = tag else {
            return Ok(None);
        };
        match self.oldest_version_with_tag(script, tag).await? {
            Some(found) => self.get_version(script, &found.id).await.map(Some),
            None => Ok(None),
        }
    }
}

/// An upload request (`?bindings_inherit=strict`, multipart body), verifiable when it carries a
/// `workers/tag` and unsafe to repeat otherwise.
fn upload_request<'a>(
    method: Method,
    segments: Vec<String>,
    metadata: &'a serde_json::Value,
    modules: &'a [Module],
    tag: Option<&str>,
) -> Request<'a> {
    Request::new(method, segments)
        .query("bindings_inherit", "strict")
        .body(Body::Multipart { metadata, modules })
        .idempotency(if tag.is_some() {
            Idempotency::Verifiable
        } else {
            Idempotency::Unsafe
        })
}

/// What `upload_script` would have answered for the upload that created `version`.
fn script_upload_of(script: &str, version: &Version) -> ScriptUpload {
    ScriptUpload {
        id: Some(script.to_owned()),
        etag: version.resources.script.etag.clone(),
        deployment_id: Some(version.id.clone()),
        migration_tag: version.migration_tag().map(str::to_owned),
        modified_on: version.metadata.modified_on.clone(),
        handlers: version.resources.script.handlers.clone(),
        startup_time_ms: version.startup_time_ms,
    }
}

/// The `workers/tag` annotation of an upload's metadata.
fn upload_tag(metadata: &serde_json::Value) -> Option<String> {
    metadata
        .get("annotations")?
        .get("workers/tag")?
        .as_str()
        .filter(|tag| !tag.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_tag_reads_the_annotation() {
        let metadata = serde_json::json!({"annotations": {"workers/tag": "abc123"}});
        assert_eq!(upload_tag(&metadata).as_deref(), Some("abc123"));
        assert_eq!(upload_tag(&serde_json::json!({})), None);
        assert_eq!(
            upload_tag(&serde_json::json!({"annotations": {"workers/tag": ""}})),
            None
        );
    }
}
