//! The client against flaresync-emulator over real HTTP: the typed calls end to end, and the
//! resilience guarantees under the emulator's injected faults.

use std::sync::Arc;
use std::time::{Duration, Instant};

use flaresync_cloudflare::{
    BudgetConfig, Client, ClientConfig, DeploymentVersion, Error, NewDeployment,
    ScriptSettingsPatch,
};
use flaresync_config::{BindingKind, Module};
use flaresync_emulator::testing::{TestEmulator, test_config};
use flaresync_emulator::{FaultKind, FaultSpec, RateLimit};
use serde_json::json;

pub(crate) const WORKER: &str = "flaresync-demo";
pub(crate) const COMMIT_1: &str = "3f2c1a9e5b7d0c4f6a8e2b1d9c3f5a7e0b2d4c6f";
const COMMIT_2: &str = "9b1e4c2d7a3f6e8b0c5d1a2f4e6b8c0d2a4f6e8b";
const COMMIT_3: &str = "0c5d1a2f4e6b8c0d2a4f6e8b9b1e4c2d7a3f6e8b";

pub(crate) async fn emulator() -> TestEmulator {
    TestEmulator::start().await.expect("emulator starts")
}

fn config(emulator: &TestEmulator) -> ClientConfig {
    let (url, account, token) = (emulator.base_url(), emulator.account_id(), emulator.token());
    crate::setup::fast_config(url, account, token, 4, Duration::from_secs(5))
}

pub(crate) fn client(emulator: &TestEmulator) -> Client {
    Client::new(config(emulator)).expect("valid config")
}

pub(crate) fn modules(greeting: &str) -> Vec<Module> {
    let code = format!("export default {{ fetch() {{ return new Response('{greeting}') }} }}");
    vec![crate::setup::module(
        "index.js",
        "application/javascript+module",
        code,
    )]
}

pub(crate) fn metadata(commit: &str, kv_id: Option<&str>) -> serde_json::Value {
    let mut bindings = vec![json!({"type": "plain_text", "name": "APP_ENV", "text": "production"})];
    if let Some(kv_id) = kv_id {
        bindings.push(json!({"type": "kv_namespace", "name": "CACHE", "namespace_id": kv_id}));
    }
    json!({
        "main_module": "index.js",
        "compatibility_date": "2026-11-01",
        "bindings": bindings,
        "keep_bindings": ["secret_text", "secret_key"],
        "annotations": {"workers/tag": commit, "workers/message": format!("deploy {}", &commit[..7])}
    })
}

/// An emulator with [`WORKER`] uploaded once ([`COMMIT_1`]), and a client of it.
async fn with_worker() -> (TestEmulator, Client) {
    let emulator = emulator().await;
    let client = client(&emulator);
    client
        .upload_script(WORKER, &metadata(COMMIT_1, None), &modules("one"))
        .await
        .expect("worker created");
    (emulator, client)
}

/// The next `GET /workers/scripts` is answered 429 with `Retry-After: seconds`.
fn rate_limit_script_list(emulator: &TestEmulator, seconds: u64) {
    let mut fault = spec("GET", "/workers/scripts$", FaultKind::RateLimit, 1);
    fault.retry_after = Some(seconds);
    emulator.add_fault(fault).expect("fault accepted");
}

/// An emulator whose account allows `requests` per `window`.
async fn limited_emulator(requests: u32, window: Duration) -> TestEmulator {
    let mut config = test_config();
    config.rate_limit = RateLimit { requests, window };
    TestEmulator::start_with(config)
        .await
        .expect("emulator starts")
}

fn spec(method: &str, path_regex: &str, kind: FaultKind, count: u32) -> FaultSpec {
    FaultSpec::matching(method, path_regex, kind, count)
}

pub(crate) fn count(emulator: &TestEmulator, method: &str, path_suffix: &str) -> usize {
    emulator
        .requests()
        .iter()
        .filter(|r| r.method == method && r.path.ends_with(path_suffix))
        .count()
}

