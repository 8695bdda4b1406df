//! `flaresync run`: the reconcile loop, with the status server (and the webhook listener).

use std::{sync::Arc, time::Duration};

use anyhow::Context as _;
use flaresync_reconcile::{
    server::{ADMIN_TOKEN_VAR, AdminToken, PageAccess, WebhookConfig},
    watcher::WatchConfig,
    webhook::WebhookSecret,
};

use crate::{
    cli::RunArgs,
    lock::lock_state,
    settings::{ApiSettings, RepoSettings},
    source::Opened,
};

/// The context tunables of `run` (also each fleet entry's).
pub fn context_options(args: &RunArgs) -> anyhow::Result<flaresync_reconcile::ContextOptions> {
    Ok(flaresync_reconcile::ContextOptions {
        full_refresh_every: (args.full_refresh_secs > 0)
            .then(|| Duration::from_secs(args.full_refresh_secs)),
        refresh_slice: args.refresh_slice,
        notify: crate::settings::notify(&args.notify)?,
        ..Default::default()
    })
}

/// The loop's triggers for `repo`: a poll (remote) or resync (local) tick, and a file
/// watcher on a local repository. No listeners yet.
pub fn loop_config(repo: &RepoSettings, args: &RunArgs) -> flaresync_reconcile::RunConfig {
    let watch = (!repo.remote).then(|| WatchConfig {
        root: std::path::PathBuf::from(&repo.location),
        // Short and adaptive: 50 ms of quiet ends a burst, capped at 500 ms (and the scheduler's
        // own 50 ms debounce, RunConfig's default): commit -> first write stays well under 250 ms.
        debounce: Duration::from_millis(50),
        ignore: vec![repo.state_dir.clone()],
    });
    flaresync_reconcile::RunConfig {
        poll_interval: Some(Duration::from_secs(if repo.remote {
            args.poll_interval_secs
        } else {
            args.resync_interval_secs
        })),
        watch,
        after_pass: Some(crate::memory::release_free),
        ..Default::default()
    }
}

pub async fn run(args: RunArgs) -> anyhow::Result<u8> {
    if let Some(fleet) = args.fleet.clone() {
        return crate::fleet::run(args, fleet).await;
    }
    let repo = RepoSettings::resolve(&args.repo);
    let api = ApiSettings::resolve(&args.api);
    let _lock = lock_state(&repo.state_dir)?;
    let options = context_options(&args)?;
    let ctx = Arc::new(Opened::open(&repo)?.context_with(&api, options)?);
    // A standby replica waits here until the holder stops renewing, answering /healthz and
    // /status meanwhile.
    let ttl = Duration::from_secs(args.lease.lease_ttl);
    let listener = bind(&args.status_listen).await?;
    let (listener, _lease) = crate::standby::take_lease_serving(listener, &ctx, &repo, ttl).await?;
    let listener_addr = listener.local_addr()?;
    let webhook = std::env::var("FLARESYNC_WEBHOOK_SECRET")
        .ok()
        .filter(|s| !s.is_empty())
        .map(|secret| WebhookConfig {
            secret: WebhookSecret::new(secret.into_bytes()),
            branch: ctx.branch().to_owned(),
        });
    let webhook_listener = match &args.webhook_listen {
        Some(_) if webhook.is_none() => anyhow::bail!(
            "--webhook-listen needs FLARESYNC_WEBHOOK_SECRET (the secret GitHub signs deliveries with)"
        ),
        Some(address) => Some(bind(address).await?),
        None => None,
    };
    let admin_token = std::env::var(ADMIN_TOKEN_VAR)
        .ok()
        .and_then(AdminToken::new);
    let page_access = PageAccess::parse(&args.status_page).with_context(|| {
        format!(
            "--status-page {} is not one of auto, public, token, off",
            args.status_page
        )
    })?;
    eprintln!(
        "flaresync: following {} branch {}; status on http://{}/status, status page on / ({}); POST /reconcile {}",
        repo.display(),
        ctx.branch(),
        listener_addr,
        page_rule(
            page_access.resolve(Some(listener_addr)),
            admin_token.is_some()
        ),
        if admin_token.is_some() {
            format!("needs the bearer token in {ADMIN_TOKEN_VAR}")
        } else {
            format!("disabled (set {ADMIN_TOKEN_VAR} to enable it)")
        }
    );
    for sink in ctx.status_board().snapshot().notifications {
        eprintln!("flaresync: notifications to {} {}", sink.sink, sink.target);
    }
    if let Some(webhook_listener) = &webhook_listener {
        eprintln!(
            "flaresync: webhook on http://{}/webhook",
            webhook_listener.local_addr()?
        );
    }
    let _progress = crate::progress::Display::start(ctx.progress(), ctx.client().clone());
    let config = flaresync_reconcile::RunConfig {
        status_listener: Some(listener),
        webhook,
        webhook_listener,
        admin_token,
        page_access,
        ..loop_config(&repo, &args)
    };
    flaresync_reconcile::run(ctx, config, flaresync_reconcile::shutdown_signal())
        .await
        .context("the reconcile loop stopped")?;
    Ok(0)
}

/// How the status page is served, in words for the startup line.
fn page_rule(access: PageAccess, has_token: bool) -> &'static str {
    match (access, has_token) {
        (PageAccess::Public, _) => "public",
        (PageAccess::Off, _) => "off",
        (_, true) => "the admin token as the password",
        (_, false) => "refused: needs FLARESYNC_ADMIN_TOKEN or --status-page public",
    }
}

pub async fn bind(address: &str) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address}"))
}
