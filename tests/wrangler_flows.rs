//! flaresync next to the real wrangler CLI (4.86.0, installed by
//! `crates/flaresync-emulator/scripts/install-wrangler.sh`; `scripts/test` does it). Without
//! wrangler these tests fail with what to run, unless `FLARESYNC_SKIP_WRANGLER=1`.
//!
//! - `env = "staging"` in flaresync.toml over a config with `[env.staging]`: the Worker flaresync
//!   uploads is stored exactly like `wrangler deploy --env staging` of the same config (legacy env
//!   name, inheritable vs not, bindings, compatibility, migrations, modules and content types).
//! - a human's `wrangler versions upload` + `wrangler rollback` after flaresync deployed: history
//!   marks the version as outside flaresync, `sync` reports drift and changes nothing (policy
//!   `report`), and committing the change to Git converges.

mod common;

use std::path::Path;

use common::*;
use serde_json::{Value, json};

fn script_path(script: &str) -> String {
    format!("/accounts/{ACCOUNT}/workers/scripts/{script}")
}

/// What Cloudflare stored for the live version of `script`, minus what is per-script by nature
/// (Durable Object namespace ids, etags, times, annotations, upload source).
fn stored(emulator: &Emulator, script: &str) -> Value {
    let deployments = emulator.get(&format!("{}/deployments", script_path(script)));
    let version_id = deployments["result"]["deployments"][0]["versions"][0]["version_id"]
        .as_str()
        .unwrap_or_else(|| panic!("{script} has a deployment: {deployments}"))
        .to_owned();
    let version = emulator.get(&format!("{}/versions/{version_id}", script_path(script)));
    let resources = &version["result"]["resources"];
    let mut bindings: Vec<Value> = resources["bindings"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|mut binding| {
            if binding["type"] == "durable_object_namespace" {
                binding
                    .as_object_mut()
                    .expect("an object")
                    .remove("namespace_id");
            }
            binding
        })
        .collect();
    bindings.sort_by_key(|binding| binding["name"].as_str().unwrap_or("").to_owned());
    let scripts = emulator.get(&format!("/accounts/{ACCOUNT}/workers/scripts"));
    let listed = scripts["result"]
        .as_array()
        .and_then(|all| all.iter().find(|s| s["id"] == script))
        .cloned()
        .unwrap_or_else(|| panic!("{script} is listed: {scripts}"));
    json!({
        "bindings": bindings,
        "script_runtime": resources["script_runtime"],
        "handlers": resources["script"]["handlers"],
        "named_handlers": resources["script"]["named_handlers"],
        "migration_tag": listed["migration_tag"],
        "modules": modules(emulator, script),
    })
}

