//! Repository -> desired state: discover Worker directories, read each config and its built
//! bundle through a [`SourceTree`], and build [`WorkerSpec`]s.
//!
//! No build step runs: `main` must point at committed JavaScript (or Python/Wasm module
//! output). Paths may not leave the repository, neither lexically (`..`, absolute paths) nor
//! through symlinks.

use std::collections::{BTreeMap, VecDeque};
use std::io::Write;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::error::{ConfigError, Warning};
use crate::model::{Module, WorkerSpec};
use crate::modules::{ModuleType, classify, effective_rules, glob_matches};
use crate::repo::{REPO_CONFIG_FILE, RepoConfig, WorkerPolicy};
use crate::tree::{EntryKind, SourceTree, TreeError};
use crate::wrangler::{ParsedConfig, parse_config};

/// Config file names, in wrangler's order of precedence within one directory.
pub const CONFIG_FILE_NAMES: [&str; 3] = ["wrangler.json", "wrangler.jsonc", "wrangler.toml"];

/// Cloudflare's Worker size limit after gzip on the Paid plan (SPEC §6.3: 10 MB compressed).
pub const MAX_BUNDLE_GZIP_BYTES: u64 = 10 * 1024 * 1024;

/// Upper bound on the uncompressed upload (64 MiB, the uncompressed cap cited in SPEC §6.3).
/// Checked first, so a huge bundle is rejected without compressing it.
pub const MAX_BUNDLE_UNCOMPRESSED_BYTES: u64 = 64 * 1024 * 1024;

/// At most this many symlinks are followed while resolving one path.
const MAX_SYMLINK_HOPS: usize = 16;

/// One Worker read from the repository.
#[derive(Debug, Clone)]
pub struct LoadedWorker {
    pub spec: WorkerSpec,
    pub warnings: Vec<Warning>,
    /// Every repository path this result depends on: files read (and the symlink-free path
    /// they resolved to), config names probed (present or not), `flaresync.toml`, and
    /// directories whose listing was used for module collection ("" = repository root).
    /// Sorted, unique. The git layer uses it for incremental caching.
    pub inputs: Vec<String>,
    /// The environment that was applied (`None` = top level).
    pub env: Option<String>,
    /// `account_id` from the wrangler config, else from flaresync.toml.
    pub account_id: Option<String>,
    /// Rollout / rollback policy from flaresync.toml.
    pub policy: WorkerPolicy,
    /// The `[workers.<key>]` section of flaresync.toml that applies, if any.
    pub override_key: Option<String>,
}

/// Result of [`load_all`]: one entry per discovered directory.
#[derive(Debug)]
pub struct RepoLoad {
    /// Keyed by repo-relative worker directory. Skipped Workers (`skip = true`) are absent.
    pub workers: BTreeMap<String, Result<LoadedWorker, ConfigError>>,
    /// Repository-level warnings (e.g. overrides that match no Worker).
    pub warnings: Vec<Warning>,
    /// Directories skipped by `skip = true`.
    pub skipped: Vec<String>,
}

fn join_path(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_owned()
    } else if name.is_empty() {
        dir.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}

/// Repo-relative directories holding a wrangler config, sorted. Skips `node_modules`, `.git`,
/// hidden directories, symlinked directories and `exclude`d paths.
///
/// # Errors
/// Only tree read failures.
pub fn discover_workers(
    tree: &dyn SourceTree,
    repo: &RepoConfig,
) -> Result<Vec<String>, TreeError> {
    let mut found = Vec::new();
    let mut queue = VecDeque::from([String::new()]);
    while let Some(dir) = queue.pop_front() {
        let Some(entries) = tree.list(&dir)? else {
            continue;
        };
        let mut has_config = false;
        for entry in &entries {
            match entry.kind {
                EntryKind::Dir => {
                    if entry.name == "node_modules" || entry.name.starts_with('.') {
                        continue;
                    }
                    let child = join_path(&dir, &entry.name);
                    if !repo.is_excluded(&child) {
                        queue.push_back(child);
                    }
                }
                EntryKind::File | EntryKind::Symlink => {
                    if CONFIG_FILE_NAMES.contains(&entry.name.as_str()) {
                        has_config = true;
                    }
                }
            }
        }
        if has_config && !(dir.is_empty() && repo.is_excluded("")) {
            found.push(dir);
        }
    }
    found.sort();
    Ok(found)
}

/// Why a path cannot be used.
enum PathProblem {
    Escapes(String),
    Absolute(String),
    Loop,
    Tree(TreeError),
}

