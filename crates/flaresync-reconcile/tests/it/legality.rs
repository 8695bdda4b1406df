//! Rollback legality end to end: Git commits and reverts, `sync_once` over real HTTP against the
//! emulator, and what a Workers user sees (plan action, outcome, message, Cloudflare state).

use flaresync_cloudflare::NewDeployment;
use flaresync_emulator::testing::TestEmulator;
use flaresync_reconcile::{Context, SyncReport, WorkerOutcome, WorkerReport};

use crate::support::{
    Repo, Setup, active_deployment, context_with, context_without_retries, deploy_by_hand,
    emulator, journal_path, open_with, post, put_secret, requests_since, sent_by, sync,
    upload_and_deploy, url, version_count, worker, writes,
};

/// [`crate::support::context`] with a request budget that never makes these many-pass
/// scenarios wait (the default paces requests after a burst of 60).
fn context(
    repo: &Repo,
    emulator: &TestEmulator,
    journal: &std::path::Path,
) -> std::sync::Arc<Context> {
    context_with(repo, emulator, journal, |config| {
        config.budget.limit = 100_000;
        config.budget.burst = 10_000;
    })
}

/// [`crate::support::start`] with this file's [`context`].
async fn start(workers: &[(&str, &str)], message: &str) -> Setup {
    open_with(
        emulator().await,
        Repo::with_workers(workers),
        message,
        context,
    )
}

/// `web` (the entry point) calls `api` through a service binding: api is web's dependency.
fn web_calling_api() -> Repo {
    let repo = Repo::with_workers(&[("api", "api-1"), ("web", "web-1")]);
    repo.write(
        "workers/web/wrangler.toml",
        &config_with(
            "web",
            "services = [{ binding = \"API\", service = \"api\" }]\n",
        ),
    );
    repo
}

/// Commits `{name}-2` for each Worker (one commit, `<names> v2`) and syncs it; returns the commit.
async fn update_and_sync(ctx: &Context, repo: &mut Repo, names: &[&str]) -> String {
    for name in names {
        repo.set_body(name, &format!("{name}-2"));
    }
    let commit = repo.commit(&format!("{} v2", names.join(" and ")));
    assert!(sync(ctx).await.converged(), "{names:?} v2 deploys");
    commit
}

/// Sends `request` to the emulator with its token; it must succeed.
async fn send_ok(emulator: &TestEmulator, request: reqwest::RequestBuilder) {
    let response = request
        .bearer_auth(emulator.token())
        .send()
        .await
        .expect("sent");
    assert!(
        response.status().is_success(),
        "{:?}",
        response.text().await
    );
}

/// [`web_calling_api`], started.
async fn start_web_calling_api() -> Setup {
    open_with(emulator().await, web_calling_api(), "web and api", context)
}

/// `app` and `svc` deployed independently (named so that name order would put the callee `svc`
/// last to deploy, first to roll back), then one commit, not yet synced, where both change and
/// app starts calling svc through a service binding.
async fn app_then_calling_svc() -> Setup {
    let (emulator, mut repo, state, ctx) = start(
        &[("app", "app-1"), ("svc", "svc-1")],
        "app and svc, independent",
    )
    .await;
    assert!(sync(&ctx).await.converged());
    repo.write(
        "workers/app/wrangler.toml",
        &config_with(
            "app",
            "services = [{ binding = \"SVC\", service = \"svc\" }]\n",
        ),
    );
    repo.set_body("app", "app-2");
    repo.set_body("svc", "svc-2");
    repo.commit("app calls svc v2");
    (emulator, repo, state, ctx)
}

/// `name`'s report, which must say its change was applied.
fn applied<'a>(report: &'a SyncReport, name: &str) -> &'a WorkerReport {
    let worker = worker(report, name);
    assert!(
        matches!(worker.outcome, WorkerOutcome::Applied { .. }),
        "{name} is applied: {report:#?}"
    );
    worker
}

/// The error message of `name`, which must be blocked; `context` is the assertion's message
/// format (with `{report:#?}`).
fn blocked_message<'a>(report: &'a SyncReport, name: &str, context: &str) -> &'a str {
    let worker = worker(report, name);
    assert_eq!(worker.outcome, WorkerOutcome::Blocked, "{context}");
    error_message(worker)
}

fn plan_of<'a>(report: &'a SyncReport, name: &str) -> &'a flaresync_plan::WorkerPlan {
    report
        .plan
        .workers
        .iter()
        .find(|w| w.name == name)
        .unwrap_or_else(|| panic!("{name} is planned: {:#?}", report.plan))
}

fn error_message(report: &WorkerReport) -> &str {
    report
        .error
        .as_ref()
        .map(|e| e.message.as_str())
        .unwrap_or_else(|| panic!("{} has an error: {report:#?}", report.worker))
}

async fn active_versions(ctx: &Context, name: &str) -> Vec<(String, f64)> {
    active_deployment(ctx, name)
        .await
        .versions
        .into_iter()
        .map(|v| (v.version_id, v.percentage))
        .collect()
}

async fn active_version(ctx: &Context, name: &str) -> String {
    let versions = active_versions(ctx, name).await;
    assert_eq!(versions.len(), 1, "one version at 100%: {versions:?}");
    versions[0].0.clone()
}

fn write_policy(repo: &Repo, toml: &str) {
    repo.write("flaresync.toml", toml);
}

fn config_with(name: &str, extra: &str) -> String {
    format!("name = \"{name}\"\nmain = \"index.js\"\ncompatibility_date = \"2026-01-01\"\n{extra}")
}

/// Deploy A, deploy B, set a secret (a new version of B's content), revert B: the rollback
/// target (A) has no secret while the live script has one.
async fn secret_set_between(
    emulator: &TestEmulator,
    repo: &mut Repo,
    policy: Option<&str>,
) -> (std::sync::Arc<Context>, tempfile::TempDir, String) {
    repo.worker("api", "api-1");
    if let Some(policy) = policy {
        write_policy(repo, policy);
    }
    repo.commit("api v1");
    let state = tempfile::tempdir().expect("tempdir");
    let ctx = context(repo, emulator, &journal_path(&state));
    assert!(sync(&ctx).await.converged());
    let v1 = active_version(&ctx, "api").await;
    update_and_sync(&ctx, repo, &["api"]).await;

    put_secret(emulator, "api", "API_KEY", "s3cret-value").await;
    // Setting a secret makes a copy of the active version: flaresync treats it as the same
    // content, not as drift or a change to revert.
    let after_secret = sync(&ctx).await;
    let api = worker(&after_secret, "api");
    assert_eq!(api.outcome, WorkerOutcome::InSync, "{after_secret:#?}");
    assert!(api.drift.is_none(), "{api:#?}");
    repo.revert_head();
    (ctx, state, v1)
}