/// First deploy with a DO migration, a version upload, a deployment, and every read the
/// reconciler makes.
#[tokio::test]
async fn reconciler_calls_work_end_to_end() {
    let emulator = emulator().await;
    let client = client(&emulator);
    let kv_id = emulator
        .create_kv_namespace("flaresync-demo-CACHE")
        .expect("kv created");

    assert_eq!(
        client.service_metadata(WORKER).await.expect("services"),
        None,
        "no worker yet"
    );

    let mut first = metadata(COMMIT_1, Some(&kv_id));
    first["bindings"]
        .as_array_mut()
        .expect("array")
        .push(json!({"type": "durable_object_namespace", "name": "ROOMS", "class_name": "Room"}));
    first["migrations"] = json!({"new_tag": "v1", "steps": [{"new_sqlite_classes": ["Room"]}]});
    let mut first_modules = modules("one");
    first_modules[0].content = Arc::from(
        b"export class Room {} export default { fetch() { return new Response('one') } }"
            .as_slice(),
    );
    let upload = client
        .upload_script(WORKER, &first, &first_modules)
        .await
        .expect("first upload creates the worker");
    let first_version = upload.version_id().expect("version id");

    let scripts = client.list_scripts().await.expect("scripts");
    let script = scripts
        .iter()
        .find(|s| s.id == WORKER)
        .expect("worker listed");
    assert_eq!(script.migration_tag.as_deref(), Some("v1"));
    let service = client
        .service_metadata(WORKER)
        .await
        .expect("services")
        .expect("worker exists");
    assert_eq!(service.migration_tag(), Some("v1"));

    let mut second = metadata(COMMIT_2, Some(&kv_id));
    second["bindings"]
        .as_array_mut()
        .expect("array")
        .push(json!({"type": "durable_object_namespace", "name": "ROOMS", "class_name": "Room"}));
    let version = client
        .upload_version(WORKER, &second, &first_modules)
        .await
        .expect("version upload");
    assert_eq!(version.tag(), Some(COMMIT_2));
    assert_eq!(version.message(), Some("deploy 9b1e4c2"));
    assert_eq!(version.migration_tag(), Some("v1"));

    let versions = client.list_versions(WORKER).await.expect("versions");
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0].id, version.id, "newest first");
    assert_eq!(versions[1].id, first_version);
    assert_eq!(versions[1].tag(), Some(COMMIT_1));
    let deployable = client
        .list_deployable_versions(WORKER)
        .await
        .expect("deployable");
    assert_eq!(deployable.len(), 2);

    let fetched = client
        .get_version(WORKER, &version.id)
        .await
        .expect("get version");
    assert_eq!(fetched.triggered_by(), Some("upload"));
    assert!(fetched.bindings().iter().any(|b| b.name == "CACHE"
        && b.kind
            == BindingKind::KvNamespace {
                namespace_id: kv_id.clone()
            }));
    assert_eq!(fetched.migration_tag(), Some("v1"));

    let deployment = client
        .create_deployment(
            WORKER,
            &NewDeployment::single(version.id.clone(), Some("deploy 9b1e4c2".into())),
            false,
        )
        .await
        .expect("deploy");
    assert_eq!(deployment.versions[0].version_id, version.id);
    let deployments = client.list_deployments(WORKER).await.expect("deployments");
    assert_eq!(deployments[0].id, deployment.id, "newest first");
    assert!(deployments.len() >= 2);
    assert_eq!(
        client
            .active_deployment(WORKER)
            .await
            .expect("active")
            .map(|d| d.id),
        Some(deployment.id.clone())
    );

    // Gradual split, then back.
    let split = NewDeployment::split(
        vec![
            DeploymentVersion {
                version_id: first_version.clone(),
                percentage: 10.0,
            },
            DeploymentVersion {
                version_id: version.id.clone(),
                percentage: 90.0,
            },
        ],
        None,
    );
    let split_deployment = client
        .create_deployment(WORKER, &split, false)
        .await
        .expect("split deploy");
    assert!(split.is_served_by(&split_deployment));

    assert!(
        client
            .list_secrets(WORKER)
            .await
            .expect("secrets")
            .is_empty()
    );
    let settings = client
        .patch_script_settings(
            WORKER,
            &ScriptSettingsPatch {
                logpush: Some(true),
                ..ScriptSettingsPatch::default()
            },
        )
        .await
        .expect("settings patch");
    assert_eq!(settings.logpush, Some(true));

    let namespaces = client.list_kv_namespaces().await.expect("kv");
    assert!(namespaces.iter().any(|n| n.id == kv_id));
    let metrics = client.metrics();
    assert_eq!(metrics.retries_total, 0);
    // Nine reads, each a single page; the services lookup of the missing worker was the 4xx.
    assert_eq!(metrics.requests("GET", "2xx"), 9);
    assert_eq!(metrics.requests("GET", "4xx"), 1);
    assert_eq!(metrics.requests("POST", "2xx"), 3);
    assert_eq!(metrics.requests("PUT", "2xx"), 1);
    assert_eq!(metrics.requests("PATCH", "2xx"), 1);
}

