//! Issue 14 items 4 and 5 end to end (real git repository, the emulator over HTTP, the
//! `flaresync` binary): source maps, limits, placement, logpush, observability and tail
//! consumers reach Cloudflare where wrangler sends them; a Worker using what flaresync does not
//! deploy (containers) is reported not deployable by `validate` and `plan` and skipped by
//! `sync` with the reason, while the other Workers deploy.

mod common;

use common::*;
use serde_json::json;

const SETTINGS: &str = "upload_source_maps = true\nlogpush = true\n\
    tail_consumers = [{ service = \"tail\" }]\n\
    [limits]\ncpu_ms = 50\n[placement]\nmode = \"smart\"\n\
    [observability]\nenabled = true\nhead_sampling_rate = 0.5\n";

/// The id of the version of `script` deployed at 100%.
fn live_version(emulator: &Emulator, script: &str) -> String {
    let body = emulator.get(&format!(
        "/accounts/{ACCOUNT}/workers/scripts/{script}/deployments"
    ));
    body["result"]["deployments"][0]["versions"][0]["version_id"]
        .as_str()
        .expect("a deployment")
        .to_owned()
}

#[test]
fn settings_and_source_maps_deploy_and_unsupported_workers_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, emulator, state) = repo_emulator_state(dir.path());
    let repo_arg = repo.to_str().expect("utf-8");
    worker(&repo, "tail", "tail", "tail");
    worker(&repo, "api", "api", "v1");
    let config = std::fs::read_to_string(repo.join("api/wrangler.toml")).expect("config");
    write(
        &repo.join("api/wrangler.toml"),
        &format!("{config}{SETTINGS}"),
    );
    let body = std::fs::read_to_string(repo.join("api/dist/index.js")).expect("bundle");
    write(
        &repo.join("api/dist/index.js"),
        &format!("{body}//# sourceMappingURL=index.js.map\n"),
    );
    write(
        &repo.join("api/dist/index.js.map"),
        r#"{"version":3,"sources":["../src/index.ts"],"mappings":"AAAA"}"#,
    );
    worker(&repo, "boxed", "boxed", "boxed");
    let boxed = std::fs::read_to_string(repo.join("boxed/wrangler.toml")).expect("config");
    write(
        &repo.join("boxed/wrangler.toml"),
        &format!("{boxed}[[containers]]\nclass_name = \"Box\"\nimage = \"./Dockerfile\"\n"),
    );
    commit_all(
        &repo,
        "api with settings and a source map, boxed with a container",
    );

    let mut validate = flaresync();
    validate.args(["validate", "--repo", repo_arg, "--rev", "HEAD"]);
    let validated = run(&mut validate);
    assert_eq!(validated.code, 2, "{}", validated.all());
    assert!(
        validated
            .all()
            .contains("not deployable by flaresync: containers"),
        "{}",
        validated.all()
    );

    let mut plan = flaresync();
    plan.args([
        "plan",
        "--repo",
        repo_arg,
        "--live",
        "--format",
        "json",
        "--state-dir",
    ])
    .arg(&state);
    emulator.env(&mut plan);
    let planned = run(&mut plan);
    let document: serde_json::Value = serde_json::from_str(&planned.stdout).expect("json plan");
    let boxed_plan = document["workers"]
        .as_array()
        .expect("workers")
        .iter()
        .find(|w| w["name"] == "boxed")
        .cloned()
        .unwrap_or_else(|| panic!("boxed in the plan: {}", planned.stdout));
    assert!(
        boxed_plan["action"].to_string().contains("blocked"),
        "{boxed_plan}"
    );
    assert!(
        boxed_plan
            .to_string()
            .contains("containers are not deployed"),
        "{boxed_plan}"
    );

    let out = sync(&emulator, repo_arg, &state);
    assert_eq!(out.code, 2, "boxed is refused: {}", out.all());
    assert!(
        out.all().contains("containers are not deployed"),
        "{}",
        out.all()
    );
    assert!(emulator.live_tag("boxed").is_none(), "never half-deployed");
    assert!(
        emulator.live_tag("api").is_some(),
        "the others deploy: {}",
        out.all()
    );

    // Versioned: limits and placement in the version; the map is one of its parts.
    let version = live_version(&emulator, "api");
    let view = emulator.get(&format!(
        "/accounts/{ACCOUNT}/workers/scripts/api/versions/{version}"
    ));
    let resources = &view["result"]["resources"];
    assert_eq!(resources["script_runtime"]["limits"], json!({"cpu_ms": 50}));
    assert_eq!(resources["script"]["placement_mode"], json!("smart"));
    let content = emulator.get_text(&format!(
        "/accounts/{ACCOUNT}/workers/scripts/api/content/v2?version={version}"
    ));
    assert!(content.contains("name=\"index.js.map\""), "{content}");
    assert!(content.contains("application/source-map"), "{content}");
    assert!(content.contains("\"src/index.ts\""), "{content}");
    // Not versioned: the script settings.
    let settings = emulator.get(&format!(
        "/accounts/{ACCOUNT}/workers/scripts/api/script-settings"
    ));
    let settings = &settings["result"];
    assert_eq!(settings["logpush"], json!(true), "{settings}");
    assert_eq!(settings["observability"]["head_sampling_rate"], json!(0.5));
    assert_eq!(settings["tail_consumers"], json!([{"service": "tail"}]));
    assert!(!out.all().contains("not applied"), "{}", out.all());
}
