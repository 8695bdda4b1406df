//! A first deploy under an API storm: every new Worker's first script upload fails once (a 5xx
//! or a dropped connection, before Cloudflare created the script), and on top 15% of all
//! requests get a 429 and 15% a 503. One pass must apply every Worker, with one version each.

use std::time::Duration;

use flaresync_cloudflare::{Client, ClientConfig, RetryPolicy, Secret};
use flaresync_emulator::{FaultSpec, testing::TestEmulator};
use flaresync_reconcile::{SyncOptions, TriggerSource, WorkerOutcome, sync_once};
use serde_json::json;

use crate::support::{Repo, context_with_client, journal_path};

const WORKERS: usize = 20;

/// The default retry policy (attempts, shared retry quota) paced for a test, and no client-side
/// budget wait (the storm's 429s carry no wait either), so the pass takes seconds. The counted
/// part of the storm fails each first upload once; the random part, 0.3^10 per request.
fn storm_client(emulator: &TestEmulator) -> Client {
    let mut config = ClientConfig::new(
        emulator.base_url(),
        emulator.account_id(),
        Secret::new(emulator.token()),
    );
    config.retry = RetryPolicy {
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        ..RetryPolicy::default()
    };
    config.budget.limit = 100_000;
    config.budget.burst = 10_000;
    Client::new(config).expect("client config is valid")
}

/// A fault rule from its JSON form (the shape `POST /__emulator/faults` takes).
fn fault(spec: serde_json::Value) -> FaultSpec {
    serde_json::from_value(spec).expect("fault spec is valid")
}

/// Worker `i`'s first PUT fails before the script exists: a 503 for even `i`, a dropped
/// connection for odd `i` (counted rules, so this part is deterministic).
fn first_upload_fault(i: usize) -> FaultSpec {
    let path_regex = format!("/workers/scripts/w{i:02}$");
    fault(if i.is_multiple_of(2) {
        json!({"method": "PUT", "path_regex": path_regex, "kind": "status", "status": 503, "count": 1})
    } else {
        json!({"method": "PUT", "path_regex": path_regex, "kind": "drop", "count": 1})
    })
}

/// 15% 429 and 15% 503 on every request. The emulator rolls once per request and takes the
/// first rule whose probability exceeds the roll, so the 503 rule covers the band 0.15..0.30.
fn storm() -> [FaultSpec; 2] {
    [
        fault(json!({"kind": "rate_limit", "probability": 0.15, "retry_after": 0})),
        fault(json!({"kind": "status", "status": 503, "probability": 0.30})),
    ]
}

#[tokio::test]
async fn a_first_deploy_of_twenty_workers_converges_in_one_pass_under_a_storm() {
    let emulator = TestEmulator::start().await.expect("emulator starts");
    let mut repo = Repo::new();
    for i in 0..WORKERS {
        repo.worker(&format!("w{i:02}"), &format!("w{i:02}-1"));
    }
    let commit = repo.commit("twenty workers");
    for spec in (0..WORKERS).map(first_upload_fault).chain(storm()) {
        emulator.add_fault(spec).expect("fault is valid");
    }
    let state = tempfile::tempdir().expect("tempdir");
    let ctx = context_with_client(&repo, storm_client(&emulator), &journal_path(&state));
    let report = sync_once(
        &ctx,
        SyncOptions {
            dry_run: false,
            trigger: TriggerSource::Poll,
        },
    )
    .await
    .expect("the pass completes");
    emulator.clear_faults();

    assert_eq!(report.workers.len(), WORKERS);
    for worker in &report.workers {
        assert!(
            matches!(worker.outcome, WorkerOutcome::Applied { .. }),
            "one pass applies every Worker: {worker:?}"
        );
    }
    let requests = emulator.requests();
    let faulted = requests.iter().filter(|r| r.fault.is_some()).count();
    println!("storm: {faulted} of {} requests faulted", requests.len());
    assert!(
        faulted >= WORKERS,
        "the storm hit: {faulted} faulted requests"
    );
    for i in 0..WORKERS {
        let versions = ctx
            .client()
            .list_versions(&format!("w{i:02}"))
            .await
            .expect("lists");
        assert_eq!(versions.len(), 1, "w{i:02}: no duplicate version");
        assert_eq!(versions[0].tag(), Some(commit.as_str()));
    }
}