#[tokio::test]
async fn resource_lists_cover_every_page_and_jurisdiction() {
    let emulator = emulator().await;
    let client = client(&emulator);
    for i in 0..130 {
        emulator
            .create_kv_namespace(&format!("ns-{i:03}"))
            .expect("kv created");
    }
    emulator
        .create_r2_bucket("assets", None)
        .expect("r2 created");
    emulator
        .create_r2_bucket("eu-assets", Some("eu"))
        .expect("r2 created");
    let db = emulator.create_d1_database("main-db").expect("d1 created");
    emulator.create_queue("jobs").expect("queue created");

    let namespaces = client.list_kv_namespaces().await.expect("kv");
    assert_eq!(namespaces.len(), 130);
    assert!(
        count(&emulator, "GET", "/storage/kv/namespaces") >= 2,
        "paged"
    );

    let default_buckets = client.list_r2_buckets(None).await.expect("r2");
    assert_eq!(
        default_buckets
            .iter()
            .map(|b| b.name.as_str())
            .collect::<Vec<_>>(),
        ["assets"]
    );
    let eu_buckets = client.list_r2_buckets(Some("eu")).await.expect("r2 eu");
    assert_eq!(
        eu_buckets
            .iter()
            .map(|b| b.name.as_str())
            .collect::<Vec<_>>(),
        ["eu-assets"]
    );

    let databases = client.list_d1_databases().await.expect("d1");
    assert!(
        databases
            .iter()
            .any(|d| d.uuid == db && d.name == "main-db")
    );
    let queues = client.list_queues().await.expect("queues");
    assert!(queues.iter().any(|q| q.queue_name == "jobs"));
}

#[tokio::test]
async fn missing_worker_errors_carry_code_path_and_hint() {
    let emulator = emulator().await;
    let client = client(&emulator);
    let error = client
        .upload_version("ghost", &metadata(COMMIT_1, None), &modules("x"))
        .await
        .expect_err("worker does not exist");
    assert!(error.has_code(10007), "{error:?}");
    assert!(error.is_not_found());
    let text = error.to_string();
    assert!(text.contains("/workers/scripts/ghost/versions"), "{text}");
    assert!(
        text.contains("hint: the worker does not exist yet"),
        "{text}"
    );
    assert!(!text.contains(emulator.token()));
}

#[tokio::test]
async fn version_upload_after_fail_after_commit_creates_exactly_one_version() {
    let (emulator, client) = with_worker().await;
    emulator.fault("POST", "/versions$", FaultKind::FailAfterCommit, 1);
    let version = client
        .upload_version(WORKER, &metadata(COMMIT_2, None), &modules("two"))
        .await
        .expect("the committed version is returned");
    assert_eq!(version.tag(), Some(COMMIT_2));
    let versions = client.list_versions(WORKER).await.expect("versions");
    assert_eq!(
        versions.len(),
        2,
        "one from the PUT, exactly one from the POST"
    );
    assert_eq!(
        versions
            .iter()
            .filter(|v| v.tag() == Some(COMMIT_2))
            .count(),
        1
    );
    assert_eq!(count(&emulator, "POST", "/versions"), 1, "never re-sent");
    assert_eq!(client.metrics().recovered_total, 1);
}

