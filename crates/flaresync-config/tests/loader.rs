//! Loader integration tests over real directories (DirTree on tempdirs).

use std::path::Path;

use flaresync_config::{
    ConfigError, DirTree, RepoConfig, discover_workers, load_all, load_repo_config, load_worker,
};

fn write(root: &Path, path: &str, content: impl AsRef<[u8]>) {
    let full = root.join(path);
    std::fs::create_dir_all(full.parent().expect("has parent")).expect("mkdir");
    std::fs::write(full, content).expect("write");
}

fn repo() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

const BASIC: &str = r#"
name = "api"
main = "dist/index.js"
compatibility_date = "2025-01-01"
[vars]
MODE = "prod"
"#;

#[test]
fn loads_a_worker_with_its_bundle_and_records_inputs() {
    let dir = repo();
    write(dir.path(), "workers/api/wrangler.toml", BASIC);
    write(dir.path(), "workers/api/dist/index.js", "export default {}");
    let tree = DirTree::new(dir.path());
    let loaded = load_worker(&tree, "workers/api", &RepoConfig::default()).expect("loads");
    let spec = &loaded.spec;
    assert_eq!(spec.name, "api");
    assert_eq!(spec.dir, "workers/api");
    assert_eq!(spec.config_path, "workers/api/wrangler.toml");
    assert_eq!(spec.main_module, "index.js");
    assert_eq!(spec.modules.len(), 1);
    assert_eq!(
        spec.modules[0].content_type,
        "application/javascript+module"
    );
    assert_eq!(spec.modules[0].size, 17);
    assert_eq!(&*spec.modules[0].content, b"export default {}");
    assert!(
        loaded
            .inputs
            .contains(&"workers/api/wrangler.toml".to_owned())
    );
    assert!(
        loaded
            .inputs
            .contains(&"workers/api/dist/index.js".to_owned())
    );
    assert!(
        loaded
            .inputs
            .contains(&"workers/api/wrangler.json".to_owned())
    );
    assert!(loaded.inputs.contains(&"flaresync.toml".to_owned()));
    assert!(
        loaded.inputs.iter().all(|p| !p.ends_with('/')),
        "{:?}",
        loaded.inputs
    );
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}

#[test]
fn additional_modules_follow_rules_and_content_types() {
    let dir = repo();
    write(
        dir.path(),
        "w/wrangler.jsonc",
        r#"{
  "name": "mods",
  "compatibility_date": "2025-01-01",
  "main": "dist/index.mjs",
  "find_additional_modules": true,
  "rules": [
    { "type": "Text", "globs": ["**/*.md"], "fallthrough": true },
    { "type": "Data", "globs": ["**/*.dat"] },
  ],
}"#,
    );
    write(dir.path(), "w/dist/index.mjs", "import './lib/a.js'");
    write(dir.path(), "w/dist/lib/a.js", "export const a = 1");
    write(dir.path(), "w/dist/lib/c.cjs", "module.exports = 1");
    write(dir.path(), "w/dist/add.wasm", [0u8, 97, 115, 109]);
    write(dir.path(), "w/dist/readme.md", "# hi");
    write(dir.path(), "w/dist/page.html", "<p>");
    write(dir.path(), "w/dist/blob.dat", [1u8, 2, 3]);
    write(dir.path(), "w/dist/index.mjs.map", "{}");
    let tree = DirTree::new(dir.path());
    let loaded = load_worker(&tree, "w", &RepoConfig::default()).expect("loads");
    let spec = &loaded.spec;
    let modules: Vec<(&str, &str)> = spec
        .modules
        .iter()
        .map(|m| (m.name.as_str(), m.content_type.as_str()))
        .collect();
    assert!(
        loaded.inputs.contains(&"w/dist/lib".to_owned()),
        "{:?}",
        loaded.inputs
    );
    assert!(
        loaded.inputs.iter().all(|p| !p.ends_with('/')),
        "{:?}",
        loaded.inputs
    );
    assert_eq!(
        modules,
        [
            ("index.mjs", "application/javascript+module"),
            ("add.wasm", "application/wasm"),
            ("blob.dat", "application/octet-stream"),
            ("lib/a.js", "application/javascript+module"),
            ("lib/c.cjs", "application/javascript"),
            ("page.html", "text/plain"),
            ("readme.md", "text/plain"),
        ]
    );
}