/// Lexically normalizes `base/relative` (forward slashes). `None` if it leaves the root.
fn normalize(base: &str, relative: &str) -> Result<String, PathProblem> {
    if relative.starts_with('/') || relative.starts_with('\\') || has_drive(relative) {
        return Err(PathProblem::Absolute(relative.to_owned()));
    }
    let mut parts: Vec<&str> = base.split('/').filter(|p| !p.is_empty()).collect();
    for part in relative.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(PathProblem::Escapes(relative.to_owned()));
                }
            }
            other => parts.push(other),
        }
    }
    Ok(parts.join("/"))
}

fn has_drive(path: &str) -> bool {
    let bytes = path.as_bytes();
    bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':'
}

/// Follows symlinks component by component; the result is a symlink-free repo path.
fn resolve_symlinks(tree: &dyn SourceTree, path: &str) -> Result<String, PathProblem> {
    let mut resolved: Vec<String> = Vec::new();
    let mut pending: VecDeque<String> = path.split('/').map(str::to_owned).collect();
    let mut hops = 0;
    while let Some(part) = pending.pop_front() {
        match part.as_str() {
            "" | "." => continue,
            ".." => {
                if resolved.pop().is_none() {
                    return Err(PathProblem::Escapes(path.to_owned()));
                }
            }
            _ => {
                resolved.push(part);
                let current = resolved.join("/");
                if tree.kind(&current).map_err(PathProblem::Tree)? == Some(EntryKind::Symlink) {
                    hops += 1;
                    if hops > MAX_SYMLINK_HOPS {
                        return Err(PathProblem::Loop);
                    }
                    let target = tree
                        .read_link(&current)
                        .map_err(PathProblem::Tree)?
                        .unwrap_or_default();
                    if target.starts_with('/') || target.starts_with('\\') || has_drive(&target) {
                        return Err(PathProblem::Absolute(format!("{current} -> {target}")));
                    }
                    resolved.pop();
                    for (i, p) in target.split(['/', '\\']).enumerate() {
                        pending.insert(i, p.to_owned());
                    }
                }
            }
        }
    }
    Ok(resolved.join("/"))
}

/// Reader that records every path it touches and keeps paths inside the repository.
struct Reader<'t> {
    tree: &'t dyn SourceTree,
    dir: String,
    inputs: Vec<String>,
}

impl Reader<'_> {
    fn problem(&self, what: &str, problem: PathProblem) -> ConfigError {
        let message = match problem {
            PathProblem::Escapes(p) => format!(
                "{what} path {p:?} leads outside the repository; flaresync only deploys files \
                 committed to the repository, so move the file into it"
            ),
            PathProblem::Absolute(p) => format!(
                "{what} path {p:?} is absolute (or a symlink to an absolute path); use a path \
                 relative to the worker directory that stays inside the repository"
            ),
            PathProblem::Loop => {
                format!("{what} path has too many levels of symlinks (a symlink loop?)")
            }
            PathProblem::Tree(e) => format!("cannot read {what}: {e}"),
        };
        ConfigError::Bundle {
            dir: self.dir.clone(),
            message,
        }
    }

    /// Reads a repo path (following in-repo symlinks). `Ok(None)` if absent or not a file.
    fn read(&mut self, what: &str, path: &str) -> Result<Option<Vec<u8>>, ConfigError> {
        self.inputs.push(path.to_owned());
        let real = resolve_symlinks(self.tree, path).map_err(|p| self.problem(what, p))?;
        if real != path {
            self.inputs.push(real.clone());
        }
        self.tree
            .read(&real)
            .map_err(|e| ConfigError::tree(path, e))
    }
}

