//! Static assets through the `flaresync` binary and `flaresync emulator` in separate
//! processes: `validate` reads the committed assets without the old "not uploaded" warning and
//! refuses a too-big file by name, `sync` deploys them, and `plan --live --base` shows the
//! assets diff of a commit in Markdown and JSON.

mod common;

use common::*;

const SITE: &str = "name = \"site\"\nmain = \"dist/index.js\"\ncompatibility_date = \"2025-06-01\"\n\
                    [assets]\ndirectory = \"public\"\nbinding = \"ASSETS\"\n";

#[test]
fn plan_shows_the_assets_diff_of_a_commit_after_a_deploy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, emulator, state) = repo_emulator_state(dir.path());
    worker(&repo, "site", "site", "site-1");
    write(&repo.join("site/wrangler.toml"), SITE);
    write(&repo.join("site/public/index.html"), "hello world\n");
    write(&repo.join("site/public/style.css"), "body{}");
    commit_all(&repo, "site with assets");

    let mut validate = flaresync();
    validate
        .args(["validate", "--rev", "HEAD", "--repo"])
        .arg(&repo);
    let out = run(&mut validate);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(!out.all().contains("not uploaded"), "{}", out.all());

    let repo_arg = repo.to_str().expect("utf-8 path");
    let out = sync(&emulator, repo_arg, &state);
    assert_eq!(out.code, 0, "{}", out.all());

    write(&repo.join("site/public/style.css"), "body{color:red}");
    write(&repo.join("site/public/img/logo.svg"), "<svg/>");
    commit_all(&repo, "red and a logo");
    let plan = |format: &str| {
        let mut command = flaresync();
        command
            .args(["plan", "--live", "--base", "HEAD~1", "--head", "HEAD"])
            .args(["--format", format, "--repo"])
            .arg(&repo);
        emulator.env(&mut command);
        run(&mut command)
    };
    let markdown = plan("markdown");
    assert_eq!(markdown.code, 1, "{}", markdown.all());
    for expected in [
        "**Static assets**: 2 files, 18 B → 3 files, 33 B (1 added, 1 changed)",
        "| `/img/logo.svg` | added | 6 B |",
        "| `/style.css` | changed | 6 B → 15 B |",
    ] {
        assert!(
            markdown.stdout.contains(expected),
            "{expected}\n{}",
            markdown.stdout
        );
    }
    let json = plan("json");
    let value: serde_json::Value = serde_json::from_str(&json.stdout).expect("json plan");
    let site = value["workers"]
        .as_array()
        .and_then(|workers| workers.iter().find(|w| w["name"] == "site"))
        .expect("site in the plan");
    let files = &site["diff"]["assets"]["files"];
    assert_eq!(files[0]["path"], "/img/logo.svg");
    assert_eq!(files[1]["change"], "changed");
    assert_eq!(files[1]["before_size"], 6);
    assert_eq!(files[1]["after_size"], 15);
}

#[test]
fn validate_refuses_an_asset_above_25_mib_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = init_repo(dir.path());
    worker(&repo, "site", "site", "site-1");
    write(&repo.join("site/wrangler.toml"), SITE);
    write(&repo.join("site/public/index.html"), "hello world\n");
    std::fs::write(
        repo.join("site/public/video.mp4"),
        vec![0u8; 25 * 1024 * 1024 + 1],
    )
    .expect("write");
    worker(&repo, "api", "api", "api-1");
    commit_all(&repo, "a too big asset");
    let mut validate = flaresync();
    validate
        .args(["validate", "--rev", "HEAD", "--repo"])
        .arg(&repo);
    let out = run(&mut validate);
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(
        out.all().contains("\"video.mp4\" is 26214401 bytes"),
        "{}",
        out.all()
    );
}