#[test]
fn without_module_collection_only_main_is_uploaded() {
    let dir = repo();
    write(
        dir.path(),
        "wrangler.toml",
        "compatibility_date = \"2025-01-01\"\nname = \"w\"\nmain = \"index.js\"\n",
    );
    write(dir.path(), "index.js", "export default {}");
    write(dir.path(), "other.js", "export const x = 1");
    let tree = DirTree::new(dir.path());
    let spec = load_worker(&tree, "", &RepoConfig::default())
        .expect("loads")
        .spec;
    assert_eq!(spec.modules.len(), 1);
}

#[test]
fn typescript_main_is_refused_with_advice() {
    let dir = repo();
    write(
        dir.path(),
        "w/wrangler.toml",
        "compatibility_date = \"2025-01-01\"\nname = \"w\"\nmain = \"src/index.ts\"\n",
    );
    write(dir.path(), "w/src/index.ts", "export default {}");
    let tree = DirTree::new(dir.path());
    let err = load_worker(&tree, "w", &RepoConfig::default()).expect_err("ts main");
    let text = err.to_string();
    assert!(text.contains("flaresync deploys built bundles"), "{text}");
    assert!(text.contains("w/wrangler.toml:3:8"), "{text}");
    assert!(text.contains("`main` override"), "{text}");
}

#[test]
fn flaresync_toml_main_override_replaces_typescript_main() {
    let dir = repo();
    write(
        dir.path(),
        "w/wrangler.toml",
        "compatibility_date = \"2025-01-01\"\nname = \"w\"\nmain = \"src/index.ts\"\n",
    );
    write(dir.path(), "w/dist/worker.js", "export default {}");
    write(
        dir.path(),
        "flaresync.toml",
        "[workers.w]\nmain = \"dist/worker.js\"\norder = 3\n",
    );
    let tree = DirTree::new(dir.path());
    let (repo_config, warnings) = load_repo_config(&tree).expect("repo config");
    assert!(warnings.is_empty());
    let loaded = load_worker(&tree, "w", &repo_config).expect("loads");
    assert_eq!(loaded.spec.main_module, "worker.js");
    assert_eq!(loaded.policy.order, 3);
}

#[test]
fn missing_bundle_is_a_clear_error() {
    let dir = repo();
    write(dir.path(), "w/wrangler.toml", BASIC);
    let tree = DirTree::new(dir.path());
    let err = load_worker(&tree, "w", &RepoConfig::default()).expect_err("missing");
    let text = err.to_string();
    assert!(text.starts_with("worker \"w\":"), "{text}");
    assert!(
        text.contains("\"w/dist/index.js\" does not exist"),
        "{text}"
    );
}

#[test]
fn main_escaping_the_repository_is_refused() {
    let dir = repo();
    write(
        dir.path(),
        "w/wrangler.toml",
        "compatibility_date = \"2025-01-01\"\nname = \"w\"\nmain = \"../../outside.js\"\n",
    );
    let tree = DirTree::new(dir.path());
    let err = load_worker(&tree, "w", &RepoConfig::default()).expect_err("escape");
    assert!(
        err.to_string().contains("leads outside the repository"),
        "{err}"
    );

    write(
        dir.path(),
        "v/wrangler.toml",
        "compatibility_date = \"2025-01-01\"\nname = \"v\"\nmain = \"/etc/passwd.js\"\n",
    );
    let err = load_worker(&tree, "v", &RepoConfig::default()).expect_err("absolute");
    assert!(err.to_string().contains("is absolute"), "{err}");
}