#[tokio::test]
async fn secret_change_between_versions_blocks_the_rollback_with_fs006() {
    let emulator = TestEmulator::start().await.expect("emulator starts");
    let mut repo = Repo::new();
    let (ctx, _state, v1) = secret_set_between(&emulator, &mut repo, None).await;
    let live_before = active_version(&ctx, "api").await;

    let before = emulator.requests().len();
    let report = sync(&ctx).await;
    assert!(
        writes(&requests_since(&emulator, before)).is_empty(),
        "a blocked rollback writes nothing"
    );
    let api = worker(&report, "api");
    assert_eq!(api.outcome, WorkerOutcome::Blocked, "{report:#?}");
    let plan = plan_of(&report, "api");
    assert!(
        plan.findings
            .iter()
            .any(|f| f.rule == "FS006" && f.is_blocking()),
        "{plan:#?}"
    );
    let message = error_message(api);
    assert!(message.contains("FS006"), "{message}");
    assert!(message.contains("API_KEY"), "names the secret: {message}");
    assert!(
        message.contains("allow_secret_change_rollback = true"),
        "says what to do: {message}"
    );
    assert!(
        !message.contains("s3cret-value"),
        "never shows a secret value"
    );
    assert_eq!(active_version(&ctx, "api").await, live_before);

    // Blocked stays blocked (and quiet) on the next pass: no write, same verdict.
    let (again, sent) = sent_by(&emulator, sync(&ctx)).await;
    assert!(sent.is_empty());
    assert_eq!(worker(&again, "api").outcome, WorkerOutcome::Blocked);

    // Following the hint: a commit that allows it makes the rollback go through, forced.
    write_policy(
        &repo,
        "[workers.api]\nallow_secret_change_rollback = true\n",
    );
    repo.commit("allow api to roll back across secret changes");
    let before = emulator.requests().len();
    let report = sync(&ctx).await;
    let api = applied(&report, "api");
    assert_eq!(api.action, "rollback (forced)");
    let sent = emulator.requests().into_iter().skip(before);
    assert!(
        sent.filter(|r| r.method == "POST")
            .all(|r| r.query.as_deref() == Some("force=true")),
        "the deployment is forced"
    );
    assert_eq!(active_version(&ctx, "api").await, v1);
}

#[tokio::test]
async fn allow_secret_change_rollback_deploys_with_force() {
    let emulator = TestEmulator::start().await.expect("emulator starts");
    let mut repo = Repo::new();
    let (ctx, _state, v1) = secret_set_between(
        &emulator,
        &mut repo,
        Some("[workers.api]\nallow_secret_change_rollback = true\n"),
    )
    .await;

    let before = emulator.requests().len();
    let report = sync(&ctx).await;
    let sent = requests_since(&emulator, before);
    let api = applied(&report, "api");
    assert_eq!(api.action, "rollback (forced)");
    assert!(
        matches!(
            plan_of(&report, "api").action,
            flaresync_plan::Action::Rollback { force: true, .. }
        ),
        "{:#?}",
        report.plan
    );
    assert_eq!(
        writes(&sent),
        vec![post(&emulator, "api", "deployments")],
        "a rollback, no upload"
    );
    let forced = emulator
        .requests()
        .into_iter()
        .skip(before)
        .find(|r| r.method == "POST")
        .expect("the deployment request is logged");
    assert!(
        forced
            .query
            .as_deref()
            .is_some_and(|q| q.contains("force=true")),
        "deployed with ?force=true: {forced:?}"
    );
    assert_eq!(active_version(&ctx, "api").await, v1);
    assert!(sync(&ctx).await.converged());
}

/// A bound storage resource, created in the emulator, and the wrangler.toml lines binding it.
enum Resource {
    Kv,
    R2,
    Queue,
}

impl Resource {
    fn create(&self, emulator: &TestEmulator) -> (String, String) {
        match self {
            Resource::Kv => {
                let id = emulator.create_kv_namespace("cache").expect("kv created");
                let toml = format!("\n[[kv_namespaces]]\nbinding = \"CACHE\"\nid = \"{id}\"\n");
                (id, toml)
            }
            Resource::R2 => {
                emulator
                    .create_r2_bucket("uploads", None)
                    .expect("bucket created");
                let toml = "\n[[r2_buckets]]\nbinding = \"UPLOADS\"\nbucket_name = \"uploads\"\n";
                ("uploads".to_owned(), toml.to_owned())
            }
            Resource::Queue => {
                let id = emulator.create_queue("jobs").expect("queue created");
                let toml = "\n[[queues.producers]]\nbinding = \"JOBS\"\nqueue = \"jobs\"\n";
                (id, toml.to_owned())
            }
        }
    }

    fn delete(&self, emulator: &TestEmulator, id: &str) {
        match self {
            Resource::Kv => emulator.delete_kv_namespace(id).expect("kv deleted"),
            Resource::R2 => emulator.delete_r2_bucket(id, None).expect("bucket deleted"),
            Resource::Queue => emulator.delete_queue(id).expect("queue deleted"),
        }
    }

    /// How the finding names it.
    fn described(&self, id: &str) -> String {
        match self {
            Resource::Kv => format!("KV namespace `{id}`"),
            Resource::R2 => format!("R2 bucket `{id}`"),
            Resource::Queue => "queue `jobs`".to_owned(),
        }
    }
}

/// A binds the resource, B drops the binding, the resource is deleted, B is reverted.
async fn resource_deleted_after(
    emulator: &TestEmulator,
    repo: &mut Repo,
    resource: &Resource,
    policy: Option<&str>,
) -> (std::sync::Arc<Context>, tempfile::TempDir, String) {
    let (id, binding) = resource.create(emulator);
    repo.worker("api", "api-1");
    repo.write("workers/api/wrangler.toml", &config_with("api", &binding));
    if let Some(policy) = policy {
        write_policy(repo, policy);
    }
    repo.commit("api binds the resource");
    let state = tempfile::tempdir().expect("tempdir");
    let ctx = context(repo, emulator, &journal_path(&state));
    let first = sync(&ctx).await;
    assert!(first.converged(), "{first:#?}");
    repo.write("workers/api/wrangler.toml", &config_with("api", ""));
    repo.set_body("api", "api-2");
    repo.commit("api stops using the resource");
    assert!(sync(&ctx).await.converged());
    resource.delete(emulator, &id);
    repo.revert_head();
    (ctx, state, id)
}

