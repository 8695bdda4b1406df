//! One fleet entry's reconcile loop, run while this replica holds the entry's lease: the
//! single-repository `run` loop ([`flaresync_reconcile::run`]) with the entry's own account
//! and token, its writes fenced by the lease, stopped when the lease is lost or given up.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, anyhow};
use flaresync_cloudflare::Secret;
use flaresync_journal::Lease;
use flaresync_reconcile::status::StatusBoard;

use super::file::{FleetEntry, TokenSource};
use crate::cli::RunArgs;
use crate::settings::{ApiSettings, RepoSettings};

/// An entry with the settings its loop runs with.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub entry: FleetEntry,
    pub repo: RepoSettings,
    /// The lease's repository name (shared with `sync` of the same repository).
    pub lease_name: String,
    /// `fleet.toml:<line>`, for messages.
    pub origin: String,
}

impl Resolved {
    /// `entry` of the fleet file `file`, its state under `state_root` when given.
    pub fn new(
        entry: FleetEntry,
        file: &std::path::Path,
        args: &RunArgs,
        state_root: Option<&PathBuf>,
    ) -> Self {
        let mut repo_args = args.repo.clone();
        repo_args.repo = entry.repo.clone();
        repo_args.branch = entry.branch.clone();
        repo_args.state_dir = state_root.map(|root| root.join(&entry.name));
        let repo = RepoSettings::resolve(&repo_args);
        let lease_name = repo.lease_name();
        let origin = format!("{}:{}", file.display(), entry.line);
        Resolved {
            entry,
            repo,
            lease_name,
            origin,
        }
    }

    /// The entry's API token, from its variable or file.
    fn token(&self) -> anyhow::Result<Secret> {
        let token = match &self.entry.token {
            TokenSource::Env(var) => std::env::var(var).map_err(|_| {
                anyhow!(
                    "entry {} ({}): the environment variable {var} (token_env) is not set",
                    self.entry.name,
                    self.origin
                )
            })?,
            TokenSource::File(path) => std::fs::read_to_string(path).with_context(|| {
                format!(
                    "entry {} ({}): cannot read token_file {}",
                    self.entry.name,
                    self.origin,
                    path.display()
                )
            })?,
        };
        let token = token.trim().to_owned();
        if token.is_empty() {
            anyhow::bail!(
                "entry {} ({}): its token is empty",
                self.entry.name,
                self.origin
            );
        }
        Ok(Secret::new(token))
    }
}

/// Runs the entry's loop until `stop` says so. `board` receives its status board once the
/// repository is open.
pub async fn serve(
    resolved: Resolved,
    args: Arc<RunArgs>,
    lease: Arc<Lease>,
    board: Arc<std::sync::Mutex<Option<Arc<StatusBoard>>>>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let name = resolved.entry.name.clone();
    let api = ApiSettings::for_entry(
        &ApiSettings::resolve(&args.api),
        &resolved.entry.account_id,
        resolved.token()?,
    );
    let repo = resolved.repo.clone();
    let _lock = crate::lock::lock_state(&repo.state_dir)?;
    let options = crate::commands::run::context_options(&args)?;
    let opened_repo = repo.clone();
    let ctx = tokio::task::spawn_blocking(move || {
        crate::source::Opened::open(&opened_repo)?.context_with(&api, options)
    })
    .await
    .context("opening the repository stopped")?
    .with_context(|| format!("entry {name} ({})", resolved.origin))?;
    // The fencing checks of this loop's writes go over its own journal connection (the
    // coordinator's renews every lease of the replica and must not queue behind them): the
    // same holder and pair, so acquiring renews the lease the coordinator took.
    let own = ctx.journal().lease(
        &resolved.lease_name,
        &resolved.entry.account_id,
        lease.holder(),
        lease.ttl(),
    )?;
    let own = Arc::new(own);
    let check = own.clone();
    match tokio::task::spawn_blocking(move || check.acquire()).await?? {
        flaresync_journal::Acquired::Held { .. } => {}
        flaresync_journal::Acquired::Busy { holder, .. } => {
            anyhow::bail!("entry {name}: the lease went to {holder} before the loop started")
        }
    }
    ctx.client().set_write_guard(crate::lease::fence(own));
    *board
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(ctx.status_board());
    let mut config = crate::commands::run::loop_config(&repo, &args);
    // One process, many loops: SIGHUP and the status server are the fleet's, not an entry's.
    config.reconcile_on_sighup = false;
    let stopped = async move {
        let _ = stop.wait_for(|stopped| *stopped).await;
    };
    flaresync_reconcile::run(Arc::new(ctx), config, stopped)
        .await
        .with_context(|| format!("entry {name}: the reconcile loop stopped"))
}