#[cfg(unix)]
#[test]
fn symlinks_must_stay_inside_the_repository() {
    let outside = repo();
    write(outside.path(), "secret.js", "export default {}");
    let dir = repo();
    write(
        dir.path(),
        "w/wrangler.toml",
        "compatibility_date = \"2025-01-01\"\nname = \"w\"\nmain = \"dist/index.js\"\n",
    );
    std::fs::create_dir_all(dir.path().join("w/dist")).expect("mkdir");
    std::os::unix::fs::symlink(
        outside.path().join("secret.js"),
        dir.path().join("w/dist/index.js"),
    )
    .expect("symlink");
    let tree = DirTree::new(dir.path());
    let err = load_worker(&tree, "w", &RepoConfig::default()).expect_err("absolute symlink");
    assert!(err.to_string().contains("absolute"), "{err}");

    // A relative symlink climbing out of the repository.
    write(
        dir.path(),
        "x/wrangler.toml",
        "compatibility_date = \"2025-01-01\"\nname = \"x\"\nmain = \"index.js\"\n",
    );
    std::os::unix::fs::symlink(
        "../../../../../../../../etc/hosts",
        dir.path().join("x/index.js"),
    )
    .expect("symlink");
    let err = load_worker(&tree, "x", &RepoConfig::default()).expect_err("escaping symlink");
    assert!(err.to_string().contains("outside the repository"), "{err}");

    // A symlink that stays inside is followed, and both paths are inputs.
    write(dir.path(), "shared/build/index.js", "export default {}");
    write(
        dir.path(),
        "y/wrangler.toml",
        "compatibility_date = \"2025-01-01\"\nname = \"y\"\nmain = \"index.js\"\n",
    );
    std::os::unix::fs::symlink("../shared/build/index.js", dir.path().join("y/index.js"))
        .expect("symlink");
    let loaded = load_worker(&tree, "y", &RepoConfig::default()).expect("in-repo symlink");
    assert_eq!(&*loaded.spec.modules[0].content, b"export default {}");
    assert!(loaded.inputs.contains(&"shared/build/index.js".to_owned()));
    assert!(loaded.inputs.contains(&"y/index.js".to_owned()));
}

#[test]
fn non_utf8_config_fails_only_that_worker() {
    let dir = repo();
    write(
        dir.path(),
        "bad/wrangler.toml",
        b"compatibility_date = \"2025-01-01\"\nname = \"\xff\xfe\"\n",
    );
    write(
        dir.path(),
        "good/wrangler.toml",
        "compatibility_date = \"2025-01-01\"\nname = \"good\"\nmain = \"index.js\"\n",
    );
    write(dir.path(), "good/index.js", "export default {}");
    let tree = DirTree::new(dir.path());
    let load = load_all(&tree, &RepoConfig::default());
    assert_eq!(load.workers.len(), 2);
    let bad = load.workers["bad"].as_ref().expect_err("bad fails");
    assert!(matches!(bad, ConfigError::NotUtf8 { .. }), "{bad}");
    assert!(load.workers["good"].is_ok());
}