#[tokio::test]
async fn a_deleted_kv_r2_or_queue_blocks_the_rollback_with_fs004_on_every_pass() {
    for resource in [Resource::Kv, Resource::R2, Resource::Queue] {
        let emulator = TestEmulator::start().await.expect("emulator starts");
        let mut repo = Repo::new();
        let (ctx, _state, id) = resource_deleted_after(&emulator, &mut repo, &resource, None).await;
        let live = active_version(&ctx, "api").await;
        for pass in 0..3 {
            let (report, sent) = sent_by(&emulator, sync(&ctx)).await;
            assert!(
                sent.is_empty(),
                "pass {pass}: a blocked rollback writes nothing"
            );
            let message = blocked_message(&report, "api", &format!("pass {pass}: {report:#?}"));
            assert!(message.contains("FS004"), "{message}");
            assert!(message.contains(&resource.described(&id)), "{message}");
            assert!(message.contains("which does not exist"), "{message}");
            assert!(message.contains("to fix: create the resource"), "{message}");
        }
        assert_eq!(active_version(&ctx, "api").await, live);
    }
}

#[tokio::test]
async fn redeploy_policy_cannot_redeploy_a_deleted_resource_either_and_says_so() {
    for resource in [Resource::Kv, Resource::R2, Resource::Queue] {
        let emulator = TestEmulator::start().await.expect("emulator starts");
        let mut repo = Repo::new();
        let (ctx, _state, id) = resource_deleted_after(
            &emulator,
            &mut repo,
            &resource,
            Some("rollback_policy = \"redeploy\"\n"),
        )
        .await;
        let versions = version_count(&ctx, "api").await;
        for pass in 0..3 {
            let (report, sent) = sent_by(&emulator, sync(&ctx)).await;
            assert!(
                sent.is_empty(),
                "pass {pass}: no upload of content that cannot validate"
            );
            let api = worker(&report, "api");
            assert_eq!(
                api.outcome,
                WorkerOutcome::Blocked,
                "pass {pass}: {report:#?}"
            );
            let plan = plan_of(&report, "api");
            assert!(
                plan.reason.contains("redeploying it is not legal either"),
                "{}",
                plan.reason
            );
            let message = error_message(api);
            assert!(message.contains("FS004"), "{message}");
            assert!(
                message.contains("redeploying it is not legal either"),
                "{message}"
            );
            assert!(
                message.contains("Cloudflare rejects an upload that binds it"),
                "{message}"
            );
            assert!(message.contains(&resource.described(&id)), "{message}");
        }
        assert_eq!(
            version_count(&ctx, "api").await,
            versions,
            "nothing was uploaded"
        );
    }
}

/// A and B both bind a D1 database; B is reverted.
async fn d1_revert(
    emulator: &TestEmulator,
    repo: &mut Repo,
    policy: Option<&str>,
) -> (std::sync::Arc<Context>, tempfile::TempDir, String) {
    let id = emulator.create_d1_database("main").expect("d1 created");
    let binding = format!(
        "\n[[d1_databases]]\nbinding = \"DB\"\ndatabase_name = \"main\"\ndatabase_id = \"{id}\"\n"
    );
    repo.worker("api", "api-1");
    repo.write("workers/api/wrangler.toml", &config_with("api", &binding));
    if let Some(policy) = policy {
        write_policy(repo, policy);
    }
    repo.commit("api with d1");
    let state = tempfile::tempdir().expect("tempdir");
    let ctx = context(repo, emulator, &journal_path(&state));
    assert!(sync(&ctx).await.converged());
    let v1 = active_version(&ctx, "api").await;
    update_and_sync(&ctx, repo, &["api"]).await;
    repo.revert_head();
    (ctx, state, v1)
}

#[tokio::test]
async fn a_d1_bound_rollback_is_blocked_by_default() {
    let emulator = TestEmulator::start().await.expect("emulator starts");
    let mut repo = Repo::new();
    let (ctx, _state, _v1) = d1_revert(&emulator, &mut repo, None).await;
    let live = active_version(&ctx, "api").await;
    for pass in 0..2 {
        let (report, sent) = sent_by(&emulator, sync(&ctx)).await;
        assert!(sent.is_empty());
        let message = blocked_message(&report, "api", &format!("pass {pass}: {report:#?}"));
        assert!(message.contains("FS005"), "{message}");
        assert!(message.contains("binds D1 (DB)"), "{message}");
        assert!(
            message.contains("d1_blocks_rollback = false"),
            "says how to allow it: {message}"
        );
    }
    assert_eq!(active_version(&ctx, "api").await, live);
}

#[tokio::test]
async fn a_blocked_worker_is_journaled_once_across_passes_and_restarts() {
    let emulator = TestEmulator::start().await.expect("emulator starts");
    let mut repo = Repo::new();
    let (ctx, state, _v1) = d1_revert(&emulator, &mut repo, None).await;
    for _ in 0..2 {
        blocked_message(&sync(&ctx).await, "api", "before the restart");
    }
    // A restarted process: new memory, the same journal.
    drop(ctx);
    let restarted = context(&repo, &emulator, &journal_path(&state));
    for _ in 0..2 {
        blocked_message(&sync(&restarted).await, "api", "after the restart");
    }
    let journal = flaresync_journal::Journal::open(journal_path(&state)).expect("journal");
    let blocked: Vec<_> = journal
        .history("api")
        .expect("history")
        .into_iter()
        .filter(|r| r.entry.action == flaresync_journal::Action::Blocked)
        .collect();
    assert_eq!(
        blocked.len(),
        1,
        "one entry for one blocked commit: {blocked:#?}"
    );
}

#[tokio::test]
async fn a_d1_bound_rollback_runs_when_d1_does_not_block() {
    let emulator = TestEmulator::start().await.expect("emulator starts");
    let mut repo = Repo::new();
    let (ctx, _state, v1) = d1_revert(
        &emulator,
        &mut repo,
        Some("[workers.api]\nd1_blocks_rollback = false\n"),
    )
    .await;
    let (report, sent) = sent_by(&emulator, sync(&ctx)).await;
    let api = applied(&report, "api");
    assert_eq!(api.action, "rollback");
    assert_eq!(sent, vec![post(&emulator, "api", "deployments")]);
    let plan = plan_of(&report, "api");
    assert!(
        plan.findings
            .iter()
            .any(|f| f.rule == "FS005" && !f.is_blocking() && f.overridden),
        "the D1 warning stays visible: {plan:#?}"
    );
    assert_eq!(active_version(&ctx, "api").await, v1);
}

