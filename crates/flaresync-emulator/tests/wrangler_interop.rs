//! Runs the real wrangler CLI (4.86.0) against an in-process emulator: first deploy with DO
//! migrations (PUT), second deploy (versions API), versions upload/view/list/deploy (100% and a
//! 90/10 split), deployments list/status, rollback with and without an id, the changed-secrets
//! rollback (10220 then `?force=true`), and whoami; and that a secret set by `wrangler secret put`
//! outlives later `wrangler deploy`s (versions API and `PUT`).
//!
//! Needs wrangler installed by `crates/flaresync-emulator/scripts/install-wrangler.sh` (into
//! `$FLARESYNC_CACHE/wrangler` or `<repo>/.cache/wrangler`). Without it the test fails, unless
//! `FLARESYNC_SKIP_WRANGLER=1` is set, in which case it prints a skip note and passes.

mod common;
#[path = "support/wrangler.rs"]
mod wrangler_cli;

use std::path::{Path, PathBuf};

use flaresync_emulator::testing::TestEmulator;
use serde_json::{Value, json};
use wrangler_cli::{Wrangler, wrangler_entry};

const WORKER: &str = "flaresync-demo";

fn worker_source(greeting: &str) -> String {
    format!(
        r#"export class Counter {{
  constructor(state, env) {{ this.state = state; }}
  async fetch(request) {{ return new Response("count"); }}
}}

export default {{
  async fetch(request, env) {{
    return new Response("{greeting} " + env.GREETING);
  }},
}};
"#
    )
}

fn wrangler_toml(kv_id: &str) -> String {
    format!(
        r#"name = "{WORKER}"
main = "index.js"
compatibility_date = "2025-01-01"

[vars]
GREETING = "hello"

[[kv_namespaces]]
binding = "CACHE"
id = "{kv_id}"

[[durable_objects.bindings]]
name = "COUNTER"
class_name = "Counter"

[[migrations]]
tag = "v1"
new_classes = ["Counter"]

[triggers]
crons = ["*/15 * * * *", "0 17 * * sun"]
"#
    )
}

/// The API's view of the Worker's cron triggers.
async fn schedules(emu: &TestEmulator) -> Vec<String> {
    let url = common::account_url(emu, &format!("/workers/scripts/{WORKER}/schedules"));
    let body = common::get_json(url, emu.token()).await;
    body["result"]["schedules"]
        .as_array()
        .unwrap_or_else(|| panic!("schedules answer: {body}"))
        .iter()
        .map(|s| s["cron"].as_str().expect("cron").to_owned())
        .collect()
}

