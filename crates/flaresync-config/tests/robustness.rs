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