/// An emulator whose deployable window is `window` versions.
async fn emulator_with_window(window: usize) -> TestEmulator {
    let mut config = flaresync_emulator::testing::test_config();
    config.version_window = window;
    TestEmulator::start_with(config)
        .await
        .expect("emulator starts")
}

/// Deploys `api-1` and then `count` more versions, and commits content equal to the first
/// again (a manual revert). Returns the first version id and commit.
async fn revert_past_the_window(
    emulator: &TestEmulator,
    repo: &mut Repo,
    policy: Option<&str>,
    count: usize,
) -> (std::sync::Arc<Context>, tempfile::TempDir, String, String) {
    repo.worker("api", "api-1");
    if let Some(policy) = policy {
        write_policy(repo, policy);
    }
    let first_commit = repo.commit("api v1");
    let state = tempfile::tempdir().expect("tempdir");
    let ctx = context(repo, emulator, &journal_path(&state));
    assert!(sync(&ctx).await.converged());
    let v1 = active_version(&ctx, "api").await;
    for n in 2..=count + 1 {
        repo.set_body("api", &format!("api-{n}"));
        repo.commit(&format!("api v{n}"));
        let report = sync(&ctx).await;
        assert!(report.converged(), "{report:#?}");
    }
    repo.set_body("api", "api-1");
    repo.commit("back to api v1");
    (ctx, state, v1, first_commit)
}

#[tokio::test]
async fn a_revert_to_a_version_outside_the_window_is_blocked_with_fs001() {
    for policy in [None, Some("version_window = 10\n")] {
        let emulator = emulator_with_window(10).await;
        let mut repo = Repo::new();
        let (ctx, _state, v1, first_commit) =
            revert_past_the_window(&emulator, &mut repo, policy, 11).await;
        let live = active_version(&ctx, "api").await;
        let (report, sent) = sent_by(&emulator, sync(&ctx)).await;
        assert!(
            sent.is_empty(),
            "policy {policy:?}: no upload, no deployment"
        );
        let message = blocked_message(&report, "api", &format!("policy {policy:?}: {report:#?}"));
        assert!(message.contains("FS001"), "{message}");
        assert!(
            message.contains(&first_commit[..8]),
            "names the commit: {message}"
        );
        assert!(
            message.contains("10 newest versions"),
            "names the window: {message}"
        );
        assert!(
            message.contains("rollback_policy = \"redeploy\""),
            "says what to do: {message}"
        );
        match &plan_of(&report, "api").action {
            flaresync_plan::Action::Blocked { target: Some(to) } => {
                assert_eq!(to.version_id, v1);
            }
            other => panic!("blocked with the first version as target, got {other:?}"),
        }
        assert_eq!(active_version(&ctx, "api").await, live);
    }
}

#[tokio::test]
async fn redeploy_policy_uploads_content_outside_the_window_as_a_new_version() {
    let emulator = emulator_with_window(10).await;
    let mut repo = Repo::new();
    let (ctx, _state, v1, _) = revert_past_the_window(
        &emulator,
        &mut repo,
        Some("rollback_policy = \"redeploy\"\n"),
        11,
    )
    .await;
    let (report, sent) = sent_by(&emulator, sync(&ctx)).await;
    let api = applied(&report, "api");
    assert_eq!(
        sent,
        upload_and_deploy(&emulator, "api"),
        "upload and deploy"
    );
    let plan = plan_of(&report, "api");
    assert!(
        plan.reason.contains("rollback_policy = \"redeploy\""),
        "{}",
        plan.reason
    );
    let live = active_version(&ctx, "api").await;
    assert_ne!(live, v1, "a new version");
    assert_eq!(api.live_version.as_deref(), Some(live.as_str()));
    assert_eq!(api.live_commit.as_deref(), Some(report.commit.as_str()));
    assert!(sync(&ctx).await.converged());
}

/// Cloudflare refuses the script's next deployment with a 400 (code 10021).
fn refuse_next_deployment(emulator: &TestEmulator, script: &str) {
    let path = format!("/workers/scripts/{script}/deployments$");
    let kind = flaresync_emulator::FaultKind::Status;
    emulator
        .add_fault(flaresync_emulator::FaultSpec {
            status: Some(400),
            code: Some(10021),
            message: Some("refused by the test".into()),
            ..flaresync_emulator::FaultSpec::matching("POST", &path, kind, 1)
        })
        .expect("fault is valid");
}

/// Positions of the first write matching each needle, in request-log order.
fn write_position(sent: &[String], needle: &str) -> usize {
    sent.iter()
        .position(|w| w.contains(needle))
        .unwrap_or_else(|| panic!("no write matching {needle}: {sent:#?}"))
}

#[tokio::test]
async fn a_revert_across_a_service_binding_rolls_back_entry_point_first_and_deploys_dependency_first()
 {
    // web (the entry point) calls api through a service binding: api is web's dependency.
    let (emulator, mut repo, _state, ctx) = start_web_calling_api().await;
    let before = emulator.requests().len();
    let first = sync(&ctx).await;
    assert!(first.converged(), "{first:#?}");
    let sent = writes(&requests_since(&emulator, before));
    assert!(
        write_position(&sent, "/scripts/api") < write_position(&sent, "/scripts/web"),
        "first deploy: the dependency exists before the Worker binding it: {sent:#?}"
    );
    let api_v1 = active_version(&ctx, "api").await;
    let web_v1 = active_version(&ctx, "web").await;
    assert_eq!(first.plan.order.deploy, vec!["api", "web"]);
    assert_eq!(first.plan.order.rollback, vec!["web", "api"]);

    repo.set_body("api", "api-2");
    repo.set_body("web", "web-2");
    repo.commit("api and web v2");
    let (forward, sent) = sent_by(&emulator, sync(&ctx)).await;
    assert!(forward.converged(), "{forward:#?}");
    assert_eq!(
        sent,
        vec![
            post(&emulator, "api", "versions"),
            post(&emulator, "api", "deployments"),
            post(&emulator, "web", "versions"),
            post(&emulator, "web", "deployments"),
        ],
        "forward: dependency first"
    );

    repo.revert_head();
    let (revert, sent) = sent_by(&emulator, sync(&ctx)).await;
    assert!(revert.converged(), "{revert:#?}");
    assert_eq!(
        sent,
        vec![
            post(&emulator, "web", "deployments"),
            post(&emulator, "api", "deployments"),
        ],
        "rollback: entry point first, no uploads"
    );
    assert_eq!(worker(&revert, "web").action, "rollback");
    assert_eq!(worker(&revert, "api").action, "rollback");
    assert_eq!(active_version(&ctx, "api").await, api_v1);
    assert_eq!(active_version(&ctx, "web").await, web_v1);
}

