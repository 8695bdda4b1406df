//! `flaresync history`: commits <-> versions <-> deployments of one Worker.

use anyhow::{Context as _, bail};
use flaresync_journal::{DeploymentRecord, VersionRecord};

use crate::{
    cli::{HistoryArgs, TextOrJson},
    settings::{ApiSettings, RepoSettings},
    source::{head_repo_config, open_source},
};

pub async fn run(args: HistoryArgs) -> anyhow::Result<u8> {
    let repo = RepoSettings::resolve(&args.repo);
    let journal = repo.open_journal(None)?;
    let entries = journal.history(&args.worker)?;
    let (versions, deployments) = if args.offline {
        (Vec::new(), Vec::new())
    } else {
        let repo_config = open_source(&repo)
            .ok()
            .and_then(|mut source| head_repo_config(&mut source).ok());
        let client = ApiSettings::resolve(&args.api).client(repo_config.as_ref())?;
        let versions = match client.list_versions(&args.worker).await {
            Ok(versions) => versions,
            Err(error) if error.is_not_found() => {
                let known: Vec<String> = client
                    .list_scripts()
                    .await
                    .map(|scripts| scripts.into_iter().map(|s| s.id).collect())
                    .unwrap_or_default();
                bail!(
                    "there is no Worker named {:?} on account {}; Workers there: {}",
                    args.worker,
                    client.account_id(),
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                );
            }
            Err(error) => {
                return Err(anyhow::Error::new(error))
                    .with_context(|| format!("cannot list the versions of {}", args.worker));
            }
        };
        let deployments = client
            .list_deployments(&args.worker)
            .await
            .with_context(|| format!("cannot list the deployments of {}", args.worker))?;
        (
            versions.iter().map(version_record).collect::<Vec<_>>(),
            deployments
                .iter()
                .map(deployment_record)
                .collect::<Vec<_>>(),
        )
    };
    if entries.is_empty() && versions.is_empty() {
        bail!(
            "nothing known about worker {:?}: no journal entries in {} and no versions on Cloudflare",
            args.worker,
            journal.display()
        );
    }
    let view = flaresync_journal::history_view(&args.worker, &entries, &versions, &deployments);
    match args.format {
        TextOrJson::Text => print!("{}", flaresync_journal::render_history(&view)),
        TextOrJson::Json => println!("{}", serde_json::to_string_pretty(&view)?),
    }
    Ok(0)
}

fn parse_time(text: Option<&str>) -> Option<chrono::DateTime<chrono::Utc>> {
    text.and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&chrono::Utc))
}

pub fn version_record(version: &flaresync_cloudflare::VersionSummary) -> VersionRecord {
    VersionRecord {
        id: version.id.clone(),
        number: version.number,
        tag: version.annotations.tag.clone(),
        message: version.annotations.message.clone(),
        created_on: parse_time(version.metadata.created_on.as_deref()),
        source: version.metadata.source.clone(),
        triggered_by: version.annotations.triggered_by.clone(),
    }
}

pub fn deployment_record(deployment: &flaresync_cloudflare::Deployment) -> DeploymentRecord {
    DeploymentRecord {
        id: deployment.id.clone(),
        created_on: parse_time(deployment.created_on.as_deref()),
        source: deployment.source.clone(),
        versions: deployment
            .versions
            .iter()
            .map(|v| (v.version_id.clone(), v.percentage))
            .collect(),
        message: deployment.annotations.message.clone(),
        triggered_by: deployment.annotations.triggered_by.clone(),
        author_email: deployment.author_email.clone(),
    }
}
