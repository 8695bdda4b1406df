//! Prints how long desired-state computation takes over a synthetic history, cold and with the
//! incremental cache. Figures only; nothing is asserted.
//!
//! Run with `cargo bench -p flaresync-git --bench desired_state`.

use std::time::Instant;

use flaresync_git::{DesiredStateCache, Oid};
use git2::{Repository, Signature, Time};

const WORKERS: usize = 40;
const COMMITS: usize = 200;
const BUNDLE_BYTES: usize = 64 * 1024;

fn bundle(worker: usize, generation: usize) -> Vec<u8> {
    let mut text = format!(
        "export default {{ fetch() {{ return new Response(\"w{worker} g{generation}\"); }} }};\n"
    );
    while text.len() < BUNDLE_BYTES {
        text.push_str("// padding to make hashing cost something realistic\n");
    }
    text.into_bytes()
}

fn write_tree(repo: &Repository, generations: &[usize]) -> Oid {
    let mut workers = repo.treebuilder(None).expect("treebuilder");
    for (worker, generation) in generations.iter().enumerate() {
        let config = format!(
            "name = \"w{worker}\"\nmain = \"index.js\"\ncompatibility_date = \"2026-01-01\"\n"
        );
        let mut dir = repo.treebuilder(None).expect("treebuilder");
        let config = repo.blob(config.as_bytes()).expect("blob");
        let index = repo.blob(&bundle(worker, *generation)).expect("blob");
        dir.insert("wrangler.toml", config, 0o100644)
            .expect("insert");
        dir.insert("index.js", index, 0o100644).expect("insert");
        let dir = dir.write().expect("write");
        workers
            .insert(format!("w{worker}"), dir, 0o040000)
            .expect("insert");
    }
    let workers = workers.write().expect("write");
    let mut root = repo.treebuilder(None).expect("treebuilder");
    root.insert("workers", workers, 0o040000).expect("insert");
    root.write().expect("write")
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = Repository::init_bare(dir.path()).expect("init");
    let signature = Signature::new("bench", "bench@example.com", &Time::new(0, 0)).expect("sig");
    let mut generations = vec![0usize; WORKERS];
    let mut commits = Vec::new();
    let mut parent: Option<Oid> = None;
    for n in 0..COMMITS {
        if n > 0 {
            generations[n % WORKERS] += 1;
        }
        let tree = repo
            .find_tree(write_tree(&repo, &generations))
            .expect("tree");
        let parents: Vec<git2::Commit<'_>> = parent
            .map(|p| repo.find_commit(p).expect("parent"))
            .into_iter()
            .collect();
        let parent_refs: Vec<&git2::Commit<'_>> = parents.iter().collect();
        let commit = repo
            .commit(
                None,
                &signature,
                &signature,
                &format!("c{n}"),
                &tree,
                &parent_refs,
            )
            .expect("commit");
        commits.push(commit);
        parent = Some(commit);
    }

    let start = Instant::now();
    let mut cold = DesiredStateCache::new();
    cold.desired_state(&repo, *commits.last().expect("commits"))
        .expect("state");
    let cold_time = start.elapsed();

    let start = Instant::now();
    let mut cache = DesiredStateCache::new();
    for commit in &commits {
        cache.desired_state(&repo, *commit).expect("state");
    }
    let walk_time = start.elapsed();
    let stats = cache.stats();

    let start = Instant::now();
    for commit in commits.iter().rev() {
        cache.desired_state(&repo, *commit).expect("state");
    }
    let revisit_time = start.elapsed();

    println!("desired_state: {WORKERS} workers, {COMMITS} commits, {BUNDLE_BYTES} B bundles");
    println!("  cold head:           {cold_time:?} ({WORKERS} worker loads)");
    println!(
        "  incremental walk:    {walk_time:?} total, {:?}/commit, {} loads, {} cache hits",
        walk_time / COMMITS as u32,
        stats.worker_loads,
        stats.worker_hits
    );
    println!("  revisit (memoised):  {revisit_time:?} total");
}