#[tokio::test]
async fn when_the_entry_point_rollback_fails_its_dependency_keeps_its_newer_version() {
    let (emulator, mut repo, _state, ctx) = start_web_calling_api().await;
    assert!(sync(&ctx).await.converged());
    let api_v1 = active_version(&ctx, "api").await;
    update_and_sync(&ctx, &mut repo, &["api", "web"]).await;
    let api_v2 = active_version(&ctx, "api").await;
    let web_v2 = active_version(&ctx, "web").await;

    // web's rollback is refused once: api must not roll back under a web that still calls
    // api's newer interface.
    refuse_next_deployment(&emulator, "web");
    repo.revert_head();
    let (report, sent) = sent_by(&emulator, sync(&ctx)).await;
    assert_eq!(
        sent,
        vec![post(&emulator, "web", "deployments")],
        "only web's (failed) rollback was attempted"
    );
    assert_eq!(worker(&report, "web").outcome, WorkerOutcome::Failed);
    let api = worker(&report, "api");
    assert_eq!(api.outcome, WorkerOutcome::Skipped, "{report:#?}");
    assert!(
        api.notes.iter().any(|n| n.contains("web")),
        "says why: {api:#?}"
    );
    assert_eq!(active_version(&ctx, "api").await, api_v2);
    assert_eq!(active_version(&ctx, "web").await, web_v2);

    // The next pass rolls both back, entry point first.
    let (report, sent) = sent_by(&emulator, sync(&ctx)).await;
    assert!(report.converged(), "{report:#?}");
    assert_eq!(sent.len(), 2, "{sent:#?}");
    assert!(sent[0].contains("/scripts/web/deployments"), "{sent:#?}");
    assert!(sent[1].contains("/scripts/api/deployments"), "{sent:#?}");
    assert_eq!(active_version(&ctx, "api").await, api_v1);
}

#[tokio::test]
async fn a_hand_made_split_deployment_is_held_then_ended_by_the_next_commit_with_fs016() {
    let (emulator, mut repo, _state, ctx) = start(&[("api", "api-1")], "api v1").await;
    assert!(sync(&ctx).await.converged());
    let v1 = active_version(&ctx, "api").await;
    let second = update_and_sync(&ctx, &mut repo, &["api"]).await;
    let v2 = active_version(&ctx, "api").await;

    // `wrangler versions deploy v2@90% v1@10%` by hand.
    ctx.client()
        .create_deployment(
            "api",
            &flaresync_cloudflare::NewDeployment::split(
                vec![
                    flaresync_cloudflare::DeploymentVersion {
                        version_id: v2.clone(),
                        percentage: 90.0,
                    },
                    flaresync_cloudflare::DeploymentVersion {
                        version_id: v1.clone(),
                        percentage: 10.0,
                    },
                ],
                Some("canary of the old version".into()),
            ),
            false,
        )
        .await
        .expect("split deployment");

    // Git did not change: the split is drift, reported and left alone.
    let (idle, sent) = sent_by(&emulator, sync(&ctx)).await;
    assert!(sent.is_empty(), "report policy: the hand-made split stays");
    let api = worker(&idle, "api");
    assert_eq!(api.outcome, WorkerOutcome::HeldForDrift, "{idle:#?}");
    let drift = api.drift.as_ref().expect("drift is reported");
    let mut actual = vec![v1.clone(), v2.clone()];
    actual.sort();
    assert_eq!(drift.actual_versions, actual);
    let reason = &plan_of(&idle, "api").reason;
    assert!(
        reason.contains("gradual deployment") && reason.contains("100%"),
        "{reason}"
    );
    assert_eq!(active_versions(&ctx, "api").await.len(), 2);

    // A new commit is the user's new intent: it is deployed at 100%, and the plan says that
    // this ends the gradual deployment.
    repo.set_body("api", "api-3");
    let third = repo.commit("api v3");
    let (report, sent) = sent_by(&emulator, sync(&ctx)).await;
    assert_eq!(sent, upload_and_deploy(&emulator, "api"));
    let api = applied(&report, "api");
    let fs016 = plan_of(&report, "api")
        .findings
        .iter()
        .find(|f| f.rule == "FS016")
        .unwrap_or_else(|| panic!("FS016 explains the split: {report:#?}"));
    assert!(!fs016.is_blocking());
    assert!(fs016.message.contains("90"), "{}", fs016.message);
    assert!(fs016.message.contains("10"), "{}", fs016.message);
    assert!(fs016.message.contains("ends it"), "{}", fs016.message);
    assert!(
        fs016
            .message
            .contains(&format!("(commit {}) at 90%", &second[..8])),
        "names the commits: {}",
        fs016.message
    );
    let live = active_versions(&ctx, "api").await;
    assert_eq!(live.len(), 1, "100%: {live:?}");
    assert_eq!(api.live_commit.as_deref(), Some(third.as_str()));
    assert!(sync(&ctx).await.converged());
}

#[tokio::test]
async fn a_revert_of_a_revert_deploys_the_existing_newer_version_without_upload() {
    let (emulator, mut repo, _state, ctx) = start(&[("api", "api-1")], "api v1").await;
    assert!(sync(&ctx).await.converged());
    let v1 = active_version(&ctx, "api").await;
    let second = update_and_sync(&ctx, &mut repo, &["api"]).await;
    let v2 = active_version(&ctx, "api").await;
    repo.revert_head();
    let report = sync(&ctx).await;
    assert!(report.converged(), "{report:#?}");
    assert_eq!(active_version(&ctx, "api").await, v1);
    let versions = version_count(&ctx, "api").await;

    // Revert the revert: v2 is deployed again, nothing is uploaded.
    repo.revert_head();
    let (report, sent) = sent_by(&emulator, sync(&ctx)).await;
    assert!(report.converged(), "{report:#?}");
    assert_eq!(
        sent,
        vec![post(&emulator, "api", "deployments")],
        "a deployment of the existing version, no upload"
    );
    let api = worker(&report, "api");
    match &plan_of(&report, "api").action {
        flaresync_plan::Action::Rollback { to, force: false } => {
            assert_eq!(to.version_id, v2);
            assert_eq!(to.commit, second);
        }
        other => panic!("a deployment of the existing v2, got {other:?}"),
    }
    assert_eq!(api.live_version.as_deref(), Some(v2.as_str()));
    assert_eq!(api.live_commit.as_deref(), Some(second.as_str()));
    assert_eq!(active_version(&ctx, "api").await, v2);
    assert_eq!(version_count(&ctx, "api").await, versions, "no new version");
    assert!(api.drift.is_none(), "{api:#?}");
    let settle = sync(&ctx).await;
    assert_eq!(worker(&settle, "api").outcome, WorkerOutcome::InSync);
}

