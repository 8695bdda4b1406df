//! Issue 14's proof: every real config of `fixtures/corpus/wrangler` that is deployable in
//! principle is deployed in full to the emulator by one `flaresync sync`, as a user would do it.
//!
//! A user creates what the config references first (KV namespaces, D1 databases, R2 buckets,
//! queues, zones of the routes, through the API as wrangler does), puts the ids Cloudflare gave
//! them into the config (and their own account id), commits the built bundle (here one module
//! exporting every class the config names) and any assets directory. Each Worker then sits in
//! a directory like its source repository's (`<n>/packages/api/wrangler.toml`) so relative
//! paths (`../public`) keep their meaning.
//!
//! Configs that do not parse, or that flaresync refuses (containers, Workers Sites, Pages, ...),
//! are expected to be reported, not deployed: each is listed with its reason. Everything else
//! must be live at its commit, with its routes, custom domains and queue consumers, and
//! `plan --live` must find nothing left to do; one Worker short fails the test.
//!
//! One account cannot hold two Workers of the same name, or two Workers consuming one queue or
//! claiming one route, so the corpus is split into as few batches (one emulator, one repository,
//! one sync each) as those clashes need.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use common::*;
use flaresync_config::{BindingKind, ParsedConfig, parse_config};
use serde_json::{Value, json};

/// One corpus file that parses at its top level.
struct Candidate {
    file: String,
    text: String,
    parsed: ParsedConfig,
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/corpus/wrangler")
}

/// The files that parse, and `(file, reason)` of those that do not.
fn read_corpus() -> (Vec<Candidate>, Vec<(String, String)>) {
    let mut names: Vec<String> = std::fs::read_dir(corpus_dir())
        .expect("the corpus directory")
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| {
            [".toml", ".json", ".jsonc"]
                .iter()
                .any(|e| name.ends_with(e))
        })
        .collect();
    names.sort();
    let (mut ok, mut refused) = (Vec::new(), Vec::new());
    for file in names {
        let bytes = std::fs::read(corpus_dir().join(&file)).expect("a corpus file");
        match parse_config(&file, &bytes, None) {
            // wrangler takes `--name` then; flaresync deploys what the repository says.
            Ok(parsed) if parsed.name.is_none() => refused.push((
                file,
                "no `name`: Cloudflare needs a script name (FS011)".to_owned(),
            )),
            Ok(parsed) if parsed.spec.compatibility_date.is_none() => refused.push((
                file,
                "no `compatibility_date`: wrangler refuses to deploy without one".to_owned(),
            )),
            Ok(parsed) if unmigrated_class(&parsed).is_some() => {
                let class = unmigrated_class(&parsed).unwrap_or_default();
                refused.push((
                    file,
                    format!(
                        "Durable Object binding to class {class} that no migration creates: \
                         Cloudflare refuses it (10061)"
                    ),
                ));
            }
            Ok(parsed) => ok.push(Candidate {
                text: String::from_utf8_lossy(&bytes).into_owned(),
                file,
                parsed,
            }),
            Err(error) => refused.push((file, error.to_string())),
        }
    }
    (ok, refused)
}

/// A Durable Object class of this Worker that a binding names but no migration creates.
fn unmigrated_class(parsed: &ParsedConfig) -> Option<String> {
    if parsed.spec.exports.is_some() {
        return None; // declared through `exports`, not migrations
    }
    let migrated = migrated_classes(parsed);
    parsed
        .spec
        .bindings
        .iter()
        .find_map(|binding| match &binding.kind {
            BindingKind::DurableObjectNamespace {
                class_name,
                script_name,
                ..
            } if (script_name.is_none() || script_name == &parsed.name)
                && !migrated.contains(class_name) =>
            {
                Some(class_name.clone())
            }
            _ => None,
        })
}

/// The Durable Object classes the config's migrations leave in place.
fn migrated_classes(parsed: &ParsedConfig) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for step in &parsed.spec.migrations {
        out.extend(step.new_classes.iter().cloned());
        out.extend(step.new_sqlite_classes.iter().cloned());
        out.extend(step.renamed_classes.iter().map(|r| r.to.clone()));
        out.extend(step.transferred_classes.iter().map(|t| t.to.clone()));
        for deleted in &step.deleted_classes {
            out.remove(deleted);
        }
    }
    out
}