/// Loads one Worker directory.
///
/// # Errors
/// A missing or invalid config, a missing/TypeScript/escaping `main`, module files leaving the
/// repository, a bundle above the size limits. Every error names the worker directory or the
/// `file:line:col`.
pub fn load_worker(
    tree: &dyn SourceTree,
    dir: &str,
    repo: &RepoConfig,
) -> Result<LoadedWorker, ConfigError> {
    let dir = dir.trim_matches('/').to_owned();
    let mut reader = Reader {
        tree,
        dir: dir.clone(),
        inputs: vec![REPO_CONFIG_FILE.to_owned()],
    };
    let mut warnings = Vec::new();

    // 1. The config file, by wrangler's precedence.
    let mut present = Vec::new();
    for name in CONFIG_FILE_NAMES {
        let path = join_path(&dir, name);
        reader.inputs.push(path.clone());
        let kind = tree.kind(&path).map_err(|e| ConfigError::tree(&path, e))?;
        if matches!(kind, Some(EntryKind::File | EntryKind::Symlink)) {
            present.push(path);
        }
    }
    let Some(config_path) = present.first().cloned() else {
        return Err(ConfigError::NoConfig { dir });
    };
    if present.len() > 1 {
        warnings.push(Warning::file(
            &config_path,
            format!(
                "several wrangler configs in {:?} ({}); using {config_path} as wrangler does \
                 (json, then jsonc, then toml); delete the others",
                dir,
                present.join(", ")
            ),
        ));
    }
    let bytes = reader
        .read("config", &config_path)?
        .ok_or_else(|| ConfigError::NoConfig { dir: dir.clone() })?;

    // 2. Which env: per-worker override (by dir, else by script name), else the repo's.
    let by_dir = repo
        .overrides_for(&dir, &[])
        .map(|(key, o)| (key.to_owned(), o.clone()));
    let env_for = |o: Option<&crate::repo::WorkerOverrides>| -> Option<String> {
        match o.and_then(|o| o.env.clone()) {
            Some(env) => Some(env).filter(|e| !e.is_empty()),
            None => repo.env.clone(),
        }
    };
    let mut env = env_for(by_dir.as_ref().map(|(_, o)| o));
    let mut parsed = parse_config(&config_path, &bytes, env.as_deref())?;
    let mut overrides = by_dir;
    // Script names an override may be keyed by: the top-level name and the resolved one.
    let top_name = if env.is_some() {
        parse_config(&config_path, &bytes, None)
            .ok()
            .and_then(|p| p.name)
    } else {
        parsed.name.clone()
    };
    if overrides.is_none() {
        let names: Vec<&str> = parsed
            .name
            .as_deref()
            .into_iter()
            .chain(top_name.as_deref())
            .collect();
        if let Some((key, o)) = repo.overrides_for(&dir, &names) {
            let wanted = env_for(Some(o));
            if wanted != env {
                env = wanted;
                parsed = parse_config(&config_path, &bytes, env.as_deref())?;
            }
            overrides = Some((key.to_owned(), o.clone()));
        }
    }
    warnings.append(&mut parsed.warnings);

    let Some(name) = parsed.name.clone() else {
        return Err(ConfigError::invalid(
            crate::error::Location {
                file: config_path.clone(),
                line: 1,
                col: 1,
            },
            "no `name`: Cloudflare needs a script name; add `name = \"my-worker\"` to the config",
        ));
    };
    if parsed.spec.compatibility_date.is_none() {
        // A misspelt key is the usual cause: point at it rather than at line 1.
        if let Some((warning, key)) = misspelling_of(&warnings, "compatibility_date") {
            return Err(ConfigError::invalid(
                crate::error::Location {
                    file: config_path.clone(),
                    line: warning.line.unwrap_or(1),
                    col: warning.col.unwrap_or(1),
                },
                format!(
                    "no `compatibility_date`, but an unknown key `{key}`: did you mean \
                     `compatibility_date`?"
                ),
            ));
        }
        return Err(ConfigError::invalid(
            crate::error::Location {
                file: config_path.clone(),
                line: 1,
                col: 1,
            },
            "no `compatibility_date`: wrangler refuses to deploy without one (Cloudflare would \
             silently use 2021-11-02); add compatibility_date = \"YYYY-MM-DD\" (the date you \
             last tested the Worker against)",
        ));
    }
    let names: Vec<&str> = std::iter::once(name.as_str())
        .chain(top_name.as_deref())
        .collect();
    let policy = repo.policy_for(&dir, &names);

    // 3. main (flaresync.toml override wins).
    let (main, main_origin) = match overrides.as_ref().and_then(|(_, o)| o.main.clone()) {
        Some(main) => (main, format!("{REPO_CONFIG_FILE} [workers] main")),
        None => match parsed.main.clone() {
            Some(main) => (
                main,
                parsed
                    .main_location
                    .as_ref()
                    .map(|l| format!("`main` at {l}"))
                    .unwrap_or_else(|| "`main`".into()),
            ),
            None => {
                return Err(ConfigError::Bundle {
                    dir,
                    message: format!(
                        "{config_path} has no `main`; flaresync deploys a built bundle: commit \
                         it and set `main` (or `main` under [workers.\"{}\"] in \
                         {REPO_CONFIG_FILE}) to its path",
                        reader.dir
                    ),
                });
            }
        },
    };
    let lower = main.to_ascii_lowercase();
    if [".ts", ".tsx", ".mts", ".cts", ".jsx"]
        .iter()
        .any(|ext| lower.ends_with(ext))
    {
        return Err(ConfigError::Bundle {
            dir,
            message: format!(
                "{main_origin} points at source file {main:?}; flaresync deploys built bundles \
                 and never runs a build: commit the build output (e.g. dist/index.js) and point \
                 `main` (or the {REPO_CONFIG_FILE} `main` override) at it"
            ),
        });
    }
    let main_path = normalize(&dir, &main).map_err(|p| reader.problem("main", p))?;

    // 4. Module root and module set.
    let settings = &parsed.module_settings;
    let module_root = match &settings.base_dir {
        Some(base) => normalize(&dir, base).map_err(|p| reader.problem("base_dir", p))?,
        None => main_path
            .rsplit_once('/')
            .map(|(d, _)| d.to_owned())
            .unwrap_or_default(),
    };
    let main_module = match relative_to(&module_root, &main_path) {
        Some(name) => name,
        None => {
            return Err(ConfigError::Bundle {
                dir,
                message: format!(
                    "main {main_path:?} is not inside base_dir {module_root:?}; set `base_dir` \
                     to a directory containing main"
                ),
            });
        }
    };
    let (rules, dropped_rules) = effective_rules(&settings.rules);
    let main_type = classify(&rules, &main_module).unwrap_or(ModuleType::ESModule);
    if !matches!(
        main_type,
        ModuleType::ESModule | ModuleType::CommonJS | ModuleType::PythonModule
    ) {
        return Err(ConfigError::Bundle {
            dir,
            message: format!(
                "main {main_module:?} is a {main_type:?} module by the module rules; main must \
                 be JavaScript (ESModule/CommonJS) or Python"
            ),
        });
    }
    let main_bytes = match reader.read("main", &main_path)? {
        Some(bytes) => bytes,
        None => {
            return Err(ConfigError::Bundle {
                dir,
                message: format!(
                    "{main_origin}: bundle file {main_path:?} does not exist in the repository; \
                     flaresync does not build: commit the built bundle (check it is not \
                     ignored by .gitignore) or fix the path"
                ),
            });
        }
    };
    let mut modules = vec![make_module(main_module.clone(), main_type, main_bytes)];

    if settings.collects_additional_modules() {
        let mut files = Vec::new();
        collect_files(&mut reader, &module_root, &mut files)?;
        files.sort();
        for rel in files {
            if rel == main_module {
                continue;
            }
            if let Some(kind) = classify(&rules, &rel) {
                if rel.contains(char::REPLACEMENT_CHARACTER) {
                    return Err(ConfigError::Bundle {
                        dir,
                        message: format!(
                            "module file {rel:?} has a name that is not valid UTF-8 (shown with \
                             U+FFFD); module names are UTF-8 and no import can name it: rename \
                             the file or exclude it from the {kind:?} rule"
                        ),
                    });
                }
                let path = join_path(&module_root, &rel);
                // `None`: a symlink to a directory (listed as a candidate), not a module.
                if let Some(bytes) = reader.read("module", &path)? {
                    modules.push(make_module(rel, kind, bytes));
                }
            } else if let Some(rule) = dropped_rules
                .iter()
                .find(|r| r.globs.iter().any(|g| glob_matches(g, &rel)))
            {
                return Err(ConfigError::Bundle {
                    dir,
                    message: format!(
                        "file {rel:?} matches a {:?} module rule that is ignored because an \
                         earlier rule of the same type lacks `fallthrough = true`; add \
                         `fallthrough = true` to that earlier rule (as wrangler requires)",
                        rule.kind
                    ),
                });
            }
        }
    }
    modules[1..].sort_by(|a, b| a.name.cmp(&b.name));
    check_size(&dir, &modules)?;

    let mut spec = parsed.spec.clone();
    spec.name = name;
    spec.dir = dir.clone();
    spec.config_path = config_path;
    spec.main_module = main_module;
    spec.modules = modules;

    let ParsedConfig { account_id, .. } = parsed;
    let mut inputs = reader.inputs;
    inputs.sort();
    inputs.dedup();
    Ok(LoadedWorker {
        spec,
        warnings,
        inputs,
        env,
        account_id: account_id.or_else(|| repo.account_id.clone()),
        policy,
        override_key: overrides.map(|(key, _)| key),
    })
}