#[tokio::test]
async fn script_upload_after_fail_after_commit_is_not_repeated() {
    let emulator = emulator().await;
    let client = client(&emulator);
    emulator.fault(
        "PUT",
        &format!("/workers/scripts/{WORKER}$"),
        FaultKind::FailAfterCommit,
        1,
    );
    let upload = client
        .upload_script(WORKER, &metadata(COMMIT_1, None), &modules("one"))
        .await
        .expect("the committed upload is returned");
    let versions = client.list_versions(WORKER).await.expect("versions");
    assert_eq!(versions.len(), 1);
    assert_eq!(
        upload.version_id().as_deref(),
        Some(versions[0].id.as_str())
    );
    assert_eq!(count(&emulator, "PUT", &format!("/scripts/{WORKER}")), 1);
}

#[tokio::test]
async fn dropped_connection_before_commit_is_retried_and_lands_once() {
    let (emulator, client) = with_worker().await;
    emulator.fault("POST", "/versions$", FaultKind::Drop, 1);
    let version = client
        .upload_version(WORKER, &metadata(COMMIT_2, None), &modules("two"))
        .await
        .expect("retried upload succeeds");
    let versions = client.list_versions(WORKER).await.expect("versions");
    assert_eq!(versions.len(), 2, "nothing lost, nothing duplicated");
    assert_eq!(versions[0].id, version.id);
    let metrics = client.metrics();
    assert_eq!(metrics.requests("POST", "transport"), 1);
    assert_eq!(metrics.retries_total, 1);
    assert_eq!(metrics.recovered_total, 0);
}

#[tokio::test]
async fn server_errors_on_upload_are_verified_then_retried() {
    let (emulator, client) = with_worker().await;
    emulator.fault("POST", "/versions$", FaultKind::Status, 2);
    client
        .upload_version(WORKER, &metadata(COMMIT_2, None), &modules("two"))
        .await
        .expect("third attempt succeeds");
    let versions = client.list_versions(WORKER).await.expect("versions");
    assert_eq!(versions.len(), 2);
    let requests = emulator.requests();
    let posts: Vec<_> = requests
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/versions"))
        .collect();
    assert_eq!(posts.len(), 3);
    assert_eq!(posts.iter().filter(|r| r.status == 500).count(), 2);
}

#[tokio::test]
async fn deployment_after_fail_after_commit_is_not_created_twice() {
    let (emulator, client) = with_worker().await;
    let version = client
        .upload_version(WORKER, &metadata(COMMIT_2, None), &modules("two"))
        .await
        .expect("version");
    let before = client.list_deployments(WORKER).await.expect("list").len();
    emulator.fault("POST", "/deployments$", FaultKind::FailAfterCommit, 1);
    let deployment = client
        .create_deployment(
            WORKER,
            &NewDeployment::single(version.id.clone(), None),
            false,
        )
        .await
        .expect("the committed deployment is returned");
    assert_eq!(deployment.versions[0].version_id, version.id);
    let after = client.list_deployments(WORKER).await.expect("list");
    assert_eq!(after.len(), before + 1, "exactly one new deployment");
    assert_eq!(after[0].id, deployment.id);
    assert_eq!(count(&emulator, "POST", "/deployments"), 1);
}

#[tokio::test]
async fn rate_limit_retry_after_is_honoured() {
    let emulator = emulator().await;
    let client = client(&emulator);
    rate_limit_script_list(&emulator, 1);
    let started = Instant::now();
    client
        .list_scripts()
        .await
        .expect("second attempt succeeds");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited out Retry-After, not {:?}",
        started.elapsed()
    );
    let metrics = client.metrics();
    assert_eq!(metrics.rate_limited_total, 1);
    assert_eq!(count(&emulator, "GET", "/workers/scripts"), 2);
}

