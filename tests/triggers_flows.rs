//! Routes, custom domains and queue consumers reconciled from Git against the emulator (over
//! real HTTP, real git repositories): created, changed and deleted as Git says; a route of
//! another Worker is an error naming both Workers while the others deploy; a revert that
//! changes routes is a rollback followed by the routes re-applied; a Worker deployed by the real
//! `wrangler deploy` with routes and consumers is in sync with the same Worker in Git.

mod common;

use std::path::Path;

use common::*;
use serde_json::{Value, json};

fn domains(emulator: &Emulator, service: &str) -> Vec<String> {
    let list = emulator.get(&format!(
        "/accounts/{ACCOUNT}/workers/domains?service={service}"
    ));
    list["result"]
        .as_array()
        .expect("domains")
        .iter()
        .filter_map(|d| d["hostname"].as_str().map(str::to_owned))
        .collect()
}

/// The consumer of `queue`: `(script, settings)`, if any.
fn consumer(emulator: &Emulator, queue: &str) -> Option<(String, Value)> {
    let list = emulator.get(&format!("/accounts/{ACCOUNT}/queues?name={queue}"));
    let consumer = list["result"][0]["consumers"].get(0)?.clone();
    Some((
        consumer["script"].as_str().unwrap_or_default().to_owned(),
        consumer["settings"].clone(),
    ))
}

/// `flaresync sync`, which must succeed.
fn sync_ok(emulator: &Emulator, repo: &str, state: &Path) -> Output {
    let out = sync(emulator, repo, state);
    assert_eq!(out.code, 0, "{}", out.all());
    out
}

fn config(repo: &Path, dir: &str, name: &str, extra: &str) {
    write(
        &repo.join(dir).join("wrangler.toml"),
        &format!(
            "name = \"{name}\"\nmain = \"dist/index.js\"\ncompatibility_date = \"2025-06-01\"\n{extra}"
        ),
    );
}

/// `flaresync plan --live` of `repo` (text).
fn plan_live(emulator: &Emulator, repo: &str, state: &Path) -> Output {
    let mut plan = flaresync();
    plan.args([
        "plan",
        "--repo",
        repo,
        "--live",
        "--format",
        "text",
        "--state-dir",
    ])
    .arg(state);
    emulator.env(&mut plan);
    run(&mut plan)
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

#[test]
fn routes_domains_and_consumers_follow_git() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, emulator, state) = repo_emulator_state(dir.path());
    emulator.post(
        &format!("/accounts/{ACCOUNT}/queues"),
        json!({"queue_name": "jobs"}),
    );
    emulator.post(
        &format!("/accounts/{ACCOUNT}/queues"),
        json!({"queue_name": "mail"}),
    );
    let repo_arg = repo.to_str().expect("utf-8");
    worker(&repo, "api", "api", "v1");
    config(
        &repo,
        "api",
        "api",
        "routes = [\"api.example.com/*\", { pattern = \"example.com/api/*\", zone_name = \"example.com\" }, { pattern = \"shop.example.com\", custom_domain = true }]\n\n[[queues.consumers]]\nqueue = \"jobs\"\nmax_batch_size = 20\nmax_batch_timeout = 2\n",
    );
    commit_all(&repo, "api with routes, a custom domain and a consumer");
    let out = sync_ok(&emulator, repo_arg, &state);
    assert!(!out.all().contains("not applied"), "{}", out.all());
    assert_eq!(
        routes(&emulator),
        pairs(&[("api.example.com/*", "api"), ("example.com/api/*", "api")])
    );
    assert_eq!(domains(&emulator, "api"), ["shop.example.com"]);
    let (script, settings) = consumer(&emulator, "jobs").expect("a consumer");
    assert_eq!(script, "api");
    assert_eq!(
        (
            settings["batch_size"].clone(),
            settings["max_wait_time_ms"].clone()
        ),
        (json!(20), json!(2000))
    );

    // Changed: one route replaced, the domain renamed, the consumer moved and retuned.
    config(
        &repo,
        "api",
        "api",
        "routes = [\"api.example.com/v2/*\", { pattern = \"example.com/api/*\", zone_name = \"example.com\" }, { pattern = \"store.example.com\", custom_domain = true }]\n\n[[queues.consumers]]\nqueue = \"mail\"\nmax_retries = 9\n",
    );
    commit_all(&repo, "api moves");
    sync_ok(&emulator, repo_arg, &state);
    assert_eq!(
        routes(&emulator),
        pairs(&[
            ("api.example.com/v2/*", "api"),
            ("example.com/api/*", "api")
        ])
    );
    assert_eq!(domains(&emulator, "api"), ["store.example.com"]);
    assert_eq!(
        consumer(&emulator, "jobs"),
        None,
        "removed from Git, removed from the queue"
    );
    assert_eq!(
        consumer(&emulator, "mail").map(|c| c.1["max_retries"].clone()),
        Some(json!(9))
    );

    // Removed from Git: deleted (wrangler would leave them), code unchanged.
    config(&repo, "api", "api", "");
    commit_all(&repo, "api without triggers");
    sync_ok(&emulator, repo_arg, &state);
    assert_eq!(routes(&emulator), Vec::<(String, String)>::new());
    assert!(domains(&emulator, "api").is_empty());
    assert_eq!(consumer(&emulator, "mail"), None);
    let out = sync(&emulator, repo_arg, &state);
    assert_eq!(out.code, 0, "converged: {}", out.all());
}