fn relative_to(root: &str, path: &str) -> Option<String> {
    if root.is_empty() {
        Some(path.to_owned())
    } else {
        path.strip_prefix(root)
            .and_then(|rest| rest.strip_prefix('/'))
            .map(str::to_owned)
    }
}

fn make_module(name: String, kind: ModuleType, bytes: Vec<u8>) -> Module {
    let sha256 = hex::encode(Sha256::digest(&bytes));
    Module {
        name,
        content_type: kind.content_type().to_owned(),
        sha256,
        size: bytes.len() as u64,
        content: Arc::from(bytes.into_boxed_slice()),
    }
}

/// Files under `root` (relative to it), not following directory symlinks out of the tree.
fn collect_files(
    reader: &mut Reader<'_>,
    root: &str,
    out: &mut Vec<String>,
) -> Result<(), ConfigError> {
    // The module root itself may sit behind a symlink (`dist -> build`): list the real
    // directory, which must be inside the repository, and keep names relative to `root`.
    reader.inputs.push(root.to_owned());
    let real_root =
        resolve_symlinks(reader.tree, root).map_err(|p| reader.problem("base_dir", p))?;
    let mut queue = VecDeque::from([String::new()]);
    while let Some(rel_dir) = queue.pop_front() {
        let dir_path = join_path(&real_root, &rel_dir);
        reader.inputs.push(dir_path.clone());
        let Some(entries) = reader
            .tree
            .list(&dir_path)
            .map_err(|e| ConfigError::tree(&dir_path, e))?
        else {
            continue;
        };
        for entry in entries {
            if entry.name == ".git" || entry.name == "node_modules" {
                continue;
            }
            let rel = join_path(&rel_dir, &entry.name);
            match entry.kind {
                EntryKind::Dir => queue.push_back(rel),
                // Symlinks are candidates too: when a rule matches, reading resolves them and
                // refuses targets outside the repository. Directory symlinks are not followed.
                EntryKind::File | EntryKind::Symlink => out.push(rel),
            }
        }
    }
    Ok(())
}