#[tokio::test]
async fn rate_limit_beyond_the_configured_maximum_gives_up() {
    let emulator = emulator().await;
    let client = client(&emulator);
    rate_limit_script_list(&emulator, 300);
    let error = client.list_scripts().await.expect_err("too long a wait");
    assert!(matches!(error, Error::RateLimited { .. }), "{error:?}");
    assert_eq!(error.retry_after(), Some(Duration::from_secs(300)));
    assert_eq!(count(&emulator, "GET", "/workers/scripts"), 1);
}

/// The emulator enforces a (shrunk) account limit; a budget sized to it never trips it, where
/// the same burst without a budget would.
#[tokio::test]
async fn budget_keeps_the_client_under_the_account_limit() {
    let emulator = limited_emulator(4, Duration::from_secs(2)).await;
    let mut config = config(&emulator);
    config.budget = BudgetConfig {
        limit: 4,
        window: Duration::from_secs(2),
        burst: 2,
        server_reserve: 0,
        rollback_reserve: 0,
        sized_for: None,
    };
    let client = Client::new(config).expect("valid config");
    let clone = client.clone();
    let started = Instant::now();
    for i in 0..6 {
        let which = if i % 2 == 0 { &client } else { &clone };
        which.list_scripts().await.expect("within budget");
    }
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "4 requests beyond the burst at 1/s, took {:?}",
        started.elapsed()
    );
    assert!(
        emulator.requests().iter().all(|r| r.status != 429),
        "the account limit was never hit"
    );
    let metrics = client.metrics();
    assert_eq!(metrics.rate_limited_total, 0);
    assert!(metrics.throttled_wait_seconds_total >= 3.0);
}

#[tokio::test]
async fn changed_secrets_block_a_rollback_until_forced() {
    let emulator = emulator().await;
    let client = client(&emulator);
    let upload = client
        .upload_script(WORKER, &metadata(COMMIT_1, None), &modules("one"))
        .await
        .expect("worker created");
    let old_version = upload.version_id().expect("version id");
    // A secret put creates and deploys a new version.
    let response = reqwest::Client::new()
        .put(format!(
            "{}/accounts/{}/workers/scripts/{WORKER}/secrets",
            emulator.base_url(),
            emulator.account_id()
        ))
        .bearer_auth(emulator.token())
        .json(&json!({"name": "API_TOKEN", "text": "s3cr3t", "type": "secret_text"}))
        .send()
        .await
        .expect("secret put");
    assert!(response.status().is_success());
    let secrets = client.list_secrets(WORKER).await.expect("secrets");
    assert_eq!(secrets.len(), 1);
    assert_eq!(secrets[0].name, "API_TOKEN");
    client
        .upload_version(WORKER, &metadata(COMMIT_3, None), &modules("three"))
        .await
        .expect("version");

    let rollback = NewDeployment::single(old_version.clone(), Some("rollback".into()));
    let error = client
        .create_deployment(WORKER, &rollback, false)
        .await
        .expect_err("secrets changed");
    assert!(error.has_code(10220), "{error:?}");
    assert!(
        error
            .to_string()
            .contains("create the deployment again with force")
    );
    let deployment = client
        .create_deployment(WORKER, &rollback, true)
        .await
        .expect("forced rollback");
    assert_eq!(deployment.versions[0].version_id, old_version);
}