/// Deterministic incompressible bytes (xorshift), so the gzip size stays near the input size.
fn noise(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

#[test]
fn oversize_bundle_is_refused() {
    let dir = repo();
    write(
        dir.path(),
        "w/wrangler.toml",
        "compatibility_date = \"2025-01-01\"\nname = \"w\"\nmain = \"index.js\"\n",
    );
    write(
        dir.path(),
        "w/index.js",
        noise(10 * 1024 * 1024 + 64 * 1024),
    );
    let tree = DirTree::new(dir.path());
    let err = load_worker(&tree, "w", &RepoConfig::default()).expect_err("too big");
    assert!(err.to_string().contains("gzip-compressed"), "{err}");

    // Compressible content of the same size is fine: the limit is on the compressed size.
    write(
        dir.path(),
        "v/wrangler.toml",
        "compatibility_date = \"2025-01-01\"\nname = \"v\"\nmain = \"index.js\"\n",
    );
    write(
        dir.path(),
        "v/index.js",
        vec![b'a'; 10 * 1024 * 1024 + 64 * 1024],
    );
    load_worker(&tree, "v", &RepoConfig::default()).expect("compressible bundle is allowed");
}

#[test]
fn discovery_skips_node_modules_hidden_and_excluded_dirs() {
    let dir = repo();
    for path in [
        "a/wrangler.toml",
        "b/c/wrangler.jsonc",
        "node_modules/x/wrangler.toml",
        ".wrangler/tmp/wrangler.json",
        "examples/e/wrangler.toml",
    ] {
        write(
            dir.path(),
            path,
            "compatibility_date = \"2025-01-01\"\nname = \"x\"\n",
        );
    }
    let tree = DirTree::new(dir.path());
    let repo_config = RepoConfig {
        exclude: vec!["examples".into()],
        ..RepoConfig::default()
    };
    let dirs = discover_workers(&tree, &repo_config).expect("lists");
    assert_eq!(dirs, ["a", "b/c"]);
}

#[test]
fn duplicate_script_names_fail_both_workers() {
    let dir = repo();
    for w in ["one", "two"] {
        write(
            dir.path(),
            &format!("{w}/wrangler.toml"),
            "compatibility_date = \"2025-01-01\"\nname = \"same\"\nmain = \"i.js\"\n",
        );
        write(dir.path(), &format!("{w}/i.js"), "export default {}");
    }
    write(
        dir.path(),
        "three/wrangler.toml",
        "compatibility_date = \"2025-01-01\"\nname = \"three\"\nmain = \"i.js\"\n",
    );
    write(dir.path(), "three/i.js", "export default {}");
    let tree = DirTree::new(dir.path());
    let load = load_all(&tree, &RepoConfig::default());
    for w in ["one", "two"] {
        let err = load.workers[w].as_ref().expect_err("duplicate");
        assert!(err.to_string().contains("script name \"same\""), "{err}");
    }
    assert!(load.workers["three"].is_ok());

    // The same script name in two different accounts is two different Workers.
    write(
        dir.path(),
        "two/wrangler.toml",
        "compatibility_date = \"2025-01-01\"\nname = \"same\"\nmain = \"i.js\"\naccount_id = \"other\"\n",
    );
    let load = load_all(&tree, &RepoConfig::default());
    assert!(load.workers["one"].is_ok());
    assert!(load.workers["two"].is_ok());
}

#[test]
fn repo_env_and_per_worker_env_select_the_right_script() {
    let dir = repo();
    let config = r#"
compatibility_date = "2025-01-01"
name = "svc"
main = "i.js"
[env.production.vars]
A = "p"
[env.staging.vars]
A = "s"
"#;
    write(dir.path(), "a/wrangler.toml", config);
    write(dir.path(), "a/i.js", "export default {}");
    write(
        dir.path(),
        "b/wrangler.toml",
        config.replace("svc", "other"),
    );
    write(dir.path(), "b/i.js", "export default {}");
    write(
        dir.path(),
        "flaresync.toml",
        "env = \"production\"\n[workers.other]\nenv = \"staging\"\nskip = false\n[workers.ghost]\nskip = true\n",
    );
    let tree = DirTree::new(dir.path());
    let (repo_config, _) = load_repo_config(&tree).expect("repo config");
    let load = load_all(&tree, &repo_config);
    let a = load.workers["a"].as_ref().expect("a");
    assert_eq!(a.spec.name, "svc-production");
    assert_eq!(a.env.as_deref(), Some("production"));
    let b = load.workers["b"].as_ref().expect("b");
    assert_eq!(b.spec.name, "other-staging");
    assert!(load.warnings.iter().any(|w| w.message.contains("ghost")));
}

#[test]
fn skipped_workers_are_listed_not_loaded() {
    let dir = repo();
    write(
        dir.path(),
        "a/wrangler.toml",
        "compatibility_date = \"2025-01-01\"\nname = \"a\"\nmain = \"i.js\"\n",
    );
    write(dir.path(), "a/i.js", "export default {}");
    write(dir.path(), "flaresync.toml", "[workers.a]\nskip = true\n");
    let tree = DirTree::new(dir.path());
    let (repo_config, _) = load_repo_config(&tree).expect("repo config");
    let load = load_all(&tree, &repo_config);
    assert!(load.workers.is_empty());
    assert_eq!(load.skipped, ["a"]);
}

#[test]
fn same_content_in_toml_and_json_digests_the_same() {
    let a = repo();
    write(a.path(), "w/wrangler.toml", BASIC);
    write(a.path(), "w/dist/index.js", "export default {}");
    let b = repo();
    write(
        b.path(),
        "w/wrangler.json",
        r#"{"vars": {"MODE": "prod"}, "compatibility_date": "2025-01-01",
            "main": "dist/index.js", "name": "api"}"#,
    );
    write(b.path(), "w/dist/index.js", "export default {}");
    let sa = load_worker(&DirTree::new(a.path()), "w", &RepoConfig::default())
        .expect("a")
        .spec;
    let sb = load_worker(&DirTree::new(b.path()), "w", &RepoConfig::default())
        .expect("b")
        .spec;
    assert_eq!(sa.digest(), sb.digest());
    assert_eq!(sa.version_digest(), sb.version_digest());

    // Changing the bundle changes both digests; changing a route changes only the full one.
    write(b.path(), "w/dist/index.js", "export default { fetch() {} }");
    let sc = load_worker(&DirTree::new(b.path()), "w", &RepoConfig::default())
        .expect("c")
        .spec;
    assert_ne!(sa.digest(), sc.digest());
    assert_ne!(sa.version_digest(), sc.version_digest());
    let mut sd = sa.clone();
    sd.crons.push("* * * * *".into());
    assert_ne!(sa.digest(), sd.digest());
    assert_eq!(sa.version_digest(), sd.version_digest());
}