/// The API's view: deployments newest first.
async fn deployments(emu: &TestEmulator) -> Vec<Value> {
    let url = common::account_url(emu, &format!("/workers/scripts/{WORKER}/deployments"));
    let body = common::get_json(url, emu.token()).await;
    body["result"]["deployments"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn splits(deployment: &Value) -> Vec<(String, f64)> {
    deployment["versions"]
        .as_array()
        .map(|vs| {
            vs.iter()
                .map(|v| {
                    (
                        v["version_id"].as_str().unwrap_or_default().to_owned(),
                        v["percentage"].as_f64().unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn view_etag(emu: &TestEmulator, version: &str) -> Value {
    let url = common::account_url(
        emu,
        &format!("/workers/scripts/{WORKER}/versions/{version}"),
    );
    let body = common::get_json(url, emu.token()).await;
    body["result"]["resources"]["script"]["etag"].clone()
}

fn count_calls(emu: &TestEmulator, method: &str, suffix: &str) -> usize {
    emu.requests()
        .iter()
        .filter(|r| r.method == method && r.path.ends_with(suffix))
        .count()
}

/// Where wrangler is installed, or `None` (with a printed note) when it is missing and
/// `FLARESYNC_SKIP_WRANGLER=1` allows skipping; panics when it is missing otherwise.
fn installed_wrangler() -> Option<PathBuf> {
    let entry = wrangler_entry();
    if entry.exists() {
        return Some(entry);
    }
    if std::env::var("FLARESYNC_SKIP_WRANGLER").as_deref() == Ok("1") {
        eprintln!(
            "\n======== SKIPPED: wrangler interop test ========\n\
             wrangler is not installed at {} and FLARESYNC_SKIP_WRANGLER=1 is set.\n\
             Run crates/flaresync-emulator/scripts/install-wrangler.sh to enable it.\n\
             ================================================\n",
            entry.display()
        );
        return None;
    }
    panic!(
        "wrangler is not installed at {}: run crates/flaresync-emulator/scripts/install-wrangler.sh \
         first (or set FLARESYNC_SKIP_WRANGLER=1 to skip this test)",
        entry.display()
    );
}

/// A running emulator and a wrangler project talking to it (`wrangler.toml` with the Worker's KV
/// namespace, `index.js` at "v1") in a temporary directory; `None` when wrangler is skipped.
async fn start() -> Option<(TestEmulator, tempfile::TempDir, Wrangler)> {
    let entry = installed_wrangler()?;
    let emu = TestEmulator::start().await.expect("emulator starts");
    let dir = tempfile::tempdir().expect("tempdir");
    let w = project(&emu, entry, dir.path());
    Some((emu, dir, w))
}

fn project(emu: &TestEmulator, entry: PathBuf, dir: &Path) -> Wrangler {
    let kv = emu
        .create_kv_namespace("flaresync-demo-CACHE")
        .expect("kv namespace");
    let project = dir.join("project");
    let home = dir.join("home");
    std::fs::create_dir_all(&project).expect("project dir");
    std::fs::create_dir_all(&home).expect("home dir");
    std::fs::write(project.join("wrangler.toml"), wrangler_toml(&kv)).expect("toml");
    std::fs::write(project.join("index.js"), worker_source("v1")).expect("source");
    Wrangler {
        entry,
        project,
        home,
        output_file: dir.join("wrangler-output.ndjson"),
        base_url: emu.base_url(),
        token: emu.token().to_owned(),
        account: emu.account_id().to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_wrangler_runs_the_scenario() {
    let Some((emu, _dir, w)) = start().await else {
        return;
    };
    let project = w.project.clone();

    // 1. First deploy: a new Worker with DO migrations goes through PUT.
    w.ok(&["deploy"]).await;
    let deploys = w.records("deploy");
    let v1 = deploys[0]["version_id"]
        .as_str()
        .expect("deploy version_id")
        .to_owned();
    assert_eq!(
        count_calls(&emu, "PUT", &format!("/workers/scripts/{WORKER}")),
        1
    );
    let d = deployments(&emu).await;
    assert_eq!(d.len(), 1);
    assert_eq!(splits(&d[0]), vec![(v1.clone(), 100.0)]);
    // `[triggers] crons` go out as `PUT …/schedules` after the upload.
    let crons = schedules(&emu).await;
    assert_eq!(crons, ["*/15 * * * *", "0 17 * * sun"]);

    // 2. Second deploy: no pending migrations, so the versions API (upload + deployment).
    std::fs::write(project.join("index.js"), worker_source("v2")).expect("source");
    w.ok(&["deploy", "--message", "second deploy"]).await;
    let v2 = w.records("deploy")[1]["version_id"]
        .as_str()
        .expect("version_id")
        .to_owned();
    assert_ne!(v1, v2);
    assert_eq!(
        count_calls(&emu, "PUT", &format!("/workers/scripts/{WORKER}")),
        1,
        "no second PUT"
    );
    assert_eq!(count_calls(&emu, "POST", "/versions"), 1);
    let d = deployments(&emu).await;
    assert_eq!(splits(&d[0]), vec![(v2.clone(), 100.0)]);
    assert_eq!(
        d[0]["annotations"]["workers/message"],
        json!("second deploy")
    );
    assert_eq!(
        schedules(&emu).await,
        crons,
        "schedules outlive the new version"
    );
    assert!(
        count_calls(&emu, "PUT", "/schedules") >= 2,
        "each deploy sends its triggers"
    );

    // 3. versions upload with tag and message: a version, no deployment change.
    std::fs::write(project.join("index.js"), worker_source("v3")).expect("source");
    w.ok(&[
        "versions",
        "upload",
        "--tag",
        "v3",
        "--message",
        "upload v3",
    ])
    .await;
    let v3 = w.records("version-upload")[0]["version_id"]
        .as_str()
        .expect("version_id")
        .to_owned();
    assert_eq!(deployments(&emu).await.len(), 2, "upload must not deploy");

    // 4. versions view / list.
    let view = w.json(&["versions", "view", &v3, "--json"]).await;
    assert_eq!(view["id"], json!(v3));
    assert_eq!(view["annotations"]["workers/tag"], json!("v3"));
    assert_eq!(view["annotations"]["workers/message"], json!("upload v3"));
    assert_eq!(
        view["resources"]["script_runtime"]["migration_tag"],
        json!("v1")
    );
    let list = w.json(&["versions", "list", "--json"]).await;
    let ids: Vec<&str> = list
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|v| v["id"].as_str())
        .collect();
    assert_eq!(
        ids,
        vec![v1.as_str(), v2.as_str(), v3.as_str()],
        "oldest first after wrangler's sort"
    );

    // 5. versions deploy: 100%, then a 90/10 split.
    w.ok(&[
        "versions",
        "deploy",
        &format!("{v3}@100%"),
        "--yes",
        "--message",
        "promote v3",
    ])
    .await;
    assert_eq!(
        splits(&deployments(&emu).await[0]),
        vec![(v3.clone(), 100.0)]
    );
    w.ok(&[
        "versions",
        "deploy",
        &format!("{v3}@90%"),
        &format!("{v2}@10%"),
        "--yes",
    ])
    .await;
    let d = deployments(&emu).await;
    assert_eq!(splits(&d[0]), vec![(v3.clone(), 90.0), (v2.clone(), 10.0)]);

    // 6. deployments list (oldest first) and status (the split).
    let listed = w.json(&["deployments", "list", "--json"]).await;
    let listed = listed.as_array().expect("deployments");
    assert_eq!(listed.len(), 4);
    assert_eq!(
        listed.last().map(splits),
        Some(vec![(v3.clone(), 90.0), (v2.clone(), 10.0)])
    );
    assert_eq!(splits(&listed[0]), vec![(v1.clone(), 100.0)]);
    let status = w.json(&["deployments", "status", "--json"]).await;
    assert_eq!(status["id"], d[0]["id"]);

    // 7. rollback to an explicit version.
    w.ok(&["rollback", &v2, "--message", "back to v2", "--yes"])
        .await;
    let d = deployments(&emu).await;
    assert_eq!(splits(&d[0]), vec![(v2.clone(), 100.0)]);
    assert_eq!(d[0]["annotations"]["workers/message"], json!("back to v2"));

    // 8. rollback without an id: newest deployment dropped, the split skipped, so v3 (100%).
    w.ok(&["rollback", "--yes"]).await;
    let d = deployments(&emu).await;
    assert_eq!(splits(&d[0]), vec![(v3.clone(), 100.0)]);
    assert_eq!(d[0]["annotations"]["workers/message"], json!("Rollback"));

    // 9. secret put creates and deploys a version; rolling back past it is 10220, which
    //    wrangler (CI mode) confirms and retries with ?force=true.
    w.ok_with_stdin(&["secret", "put", "API_TOKEN"], Some("s3cret-value\n"))
        .await;
    let d = deployments(&emu).await;
    assert_eq!(d[0]["annotations"]["workers/triggered_by"], json!("secret"));
    let secret_version = splits(&d[0])[0].0.clone();
    assert!(![&v1, &v2, &v3].contains(&&secret_version));
    w.ok(&["rollback", &v3, "--yes"]).await;
    let refused = emu
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/deployments"))
        .map(|r| (r.query.clone().unwrap_or_default(), r.status))
        .collect::<Vec<_>>();
    let n = refused.len();
    assert_eq!(refused[n - 2], (String::new(), 400), "{refused:?}");
    assert_eq!(
        refused[n - 1],
        ("force=true".to_owned(), 200),
        "{refused:?}"
    );
    assert_eq!(
        splits(&deployments(&emu).await[0]),
        vec![(v3.clone(), 100.0)]
    );

    // 10. versions secret put: a new version (code fetched via content/v2, bindings
    //     inherited), not deployed.
    let active_before = deployments(&emu).await[0]["id"].clone();
    w.ok_with_stdin(
        &[
            "versions",
            "secret",
            "put",
            "OTHER_SECRET",
            "--message",
            "add other",
        ],
        Some("other-value\n"),
    )
    .await;
    assert_eq!(
        deployments(&emu).await[0]["id"],
        active_before,
        "versions secret put must not deploy"
    );
    let list = w.json(&["versions", "list", "--json"]).await;
    let newest = list
        .as_array()
        .and_then(|l| l.last())
        .cloned()
        .expect("a version");
    let newest_id = newest["id"].as_str().expect("id").to_owned();
    let view = w.json(&["versions", "view", &newest_id, "--json"]).await;
    let mut names: Vec<&str> = view["resources"]["bindings"]
        .as_array()
        .expect("bindings")
        .iter()
        .filter_map(|b| b["name"].as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        vec!["API_TOKEN", "CACHE", "COUNTER", "GREETING", "OTHER_SECRET"],
        "{view:#}"
    );
    assert_eq!(
        view["resources"]["script"]["etag"],
        json!(view_etag(&emu, &v3).await)
    );

    // 11. whoami.
    let who = w.ok(&["whoami"]).await;
    assert!(who.stdout.contains(emu.account_id()), "{}", who.stdout);
    assert!(who.stdout.contains("dev@flaresync.test"), "{}", who.stdout);

    // Every call wrangler made was routed; only the pre-checks of the first deploy may 404.
    let log = emu.requests();
    for r in &log {
        eprintln!("{} {} {:?} -> {}", r.method, r.path, r.query, r.status);
    }
    let unexpected: Vec<_> = log
        .iter()
        .filter(|r| r.status >= 400)
        .filter(|r| !(r.method == "POST" && r.path.ends_with("/deployments") && r.status == 400))
        .filter(|r| r.seq > 4)
        .collect();
    assert!(
        unexpected.is_empty(),
        "unexpected failures: {unexpected:#?}"
    );

    // The secret value never shows up in what wrangler printed or in API answers.
    assert!(!who.stdout.contains("s3cret-value"));
    assert!(!who.stdout.contains("other-value"));
}

/// The value of secret `name` in the version deployed at 100% (`None` when it has no such secret).
fn deployed_secret(emu: &TestEmulator, name: &str) -> Option<String> {
    use flaresync_emulator::state::store;
    emu.emulator()
        .with_state(|tx, _| {
            let Some(active) = store::latest_deployment(tx, WORKER)? else {
                return Ok(None);
            };
            let Some(version) = store::get_version(tx, WORKER, &active.versions[0].version_id)?
            else {
                return Ok(None);
            };
            Ok(version
                .bindings
                .iter()
                .find(|b| b["name"] == json!(name) && b["type"] == json!("secret_text"))
                .and_then(|b| b["text"].as_str().map(str::to_owned)))
        })
        .expect("state readable")
}

/// Issue 11 item 15: a secret set with `wrangler secret put` outlives later `wrangler deploy`s,
/// which name no secret and send no `keep_bindings`, both through the versions API and through
/// `PUT …/scripts/{name}` (a pending DO migration), as Cloudflare keeps it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_wrangler_deploy_keeps_secrets() {
    let Some((emu, _dir, w)) = start().await else {
        return;
    };
    w.ok(&["deploy"]).await;
    w.ok_with_stdin(&["secret", "put", "API_TOKEN"], Some("s3cret-value\n"))
        .await;
    assert_eq!(
        deployed_secret(&emu, "API_TOKEN").as_deref(),
        Some("s3cret-value")
    );

    // A deploy with no pending migration: `POST …/versions` + `POST …/deployments`.
    std::fs::write(w.project.join("index.js"), worker_source("v2")).expect("source");
    w.ok(&["deploy"]).await;
    assert_eq!(count_calls(&emu, "POST", "/versions"), 1);
    assert_eq!(
        deployed_secret(&emu, "API_TOKEN").as_deref(),
        Some("s3cret-value"),
        "a versions-API deploy keeps the secret"
    );

    // A deploy with a pending migration: `PUT …/scripts/{name}`.
    let toml = std::fs::read_to_string(w.project.join("wrangler.toml")).expect("toml");
    let toml = format!("{toml}\n[[migrations]]\ntag = \"v2\"\nnew_classes = [\"Other\"]\n");
    std::fs::write(w.project.join("wrangler.toml"), toml).expect("toml");
    let source = format!("{}\nexport class Other {{}}\n", worker_source("v3"));
    std::fs::write(w.project.join("index.js"), source).expect("source");
    w.ok(&["deploy"]).await;
    assert_eq!(
        count_calls(&emu, "PUT", &format!("/workers/scripts/{WORKER}")),
        2,
        "the migration went through PUT"
    );
    assert_eq!(
        deployed_secret(&emu, "API_TOKEN").as_deref(),
        Some("s3cret-value"),
        "a PUT deploy keeps the secret"
    );
    let listed = w.ok(&["secret", "list"]).await;
    assert!(listed.stdout.contains("API_TOKEN"), "{}", listed.stdout);
    assert!(!listed.stdout.contains("s3cret-value"), "{}", listed.stdout);
}
