//! Prints what an idle reconcile pass costs for N Workers in sync: API calls and wall time.
//!
//! `cargo bench -p flaresync-reconcile --bench idle_pass [-- <workers> <passes>]`
//!
//! Figures only, no assertions: the O(1) property itself is asserted by the integration tests.

use std::time::Instant;

use flaresync_cloudflare::{Client, ClientConfig, Secret};
use flaresync_emulator::testing::TestEmulator;
use flaresync_reconcile::{Context, SyncOptions, TriggerSource, sync_once};

mod support;
use support::git;

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with("--"));
    let workers: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(50);
    let passes: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async move {
        let emulator = TestEmulator::start().await.expect("emulator starts");
        let repo = tempfile::tempdir().expect("tempdir");
        git(repo.path(), &["init", "-q", "-b", "main"]);
        for index in 0..workers {
            let dir = repo.path().join(format!("workers/w{index}"));
            std::fs::create_dir_all(&dir).expect("mkdir");
            std::fs::write(
                dir.join("wrangler.toml"),
                format!("name = \"w{index}\"\nmain = \"index.js\"\ncompatibility_date = \"2026-01-01\"\n"),
            )
            .expect("write");
            std::fs::write(
                dir.join("index.js"),
                format!("export default {{ fetch() {{ return new Response(\"{index}\"); }} }};\n"),
            )
            .expect("write");
        }
        git(repo.path(), &["add", "-A"]);
        git(repo.path(), &["commit", "-q", "-m", "workers"]);
        let client = Client::new(ClientConfig::new(
            emulator.base_url(),
            emulator.account_id(),
            Secret::new(emulator.token()),
        ))
        .expect("client");
        let source = flaresync_git::GitSource::open_local(repo.path(), "main").expect("opens");
        let state = tempfile::tempdir().expect("tempdir");
        let ctx = Context::new(
            source,
            client,
            state.path().join("journal.sqlite"),
            flaresync_config::RepoConfig::default(),
        )
        .expect("context");
        let options = SyncOptions {
            dry_run: false,
            trigger: TriggerSource::Cli,
        };
        let started = Instant::now();
        let first = sync_once(&ctx, options).await.expect("first pass");
        println!(
            "first pass: {workers} workers deployed, {} api requests, {:.3}s",
            first.api_requests,
            started.elapsed().as_secs_f64()
        );
        let settle = sync_once(&ctx, options).await.expect("settling pass");
        println!("settling pass: {} api requests", settle.api_requests);
        let throttled_before = ctx.client().metrics().throttled_wait_seconds_total;
        let started = Instant::now();
        let mut requests = 0;
        for _ in 0..passes {
            requests += sync_once(&ctx, options).await.expect("idle pass").api_requests;
        }
        let elapsed = started.elapsed().as_secs_f64();
        let throttled = ctx.client().metrics().throttled_wait_seconds_total - throttled_before;
        println!(
            "idle passes: {passes} x {workers} workers in sync: {:.2} api requests/pass, \
             {:.2} ms/pass, of which {:.2} ms/pass waiting for the request budget",
            requests as f64 / passes as f64,
            elapsed * 1000.0 / passes as f64,
            throttled * 1000.0 / passes as f64
        );
    });
}
