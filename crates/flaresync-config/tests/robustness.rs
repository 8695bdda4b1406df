//! Bad input never panics: arbitrary bytes and mutated real configs either parse or fail with
//! an error that carries a position.

use std::path::PathBuf;

use flaresync_config::{ConfigError, parse_config, parse_repo_config};
use proptest::prelude::*;

fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/corpus/wrangler");
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .expect("corpus")
        .filter_map(|e| {
            let path = e.ok()?.path();
            let name = path.file_name()?.to_str()?.to_owned();
            let ok = name.ends_with(".toml") || name.ends_with(".json") || name.ends_with(".jsonc");
            ok.then(|| (name, std::fs::read(&path).expect("readable")))
        })
        .collect();
    files.sort();
    files
}

fn check(result: Result<flaresync_config::ParsedConfig, ConfigError>) -> Result<(), TestCaseError> {
    if let Err(error) = result {
        let text = error.to_string();
        prop_assert!(!text.is_empty());
        if let ConfigError::Syntax { location, .. } | ConfigError::Invalid { location, .. } = &error
        {
            prop_assert!(location.line >= 1 && location.col >= 1, "{text}");
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        for name in ["wrangler.toml", "wrangler.jsonc", "wrangler.json"] {
            check(parse_config(name, &bytes, None))?;
            check(parse_config(name, &bytes, Some("production")))?;
        }
        let _ = parse_repo_config("flaresync.toml", &bytes);
    }

    #[test]
    fn mutated_corpus_files_never_panic(
        index in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        cut in 0usize..40,
        insert in prop::collection::vec(
            prop::sample::select(vec![b'"', b'\\', b'/', b'*', b',', b'[', b']', b'{', b'}', b'=', b'\n', b'#', b'a', 0xff]),
            0..6,
        ),
    ) {
        let files = corpus();
        let (name, bytes) = &files[index.index(files.len())];
        let mut mutated = bytes.clone();
        let pos = at.index(mutated.len() + 1);
        let end = (pos + cut).min(mutated.len());
        mutated.splice(pos..end, insert);
        check(parse_config(name, &mutated, None))?;
    }
}

/// Deep nesting must not overflow the stack (serde_json stops at 128 levels; the TOML parser and
/// the span-recording readers must not recurse without bound either).
#[test]
fn deeply_nested_documents_do_not_overflow_the_stack() {
    for depth in [64usize, 1_000, 20_000] {
        let json = format!(
            "{{\"name\": \"deep\", \"vars\": {{\"X\": {}1{}}}}}",
            "[".repeat(depth),
            "]".repeat(depth)
        );
        for name in ["wrangler.json", "wrangler.jsonc"] {
            let result = std::thread::Builder::new()
                .stack_size(2 * 1024 * 1024)
                .spawn({
                    let json = json.clone();
                    move || parse_config(name, json.as_bytes(), None).map(|_| ())
                })
                .expect("thread")
                .join();
            assert!(result.is_ok(), "{name} at depth {depth} panicked");
        }
        let toml = format!(
            "name = \"deep\"\n[vars]\nX = {}1{}\n",
            "[".repeat(depth),
            "]".repeat(depth)
        );
        let inline = format!(
            "name = \"deep\"\nvars = {}{}\n",
            "{a = ".repeat(depth),
            "}".repeat(depth)
        );
        for text in [toml, inline] {
            let result = std::thread::Builder::new()
                .stack_size(2 * 1024 * 1024)
                .spawn(move || {
                    parse_config("wrangler.toml", text.as_bytes(), Some("staging")).map(|_| ())
                })
                .expect("thread")
                .join();
            assert!(result.is_ok(), "wrangler.toml at depth {depth} panicked");
        }
    }
}

/// A JSON value of any type, a few levels deep.
fn any_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(|n| serde_json::json!(n)),
        any::<f64>().prop_map(|f| serde_json::json!(f)),
        "[a-z/._*-]{0,12}".prop_map(serde_json::Value::String),
        ".{0,8}".prop_map(serde_json::Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::btree_map("[a-z_]{1,10}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Replaces the `n`-th node (pre-order) of `value` with `replacement`.
fn replace_nth(
    value: &mut serde_json::Value,
    n: &mut usize,
    replacement: &serde_json::Value,
) -> bool {
    if *n == 0 {
        *value = replacement.clone();
        return true;
    }
    *n -= 1;
    match value {
        serde_json::Value::Array(items) => items.iter_mut().any(|v| replace_nth(v, n, replacement)),
        serde_json::Value::Object(map) => map.values_mut().any(|v| replace_nth(v, n, replacement)),
        _ => false,
    }
}

/// The corpus configs that parse, as JSON values (TOML converted), with their env names.
fn corpus_values() -> Vec<(serde_json::Value, Vec<String>)> {
    corpus()
        .into_iter()
        .filter_map(|(name, bytes)| {
            let text = String::from_utf8(bytes).ok()?;
            let value: serde_json::Value = if name.ends_with(".toml") {
                toml::from_str(&text).ok()?
            } else {
                serde_json::from_str(&flaresync_config::strip_jsonc(&text)).ok()?
            };
            let envs = value
                .get("env")
                .and_then(|e| e.as_object())
                .map(|e| e.keys().cloned().collect())
                .unwrap_or_default();
            Some((value, envs))
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Structural mutations of real configs (any key's value replaced by a value of any type),
    /// resolved at the top level and in each of their environments, in TOML and JSON: they
    /// parse or fail with a positioned error, never panic.
    #[test]
    fn type_mutated_corpus_configs_never_panic(
        index in any::<prop::sample::Index>(),
        node in any::<prop::sample::Index>(),
        replacement in any_json(),
        env_pick in any::<prop::sample::Index>(),
    ) {
        let values = corpus_values();
        prop_assert!(values.len() > 100, "most corpus configs parse: {}", values.len());
        let (value, envs) = &values[index.index(values.len())];
        let mut mutated = value.clone();
        let mut count = 0usize;
        fn count_nodes(v: &serde_json::Value, n: &mut usize) {
            *n += 1;
            match v {
                serde_json::Value::Array(items) => items.iter().for_each(|x| count_nodes(x, n)),
                serde_json::Value::Object(map) => map.values().for_each(|x| count_nodes(x, n)),
                _ => {}
            }
        }
        count_nodes(&mutated, &mut count);
        let mut n = node.index(count);
        replace_nth(&mut mutated, &mut n, &replacement);
        let env = (!envs.is_empty()).then(|| envs[env_pick.index(envs.len())].clone());
        let json = serde_json::to_string_pretty(&mutated).expect("serializes");
        check(parse_config("wrangler.json", json.as_bytes(), None))?;
        check(parse_config("wrangler.json", json.as_bytes(), env.as_deref()))?;
        if let Ok(toml_text) = toml::to_string(&mutated) {
            check(parse_config("wrangler.toml", toml_text.as_bytes(), None))?;
            check(parse_config("wrangler.toml", toml_text.as_bytes(), env.as_deref()))?;
        }
    }
}