#[tokio::test]
async fn a_secret_value_changed_under_the_same_name_also_blocks_with_fs006() {
    let (emulator, mut repo, _state, ctx) = start(&[("api", "api-1")], "api v1").await;
    assert!(sync(&ctx).await.converged());
    put_secret(&emulator, "api", "API_KEY", "first-value").await;
    assert_eq!(
        worker(&sync(&ctx).await, "api").outcome,
        WorkerOutcome::InSync
    );
    update_and_sync(&ctx, &mut repo, &["api"]).await;
    // Rotate the key: same name, new value.
    put_secret(&emulator, "api", "API_KEY", "second-value").await;
    assert_eq!(
        worker(&sync(&ctx).await, "api").outcome,
        WorkerOutcome::InSync
    );
    let live = active_version(&ctx, "api").await;

    repo.revert_head();
    let (report, sent) = sent_by(&emulator, sync(&ctx)).await;
    assert!(
        sent.is_empty(),
        "refused by the planner, not by Cloudflare's 10220"
    );
    let message = blocked_message(&report, "api", &format!("{report:#?}"));
    assert!(message.contains("FS006"), "{message}");
    assert!(
        message.contains("allow_secret_change_rollback = true"),
        "{message}"
    );
    assert!(!message.contains("first-value") && !message.contains("second-value"));
    assert_eq!(active_version(&ctx, "api").await, live);
}

#[tokio::test]
async fn a_dependency_does_not_roll_back_under_a_blocked_entry_point() {
    let (emulator, mut repo, _state, ctx) = start_web_calling_api().await;
    assert!(sync(&ctx).await.converged());
    update_and_sync(&ctx, &mut repo, &["api", "web"]).await;
    // web gets a secret after v2: its rollback is refused (FS006).
    put_secret(&emulator, "web", "SESSION_KEY", "k").await;
    assert!(sync(&ctx).await.converged());
    let api_v2 = active_version(&ctx, "api").await;
    let web_live = active_version(&ctx, "web").await;

    repo.revert_head();
    let (report, sent) = sent_by(&emulator, sync(&ctx)).await;
    assert!(sent.is_empty(), "neither rolls back");
    let web = worker(&report, "web");
    assert_eq!(web.outcome, WorkerOutcome::Blocked, "{report:#?}");
    assert!(error_message(web).contains("FS006"));
    let message = blocked_message(&report, "api", &format!("{report:#?}"));
    assert!(message.contains("FS018"), "{message}");
    assert!(message.contains("`web`"), "names the caller: {message}");
    assert!(message.contains("unblock `web` first"), "{message}");
    assert_eq!(active_version(&ctx, "api").await, api_v2);
    assert_eq!(active_version(&ctx, "web").await, web_live);
}

#[tokio::test]
async fn a_revert_rolls_back_to_the_copy_that_already_has_the_current_secrets() {
    let (emulator, mut repo, _state, ctx) = start(&[("api", "api-1")], "api v1").await;
    assert!(sync(&ctx).await.converged());
    let v1 = active_version(&ctx, "api").await;
    // The secret is set while v1's content runs: Cloudflare copies v1 into a new version.
    put_secret(&emulator, "api", "API_KEY", "unchanged").await;
    let v1_with_secret = active_version(&ctx, "api").await;
    assert_ne!(v1, v1_with_secret);
    update_and_sync(&ctx, &mut repo, &["api"]).await;

    // Reverting goes back to the copy with the same secret: legal without force.
    repo.revert_head();
    let report = sync(&ctx).await;
    assert!(report.converged(), "{report:#?}");
    match &plan_of(&report, "api").action {
        flaresync_plan::Action::Rollback { to, force } => {
            assert_eq!(to.version_id, v1_with_secret);
            assert!(!force, "secrets are the same");
        }
        other => panic!("a rollback, got {other:?}"),
    }
    assert_eq!(active_version(&ctx, "api").await, v1_with_secret);
    let secrets = ctx.client().list_secrets("api").await.expect("lists");
    assert_eq!(
        secrets.into_iter().map(|s| s.name).collect::<Vec<_>>(),
        vec!["API_KEY"],
        "the secret survives the revert"
    );
}

#[tokio::test]
async fn the_loop_rolls_the_dependency_back_once_the_entry_point_retry_went_through() {
    // No client-side retries: the loop's requeue has to do it.
    let (emulator, mut repo, _state, ctx) = open_with(
        emulator().await,
        web_calling_api(),
        "web and api",
        context_without_retries,
    );
    assert!(sync(&ctx).await.converged());
    let api_v1 = active_version(&ctx, "api").await;
    let web_v1 = active_version(&ctx, "web").await;
    update_and_sync(&ctx, &mut repo, &["api", "web"]).await;
    repo.revert_head();
    // web's rollback fails once with a 5xx (transient): web is retried alone by the loop, and
    // api, held back behind it, must follow without waiting for another commit.
    emulator.fault(
        "POST",
        "/workers/scripts/web/deployments$",
        flaresync_emulator::FaultKind::Status,
        1,
    );
    let run_config = flaresync_reconcile::RunConfig {
        poll_interval: None,
        debounce: std::time::Duration::from_millis(20),
        reconcile_on_sighup: false,
        backoff: flaresync_reconcile::BackoffConfig {
            initial: std::time::Duration::from_millis(50),
            ..flaresync_reconcile::BackoffConfig::default()
        },
        ..flaresync_reconcile::RunConfig::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let loop_task = tokio::spawn(flaresync_reconcile::run(
        ctx.clone(),
        run_config,
        async move {
            let _ = stopped.await;
        },
    ));
    // Watch through a client of its own: polling must not drain the loop's request budget.
    let probe = crate::support::client(&emulator);
    let active = |name: &'static str| {
        let probe = probe.clone();
        async move {
            probe
                .active_deployment(name)
                .await
                .expect("reads deployments")
                .map(|d| d.versions[0].version_id.clone())
                .unwrap_or_default()
        }
    };
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let web = active("web").await;
        let api = active("api").await;
        if web == web_v1 && api == api_v1 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "both roll back (web {web}, api {api})"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let _ = stop.send(());
    tokio::time::timeout(std::time::Duration::from_secs(15), loop_task)
        .await
        .expect("loop stops")
        .expect("joins")
        .expect("clean");
    // Entry point first, even across the retry.
    let deployments: Vec<String> = emulator
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/deployments") && r.status < 300)
        .map(|r| r.path)
        .collect();
    let n = deployments.len();
    assert!(
        deployments[n - 2].contains("/scripts/web/"),
        "{deployments:#?}"
    );
    assert!(
        deployments[n - 1].contains("/scripts/api/"),
        "{deployments:#?}"
    );
}

