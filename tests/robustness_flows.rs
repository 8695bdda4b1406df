//! Robustness end to end (binary + emulator process): bundles near Cloudflare's size limits, and
//! file names that are not valid UTF-8 in the config repository.

mod common;

use common::*;

/// Deterministic incompressible bytes (xorshift), so gzip cannot shrink them.
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        out.extend_from_slice(&seed.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn data_worker(repo: &std::path::Path, dir: &str, name: &str, blob: &[u8]) {
    write(
        &repo.join(dir).join("wrangler.toml"),
        &format!(
            "name = \"{name}\"\nmain = \"dist/index.js\"\ncompatibility_date = \"2025-06-01\"\nno_bundle = true\n"
        ),
    );
    write(
        &repo.join(dir).join("dist/index.js"),
        "import blob from \"./blob.bin\";\nexport default { fetch() { return new Response(blob); } };\n",
    );
    std::fs::write(repo.join(dir).join("dist/blob.bin"), blob).expect("write blob");
}

/// Syncs `repo` once and checks that the Workers `deployed` went live at `commit` while
/// `refused` got no version at all (one broken Worker never blocks the others): the output.
fn sync_deploys_all_but(
    emulator: &Emulator,
    repo: &std::path::Path,
    state: &std::path::Path,
    commit: &str,
    deployed: &[&str],
    refused: &str,
) -> String {
    let out = sync(emulator, repo.to_str().expect("utf-8"), state);
    let text = out.all();
    for script in deployed {
        assert_eq!(
            emulator.live_tag(script).as_deref(),
            Some(commit),
            "{script}:\n{text}"
        );
    }
    assert!(emulator.versions(refused).is_empty(), "{refused}:\n{text}");
    text
}

#[test]
fn bundles_near_the_size_limits() {
    const MIB: usize = 1024 * 1024;
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, emulator, state) = repo_emulator_state(dir.path());

    // 60 MiB of very compressible JavaScript: under 64 MiB uncompressed and far under 10 MiB
    // gzip-compressed.
    let big_js = format!(
        "export default {{ fetch() {{ return new Response(\"big\"); }} }};\n/*{}*/\n",
        "a".repeat(60 * MIB)
    );
    write(
        &repo.join("workers/big/wrangler.toml"),
        "name = \"big-js\"\nmain = \"dist/index.js\"\ncompatibility_date = \"2025-06-01\"\n",
    );
    write(&repo.join("workers/big/dist/index.js"), &big_js);
    // Incompressible data just under 10 MiB after gzip, and just over it.
    data_worker(
        &repo,
        "workers/under",
        "under-limit",
        &noise(10 * MIB - 256 * 1024, 7),
    );
    data_worker(
        &repo,
        "workers/over",
        "over-limit",
        &noise(10 * MIB + 64 * 1024, 11),
    );
    let commit = commit_all(&repo, "big bundles");

    let text = sync_deploys_all_but(
        &emulator,
        &repo,
        &state,
        &commit,
        &["big-js", "under-limit"],
        "over-limit",
    );
    assert!(
        text.contains("workers/over") && text.contains("gzip") && text.contains("10027"),
        "the refused bundle is named with the limit:\n{text}"
    );
    let content = emulator.get_text(&format!(
        "/accounts/{ACCOUNT}/workers/scripts/big-js/content/v2"
    ));
    assert!(
        content.len() > 60 * 1024 * 1024,
        "the whole bundle was stored"
    );
}

#[cfg(unix)]
#[test]
fn file_names_that_are_not_utf8() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = init_repo(dir.path());
    // core.precomposeunicode / quotepath do not matter: git stores the bytes.
    let raw = |bytes: &[u8]| repo.join(std::ffi::OsStr::from_bytes(bytes));
    let emulator = Emulator::start(&dir.path().join("emulator"));
    let state = dir.path().join("state");

    worker(&repo, "workers/plain", "plain-utf8", "plain");
    std::fs::create_dir_all(raw(b"workers/\xffodd/dist")).expect("mkdir");
    std::fs::write(
        raw(b"workers/\xffodd/wrangler.toml"),
        "name = \"odd-dir\"\nmain = \"dist/index.js\"\ncompatibility_date = \"2025-06-01\"\n",
    )
    .expect("write");
    std::fs::write(
        raw(b"workers/\xffodd/dist/index.js"),
        "export default { fetch() { return new Response(\"odd\"); } };\n",
    )
    .expect("write");
    std::fs::create_dir_all(raw(b"docs")).expect("mkdir");
    std::fs::write(raw(b"docs/\xfe\xff notes.md"), "notes").expect("write");
    write(
        &repo.join("workers/mods/wrangler.toml"),
        "name = \"mods\"\nmain = \"dist/index.js\"\ncompatibility_date = \"2025-06-01\"\nno_bundle = true\n",
    );
    set_body(&repo, "workers/mods", "mods");
    std::fs::write(raw(b"workers/mods/dist/\xe9t\xe9.txt"), "latin-1 name").expect("write");
    let commit = commit_all(&repo, "odd names");

    // A Worker in a directory whose name is not UTF-8 (odd-dir) deploys.
    let text = sync_deploys_all_but(
        &emulator,
        &repo,
        &state,
        &commit,
        &["plain-utf8", "odd-dir"],
        "mods",
    );
    assert!(
        text.contains("\u{fffd}t\u{fffd}.txt") && text.contains("not valid UTF-8"),
        "the odd module file is named:\n{text}"
    );

    // Renaming the file fixes it.
    std::fs::remove_file(raw(b"workers/mods/dist/\xe9t\xe9.txt")).expect("rm");
    write(&repo.join("workers/mods/dist/ete.txt"), "utf-8 name");
    let fixed = commit_all(&repo, "rename");
    let out = sync(&emulator, repo.to_str().expect("utf-8"), &state);
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(emulator.live_tag("mods").as_deref(), Some(fixed.as_str()));
    let again = sync(&emulator, repo.to_str().expect("utf-8"), &state);
    assert!(again.stdout.contains("no changes"), "{}", again.all());
}
