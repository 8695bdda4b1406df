//! The static assets of an upload: before a version or script upload of a Worker with assets,
//! send Cloudflare what it lacks and get the completion token the upload's metadata carries.
//! Unchanged assets cost one request and send no file.

use flaresync_config::{AssetsToken, WorkerSpec};

use super::super::report::WorkerReport;
use crate::{error::Error, pass::Context};

/// The completion token for `spec`'s assets (`None` without assets); the report notes what
/// was sent.
pub(super) async fn upload_assets(
    ctx: &Context,
    worker: &str,
    spec: &WorkerSpec,
    report: &mut WorkerReport,
) -> Result<Option<AssetsToken>, Error> {
    let Some(assets) = &spec.assets else {
        return Ok(None);
    };
    let synced = ctx
        .client
        .sync_assets(worker, assets)
        .await
        .map_err(|error| Error::api(format!("uploading the static assets of {worker}"), error))?;
    report.notes.push(format!(
        "static assets: {} of {} files uploaded ({} already on Cloudflare)",
        synced.uploaded,
        synced.files,
        synced.files - synced.uploaded
    ));
    Ok(Some(synced.token))
}