#[tokio::test]
async fn a_secret_key_that_did_not_change_does_not_block_a_rollback() {
    let (emulator, mut repo, _state, ctx) = start(&[("api", "api-1")], "api v1").await;
    assert!(sync(&ctx).await.converged());
    // A `secret_key` (a CryptoKey secret), set once, before both versions below.
    send_ok(
        &emulator,
        reqwest::Client::new()
            .put(url(&emulator, "/workers/scripts/api/secrets"))
            .json(&serde_json::json!({
                "name": "SIGNING_KEY",
                "type": "secret_key",
                "format": "raw",
                "algorithm": {"name": "HMAC", "hash": "SHA-256"},
                "usages": ["sign", "verify"],
                "key_base64": "c2VjcmV0"
            })),
    )
    .await;
    assert!(sync(&ctx).await.converged());
    let with_key = active_version(&ctx, "api").await;
    update_and_sync(&ctx, &mut repo, &["api"]).await;

    repo.revert_head();
    let report = sync(&ctx).await;
    assert!(report.converged(), "{report:#?}");
    assert!(
        !plan_of(&report, "api")
            .findings
            .iter()
            .any(|f| f.rule == "FS006"),
        "{:#?}",
        report.plan
    );
    assert_eq!(active_version(&ctx, "api").await, with_key);
}

#[tokio::test]
async fn redeploy_policy_uploads_instead_of_forcing_a_secret_changing_rollback() {
    let emulator = TestEmulator::start().await.expect("emulator starts");
    let mut repo = Repo::new();
    let (ctx, _state, v1) = secret_set_between(
        &emulator,
        &mut repo,
        Some("[workers.api]\nrollback_policy = \"redeploy\"\n"),
    )
    .await;
    let (report, sent) = sent_by(&emulator, sync(&ctx)).await;
    applied(&report, "api");
    assert_eq!(sent, upload_and_deploy(&emulator, "api"));
    let plan = plan_of(&report, "api");
    assert!(
        plan.findings
            .iter()
            .any(|f| f.rule == "FS006" && f.overridden && !f.is_blocking()),
        "{plan:#?}"
    );
    let live = active_version(&ctx, "api").await;
    assert_ne!(live, v1, "a new version of the old content");
    // The new version keeps the live secret (keep_bindings): nothing is lost.
    let version = ctx.client().get_version("api", &live).await.expect("reads");
    assert!(
        version.bindings().iter().any(|b| b.name == "API_KEY"),
        "{version:#?}"
    );
    assert_eq!(
        worker(&sync(&ctx).await, "api").outcome,
        WorkerOutcome::InSync
    );
}

#[tokio::test]
async fn a_deleted_d1_database_blocks_even_when_d1_rollbacks_are_allowed() {
    let emulator = TestEmulator::start().await.expect("emulator starts");
    let mut repo = Repo::new();
    let (ctx, _state, _v1) = d1_revert(
        &emulator,
        &mut repo,
        Some("[workers.api]\nd1_blocks_rollback = false\n"),
    )
    .await;
    let live = active_version(&ctx, "api").await;
    let databases = ctx.client().list_d1_databases().await.expect("lists");
    for database in databases {
        emulator
            .delete_d1_database(&database.uuid)
            .expect("deleted");
    }
    let (report, sent) = sent_by(&emulator, sync(&ctx)).await;
    assert!(sent.is_empty());
    let message = blocked_message(&report, "api", &format!("{report:#?}"));
    assert!(
        message.contains("FS004") && message.contains("D1 database"),
        "{message}"
    );
    assert_eq!(active_version(&ctx, "api").await, live);
}

#[tokio::test]
async fn a_secret_set_and_deleted_again_does_not_block_a_rollback() {
    let (emulator, mut repo, _state, ctx) = start(&[("api", "api-1")], "api v1").await;
    assert!(sync(&ctx).await.converged());
    let v1 = active_version(&ctx, "api").await;
    update_and_sync(&ctx, &mut repo, &["api"]).await;
    put_secret(&emulator, "api", "TEMP", "t").await;
    send_ok(
        &emulator,
        reqwest::Client::new().delete(url(&emulator, "/workers/scripts/api/secrets/TEMP")),
    )
    .await;
    assert!(sync(&ctx).await.converged());

    // Neither v1 nor the live script has a secret: nothing can differ.
    repo.revert_head();
    let report = sync(&ctx).await;
    assert!(report.converged(), "{report:#?}");
    assert_eq!(active_version(&ctx, "api").await, v1);
}

#[tokio::test]
async fn a_caller_does_not_deploy_while_its_dependency_is_held_for_drift() {
    let (emulator, mut repo, _state, ctx) = start_web_calling_api().await;
    assert!(sync(&ctx).await.converged());
    let api_v1 = active_version(&ctx, "api").await;
    update_and_sync(&ctx, &mut repo, &["api", "web"]).await;
    let web_v2 = active_version(&ctx, "web").await;
    // Someone rolls api back by hand (drift; policy report keeps it).
    deploy_by_hand(
        &ctx,
        "api",
        NewDeployment::single(&api_v1, Some("hotfix".into())),
    )
    .await;
    // A new web commit must not go out on top of an api that is not what Git says.
    repo.set_body("web", "web-3");
    repo.commit("web v3");
    let (report, sent) = sent_by(&emulator, sync(&ctx)).await;
    assert!(sent.is_empty(), "{report:#?}");
    assert_eq!(worker(&report, "api").outcome, WorkerOutcome::HeldForDrift);
    let web = worker(&report, "web");
    assert_eq!(web.outcome, WorkerOutcome::Skipped, "{report:#?}");
    assert!(
        web.notes.iter().any(|n| n.contains("dependency api")),
        "{web:#?}"
    );
    assert_eq!(active_version(&ctx, "web").await, web_v2);
}

