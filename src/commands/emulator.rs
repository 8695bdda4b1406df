//! `flaresync emulator`: serve the Cloudflare control-plane emulator.

use std::time::Duration;

use anyhow::Context as _;

use crate::{
    cli::EmulatorArgs,
    settings::{DEFAULT_EMULATOR_ACCOUNT, DEFAULT_EMULATOR_TOKEN, env_token},
};

pub async fn run(args: EmulatorArgs) -> anyhow::Result<u8> {
    let mut tokens = args.tokens.clone();
    // Which token to name in the banner: only the built-in default is printed (a token from
    // the command line or the environment may be a real one and is never echoed).
    let mut shown_token = "<one of the --token values>";
    if tokens.is_empty() {
        match env_token() {
            Some(token) => {
                tokens.push(token);
                shown_token = "<your CLOUDFLARE_API_TOKEN>";
            }
            None => {
                tokens.push(DEFAULT_EMULATOR_TOKEN.to_owned());
                shown_token = DEFAULT_EMULATOR_TOKEN;
            }
        }
    }
    let account_id = args
        .account_id
        .clone()
        .or_else(|| {
            std::env::var("CLOUDFLARE_ACCOUNT_ID")
                .ok()
                .filter(|a| !a.is_empty())
        })
        .unwrap_or_else(|| DEFAULT_EMULATOR_ACCOUNT.to_owned());
    let mut config = flaresync_emulator::EmulatorConfig::new(account_id.clone(), tokens);
    config.state_dir = args.state.clone();
    config.version_window = args.version_window;
    config.zones = args.zones.clone();
    config.rate_limit = flaresync_emulator::RateLimit {
        requests: args.rate_limit,
        window: Duration::from_secs(args.rate_limit_window_secs),
    };
    if let Some(dir) = &args.state {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the state directory {}", dir.display()))?;
    }
    let emulator =
        flaresync_emulator::Emulator::open(config).context("cannot open the emulator")?;
    let listener = tokio::net::TcpListener::bind(args.listen.as_str())
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    eprintln!("flaresync emulator listening on http://{addr}/client/v4 (account {account_id})");
    eprintln!(
        "point wrangler or flaresync at it:\n  export CLOUDFLARE_API_BASE_URL=http://{addr}/client/v4 CLOUDFLARE_ACCOUNT_ID={account_id} CLOUDFLARE_API_TOKEN={shown_token}"
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        flaresync_reconcile::shutdown_signal().await;
        let _ = stop.send(true);
    });
    let data_plane = match &args.data_listen {
        Some(address) => {
            start_data_plane(&emulator, address, args.state.as_deref(), &stopped).await?
        }
        None => None,
    };
    emulator
        .serve(listener, until_stopped(stopped))
        .await
        .context("emulator stopped with an error")?;
    if let Some(task) = data_plane {
        let _ = task.await;
    }
    Ok(0)
}

/// Resolves once the shutdown signal was seen.
async fn until_stopped(mut stopped: tokio::sync::watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}

/// Starts the data plane on `address` when workerd is installed; otherwise says once that it
/// is off and how to turn it on, and the control plane runs alone.
async fn start_data_plane(
    emulator: &flaresync_emulator::Emulator,
    address: &str,
    state: Option<&std::path::Path>,
    stopped: &tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    use flaresync_emulator::dataplane::{DataPlaneOptions, locate};
    let repo_cache = std::path::Path::new(".cache");
    let Some(workerd) = locate::workerd_binary(Some(repo_cache)) else {
        eprintln!("{}", locate::data_plane_off_message(repo_cache));
        return Ok(None);
    };
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address} for the data plane"))?;
    let addr = listener.local_addr()?;
    let work_dir = match state {
        Some(dir) => dir.join("dataplane"),
        None => std::env::temp_dir().join(format!("flaresync-dataplane-{}", std::process::id())),
    };
    let subdomain = &emulator.config().subdomain;
    eprintln!("data plane (workerd) on http://{addr}: send Host: <script>.{subdomain}.workers.dev");
    let options = DataPlaneOptions { workerd, work_dir };
    let emulator = emulator.clone();
    let stopped = until_stopped(stopped.clone());
    Ok(Some(tokio::spawn(async move {
        if let Err(error) = emulator.serve_data_plane(listener, options, stopped).await {
            eprintln!("flaresync emulator: the data plane stopped: {error}");
        }
    })))
}