#[test]
fn missing_compatibility_date_is_refused_like_wrangler() {
    let dir = repo();
    write(
        dir.path(),
        "w/wrangler.toml",
        "name = \"w\"\nmain = \"i.js\"\n",
    );
    write(dir.path(), "w/i.js", "export default {}");
    let err = load_worker(&DirTree::new(dir.path()), "w", &RepoConfig::default())
        .expect_err("no compatibility date");
    assert!(err.to_string().contains("no `compatibility_date`"), "{err}");
}

#[cfg(unix)]
#[test]
fn symlink_loops_and_escaping_module_symlinks_are_refused() {
    let dir = repo();
    write(
        dir.path(),
        "w/wrangler.toml",
        "compatibility_date = \"2025-01-01\"\nname = \"w\"\nmain = \"a.js\"\n",
    );
    std::os::unix::fs::symlink("b.js", dir.path().join("w/a.js")).expect("symlink");
    std::os::unix::fs::symlink("a.js", dir.path().join("w/b.js")).expect("symlink");
    let tree = DirTree::new(dir.path());
    let err = load_worker(&tree, "w", &RepoConfig::default()).expect_err("loop");
    assert!(err.to_string().contains("symlink"), "{err}");

    // A module symlink that escapes fails only when a rule would upload it.
    write(
        dir.path(),
        "m/wrangler.toml",
        "compatibility_date = \"2025-01-01\"\nname = \"m\"\nmain = \"index.js\"\nfind_additional_modules = true\n",
    );
    write(dir.path(), "m/index.js", "export default {}");
    std::os::unix::fs::symlink("/etc/hostname", dir.path().join("m/notes.cfg")).expect("symlink");
    std::fs::create_dir_all(dir.path().join("m/real")).expect("mkdir");
    std::os::unix::fs::symlink("real", dir.path().join("m/linked.js")).expect("dir symlink");
    load_worker(&tree, "m", &RepoConfig::default()).expect("non-module symlinks are ignored");
    std::os::unix::fs::symlink("/etc/hostname", dir.path().join("m/leak.txt")).expect("symlink");
    let err = load_worker(&tree, "m", &RepoConfig::default()).expect_err("escaping module");
    assert!(err.to_string().contains("absolute"), "{err}");
}

#[cfg(unix)]
#[test]
fn module_root_behind_an_in_repo_symlink_is_listed() {
    let dir = repo();
    write(
        dir.path(),
        "w/wrangler.toml",
        "compatibility_date = \"2025-01-01\"\nname = \"w\"\nmain = \"dist/index.js\"\nno_bundle = true\n",
    );
    write(dir.path(), "w/build/index.js", "import './util.js'");
    write(dir.path(), "w/build/util.js", "export const u = 1");
    std::os::unix::fs::symlink("build", dir.path().join("w/dist")).expect("symlink");
    let loaded =
        load_worker(&DirTree::new(dir.path()), "w", &RepoConfig::default()).expect("loads");
    let names: Vec<&str> = loaded
        .spec
        .modules
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    assert_eq!(names, ["index.js", "util.js"]);
    assert!(
        loaded.inputs.contains(&"w/build".to_owned()),
        "{:?}",
        loaded.inputs
    );
    assert!(loaded.inputs.contains(&"w/dist".to_owned()));
}