#[tokio::test]
async fn reverting_the_commit_that_added_a_service_binding_still_rolls_back_the_caller_first() {
    // Named so that name order would put the callee (`svc`) last to deploy, first to roll back.
    // B: app starts calling svc's new API.
    let (emulator, mut repo, _state, ctx) = app_then_calling_svc().await;
    let before = emulator.requests().len();
    assert!(sync(&ctx).await.converged());
    let sent = writes(&requests_since(&emulator, before));
    assert!(
        write_position(&sent, "/scripts/svc/") < write_position(&sent, "/scripts/app/"),
        "forward: svc first: {sent:#?}"
    );

    // Reverting B: Git's (old) state has no binding, but the live app does call svc.
    repo.revert_head();
    let before = emulator.requests().len();
    let report = sync(&ctx).await;
    assert!(report.converged(), "{report:#?}");
    let sent = writes(&requests_since(&emulator, before));
    assert_eq!(sent.len(), 2, "{sent:#?}");
    assert!(
        sent[0].contains("/scripts/app/deployments")
            && sent[1].contains("/scripts/svc/deployments"),
        "the live caller rolls back before its callee: {sent:#?}"
    );
}

#[tokio::test]
async fn healing_a_manual_rollback_of_a_d1_worker_is_not_a_d1_rollback() {
    let emulator = TestEmulator::start().await.expect("emulator starts");
    let mut repo = Repo::new();
    let id = emulator.create_d1_database("main").expect("d1 created");
    repo.worker("api", "api-1");
    repo.write(
        "workers/api/wrangler.toml",
        &config_with(
            "api",
            &format!(
                "\n[[d1_databases]]\nbinding = \"DB\"\ndatabase_name = \"main\"\ndatabase_id = \"{id}\"\n"
            ),
        ),
    );
    write_policy(&repo, "[workers.api]\ndrift_policy = \"heal\"\n");
    repo.commit("api with d1, drift healed");
    let state = tempfile::tempdir().expect("tempdir");
    let ctx = context(&repo, &emulator, &journal_path(&state));
    assert!(sync(&ctx).await.converged());
    let v1 = active_version(&ctx, "api").await;
    update_and_sync(&ctx, &mut repo, &["api"]).await;
    let v2 = active_version(&ctx, "api").await;
    // `wrangler rollback` by hand.
    deploy_by_hand(
        &ctx,
        "api",
        NewDeployment::single(&v1, Some("manual".into())),
    )
    .await;

    // Healing deploys the newer v2 again: the schema already met v2, FS005 is not about this.
    let report = sync(&ctx).await;
    applied(&report, "api");
    assert!(
        !plan_of(&report, "api")
            .findings
            .iter()
            .any(|f| f.rule == "FS005"),
        "{:#?}",
        report.plan
    );
    assert_eq!(active_version(&ctx, "api").await, v2);
}

#[tokio::test]
async fn a_callee_is_held_under_a_blocked_caller_even_when_the_revert_removes_the_binding() {
    let (emulator, mut repo, _state, ctx) = app_then_calling_svc().await;
    assert!(sync(&ctx).await.converged());
    put_secret(&emulator, "app", "TOKEN", "t").await;
    assert!(sync(&ctx).await.converged());
    let svc_v2 = active_version(&ctx, "svc").await;

    repo.revert_head();
    let (report, sent) = sent_by(&emulator, sync(&ctx)).await;
    assert!(sent.is_empty(), "{report:#?}");
    assert_eq!(worker(&report, "app").outcome, WorkerOutcome::Blocked);
    let message = error_message(worker(&report, "svc")).to_owned();
    assert!(
        message.contains("FS018") && message.contains("`app`"),
        "{message}"
    );
    assert_eq!(active_version(&ctx, "svc").await, svc_v2);
}

#[tokio::test]
async fn a_failed_live_caller_rollback_holds_the_callee_even_when_the_revert_removes_the_binding() {
    let (emulator, mut repo, _state, ctx) = app_then_calling_svc().await;
    assert!(sync(&ctx).await.converged());
    let svc_v2 = active_version(&ctx, "svc").await;
    refuse_next_deployment(&emulator, "app");
    repo.revert_head();
    let report = sync(&ctx).await;
    assert_eq!(worker(&report, "app").outcome, WorkerOutcome::Failed);
    assert_eq!(
        worker(&report, "svc").outcome,
        WorkerOutcome::Skipped,
        "{report:#?}"
    );
    assert_eq!(active_version(&ctx, "svc").await, svc_v2);
}

/// On call rolled both Workers back by hand. web (the caller) is on `drift_policy = "report"`,
/// api (its dependency) on `heal`: healing api is a move to its newer version, so it goes
/// dependency-first and is not held behind the report-held web, in this pass and every next.
#[tokio::test]
async fn healing_a_dependency_is_not_held_behind_a_report_held_caller() {
    let repo = web_calling_api();
    repo.write("flaresync.toml", "[workers.api]\ndrift_policy = \"heal\"\n");
    let (_emulator, mut repo, _state, ctx) =
        open_with(emulator().await, repo, "web and api", context);
    assert!(sync(&ctx).await.converged());
    let api_v1 = active_version(&ctx, "api").await;
    let web_v1 = active_version(&ctx, "web").await;
    update_and_sync(&ctx, &mut repo, &["api", "web"]).await;
    let api_v2 = active_version(&ctx, "api").await;
    for (script, version) in [("web", &web_v1), ("api", &api_v1)] {
        deploy_by_hand(
            &ctx,
            script,
            NewDeployment::single(version, Some("incident".into())),
        )
        .await;
    }
    for _ in 0..2 {
        let report = sync(&ctx).await;
        assert_eq!(worker(&report, "web").outcome, WorkerOutcome::HeldForDrift);
        let api = worker(&report, "api");
        assert!(
            matches!(
                api.outcome,
                WorkerOutcome::Applied { .. } | WorkerOutcome::InSync
            ),
            "{report:#?}"
        );
        assert_eq!(active_version(&ctx, "api").await, api_v2);
        assert_eq!(active_version(&ctx, "web").await, web_v1);
    }
}
