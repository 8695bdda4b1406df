//! Prints how long parsing the wrangler corpus and loading a synthetic repository take.
//! Run with `cargo bench -p flaresync-config --bench parse`. Figures only, no assertions.

use std::path::PathBuf;
use std::time::Instant;

use flaresync_config::{DirTree, RepoConfig, load_all, parse_config};

fn main() {
    let corpus = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/corpus/wrangler");
    let files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&corpus)
        .expect("corpus directory")
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let name = path.file_name()?.to_str()?.to_owned();
            let config =
                name.ends_with(".toml") || name.ends_with(".json") || name.ends_with(".jsonc");
            config.then(|| (name, std::fs::read(&path).expect("readable")))
        })
        .collect();
    let rounds = 20;
    let start = Instant::now();
    let mut parsed = 0usize;
    for _ in 0..rounds {
        for (name, bytes) in &files {
            if parse_config(name, bytes, None).is_ok() {
                parsed += 1;
            }
        }
    }
    let elapsed = start.elapsed();
    println!(
        "parse_config: {} files x {rounds} rounds in {:?} ({:.1} µs/file, {} ok)",
        files.len(),
        elapsed,
        elapsed.as_secs_f64() * 1e6 / (files.len() * rounds) as f64,
        parsed / rounds
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let workers = 200;
    for i in 0..workers {
        let root = dir.path().join(format!("workers/w{i}"));
        std::fs::create_dir_all(root.join("dist")).expect("mkdir");
        std::fs::write(
            root.join("wrangler.toml"),
            format!(
                "name = \"w{i}\"\nmain = \"dist/index.js\"\ncompatibility_date = \"2025-01-01\"\n\
                 [vars]\nA = \"{i}\"\n[[kv_namespaces]]\nbinding = \"KV\"\nid = \"k{i}\"\n"
            ),
        )
        .expect("write config");
        std::fs::write(
            root.join("dist/index.js"),
            "export default {}\n".repeat(2000),
        )
        .expect("write bundle");
    }
    let tree = DirTree::new(dir.path());
    let start = Instant::now();
    let load = load_all(&tree, &RepoConfig::default());
    let elapsed = start.elapsed();
    println!(
        "load_all: {workers} workers in {elapsed:?} ({:.2} ms/worker, {} ok)",
        elapsed.as_secs_f64() * 1e3 / f64::from(workers),
        load.workers.values().filter(|r| r.is_ok()).count()
    );
}