#[tokio::test]
async fn untagged_upload_with_unknown_outcome_is_not_repeated() {
    let (emulator, client) = with_worker().await;
    emulator.fault("POST", "/versions$", FaultKind::FailAfterCommit, 1);
    let mut untagged = metadata(COMMIT_2, None);
    untagged["annotations"] = json!({"workers/message": "no tag"});
    let error = client
        .upload_version(WORKER, &untagged, &modules("two"))
        .await
        .expect_err("outcome unknown");
    assert!(matches!(error, Error::OutcomeUnknown { .. }), "{error:?}");
    assert!(
        !error.is_transient(),
        "needs a look at live state, not a blind retry"
    );
    assert_eq!(error.reason(), "ApiOutcomeUnknown");
    assert_eq!(count(&emulator, "POST", "/versions"), 1, "not re-sent");
}

#[tokio::test]
async fn persistent_server_errors_exhaust_retries_with_the_last_answer() {
    let emulator = emulator().await;
    let client = client(&emulator);
    emulator.fault("GET", "/workers/scripts$", FaultKind::Status, 10);
    let error = client.list_scripts().await.expect_err("always 500");
    match &error {
        Error::RetriesExhausted { attempts, .. } => assert_eq!(*attempts, 4),
        other => panic!("expected RetriesExhausted, got {other:?}"),
    }
    assert_eq!(error.api().map(|api| api.status), Some(500));
    assert!(error.is_transient());
    let metrics = client.metrics();
    assert_eq!(metrics.retries_total, 3);
    assert_eq!(metrics.requests("GET", "5xx"), 4);
}

/// An outage (every request fails) drains the shared retry quota: the first call retries until
/// half of it is gone, later calls give up after one attempt, and a success reopens retries.
#[tokio::test]
async fn an_outage_pauses_retries_across_calls_until_requests_succeed() {
    let emulator = emulator().await;
    let mut config = config(&emulator);
    config.retry.max_attempts = 10;
    config.retry.quota = 8;
    let client = Client::new(config).expect("valid config");
    emulator.fault("GET", "/workers/scripts$", FaultKind::Status, 100);
    let first = client.list_scripts().await.expect_err("outage");
    // 8 tokens, retries while more than 4 are left: attempts at 8, 7, 6, 5 tokens retry.
    assert!(
        matches!(first, Error::RetriesPaused { attempts: 4, .. }),
        "{first:?}"
    );
    assert!(first.is_transient(), "the next pass tries again");
    assert!(first.to_string().contains("retries are paused"), "{first}");
    let second = client.list_scripts().await.expect_err("outage");
    assert!(
        matches!(second, Error::RetriesPaused { attempts: 1, .. }),
        "{second:?}"
    );
    assert_eq!(count(&emulator, "GET", "/workers/scripts"), 5);
    emulator.clear_faults();
    // 3 tokens left; three successes bring it to 6, so the next failure (5 left) is retried.
    for _ in 0..3 {
        client.list_scripts().await.expect("Cloudflare is back");
    }
    emulator.fault("GET", "/workers/scripts$", FaultKind::Status, 1);
    client
        .list_scripts()
        .await
        .expect("retries are open again after successes");
}

#[tokio::test]
async fn timed_out_reads_are_retried() {
    let emulator = emulator().await;
    let mut config = config(&emulator);
    // Generous enough that a loaded CI machine never times out the healthy retry.
    config.timeouts.request = Duration::from_millis(1000);
    let client = Client::new(config).expect("valid config");
    let mut slow = spec("GET", "/workers/scripts$", FaultKind::Latency, 1);
    slow.latency_ms = Some(3000);
    emulator.add_fault(slow).expect("fault accepted");
    client
        .list_scripts()
        .await
        .expect("second attempt succeeds");
    let metrics = client.metrics();
    assert_eq!(metrics.requests("GET", "transport"), 1);
    assert_eq!(metrics.requests("GET", "2xx"), 1);
    assert_eq!(metrics.retries_total, 1);
}