/// `(name, content type, content)` of every module part of the script's content.
fn modules(emulator: &Emulator, script: &str) -> Vec<(String, String, String)> {
    let body = emulator.get_text(&format!("{}/content/v2", script_path(script)));
    let mut out = Vec::new();
    // The body starts with the first boundary line, without a preceding CRLF.
    let body = format!("\r\n{body}");
    for part in body.split("\r\n--").skip(1) {
        let Some((head, content)) = part.split_once("\r\n\r\n") else {
            continue;
        };
        let name = head
            .split("name=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or("")
            .to_owned();
        let content_type = head
            .lines()
            .find_map(|line| {
                line.to_ascii_lowercase()
                    .strip_prefix("content-type:")
                    .map(|v| v.trim().to_owned())
            })
            .unwrap_or_default();
        if !name.is_empty() {
            out.push((name, content_type, content.trim_end().to_owned()));
        }
    }
    out.sort();
    out
}

const SHOP_TOML: &str = include_str!("fixtures/shop_wrangler.toml");

fn shop(dir: &Path, name: &str, kv: &str, d1: &str) {
    write(
        &dir.join("wrangler.toml"),
        &SHOP_TOML
            .replace("name = \"shop\"", &format!("name = \"{name}\""))
            .replace("STAGING_KV", kv)
            .replace("STAGING_D1", d1),
    );
    write(
        &dir.join("dist/index.js"),
        "import { helper } from \"./lib.js\";\nimport banner from \"./banner.txt\";\n\
         export class Cart { async fetch() { return new Response(\"cart\"); } }\n\
         export default { async fetch(request, env) { return new Response(banner + helper(env.MODE)); } };\n",
    );
    write(
        &dir.join("dist/lib.js"),
        "export function helper(mode) { return `mode=${mode}`; }\n",
    );
    write(&dir.join("dist/banner.txt"), "shop: ");
}

#[test]
fn staging_env_upload_is_stored_like_wrangler_deploy() {
    let Some(entry) = wrangler_entry() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let emulator = Emulator::start(&dir.path().join("emulator"));
    let kv = emulator.post(
        &format!("/accounts/{ACCOUNT}/storage/kv/namespaces"),
        json!({"title": "shop-cache-staging"}),
    )["id"]
        .as_str()
        .expect("kv id")
        .to_owned();
    let d1 = emulator.post(
        &format!("/accounts/{ACCOUNT}/d1/database"),
        json!({"name": "shop-staging"}),
    )["uuid"]
        .as_str()
        .expect("d1 uuid")
        .to_owned();

    // flaresync: the repository follows env "staging".
    let repo = init_repo(dir.path());
    write(&repo.join("flaresync.toml"), "env = \"staging\"\n");
    shop(&repo.join("workers/shop"), "shop", &kv, &d1);
    commit_all(&repo, "shop");
    let state = dir.path().join("state");
    let out = sync(&emulator, repo.to_str().expect("utf-8"), &state);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("shop-staging"), "{}", out.all());

    // wrangler: the same config (another name, so both live side by side).
    let project = dir.path().join("wrangler-project");
    shop(&project, "shopw", &kv, &d1);
    wrangler(&entry, &emulator, &project, &["deploy", "--env", "staging"]);

    let ours = stored(&emulator, "shop-staging");
    let theirs = stored(&emulator, "shopw-staging");
    assert_eq!(
        serde_json::to_string_pretty(&ours).expect("json"),
        serde_json::to_string_pretty(&theirs).expect("json"),
        "flaresync's upload differs from wrangler deploy --env staging"
    );

    // And it is the staging environment, resolved as wrangler documents it.
    let names: Vec<&str> = ours["bindings"]
        .as_array()
        .expect("bindings")
        .iter()
        .filter_map(|b| b["name"].as_str())
        .collect();
    assert_eq!(names, ["AUTH", "CACHE", "CART", "DB", "MODE"], "{ours}");
    let text = ours.to_string();
    assert!(text.contains("\"text\":\"staging\""), "{text}");
    assert!(!text.contains("TOP_ONLY"), "vars are not inherited: {text}");
    assert!(text.contains(&kv), "the staging KV id: {text}");
    assert_eq!(ours["script_runtime"]["compatibility_date"], "2025-07-01");
    assert_eq!(
        ours["script_runtime"]["compatibility_flags"],
        json!(["nodejs_compat"]),
        "compatibility_flags are inherited"
    );
    assert_eq!(ours["migration_tag"], "v1");
    let modules = ours["modules"].to_string();
    assert!(
        modules.contains("[\"banner.txt\",\"text/plain\"")
            && modules.contains("[\"index.js\",\"application/javascript+module\"")
            && modules.contains("[\"lib.js\",\"application/javascript+module\""),
        "{modules}"
    );
}

/// Regression (plan): after a human runs `wrangler deploy` of the very config flaresync
/// deployed, the live content equals Git. flaresync used to plan a rollback to its own version
/// (blocked by FS005 with a D1 binding, exit 2); it now recognises the same content (script
/// etag, bindings, compatibility) and reports the Worker in sync.
#[test]
fn identical_wrangler_redeploy_is_not_a_blocked_rollback() {
    let Some(entry) = wrangler_entry() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let emulator = Emulator::start(&dir.path().join("emulator"));
    let kv = emulator.post(
        &format!("/accounts/{ACCOUNT}/storage/kv/namespaces"),
        json!({"title": "shop-cache-staging"}),
    )["id"]
        .as_str()
        .expect("kv id")
        .to_owned();
    let d1 = emulator.post(
        &format!("/accounts/{ACCOUNT}/d1/database"),
        json!({"name": "shop-staging"}),
    )["uuid"]
        .as_str()
        .expect("d1 uuid")
        .to_owned();
    let repo = init_repo(dir.path());
    write(&repo.join("flaresync.toml"), "env = \"staging\"\n");
    shop(&repo.join("workers/shop"), "shop", &kv, &d1);
    commit_all(&repo, "shop");
    let state = dir.path().join("state");
    let out = sync(&emulator, repo.to_str().expect("utf-8"), &state);
    assert_eq!(out.code, 0, "{}", out.all());
    let ours = stored(&emulator, "shop-staging");
    // A wrangler redeploy of flaresync's own Worker changes nothing flaresync cares about.
    let before = emulator.versions("shop-staging");
    wrangler(
        &entry,
        &emulator,
        &repo.join("workers/shop"),
        &["deploy", "--env", "staging"],
    );
    assert_eq!(stored(&emulator, "shop-staging"), ours);
    let out = sync(&emulator, repo.to_str().expect("utf-8"), &state);
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(
        emulator.versions("shop-staging").len(),
        before.len() + 1,
        "only wrangler's version was added: {}",
        out.all()
    );
}

