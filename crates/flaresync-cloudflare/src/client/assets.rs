//! Static assets, as wrangler 4.86's `syncAssets` uploads them (SPEC-2 §1.3–1.4): open an
//! upload session with the manifest, send only the buckets Cloudflare asks for (three at a
//! time, base64 multipart, the session's token as bearer), and keep the completion token that
//! attaches the assets to the next version. What to send is decided by [`plan_upload`].
//!
//! Both calls are safe to repeat (a new session, or a file sent twice, changes nothing), so the
//! retry loop retries them like reads. The tokens are [`Secret`]s: never logged.

use flaresync_config::{AssetFile, Assets, AssetsToken};
use futures_util::future::try_join_all;
use reqwest::Method;
use serde::Deserialize;
use tracing::info;

use super::Client;
use super::request::{Body, Request, decode_result};
use crate::Secret;
use crate::assets_plan::{AssetsProblem, UploadPlan, plan_upload};
use crate::error::Error;
use crate::retry::Idempotency;

/// Buckets sent at once (wrangler's `BULK_UPLOAD_CONCURRENCY`).
const BUCKETS_AT_ONCE: usize = 3;

/// The session's `result` (`{jwt, buckets}`, both optional in the SDK). No `Debug`: the token.
#[derive(Deserialize)]
struct RawSession {
    #[serde(default)]
    jwt: Option<String>,
    #[serde(default)]
    buckets: Option<Vec<Vec<String>>>,
}

/// A bucket upload's `result`: `{}` while files are missing, `{jwt}` once all are there.
#[derive(Deserialize, Default)]
struct RawBucketAnswer {
    #[serde(default)]
    jwt: Option<String>,
}

/// An open upload session.
#[derive(Debug)]
pub struct AssetsSession {
    /// Bearer for the bucket uploads; when no bucket is asked for, the completion token.
    pub token: Option<Secret>,
    /// Hashes to upload, one request per bucket.
    pub buckets: Vec<Vec<String>>,
}

/// What [`Client::sync_assets`] did.
#[derive(Debug)]
pub struct AssetsSync {
    /// Attaches the assets to the next version or script upload (`metadata.assets.jwt`).
    pub token: AssetsToken,
    /// Files in the manifest.
    pub files: usize,
    /// Files sent (the others Cloudflare already had).
    pub uploaded: usize,
    /// Requests that sent them.
    pub buckets: usize,
}

impl Client {
    /// Opens an assets upload session for `script` with the manifest of `assets`
    /// (`POST …/workers/scripts/{script}/assets-upload-session`). The script need not exist.
    pub async fn open_assets_session(
        &self,
        script: &str,
        assets: &Assets,
    ) -> Result<AssetsSession, Error> {
        let request = Request::new(
            Method::POST,
            self.script(script, &["assets-upload-session"]),
        )
        .json_body(
            &serde_json::json!({"manifest": assets.manifest_json()}),
            "the assets manifest does not serialize",
        )?
        .idempotency(Idempotency::Idempotent);
        let envelope = self.fetch(&request).await?;
        let session: Option<RawSession> = decode_result(&request, envelope)?;
        let Some(session) = session else {
            return Err(Error::Assets {
                script: script.to_owned(),
                problem: AssetsProblem::NoSession,
            });
        };
        Ok(AssetsSession {
            token: session.jwt.filter(|jwt| !jwt.is_empty()).map(Secret::new),
            buckets: session.buckets.unwrap_or_default(),
        })
    }

    /// Sends one bucket of files with the session's token
    /// (`POST …/workers/assets/upload?base64=true`). Returns the completion token when this
    /// bucket completed the set.
    pub async fn upload_assets_bucket(
        &self,
        token: &Secret,
        files: &[&AssetFile],
    ) -> Result<Option<Secret>, Error> {
        let request = Request::new(Method::POST, self.account(&["workers", "assets", "upload"]))
            .query("base64", "true")
            .bearer(token)
            .body(Body::Assets(files))
            .idempotency(Idempotency::Idempotent);
        let envelope = self.fetch(&request).await?;
        let answer: Option<RawBucketAnswer> = decode_result(&request, envelope)?;
        Ok(answer
            .and_then(|answer| answer.jwt)
            .filter(|jwt| !jwt.is_empty())
            .map(Secret::new))
    }

    /// Uploads what Cloudflare lacks of `assets` for `script` and returns the completion token
    /// (SPEC-2 §1.3–1.4). Unchanged assets cost one request.
    ///
    /// # Errors
    /// Any failed call, and [`Error::Assets`] for wrangler's fatal checks (no session result,
    /// no token, a requested hash outside the manifest, no completion token at the end).
    pub async fn sync_assets(&self, script: &str, assets: &Assets) -> Result<AssetsSync, Error> {
        let problem = |problem| Error::Assets {
            script: script.to_owned(),
            problem,
        };
        let session = self.open_assets_session(script, assets).await?;
        let plan = plan_upload(&assets.files, &session.buckets, session.token.is_some())
            .map_err(problem)?;
        let (token, uploaded, buckets) = match (&plan, session.token) {
            (UploadPlan::Complete, Some(token)) => (token, 0, 0),
            (UploadPlan::Complete, None) => return Err(problem(AssetsProblem::NoToken)),
            (UploadPlan::Buckets(buckets), session_token) => {
                let session_token = session_token.ok_or_else(|| problem(AssetsProblem::NoToken))?;
                let mut completion = None;
                for group in buckets.chunks(BUCKETS_AT_ONCE) {
                    // No closures here: they would make the future lose `Send`.
                    let mut pending = Vec::with_capacity(group.len());
                    for bucket in group {
                        pending.push(self.upload_assets_bucket(&session_token, bucket));
                    }
                    // Buckets finish in any order: the token comes from whichever completed
                    // the set.
                    for answer in try_join_all(pending).await? {
                        completion = answer.or(completion);
                    }
                }
                let token = completion.ok_or_else(|| problem(AssetsProblem::NoCompletionToken))?;
                (token, plan.file_count(), buckets.len())
            }
        };
        info!(
            worker = %script,
            files = assets.files.len(),
            uploaded,
            buckets,
            "Static assets ready."
        );
        Ok(AssetsSync {
            token: AssetsToken::new(token.expose()),
            files: assets.files.len(),
            uploaded,
            buckets,
        })
    }
}