#[tokio::test]
async fn a_429_holds_back_every_clone() {
    let emulator = emulator().await;
    let client = client(&emulator);
    let clone = client.clone();
    rate_limit_script_list(&emulator, 1);
    let first = tokio::spawn(async move { client.list_scripts().await });
    // Wait until the client has processed the 429 (and so has blocked the shared budget): the
    // emulator's request log alone would race with the client reading the answer.
    let mut polls = 0;
    while clone.metrics().rate_limited_total == 0 {
        polls += 1;
        assert!(polls < 1000, "the rate-limited request never arrived");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let started = Instant::now();
    clone
        .list_kv_namespaces()
        .await
        .expect("clone succeeds after the block");
    // The block lasts Retry-After (1 s) from the 429; allow for the polling interval.
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "the clone waited for the account-wide block, took {:?}",
        started.elapsed()
    );
    first
        .await
        .expect("task joins")
        .expect("first call retried");
    assert_eq!(count(&emulator, "GET", "/workers/scripts"), 2);
    assert_eq!(clone.metrics().rate_limited_total, 1);
}

/// Someone else on the same token has spent part of the quota: the reported `Ratelimit` makes
/// flaresync wait for the reset instead of spending the reserve or tripping the limit.
#[tokio::test]
async fn reported_quota_keeps_a_reserve_for_other_users_of_the_token() {
    let emulator = limited_emulator(6, Duration::from_secs(2)).await;
    let human = reqwest::Client::new();
    for _ in 0..2 {
        let response = human
            .get(format!(
                "{}/accounts/{}/workers/scripts",
                emulator.base_url(),
                emulator.account_id()
            ))
            .bearer_auth(emulator.token())
            .send()
            .await
            .expect("human request");
        assert!(response.status().is_success());
    }
    let mut config = config(&emulator);
    config.budget.server_reserve = 1;
    let client = Client::new(config).expect("valid config");
    for _ in 0..6 {
        client.list_scripts().await.expect("never rate limited");
    }
    assert!(
        emulator.requests().iter().all(|r| r.status != 429),
        "the shared quota was never exhausted"
    );
    let metrics = client.metrics();
    assert_eq!(metrics.rate_limited_total, 0);
    assert!(
        metrics.throttled_wait_seconds_total > 0.0,
        "flaresync waited for the quota to reset"
    );
}

/// Three processes on one token (`run`, `plan --live` and `sync`, each with its own budget that
/// alone would overrun the account's limit) stay under it together: each stops at the quota
/// Cloudflare reports on every answer (`Ratelimit`), keeping the reserve, and waits for the
/// reset. Issue 17 item 7: zero lockouts.
#[tokio::test]
async fn several_clients_on_one_token_never_trip_the_account_limit() {
    const CLIENTS: usize = 3;
    const CALLS: usize = 20;
    let emulator = limited_emulator(24, Duration::from_secs(2)).await;
    let clients: Vec<Client> = (0..CLIENTS)
        .map(|_| {
            let mut config = config(&emulator);
            // Each budget alone would send all its calls in one burst, past the limit.
            config.budget.server_reserve = CLIENTS as u32;
            Client::new(config).expect("valid config")
        })
        .collect();
    let runs = clients.iter().map(|client| async move {
        for _ in 0..CALLS {
            client.list_scripts().await.expect("never locked out");
        }
    });
    futures_util::future::join_all(runs).await;
    let logged = emulator.requests();
    assert_eq!(logged.len(), CLIENTS * CALLS, "no request was repeated");
    assert!(
        logged.iter().all(|r| r.status != 429),
        "the account limit was never hit"
    );
    for client in &clients {
        assert_eq!(client.metrics().rate_limited_total, 0);
    }
}

fn crons(schedules: &[flaresync_cloudflare::Schedule]) -> Vec<&str> {
    schedules.iter().map(|s| s.cron.as_str()).collect()
}