#[test]
fn a_route_of_another_worker_is_an_error_naming_both_and_the_others_deploy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, emulator, state) = repo_emulator_state(dir.path());
    let repo_arg = repo.to_str().expect("utf-8");
    worker(&repo, "owner", "owner", "owner");
    commit_all(&repo, "owner");
    assert_eq!(sync(&emulator, repo_arg, &state).code, 0);
    // A hand-made route sends the pattern to `owner`.
    emulator.post(
        &format!("/zones/{}/workers/routes", zone_id(&emulator)),
        json!({"pattern": "api.example.com/*", "script": "owner"}),
    );
    worker(&repo, "thief", "thief", "thief");
    config(&repo, "thief", "thief", "route = \"api.example.com/*\"\n");
    worker(&repo, "bystander", "bystander", "hello");
    commit_all(&repo, "thief wants owner's route");
    let out = sync(&emulator, repo_arg, &state);
    assert_eq!(out.code, 2, "{}", out.all());
    let text = out.all();
    assert!(
        text.contains("thief") && text.contains("belongs to Worker owner"),
        "{text}"
    );
    assert_eq!(
        routes(&emulator),
        pairs(&[("api.example.com/*", "owner")]),
        "never stolen"
    );
    assert!(
        emulator.live_tag("bystander").is_some(),
        "the other Worker deployed: {text}"
    );
}

#[test]
fn a_revert_that_changes_routes_rolls_back_then_reapplies_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, emulator, state) = repo_emulator_state(dir.path());
    let repo_arg = repo.to_str().expect("utf-8");
    worker(&repo, "api", "api", "v1");
    config(&repo, "api", "api", "route = \"api.example.com/*\"\n");
    commit_all(&repo, "v1 on api.example.com");
    assert_eq!(sync(&emulator, repo_arg, &state).code, 0);
    set_body(&repo, "api", "v2");
    config(
        &repo,
        "api",
        "api",
        "routes = [\"api.example.com/*\", \"beta.example.com/*\"]\n",
    );
    commit_all(&repo, "v2 adds beta");
    assert_eq!(sync(&emulator, repo_arg, &state).code, 0);
    assert_eq!(routes(&emulator).len(), 2);
    let versions = emulator.versions("api").len();

    git(&repo, &["revert", "--no-edit", "HEAD"]);
    let planned = plan_live(&emulator, repo_arg, &state);
    assert!(
        planned.stdout.contains("rollback")
            && planned
                .stdout
                .contains("then routes are re-applied from Git"),
        "{}",
        planned.all()
    );
    sync_ok(&emulator, repo_arg, &state);
    assert_eq!(
        emulator.versions("api").len(),
        versions,
        "a rollback, no upload"
    );
    assert_eq!(
        routes(&emulator),
        pairs(&[("api.example.com/*", "api")]),
        "beta removed again"
    );
}

/// Routes, custom domains and the queue consumer as Cloudflare holds them.
type Triggers = (Vec<(String, String)>, Vec<String>, Option<(String, Value)>);

fn triggers(emulator: &Emulator) -> Triggers {
    (
        routes(emulator),
        domains(emulator, "api"),
        consumer(emulator, "jobs"),
    )
}

