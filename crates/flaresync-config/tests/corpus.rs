//! Every file of the wrangler corpus (fixtures/corpus/wrangler) is either parsed or rejected
//! with a precise error. The whole table (top level and every declared env) is one insta
//! snapshot, so any behaviour change shows up as a diff.

use std::fmt::Write as _;
use std::path::PathBuf;

use flaresync_config::parse_config;

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/corpus/wrangler")
}

fn corpus_files() -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(corpus_dir())
        .expect("corpus directory exists")
        .map(|entry| entry.expect("readable entry").path())
        .filter(|path| {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.ends_with(".toml") || name.ends_with(".json") || name.ends_with(".jsonc")
        })
        .map(|path| {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .expect("utf-8 name")
                .to_owned();
            let bytes = std::fs::read(&path).expect("readable file");
            (name, bytes)
        })
        .collect();
    files.sort();
    files
}

/// Env names declared by a config, read with the parser itself (top level must parse).
fn env_names(path: &str, bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    let value: Option<serde_json::Value> = if path.ends_with(".toml") {
        toml::from_str::<toml::Value>(&text)
            .ok()
            .and_then(|v| serde_json::to_value(v).ok())
    } else {
        serde_json::from_str(&flaresync_config::strip_jsonc(&text)).ok()
    };
    value
        .and_then(|v| v.get("env").and_then(|e| e.as_object()).cloned())
        .map(|envs| envs.keys().cloned().collect())
        .unwrap_or_default()
}

fn describe(path: &str, bytes: &[u8], env: Option<&str>) -> String {
    match parse_config(path, bytes, env) {
        Ok(parsed) => {
            let spec = &parsed.spec;
            let mut kinds: Vec<String> = spec
                .bindings
                .iter()
                .map(|b| format!("{}:{}", b.name, b.kind.type_name()))
                .collect();
            kinds.sort();
            let tags: Vec<&str> = spec.migrations.iter().map(|m| m.tag.as_str()).collect();
            let mut line = format!(
                "ok digest={} name={} main={} bindings=[{}] migrations=[{}] routes={} crons={} consumers={} warnings={}",
                spec.digest().short(),
                parsed.name.as_deref().unwrap_or("-"),
                parsed.main.as_deref().unwrap_or("-"),
                kinds.join(","),
                tags.join(","),
                spec.routes.len(),
                spec.crons.len(),
                spec.queue_consumers.len(),
                parsed.warnings.len(),
            );
            for warning in &parsed.warnings {
                let _ = write!(line, "\n    warning: {warning}");
            }
            line
        }
        Err(error) => format!("ERROR {error}"),
    }
}

#[test]
fn corpus_files_parse_or_fail_precisely() {
    let files = corpus_files();
    assert!(files.len() >= 180, "corpus has {} files", files.len());
    let mut table = String::new();
    for (name, bytes) in &files {
        let _ = writeln!(table, "{name}\n  top: {}", describe(name, bytes, None));
        for env in env_names(name, bytes) {
            let _ = writeln!(table, "  env {env}: {}", describe(name, bytes, Some(&env)));
        }
    }
    insta::assert_snapshot!("corpus", table);
}

/// The README's deliberately broken files must fail (or warn) with the specific reason.
#[test]
fn documented_broken_files_get_precise_errors() {
    let files = corpus_files();
    let get = |name: &str| {
        let (path, bytes) = files
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("{name} in corpus"));
        parse_config(path, bytes, None)
    };
    let err = |name: &str| match get(name) {
        Ok(_) => panic!("{name} should be rejected"),
        Err(e) => e.to_string(),
    };

    let e = err("cloudflare__orange__wrangler.staging.toml");
    assert!(e.contains("invalid TOML"), "{e}");
    let e = err(
        "cloudflare__workers-sdk__packages__create-cloudflare__templates__queues__ts__wrangler.toml",
    );
    assert!(
        e.contains("duplicate key `queue` (first defined at line 9)"),
        "{e}"
    );
    let e = err("redwoodjs__sdk__starters__prisma__wrangler.toml");
    assert!(e.contains("duplicate key `observability`"), "{e}");
    let e = err("cloudflare__templates__worker-aws__wrangler.toml");
    assert!(
        e.contains(":7:8: invalid TOML: inline table spans several lines"),
        "{e}"
    );
    let e = err("unkeyed__unkey__apps__api__wrangler.custom.toml");
    assert!(e.contains("has no `tag`") && e.contains("`vars`"), "{e}");
    let e = err("craigsdennis__clicky-block-durable-objects__wrangler.toml");
    assert!(e.contains("\"v1\" is used twice"), "{e}");
    let e = err("cloudflare__workers-rs__templates__leptos__wrangler.toml");
    assert!(e.contains("invalid TOML"), "{e}");
    let e = err("microfeed__microfeed__wrangler.template.jsonc");
    assert!(e.contains("invalid JSONC"), "{e}");
    let exports_app =
        get("cloudflare__workers-sdk__fixtures__durable-objects-exports-app__wrangler.jsonc")
            .expect("exports without migrations parses");
    assert!(exports_app.spec.exports.is_some());
    assert!(exports_app.spec.migrations.is_empty());

    // Accepted, with the right reading:
    let kody = get("kentcdodds__kody__packages__jobs-worker__wrangler.jsonc").expect("parses");
    let transfer = &kody.spec.migrations[0].transferred_classes;
    assert_eq!(transfer.len(), 1, "{:?}", kody.spec.migrations);
    assert_eq!(transfer[0].from_script, "kody");
    assert!(
        kody.spec.bindings.is_empty(),
        "bindings live only under env.*"
    );
    let edgetunnel = get("cmliu__edgetunnel__wrangler.toml").expect("CRLF parses");
    assert!(edgetunnel.name.is_some());
    let docker = get("ciiiii__cloudflare-docker-proxy__wrangler.toml").expect("parses");
    assert!(docker.warnings.iter().all(|w| !w.message.contains("panic")));
    let opennext = get(
        "opennextjs__opennextjs-cloudflare__packages__cloudflare__templates__defaults__wrangler.json",
    )
    .expect("json with comments parses like wrangler");
    assert_eq!(opennext.format, flaresync_config::ConfigFormat::Json);
    let goose = get("fiberplane__create-honc-app__examples__goose-review-bot__wrangler.toml");
    match goose {
        Ok(parsed) => assert!(
            parsed
                .warnings
                .iter()
                .any(|w| w.message.contains("no operations")),
            "{:?}",
            parsed.warnings
        ),
        Err(e) => assert!(e.to_string().contains("database_id"), "{e}"),
    }
}

/// Every binding the parser produces decodes back to itself from Cloudflare's wire shape, so
/// a desired binding and the same binding read from the API compare equal.
#[test]
fn parsed_bindings_round_trip_through_the_wire_shape() {
    let mut checked = 0;
    for (name, bytes) in corpus_files() {
        let mut envs: Vec<Option<String>> = vec![None];
        envs.extend(env_names(&name, &bytes).into_iter().map(Some));
        for env in envs {
            let Ok(parsed) = parse_config(&name, &bytes, env.as_deref()) else {
                continue;
            };
            for binding in &parsed.spec.bindings {
                let wire = serde_json::to_value(binding).expect("serializes");
                let back: flaresync_config::Binding = serde_json::from_value(wire.clone())
                    .unwrap_or_else(|e| panic!("{name} {env:?}: {wire} does not decode: {e}"));
                assert_eq!(&back, binding, "{name} {env:?}: {wire}");
                checked += 1;
            }
        }
    }
    assert!(checked > 500, "only {checked} bindings checked");
}