/// Rejects bundles above Cloudflare's limits: uncompressed first (cheap), then gzip size.
fn check_size(dir: &str, modules: &[Module]) -> Result<(), ConfigError> {
    let total: u64 = modules.iter().map(|m| m.size).sum();
    if total > MAX_BUNDLE_UNCOMPRESSED_BYTES {
        return Err(ConfigError::Bundle {
            dir: dir.to_owned(),
            message: format!(
                "bundle is {total} bytes uncompressed, above the {MAX_BUNDLE_UNCOMPRESSED_BYTES} \
                 byte limit; shrink the bundle (minify, split out assets)"
            ),
        });
    }
    // gzip never shrinks data by less than its small framing overhead; below 99% of the limit
    // the compressed size cannot exceed it, so skip compressing.
    if total <= MAX_BUNDLE_GZIP_BYTES / 100 * 99 {
        return Ok(());
    }
    let compressed = gzip_size(modules);
    if compressed > MAX_BUNDLE_GZIP_BYTES {
        return Err(ConfigError::Bundle {
            dir: dir.to_owned(),
            message: format!(
                "bundle is {compressed} bytes gzip-compressed, above Cloudflare's \
                 {MAX_BUNDLE_GZIP_BYTES} byte Worker size limit (error 10027); shrink the bundle"
            ),
        });
    }
    Ok(())
}

/// Size of all module contents gzip-compressed as one stream.
pub fn gzip_size(modules: &[Module]) -> u64 {
    struct Counter(u64);
    impl Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len() as u64;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut encoder = flate2::write::GzEncoder::new(Counter(0), flate2::Compression::default());
    for module in modules {
        // Writing to a counting sink cannot fail.
        let _ = encoder.write_all(&module.content);
    }
    match encoder.finish() {
        Ok(counter) => counter.0,
        Err(_) => u64::MAX,
    }
}

