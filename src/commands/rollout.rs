//! `flaresync rollout status|promote|abort|pause|resume [worker]`, like `kubectl argo
//! rollouts`: against a running loop (`--server`, its authenticated API) or, without one, from
//! the CLI alone (the state directory's journal, then one pass over the Workers concerned so
//! the command takes effect now).

use anyhow::{Context as _, bail};
use flaresync_reconcile::{
    Scope, SyncOptions, TriggerSource, rollout::Command as RolloutCmd, server::ADMIN_TOKEN_VAR,
};

use super::rollout_table::{Row, render};
use crate::{
    cli::{RolloutArgs, RolloutCommand},
    lock::lock_state,
    settings::{ApiSettings, RepoSettings},
    source::Opened,
};

pub async fn run(command: RolloutCommand) -> anyhow::Result<u8> {
    let (command, args) = match command {
        RolloutCommand::Status(args) => (None, args),
        RolloutCommand::Promote(args) => (Some(RolloutCmd::Promote), args),
        RolloutCommand::Abort(args) => (Some(RolloutCmd::Abort), args),
        RolloutCommand::Pause(args) => (Some(RolloutCmd::Pause), args),
        RolloutCommand::Resume(args) => (Some(RolloutCmd::Resume), args),
    };
    match (&args.server, command) {
        (Some(server), None) => remote_status(&args, server).await,
        (Some(server), Some(command)) => {
            remote_command(server, command, args.worker.as_deref()).await
        }
        (None, None) => local_status(&args),
        (None, Some(command)) => local_command(&args, command).await,
    }
}

fn local_status(args: &RolloutArgs) -> anyhow::Result<u8> {
    let repo = RepoSettings::resolve(&args.repo);
    let journal = repo.open_journal(None)?;
    let names = match &args.worker {
        Some(worker) => vec![worker.clone()],
        None => journal.workers()?,
    };
    let mut rows = Vec::new();
    for name in names {
        let entries = journal.history(&name)?;
        if let Some(record) =
            flaresync_reconcile::rollout::record::read(&entries, &|_| None, chrono::Utc::now())
        {
            rows.push(Row::from_record(&name, &record));
        }
    }
    println!("{}", render(&rows, args.format, "no rollouts recorded")?);
    Ok(0)
}

async fn local_command(args: &RolloutArgs, command: RolloutCmd) -> anyhow::Result<u8> {
    let repo = RepoSettings::resolve(&args.repo);
    let api = ApiSettings::resolve(&args.api);
    let _lock = lock_state(&repo.state_dir)?;
    let ctx = Opened::open(&repo)?.context(&api)?;
    let actor = std::env::var("USER").unwrap_or_else(|_| "the CLI".into());
    let affected = ctx.rollout_command(command, args.worker.as_deref(), &actor)?;
    if affected.is_empty() {
        eprintln!(
            "flaresync: no rollout in progress{}",
            args.worker
                .as_deref()
                .map(|w| format!(" for {w}"))
                .unwrap_or_default()
        );
        return Ok(2);
    }
    println!("{} recorded for {}", command.as_str(), affected.join(", "));
    let scope = Scope::Workers(affected.iter().cloned().collect());
    let options = SyncOptions {
        dry_run: false,
        trigger: TriggerSource::Cli,
    };
    let report = flaresync_reconcile::sync_scoped(&ctx, options, &scope)
        .await
        .context("reconcile pass failed")?;
    for worker in report
        .workers
        .iter()
        .filter(|w| affected.contains(&w.worker))
    {
        println!("{}", super::sync::worker_line(worker));
    }
    Ok(0)
}

async fn remote_status(args: &RolloutArgs, server: &str) -> anyhow::Result<u8> {
    let url = format!("{}/status", server.trim_end_matches('/'));
    let status: serde_json::Value = reqwest::get(&url)
        .await
        .with_context(|| format!("cannot reach {url}"))?
        .json()
        .await
        .with_context(|| {
            format!("{url} did not answer JSON: is {server} a flaresync status server?")
        })?;
    let workers = status["workers"].as_array().cloned().unwrap_or_default();
    let rows: Vec<Row> = workers
        .iter()
        .filter_map(|entry| {
            let name = entry["worker"].as_str().unwrap_or_default();
            if args.worker.as_deref().is_some_and(|w| w != name) {
                return None;
            }
            Row::from_status(name, &entry["rollout"])
        })
        .collect();
    println!("{}", render(&rows, args.format, "no rollouts")?);
    Ok(0)
}

async fn remote_command(
    server: &str,
    command: RolloutCmd,
    worker: Option<&str>,
) -> anyhow::Result<u8> {
    let Some(token) = std::env::var(ADMIN_TOKEN_VAR)
        .ok()
        .filter(|t| !t.is_empty())
    else {
        bail!(
            "{ADMIN_TOKEN_VAR} is not set: rollout commands to a running loop need its admin token"
        );
    };
    let mut url = format!(
        "{}/rollout/{}",
        server.trim_end_matches('/'),
        command.as_str()
    );
    if let Some(worker) = worker {
        url.push_str(&format!("?worker={worker}"));
    }
    let response = reqwest::Client::new()
        .post(&url)
        .bearer_auth(token)
        .send()
        .await
        .with_context(|| format!("cannot reach {server}"))?;
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    println!("{}", body.trim());
    Ok(if status == 202 { 0 } else { 2 })
}