#[test]
fn wrangler_deploy_with_routes_and_consumers_is_in_sync_with_git() {
    let Some(entry) = wrangler_entry() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, emulator, state) = repo_emulator_state(dir.path());
    emulator.post(
        &format!("/accounts/{ACCOUNT}/queues"),
        json!({"queue_name": "jobs"}),
    );
    let extra = "no_bundle = true\nroutes = [\"api.example.com/*\", { pattern = \"example.com/api/*\", zone_name = \"example.com\" }, { pattern = \"shop.example.com\", custom_domain = true }]\n\n[[queues.consumers]]\nqueue = \"jobs\"\nmax_batch_size = 20\nmax_batch_timeout = 3\nmax_retries = 5\nretry_delay = 10\n";
    worker(&repo, "api", "api", "hello");
    config(&repo, "api", "api", extra);
    commit_all(&repo, "api");
    let repo_arg = repo.to_str().expect("utf-8");
    sync_ok(&emulator, repo_arg, &state);
    let ours = triggers(&emulator);
    assert_eq!(ours.0.len(), 2, "{ours:?}");

    // A human deploys the same config with the real wrangler: the same routes, domain and
    // consumer, key for key.
    wrangler(&entry, &emulator, &repo.join("api"), &["deploy"]);
    assert_eq!(
        triggers(&emulator),
        ours,
        "wrangler's triggers equal flaresync's"
    );

    let planned = plan_live(&emulator, repo_arg, &state);
    assert_eq!(planned.code, 0, "in sync: {}", planned.all());
    sync_ok(&emulator, repo_arg, &state);
    assert_eq!(triggers(&emulator), ours);
}

/// The consumers of `queue` as `(type, script)`.
fn consumers_of(emulator: &Emulator, queue: &str) -> Vec<(String, String)> {
    let list = emulator.get(&format!("/accounts/{ACCOUNT}/queues?name={queue}"));
    list["result"][0]["consumers"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|c| {
                    let text = |key: &str| c[key].as_str().unwrap_or_default().to_owned();
                    (text("type"), text("script"))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_code_change_that_drops_the_last_route_and_pull_consumer_removes_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, emulator, state) = repo_emulator_state(dir.path());
    for queue in ["pulled", "by-hand"] {
        emulator.post(
            &format!("/accounts/{ACCOUNT}/queues"),
            json!({"queue_name": queue}),
        );
    }
    // A pull consumer nobody declared in Git: flaresync must never remove it.
    let hand = emulator.get(&format!("/accounts/{ACCOUNT}/queues?name=by-hand"));
    let hand_id = hand["result"][0]["queue_id"]
        .as_str()
        .expect("id")
        .to_owned();
    emulator.post(
        &format!("/accounts/{ACCOUNT}/queues/{hand_id}/consumers"),
        json!({"type": "http_pull", "settings": {}}),
    );
    let repo_arg = repo.to_str().expect("utf-8");
    worker(&repo, "api", "api", "v1");
    config(
        &repo,
        "api",
        "api",
        "route = \"api.example.com/*\"\n\n[[queues.consumers]]\nqueue = \"pulled\"\ntype = \"http_pull\"\nvisibility_timeout_ms = 5000\n",
    );
    commit_all(&repo, "v1 with a route and a pull consumer");
    sync_ok(&emulator, repo_arg, &state);
    assert_eq!(routes(&emulator), pairs(&[("api.example.com/*", "api")]));
    assert_eq!(
        consumers_of(&emulator, "pulled"),
        pairs(&[("http_pull", "")])
    );

    // One commit changes the code and drops both; each `sync` is a new process, so nothing
    // but Cloudflare and Git says what was applied.
    set_body(&repo, "api", "v2");
    config(&repo, "api", "api", "");
    commit_all(&repo, "v2 without the route and the consumer");
    let out = sync_ok(&emulator, repo_arg, &state);
    assert_eq!(
        routes(&emulator),
        Vec::<(String, String)>::new(),
        "{}",
        out.all()
    );
    assert!(
        consumers_of(&emulator, "pulled").is_empty(),
        "{}",
        out.all()
    );
    assert_eq!(
        consumers_of(&emulator, "by-hand"),
        pairs(&[("http_pull", "")]),
        "a pull consumer Git never declared stays"
    );
    let out = sync(&emulator, repo_arg, &state);
    assert_eq!(out.code, 0, "converged: {}", out.all());
}
