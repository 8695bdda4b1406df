//! flaresync next to the real wrangler CLI (4.86.0) on Workers with routes, queue consumers
//! and static assets (issue 14's interop proof). Without wrangler these tests fail with what to
//! run, unless `FLARESYNC_SKIP_WRANGLER=1`.
//!
//! - Adoption: a Worker that `wrangler deploy` put live *before* flaresync (no flaresync version
//!   anywhere) and the same Worker committed in Git: `plan --live` plans no deploy (the live
//!   content equals Git's; only the non-versioned settings are checked), `sync` uploads nothing
//!   and changes no route or consumer, and the next `sync` has nothing to do.
//! - What wrangler shows: after flaresync deploys a Worker with assets and a route,
//!   `wrangler deployments list` and `wrangler versions view` show the same as for wrangler's
//!   own deploy of that Worker, and the zone holds the same route.

mod common;

use std::path::Path;

use common::*;
use serde_json::{Value, json};

fn config(name: &str, host: &str, extra: &str) -> String {
    format!(
        "name = \"{name}\"\nmain = \"dist/index.js\"\ncompatibility_date = \"2025-06-01\"\n\
         no_bundle = true\nroutes = [\"{host}/*\"]\n{extra}"
    )
}

fn body(dir: &Path) {
    write(
        &dir.join("dist/index.js"),
        "export default {\n  async fetch(request, env) { return new Response(\"hello\"); },\n  \
         async queue(batch) {},\n};\n",
    );
}

/// `flaresync plan --live` (text) of `repo`.
fn plan_live(emulator: &Emulator, repo: &Path, state: &Path) -> Output {
    let mut plan = flaresync();
    plan.args(["plan", "--live", "--format", "text", "--repo"])
        .arg(repo)
        .arg("--state-dir")
        .arg(state);
    emulator.env(&mut plan);
    run(&mut plan)
}

/// The plan's line for `worker` in its table.
fn plan_line<'a>(plan: &'a Output, worker: &str) -> &'a str {
    plan.stdout
        .lines()
        .find(|line| line.split_whitespace().next() == Some(worker))
        .unwrap_or_else(|| panic!("{worker} in the plan:\n{}", plan.all()))
}

/// The Worker consuming `queue`, if any.
fn consumer_of(emulator: &Emulator, queue: &str) -> Option<String> {
    let list = emulator.get(&format!("/accounts/{ACCOUNT}/queues?name={queue}"));
    list["result"][0]["consumers"][0]["script"]
        .as_str()
        .map(str::to_owned)
}

#[test]
fn a_worker_wrangler_deployed_first_is_adopted_without_a_deploy() {
    let Some(entry) = wrangler_entry() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, emulator, state) = repo_emulator_state(dir.path());
    emulator.post(
        &format!("/accounts/{ACCOUNT}/queues"),
        json!({"queue_name": "jobs"}),
    );
    let consumer = "\n[[queues.consumers]]\nqueue = \"jobs\"\nmax_batch_size = 20\n\n[vars]\nMODE = \"live\"\n";
    write(
        &repo.join("api/wrangler.toml"),
        &config("api", "api.example.com", consumer),
    );
    body(&repo.join("api"));
    commit_all(&repo, "api as wrangler deployed it");
    // Before flaresync existed here: the team deployed with wrangler.
    wrangler(&entry, &emulator, &repo.join("api"), &["deploy"]);
    let versions = emulator.versions("api");
    assert_eq!(versions, [""], "one version, no commit stamp");
    let triggers = (routes(&emulator), consumer_of(&emulator, "jobs"));
    assert_eq!(
        triggers,
        (
            vec![("api.example.com/*".to_owned(), "api".to_owned())],
            Some("api".to_owned())
        )
    );

    let planned = plan_live(&emulator, &repo, &state);
    let line = plan_line(&planned, "api");
    assert!(
        !line.contains("deploy") && !line.contains("rollback"),
        "the live content equals Git's: no deploy planned:\n{}",
        planned.all()
    );
    let out = sync(&emulator, repo.to_str().expect("utf-8"), &state);
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(emulator.versions("api"), versions, "nothing uploaded");
    assert_eq!(
        (routes(&emulator), consumer_of(&emulator, "jobs")),
        triggers
    );
    // Converged: the next pass has nothing to do.
    let again = sync(&emulator, repo.to_str().expect("utf-8"), &state);
    assert_eq!(again.code, 0, "{}", again.all());
    assert!(again.stdout.contains("no changes"), "{}", again.all());
    assert_eq!(emulator.versions("api"), versions, "still nothing uploaded");

    // A different bundle in Git is a deploy again: equal content is proven, never assumed.
    write(
        &repo.join("api/dist/index.js"),
        "export default { async fetch() { return new Response(\"v2\"); }, async queue() {} };\n",
    );
    commit_all(&repo, "v2");
    let planned = plan_live(&emulator, &repo, &state);
    assert!(
        plan_line(&planned, "api").contains("deploy"),
        "{}",
        planned.all()
    );
}