/// The host of a route pattern (`*.api.example.com/v1/*` -> `api.example.com`).
fn pattern_host(pattern: &str) -> String {
    let host = pattern
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or_default()
        .trim_start_matches('*')
        .trim_start_matches('.');
    host.split(':')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// The zone a user would add for a route: its `zone_name`, else the host's last two labels.
fn zone_of(route: &flaresync_config::Route) -> String {
    if let Some(name) = &route.zone_name {
        return name.to_ascii_lowercase();
    }
    let host = pattern_host(&route.pattern);
    let labels: Vec<&str> = host.split('.').collect();
    labels[labels.len().saturating_sub(2)..].join(".")
}

/// What one account can hold once: the script name, each consumed queue, each route pattern
/// and custom domain.
fn claims(parsed: &ParsedConfig) -> Vec<String> {
    let spec = &parsed.spec;
    let mut out = vec![format!("script {}", parsed.name.as_deref().unwrap_or("-"))];
    out.extend(
        spec.queue_consumers
            .iter()
            .map(|c| format!("queue {}", c.queue)),
    );
    out.extend(spec.routes.iter().map(|r| format!("route {}", r.pattern)));
    out
}

/// Greedy split into batches without clashing claims.
fn batches(candidates: Vec<Candidate>) -> Vec<Vec<Candidate>> {
    let mut out: Vec<(BTreeSet<String>, Vec<Candidate>)> = Vec::new();
    for candidate in candidates {
        let wanted = claims(&candidate.parsed);
        let slot = out
            .iter()
            .position(|(taken, _)| wanted.iter().all(|c| !taken.contains(c)));
        let index = slot.unwrap_or_else(|| {
            out.push((BTreeSet::new(), Vec::new()));
            out.len() - 1
        });
        out[index].0.extend(wanted);
        out[index].1.push(candidate);
    }
    out.into_iter().map(|(_, batch)| batch).collect()
}

/// Every class a bundle must export for the config: its Durable Object classes and Workflows.
fn exported_classes(parsed: &ParsedConfig) -> BTreeSet<String> {
    let mut out = migrated_classes(parsed);
    for binding in &parsed.spec.bindings {
        match &binding.kind {
            BindingKind::Workflow {
                class_name: Some(class_name),
                script_name: None,
                ..
            }
            | BindingKind::DurableObjectNamespace {
                class_name,
                script_name: None,
                ..
            } => {
                out.insert(class_name.clone());
            }
            _ => {}
        }
    }
    out
}

fn bundle(classes: &BTreeSet<String>) -> String {
    let mut out = String::from(
        "export default {\n  async fetch() { return new Response(\"corpus\"); },\n  \
         async queue() {},\n  async scheduled() {},\n};\n",
    );
    for class in classes {
        out.push_str(&format!(
            "export class {class} {{ async fetch() {{ return new Response(\"{class}\"); }} }}\n"
        ));
    }
    out
}

/// The account of one batch: its emulator, and what was created in it (old id -> new id).
struct Account {
    emulator: Emulator,
    ids: BTreeMap<String, String>,
    created: BTreeSet<String>,
}

impl Account {
    fn new(dir: &Path) -> Self {
        Account {
            // Cloudflare's 1,200 requests / 5 min would pace a sync of a hundred Workers for
            // minutes (the budget is sized from the limit the emulator announces); the limit
            // is not what this test is about.
            emulator: Emulator::start_with(dir, &["--rate-limit", "1000000"]),
            ids: BTreeMap::new(),
            created: BTreeSet::new(),
        }
    }

    /// `POST`s `body` to `path` as a user would (curl); the result, or Cloudflare's refusal.
    fn call(&self, path: &str, body: &Value, header: Option<&str>) -> Result<Value, String> {
        let mut command = std::process::Command::new("curl");
        command
            .args(["-sS", "-X", "POST", "-H"])
            .arg(format!("Authorization: Bearer {TOKEN}"))
            .args(["-H", "Content-Type: application/json"]);
        if let Some(header) = header {
            command.arg("-H").arg(header);
        }
        let output = command
            .arg("--data")
            .arg(body.to_string())
            .arg(format!("{}{path}", self.emulator.base_url))
            .output()
            .expect("curl runs");
        let envelope: Value = serde_json::from_slice(&output.stdout).expect("JSON");
        if envelope["success"] == true {
            Ok(envelope["result"].clone())
        } else {
            Err(envelope["errors"].to_string())
        }
    }

    /// Creates a resource named by the config once per `key`.
    fn create_once(
        &mut self,
        key: String,
        path: &str,
        body: Value,
        header: Option<String>,
    ) -> Result<(), String> {
        if self.created.contains(&key) {
            return Ok(());
        }
        self.call(path, &body, header.as_deref())
            .map_err(|e| format!("Cloudflare refuses to create {key}: {e}"))?;
        self.created.insert(key);
        Ok(())
    }

    /// A resource whose id Cloudflare chooses: created once per id the config names.
    fn id_for(&mut self, old: &str, path: &str, body: Value, id_key: &str) -> String {
        if let Some(new) = self.ids.get(old) {
            return new.clone();
        }
        let created = self
            .call(path, &body, None)
            .expect("a resource of a free name");
        let new = created[id_key].as_str().expect("an id").to_owned();
        self.ids.insert(old.to_owned(), new.clone());
        new
    }

    fn queue(&mut self, name: &str) -> Result<(), String> {
        self.create_once(
            format!("queue {name:?}"),
            &format!("/accounts/{ACCOUNT}/queues"),
            json!({ "queue_name": name }),
            None,
        )
    }

    fn zone(&mut self, name: &str) -> Result<(), String> {
        if name == "example.com" {
            return Ok(()); // the emulator's seeded zone
        }
        self.create_once(
            format!("zone {name:?}"),
            "/zones",
            json!({ "name": name, "account": { "id": ACCOUNT } }),
            None,
        )
    }
}

/// Creates what `parsed` references and returns its text with the new ids (and the account);
/// or why a user could not (a placeholder name Cloudflare refuses).
fn provision(account: &mut Account, candidate: &Candidate) -> Result<String, String> {
    let mut text = candidate.text.clone();
    let mut replace = |old: &str, new: &str| {
        for quote in ['"', '\''] {
            text = text.replace(
                &format!("{quote}{old}{quote}"),
                &format!("{quote}{new}{quote}"),
            );
        }
    };
    if let Some(id) = &candidate.parsed.account_id {
        replace(id, ACCOUNT);
    }
    let spec = &candidate.parsed.spec;
    for binding in &spec.bindings {
        match &binding.kind {
            BindingKind::KvNamespace { namespace_id } => {
                let count = account.ids.len();
                let new = account.id_for(
                    namespace_id,
                    &format!("/accounts/{ACCOUNT}/storage/kv/namespaces"),
                    json!({ "title": format!("corpus-kv-{count}") }),
                    "id",
                );
                replace(namespace_id, &new);
            }
            BindingKind::D1 { id } => {
                let count = account.ids.len();
                let new = account.id_for(
                    id,
                    &format!("/accounts/{ACCOUNT}/d1/database"),
                    json!({ "name": format!("corpus-db-{count}") }),
                    "uuid",
                );
                replace(id, &new);
            }
            BindingKind::R2Bucket {
                bucket_name,
                jurisdiction,
            } => account.create_once(
                format!("R2 bucket {bucket_name:?} ({jurisdiction:?})"),
                &format!("/accounts/{ACCOUNT}/r2/buckets"),
                json!({ "name": bucket_name }),
                jurisdiction
                    .as_ref()
                    .map(|j| format!("cf-r2-jurisdiction: {j}")),
            )?,
            BindingKind::Queue { queue_name, .. } => account.queue(queue_name)?,
            _ => {}
        }
    }
    for consumer in &spec.queue_consumers {
        account.queue(&consumer.queue)?;
        let settings: Value = serde_json::from_str(&consumer.settings).unwrap_or(Value::Null);
        if let Some(dlq) = settings["dead_letter_queue"].as_str() {
            account.queue(dlq)?;
        }
    }
    for route in &spec.routes {
        let zone = zone_of(route);
        account.zone(&zone)?;
        if let Some(old) = &route.zone_id {
            replace(old, &zone_hex(account, &zone));
        }
    }
    Ok(text)
}

/// The id the account gave zone `name`.
fn zone_hex(account: &Account, name: &str) -> String {
    let zones = account.emulator.get(&format!("/zones?name={name}"));
    zones["result"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("zone {name}: {zones}"))
        .to_owned()
}

/// The directory a corpus file came from (`owner__repo__a__b__wrangler.toml` -> `a/b`) and the
/// config name flaresync reads there.
fn placement(file: &str) -> (String, String) {
    let parts: Vec<String> = file
        .split("__")
        .map(|part| match part.strip_prefix('.') {
            // flaresync, like wrangler's own `.wrangler/`, does not look into hidden directories.
            Some(rest) => format!("_{rest}"),
            None => part.to_owned(),
        })
        .collect();
    let dirs = parts[2..parts.len() - 1].join("/");
    let ext = file.rsplit('.').next().unwrap_or("toml");
    (dirs, format!("wrangler.{ext}"))
}

/// Writes candidate `index` into the repository; returns its Worker directory and, unless it
/// is assets-only, where its built bundle is (inside `base_dir` when the config sets one).
fn write_worker(
    repo: &Path,
    index: usize,
    candidate: &Candidate,
    text: &str,
) -> (String, Option<String>) {
    let (dirs, config_name) = placement(&candidate.file);
    let dir = if dirs.is_empty() {
        format!("w{index:03}")
    } else {
        format!("w{index:03}/{dirs}")
    };
    write(&repo.join(&dir).join(config_name), text);
    let parsed = &candidate.parsed;
    let mut main = None;
    if parsed.main.is_some() || parsed.spec.assets.is_none() {
        let path = match &parsed.module_settings.base_dir {
            Some(base) => format!("{}/built/index.js", base.trim_end_matches('/')),
            None => "built/index.js".to_owned(),
        };
        write(
            &repo.join(&dir).join(&path),
            &bundle(&exported_classes(parsed)),
        );
        main = Some(path);
    }
    if let Some(assets) = &parsed.spec.assets {
        let public = repo.join(&dir).join(&assets.directory);
        write(&public.join("index.html"), "<h1>corpus</h1>\n");
    }
    (dir, main)
}

/// `flaresync.toml`: each Worker's `main` is its built bundle (flaresync runs no build).
fn repo_config(workers: &[(String, Option<String>)]) -> String {
    let mut out = String::new();
    for (dir, main) in workers {
        if let Some(main) = main {
            out.push_str(&format!("[workers.\"{dir}\"]\nmain = \"{main}\"\n\n"));
        }
    }
    out
}

/// `secrets.required` must be set before the first deploy (wrangler refuses it otherwise):
/// `wrangler secret put` on a new name creates a draft Worker, then puts the secret. The same
/// two calls.
fn put_secrets_first(account: &Account, name: &str, secrets: &[String]) {
    if secrets.is_empty() {
        return;
    }
    let output = std::process::Command::new("curl")
        .args(["-sS", "-X", "PUT", "-H"])
        .arg(format!("Authorization: Bearer {TOKEN}"))
        .args([
            "-F",
            "metadata={\"main_module\":\"index.js\"};type=application/json",
        ])
        .args([
            "-F",
            "index.js=export default { fetch() {} };type=application/javascript+module",
        ])
        .arg(format!(
            "{}/accounts/{ACCOUNT}/workers/scripts/{name}",
            account.emulator.base_url
        ))
        .output()
        .expect("curl runs");
    let envelope: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(envelope["success"], true, "draft Worker {name}: {envelope}");
    for secret in secrets {
        let output = std::process::Command::new("curl")
            .args(["-sS", "-X", "PUT", "-H"])
            .arg(format!("Authorization: Bearer {TOKEN}"))
            .args(["-H", "Content-Type: application/json", "--data"])
            .arg(
                json!({"name": secret, "text": "corpus-secret", "type": "secret_text"}).to_string(),
            )
            .arg(format!(
                "{}/accounts/{ACCOUNT}/workers/scripts/{name}/secrets",
                account.emulator.base_url
            ))
            .output()
            .expect("curl runs");
        let envelope: Value = serde_json::from_slice(&output.stdout).expect("JSON");
        assert_eq!(
            envelope["success"], true,
            "secret {secret} of {name}: {envelope}"
        );
    }
}

/// One Worker of a batch as Git declares it.
struct Deployed {
    file: String,
    name: String,
    parsed: ParsedConfig,
}

/// Why `worker` is not deployed in full in `account`, if it is not.
fn shortfall(account: &Account, worker: &Deployed, commit: &str) -> Option<String> {
    let emulator = &account.emulator;
    if emulator.live_tag(&worker.name).as_deref() != Some(commit) {
        return Some("not live at the commit".into());
    }
    for route in &worker.parsed.spec.routes {
        let present = if route.custom_domain {
            let list = emulator.get(&format!(
                "/accounts/{ACCOUNT}/workers/domains?service={}",
                worker.name
            ));
            list["result"].as_array().is_some_and(|all| {
                all.iter()
                    .any(|d| d["hostname"] == pattern_host(&route.pattern).as_str())
            })
        } else {
            let zone = zone_hex(account, &zone_of(route));
            let list = emulator.get(&format!("/zones/{zone}/workers/routes"));
            list["result"].as_array().is_some_and(|all| {
                all.iter().any(|r| {
                    r["pattern"] == route.pattern.as_str() && r["script"] == worker.name.as_str()
                })
            })
        };
        if !present {
            return Some(format!("route {} missing", route.pattern));
        }
    }
    for consumer in &worker.parsed.spec.queue_consumers {
        let list = emulator.get(&format!(
            "/accounts/{ACCOUNT}/queues?name={}",
            consumer.queue
        ));
        let pull = consumer.settings.contains("http_pull");
        let found = list["result"][0]["consumers"]
            .as_array()
            .is_some_and(|all| {
                all.iter().any(|c| {
                    if pull {
                        c["type"] == "http_pull"
                    } else {
                        c["script"] == worker.name.as_str()
                    }
                })
            });
        if !found {
            return Some(format!("consumer of queue {} missing", consumer.queue));
        }
    }
    None
}

/// Deploys one batch with one sync; the Workers deployed in full and the others with why.
/// What one batch came to: Workers deployed in full, failures, and configs whose resources a
/// user could not create as written, with why.
struct BatchResult {
    full: usize,
    failures: Vec<String>,
    unprovisioned: Vec<(String, String)>,
}

fn deploy_batch(root: &Path, number: usize, batch: &[Candidate]) -> BatchResult {
    let dir = root.join(format!("batch-{number}"));
    let mut account = Account::new(&dir.join("emulator"));
    let repo = init_repo(&dir);
    let mut mains = Vec::new();
    let mut workers = Vec::new();
    let mut unprovisioned = Vec::new();
    for (index, candidate) in batch.iter().enumerate() {
        let text = match provision(&mut account, candidate) {
            Ok(text) => text,
            Err(why) => {
                unprovisioned.push((candidate.file.clone(), why));
                continue;
            }
        };
        mains.push(write_worker(&repo, index, candidate, &text));
        let name = candidate.parsed.name.as_deref().unwrap_or_default();
        put_secrets_first(&account, name, &candidate.parsed.spec.secrets_required);
        workers.push(Deployed {
            file: candidate.file.clone(),
            name: candidate.parsed.name.clone().unwrap_or_default(),
            parsed: candidate.parsed.clone(),
        });
    }
    write(&repo.join("flaresync.toml"), &repo_config(&mains));
    let commit = commit_all(&repo, "the corpus");
    let repo_arg = repo.to_str().expect("utf-8");
    let state = dir.join("state");
    let out = sync(&account.emulator, repo_arg, &state);
    let mut failures = Vec::new();
    if out.code != 0 || out.all().contains("not applied") {
        failures.push(format!(
            "batch {number}: sync exit {}:\n{}",
            out.code,
            out.all()
        ));
    }
    let mut full = 0;
    for worker in &workers {
        match shortfall(&account, worker, &commit) {
            None => full += 1,
            Some(why) => failures.push(format!("{} ({}): {why}", worker.file, worker.name)),
        }
    }
    // Converged: the next pass finds nothing to do.
    let again = sync(&account.emulator, repo_arg, &state);
    if again.code != 0 || !again.stdout.contains("no changes") {
        failures.push(format!("batch {number}: a second sync:\n{}", again.all()));
    }
    BatchResult {
        full,
        failures,
        unprovisioned,
    }
}

#[test]
fn every_deployable_corpus_worker_is_deployed_in_full() {
    let (candidates, mut refused) = read_corpus();
    let total = candidates.len() + refused.len();
    assert!(total >= 180, "the corpus has {total} files");
    let broken = refused.len();
    let root = tempfile::tempdir().expect("tempdir");
    let (mut full, mut deployable) = (0, 0);
    let mut failures = Vec::new();
    let batches = batches(candidates);
    println!("{} batches (one account each)", batches.len());
    for (number, batch) in batches.iter().enumerate() {
        let started = std::time::Instant::now();
        let result = deploy_batch(root.path(), number, batch);
        deployable += batch.len() - result.unprovisioned.len();
        full += result.full;
        failures.extend(result.failures);
        refused.extend(result.unprovisioned);
        println!(
            "batch {number}: {} Workers, {:.1} s",
            batch.len(),
            started.elapsed().as_secs_f64()
        );
    }
    println!(
        "corpus: {total} configs; {deployable} deployable; {full} deployed in full by flaresync; \
         {broken} refused or broken at validate; {} name resources Cloudflare refuses",
        refused.len() - broken
    );
    println!("reported, not deployed ({}):", refused.len());
    for (file, reason) in &refused {
        println!("  {file}: {reason}");
    }
    assert!(
        failures.is_empty(),
        "not deployed in full:\n{}",
        failures.join("\n")
    );
    assert_eq!(full, deployable);
}