/// Cron Triggers: the whole set is replaced, survives uploads, deployments and rollbacks, and
/// invalid expressions come back as API errors that are not retried.
#[tokio::test]
async fn schedules_are_replaced_as_a_set_and_outlive_versions() {
    let emulator = emulator().await;
    let client = client(&emulator);
    let wanted = vec!["*/15 * * * *".to_owned(), "0 17 * * sun".to_owned()];

    let missing = client
        .list_schedules(WORKER)
        .await
        .expect_err("no worker yet");
    assert!(
        missing.has_code(10007) && missing.is_not_found(),
        "{missing:?}"
    );
    let missing = client
        .put_schedules(WORKER, &wanted)
        .await
        .expect_err("no worker yet");
    assert!(missing.has_code(10007), "{missing:?}");

    let first = client
        .upload_script(WORKER, &metadata(COMMIT_1, None), &modules("one"))
        .await
        .expect("worker created")
        .version_id()
        .expect("version id")
        .to_owned();
    assert!(
        client
            .list_schedules(WORKER)
            .await
            .expect("list")
            .is_empty()
    );

    let put = client.put_schedules(WORKER, &wanted).await.expect("put");
    assert_eq!(crons(&put), ["*/15 * * * *", "0 17 * * sun"]);
    assert!(
        put.iter()
            .all(|s| s.created_on.is_some() && s.modified_on.is_some())
    );
    assert_eq!(client.list_schedules(WORKER).await.expect("list"), put);

    // Not versioned: a new version, its deployment and a rollback leave them alone.
    let second = client
        .upload_version(WORKER, &metadata(COMMIT_2, None), &modules("two"))
        .await
        .expect("version");
    client
        .create_deployment(
            WORKER,
            &NewDeployment::single(second.id.clone(), None),
            false,
        )
        .await
        .expect("deploy");
    client
        .create_deployment(WORKER, &NewDeployment::single(first, None), false)
        .await
        .expect("rollback");
    assert_eq!(client.list_schedules(WORKER).await.expect("list"), put);

    let puts_before = count(&emulator, "PUT", "/schedules");
    let invalid = client
        .put_schedules(WORKER, &["61 * * * *".to_owned()])
        .await
        .expect_err("invalid cron");
    assert!(invalid.has_code(10100), "{invalid:?}");
    assert_eq!(invalid.api().map(|api| api.status), Some(400));
    assert!(!invalid.is_transient());
    assert_eq!(
        count(&emulator, "PUT", "/schedules"),
        puts_before + 1,
        "not retried"
    );
    assert_eq!(client.list_schedules(WORKER).await.expect("list"), put);

    assert!(
        client
            .put_schedules(WORKER, &[])
            .await
            .expect("clear")
            .is_empty()
    );
    assert!(
        client
            .list_schedules(WORKER)
            .await
            .expect("list")
            .is_empty()
    );
}

/// `PUT …/schedules` states the whole set, so an unknown outcome (500 after the commit) or a
/// plain 500 is simply sent again, and the set ends up exactly as asked.
#[tokio::test]
async fn schedule_put_is_retried_after_server_errors_and_lost_answers() {
    let (emulator, client) = with_worker().await;
    let wanted = vec!["0 0 * * *".to_owned()];

    emulator.fault("PUT", "/schedules$", FaultKind::FailAfterCommit, 1);
    let put = client
        .put_schedules(WORKER, &wanted)
        .await
        .expect("the retry answers");
    assert_eq!(crons(&put), ["0 0 * * *"]);
    assert_eq!(count(&emulator, "PUT", "/schedules"), 2);

    emulator.fault("PUT", "/schedules$", FaultKind::Status, 1);
    let replaced = vec!["*/5 * * * *".to_owned(), "0 0 * * *".to_owned()];
    let put_again = client
        .put_schedules(WORKER, &replaced)
        .await
        .expect("the retry answers");
    assert_eq!(crons(&put_again), ["*/5 * * * *", "0 0 * * *"]);
    assert_eq!(put_again[1], put[0], "a kept cron keeps its timestamps");
    assert_eq!(count(&emulator, "PUT", "/schedules"), 4);
    assert_eq!(client.metrics().retries_total, 2);

    emulator.fault("GET", "/schedules$", FaultKind::Drop, 1);
    assert_eq!(
        client.list_schedules(WORKER).await.expect("read retried"),
        put_again
    );
}