/// `wrangler <args> --json` in `project`, parsed.
fn wrangler_json(entry: &Path, emulator: &Emulator, project: &Path, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let out = wrangler(entry, emulator, project, &all);
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.all()))
}

/// What `wrangler deployments list` and `wrangler versions view` show of `name`'s live
/// deployment, minus what differs by nature (ids, times, authors, source, messages, tags).
fn as_wrangler_shows(entry: &Path, emulator: &Emulator, project: &Path, name: &str) -> Value {
    let deployments = wrangler_json(
        entry,
        emulator,
        project,
        &["deployments", "list", "--name", name],
    );
    let list = deployments.as_array().expect("a list of deployments");
    let newest = list.last().expect("a deployment");
    let shares: Vec<Value> = newest["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .map(|v| v["percentage"].clone())
        .collect();
    let version_id = newest["versions"][0]["version_id"]
        .as_str()
        .expect("a version id")
        .to_owned();
    let version = wrangler_json(
        entry,
        emulator,
        project,
        &["versions", "view", &version_id, "--name", name],
    );
    let mut resources = version["resources"].clone();
    if let Some(script) = resources["script"].as_object_mut() {
        script.remove("last_deployed_from");
    }
    json!({
        "deployments": list.len(),
        "shares": shares,
        "strategy": newest["strategy"],
        "resources": resources,
    })
}

#[test]
fn wrangler_shows_a_flaresync_deploy_with_assets_and_routes_as_its_own() {
    let Some(entry) = wrangler_entry() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, emulator, state) = repo_emulator_state(dir.path());
    let assets = "\n[assets]\ndirectory = \"public\"\nbinding = \"ASSETS\"\nnot_found_handling = \"404-page\"\n";
    let site = |root: &Path, name: &str, host: &str| {
        write(&root.join("wrangler.toml"), &config(name, host, assets));
        body(root);
        write(&root.join("public/index.html"), "<h1>site</h1>\n");
        write(&root.join("public/404.html"), "<h1>gone</h1>\n");
        write(&root.join("public/css/style.css"), "body { color: red }\n");
    };
    site(&repo.join("site"), "site", "site.example.com");
    commit_all(&repo, "site");
    let out = sync(&emulator, repo.to_str().expect("utf-8"), &state);
    assert_eq!(out.code, 0, "{}", out.all());
    let uploads = |emulator: &Emulator| {
        emulator
            .request_log()
            .iter()
            .filter(|r| {
                r["path"]
                    .as_str()
                    .is_some_and(|p| p.contains("/workers/assets/upload"))
            })
            .count()
    };
    let uploaded = uploads(&emulator);
    assert!(uploaded > 0, "flaresync uploaded the files");
    let project = dir.path().join("by-wrangler");
    site(&project, "sitew", "sitew.example.com");
    wrangler(&entry, &emulator, &project, &["deploy"]);
    // wrangler hashed the same files to the same keys: Cloudflare had every one already.
    assert_eq!(
        uploads(&emulator),
        uploaded,
        "wrangler found every asset uploaded"
    );

    let ours = as_wrangler_shows(&entry, &emulator, &repo.join("site"), "site");
    let theirs = as_wrangler_shows(&entry, &emulator, &project, "sitew");
    assert_eq!(
        serde_json::to_string_pretty(&ours).expect("json"),
        serde_json::to_string_pretty(&theirs).expect("json"),
        "wrangler shows flaresync's deploy unlike its own"
    );
    let text = ours.to_string();
    assert!(text.contains("\"type\":\"assets\""), "{text}");
    assert_eq!(
        routes(&emulator),
        [
            ("site.example.com/*".to_owned(), "site".to_owned()),
            ("sitew.example.com/*".to_owned(), "sitew".to_owned())
        ]
    );
    let scripts = emulator.get(&format!("/accounts/{ACCOUNT}/workers/scripts"));
    let has_assets: Vec<(String, Value)> = scripts["result"]
        .as_array()
        .expect("scripts")
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap_or_default().to_owned(),
                s["has_assets"].clone(),
            )
        })
        .collect();
    assert_eq!(
        has_assets,
        [
            ("site".to_owned(), json!(true)),
            ("sitew".to_owned(), json!(true))
        ]
    );
}