/// File and directory names that are not valid UTF-8 (allowed by Linux and Git): a Worker in
/// such a directory is found and loads; a module file with such a name is refused with a
/// message naming it (no import could name it); elsewhere such names are ignored.
#[cfg(unix)]
#[test]
fn names_that_are_not_utf8() {
    use std::os::unix::ffi::OsStrExt;
    let dir = repo();
    let raw = |bytes: &[u8]| dir.path().join(std::ffi::OsStr::from_bytes(bytes));
    std::fs::create_dir_all(raw(b"w/\xffdir/dist")).expect("mkdir");
    std::fs::write(
        raw(b"w/\xffdir/wrangler.toml"),
        "name = \"odd-dir\"\nmain = \"dist/index.js\"\ncompatibility_date = \"2025-01-01\"\n",
    )
    .expect("write");
    std::fs::write(raw(b"w/\xffdir/dist/index.js"), "export default {}").expect("write");
    std::fs::create_dir_all(raw(b"docs")).expect("mkdir");
    std::fs::write(raw(b"docs/\xfe\xff.md"), "notes").expect("write");
    write(
        dir.path(),
        "w/mods/wrangler.toml",
        "name = \"mods\"\nmain = \"dist/index.js\"\ncompatibility_date = \"2025-01-01\"\nno_bundle = true\n",
    );
    write(dir.path(), "w/mods/dist/index.js", "export default {}");
    std::fs::write(raw(b"w/mods/dist/\xe9t\xe9.txt"), "latin-1 name").expect("write");
    // Bundled (no module collection): the odd file is not a module and does not matter.
    write(
        dir.path(),
        "w/bundled/wrangler.toml",
        "name = \"bundled\"\nmain = \"dist/index.js\"\ncompatibility_date = \"2025-01-01\"\n",
    );
    write(dir.path(), "w/bundled/dist/index.js", "export default {}");
    std::fs::write(raw(b"w/bundled/dist/\xe9.txt"), "ignored").expect("write");

    let tree = DirTree::new(dir.path());
    let load = load_all(&tree, &RepoConfig::default());
    let keys: Vec<&str> = load.workers.keys().map(String::as_str).collect();
    assert_eq!(keys, ["w/bundled", "w/mods", "w/\u{fffd}dir"]);
    let odd = load.workers["w/\u{fffd}dir"].as_ref().expect("loads");
    assert_eq!(odd.spec.name, "odd-dir");
    assert_eq!(odd.spec.modules.len(), 1);
    let error = load.workers["w/mods"]
        .as_ref()
        .expect_err("a module name that is not UTF-8");
    let text = error.to_string();
    assert!(
        text.contains("\u{fffd}t\u{fffd}.txt") && text.contains("not valid UTF-8"),
        "{text}"
    );
    assert!(load.workers["w/bundled"].is_ok());
}

#[test]
fn upload_source_maps_sends_each_modules_map_as_wrangler_does() {
    let dir = repo();
    let config = "name = \"api\"\nmain = \"dist/index.js\"\ncompatibility_date = \"2025-01-01\"\nupload_source_maps = true\n\
                  find_additional_modules = true\nrules = [{ type = \"ESModule\", globs = [\"**/*.js\"] }]\n";
    write(dir.path(), "w/wrangler.toml", config);
    write(
        dir.path(),
        "w/dist/index.js",
        "import './lib/util.js';\nexport default {};\n//# sourceMappingURL=index.js.map\n",
    );
    write(
        dir.path(),
        "w/dist/index.js.map",
        r#"{"version":3,"file":"out.js","sources":["../src/index.ts"],"mappings":"AAAA"}"#,
    );
    // A module without a map comment gets no map.
    write(dir.path(), "w/dist/lib/util.js", "export const x = 1;\n");
    let tree = DirTree::new(dir.path());
    let spec = load_worker(&tree, "w", &RepoConfig::default())
        .expect("loads")
        .spec;
    let names: Vec<(&str, &str)> = spec
        .modules
        .iter()
        .map(|m| (m.name.as_str(), m.content_type.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("index.js", "application/javascript+module"),
            ("index.js.map", "application/source-map"),
            ("lib/util.js", "application/javascript+module"),
        ]
    );
    let map: serde_json::Value =
        serde_json::from_slice(&spec.modules[1].content).expect("map json");
    assert_eq!(map["file"], "index.js");
    assert_eq!(map["sources"], serde_json::json!(["src/index.ts"]));
    // The map is part of the version: changing it changes the version digest.
    write(
        dir.path(),
        "w/dist/index.js.map",
        r#"{"version":3,"sources":["../src/other.ts"],"mappings":"AAAA"}"#,
    );
    let changed = load_worker(&tree, "w", &RepoConfig::default())
        .expect("loads")
        .spec;
    assert_ne!(changed.version_digest(), spec.version_digest());
    // A named map that is not committed is an error naming both files.
    std::fs::remove_file(dir.path().join("w/dist/index.js.map")).expect("rm");
    let error = load_worker(&tree, "w", &RepoConfig::default())
        .expect_err("missing map")
        .to_string();
    assert!(
        error.contains("\"w/dist/index.js\"") && error.contains("\"w/dist/index.js.map\""),
        "{error}"
    );
    // Without upload_source_maps nothing but the modules is sent.
    write(
        dir.path(),
        "w/wrangler.toml",
        config.replace("true\nfind", "false\nfind"),
    );
    let plain = load_worker(&tree, "w", &RepoConfig::default())
        .expect("loads")
        .spec;
    assert!(plain.modules.iter().all(|m| !m.name.ends_with(".map")));
}