#[test]
fn wrangler_versions_upload_and_rollback_are_outside_flaresync_and_reported_as_drift() {
    let Some(entry) = wrangler_entry() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let emulator = Emulator::start(&dir.path().join("emulator"));
    let repo = init_repo(dir.path());
    worker(&repo, "workers/api", "human-api", "from git");
    write(
        &repo.join("workers/api/wrangler.toml"),
        "name = \"human-api\"\nmain = \"dist/index.js\"\ncompatibility_date = \"2025-06-01\"\n\n[vars]\nREALM = \"git\"\n",
    );
    let c1 = commit_all(&repo, "api");
    let repo_arg = repo.to_str().expect("utf-8").to_owned();
    let state = dir.path().join("state");
    assert_eq!(sync(&emulator, &repo_arg, &state).code, 0);
    assert_eq!(emulator.live_tag("human-api").as_deref(), Some(c1.as_str()));

    // A human edits a copy and uploads it by hand, then "rolls back" to it.
    let project = dir.path().join("hand");
    write(
        &project.join("wrangler.toml"),
        "name = \"human-api\"\nmain = \"dist/index.js\"\ncompatibility_date = \"2025-06-01\"\n\n[vars]\nREALM = \"by hand\"\n",
    );
    write(
        &project.join("dist/index.js"),
        "export default { fetch() { return new Response(\"by hand\"); } };\n",
    );
    let upload = wrangler(
        &entry,
        &emulator,
        &project,
        &["versions", "upload", "--message", "hot fix"],
    );
    let hand_version = upload
        .stdout
        .split("Worker Version ID: ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("a version id:\n{}", upload.all()))
        .to_owned();
    wrangler(
        &entry,
        &emulator,
        &project,
        &[
            "rollback",
            &hand_version,
            "--message",
            "hand rollback",
            "--yes",
        ],
    );
    let versions_before = emulator.versions("human-api");
    assert_eq!(versions_before.len(), 2);

    let mut history = flaresync();
    history
        .args(["history", "human-api", "--repo", &repo_arg, "--state-dir"])
        .arg(&state);
    emulator.env(&mut history);
    let out = run(&mut history);
    assert_eq!(out.code, 0, "{}", out.all());
    let line = out
        .stdout
        .lines()
        .find(|line| line.contains(&hand_version[..8]))
        .unwrap_or_else(|| panic!("history lists {hand_version}:\n{}", out.all()));
    assert!(
        line.contains("outside flaresync") && line.contains("live"),
        "{}",
        out.all()
    );
    assert!(out.stdout.contains(&c1[..7]), "{}", out.all());
    // Every deployment shows its author and message: flaresync's first deploy (a script upload,
    // whose message Cloudflare gives the deployment too) and the hand-made rollback.
    let deployed: Vec<&str> = out
        .stdout
        .lines()
        .filter(|line| line.trim_start().starts_with("deployed"))
        .collect();
    assert!(
        deployed
            .iter()
            .any(|line| line.contains("(upload)") && line.contains(": api (")),
        "the script upload's deployment carries the commit message:\n{}",
        out.all()
    );
    assert!(
        deployed
            .iter()
            .any(|line| line.contains(" by ") && line.contains(": hand rollback")),
        "the hand rollback shows its author and message:\n{}",
        out.all()
    );

    // Default drift policy "report": said, not healed (a held Worker is not converged: exit 2).
    let out = sync(&emulator, &repo_arg, &state);
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stdout.contains("drift"), "{}", out.all());
    assert!(
        out.stdout.contains("not created by flaresync"),
        "{}",
        out.all()
    );
    assert_eq!(emulator.versions("human-api"), versions_before);
    let live = emulator.get(&format!(
        "/accounts/{ACCOUNT}/workers/scripts/human-api/deployments"
    ));
    assert_eq!(
        live["result"]["deployments"][0]["versions"][0]["version_id"], hand_version,
        "report policy leaves the hand-made deployment live"
    );

    // Committing the change to Git converges (a new version stamped with the commit).
    write(
        &repo.join("workers/api/wrangler.toml"),
        "name = \"human-api\"\nmain = \"dist/index.js\"\ncompatibility_date = \"2025-06-01\"\n\n[vars]\nREALM = \"by hand\"\n",
    );
    set_body(&repo, "workers/api", "by hand");
    let c2 = commit_all(&repo, "adopt the hot fix");
    let out = sync(&emulator, &repo_arg, &state);
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(emulator.live_tag("human-api").as_deref(), Some(c2.as_str()));
    let again = sync(&emulator, &repo_arg, &state);
    assert!(again.stdout.contains("no changes"), "{}", again.all());
}