/// Loads every discovered Worker. One broken Worker never blocks the others; two directories
/// resolving to the same script name both get [`ConfigError::DuplicateScript`].
pub fn load_all(tree: &dyn SourceTree, repo: &RepoConfig) -> RepoLoad {
    let mut warnings = Vec::new();
    let dirs = match discover_workers(tree, repo) {
        Ok(dirs) => dirs,
        Err(error) => {
            let mut workers = BTreeMap::new();
            workers.insert(String::new(), Err(ConfigError::tree("", error)));
            return RepoLoad {
                workers,
                warnings,
                skipped: Vec::new(),
            };
        }
    };
    let mut workers: BTreeMap<String, Result<LoadedWorker, ConfigError>> = BTreeMap::new();
    let mut skipped = Vec::new();
    let mut matched_overrides: Vec<String> = Vec::new();
    for dir in &dirs {
        let result = load_worker(tree, dir, repo);
        if let Ok(worker) = &result {
            if let Some(key) = &worker.override_key {
                matched_overrides.push(key.clone());
            }
            if worker.policy.skip {
                skipped.push(dir.clone());
                continue;
            }
        } else if let Some((key, o)) = repo.overrides_for(dir, &[]) {
            matched_overrides.push(key.to_owned());
            if o.skip == Some(true) {
                skipped.push(dir.clone());
                continue;
            }
        }
        workers.insert(dir.clone(), result);
    }
    for key in repo.workers.keys() {
        if !matched_overrides.contains(key) {
            warnings.push(Warning::file(
                REPO_CONFIG_FILE,
                format!(
                    "[workers.{key:?}] matches no worker directory or script name; fix the key \
                     or remove the section"
                ),
            ));
        }
    }
    // Duplicate script names (within one account: the same name in two accounts is fine).
    let mut by_name: BTreeMap<(Option<String>, String), Vec<String>> = BTreeMap::new();
    for (dir, result) in &workers {
        if let Ok(worker) = result {
            by_name
                .entry((worker.account_id.clone(), worker.spec.name.clone()))
                .or_default()
                .push(dir.clone());
        }
    }
    for ((_, name), dirs) in by_name {
        if dirs.len() < 2 {
            continue;
        }
        for dir in &dirs {
            let others: Vec<String> = dirs
                .iter()
                .filter(|d| *d != dir)
                .map(|d| format!("{d:?}"))
                .collect();
            workers.insert(
                dir.clone(),
                Err(ConfigError::DuplicateScript {
                    dir: dir.clone(),
                    name: name.clone(),
                    other_dirs: others.join(", "),
                }),
            );
        }
    }
    RepoLoad {
        workers,
        warnings,
        skipped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_rejects_escapes_and_absolute_paths() {
        assert_eq!(
            normalize("a/b", "../c/./d.js").ok().as_deref(),
            Some("a/c/d.js")
        );
        assert!(matches!(
            normalize("a", "../../x.js"),
            Err(PathProblem::Escapes(_))
        ));
        assert!(matches!(
            normalize("a", "/etc/passwd"),
            Err(PathProblem::Absolute(_))
        ));
        assert!(matches!(
            normalize("a", "C:\\x.js"),
            Err(PathProblem::Absolute(_))
        ));
    }

    #[test]
    fn relative_to_requires_prefix_at_a_separator() {
        assert_eq!(relative_to("a/b", "a/b/c.js").as_deref(), Some("c.js"));
        assert_eq!(relative_to("a/b", "a/bc/c.js"), None);
        assert_eq!(relative_to("", "c.js").as_deref(), Some("c.js"));
    }
}

/// The "unknown key" warning whose key is a near miss (edit distance <= 2) of `wanted`.
fn misspelling_of<'w>(warnings: &'w [Warning], wanted: &str) -> Option<(&'w Warning, String)> {
    warnings.iter().find_map(|warning| {
        let key = warning
            .message
            .strip_prefix("unknown key `")?
            .split('`')
            .next()?
            .rsplit('.')
            .next()?
            .to_owned();
        (key != wanted && edit_distance(&key, wanted) <= 2).then_some((warning, key))
    })
}

/// Levenshtein distance (small strings only: config keys).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod misspelling_tests {
    use super::*;

    #[test]
    fn a_misspelt_compatibility_date_is_pointed_at() {
        assert_eq!(edit_distance("compatability_date", "compatibility_date"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        let warnings = vec![
            Warning::file("w/wrangler.toml", "unknown key `vars.X` is ignored"),
            Warning::file(
                "w/wrangler.toml",
                "unknown key `compatability_date` is ignored; check its spelling and placement",
            ),
        ];
        let (warning, key) =
            misspelling_of(&warnings, "compatibility_date").expect("the near miss is found");
        assert_eq!(key, "compatability_date");
        assert!(warning.message.contains("compatability_date"));
        assert!(misspelling_of(&warnings[..1], "compatibility_date").is_none());
    }
}