/// A plain config at the top level: what flaresync uploads from Git is stored like what
/// `wrangler deploy` uploads after bundling the same source (handlers, bindings, runtime,
/// module names and types; esbuild reformats the code itself). And a repository `env` that the
/// config does not define is refused (flaresync is stricter than wrangler here, on purpose:
/// wrangler would warn and create a new `<name>-<env>` script).
#[test]
fn plain_config_matches_wrangler_deploy_and_an_undefined_env_is_refused() {
    let Some(entry) = wrangler_entry() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let emulator = Emulator::start(&dir.path().join("emulator"));
    let config = |name: &str| {
        format!(
            "name = \"{name}\"\nmain = \"dist/index.js\"\ncompatibility_date = \"2025-06-01\"\n\n[vars]\nMODE = \"top\"\n"
        )
    };
    let body = "export class Room {\n  async fetch() { return new Response(\"room\"); }\n}\n\
                export default {\n  async fetch() { return new Response(\"plain\"); },\n  async scheduled() {},\n};\n";
    let repo = init_repo(dir.path());
    write(&repo.join("workers/plain/wrangler.toml"), &config("plain"));
    write(&repo.join("workers/plain/dist/index.js"), body);
    commit_all(&repo, "plain");
    let state = dir.path().join("state");
    let out = sync(&emulator, repo.to_str().expect("utf-8"), &state);
    assert_eq!(out.code, 0, "{}", out.all());

    let project = dir.path().join("wrangler-project");
    write(&project.join("wrangler.toml"), &config("plainw"));
    write(&project.join("dist/index.js"), body);
    wrangler(&entry, &emulator, &project, &["deploy"]);
    // wrangler bundled the module (esbuild reformats it): compare names and types only.
    let without_content = |mut value: Value| {
        for module in value["modules"].as_array_mut().expect("modules") {
            module.as_array_mut().expect("a tuple").truncate(2);
        }
        value
    };
    let ours = without_content(stored(&emulator, "plain"));
    assert_eq!(ours, without_content(stored(&emulator, "plainw")));
    assert_eq!(
        ours["modules"],
        json!([["index.js", "application/javascript+module"]])
    );
    assert_eq!(ours["handlers"], json!(["fetch", "scheduled"]));
    assert_eq!(
        ours["named_handlers"],
        json!([{"name": "Room", "handlers": ["fetch"]}])
    );

    write(&repo.join("flaresync.toml"), "env = \"staging\"\n");
    commit_all(&repo, "follow staging");
    let out = sync(&emulator, repo.to_str().expect("utf-8"), &state);
    assert!(
        out.all().contains("environment \"staging\" is not defined"),
        "{}",
        out.all()
    );
    assert!(emulator.versions("plain-staging").is_empty());
    assert_eq!(emulator.versions("plain").len(), 1);
}
