//! Test support: loading plan cases from `tests/cases/<case>/`.
//!
//! A case folder holds:
//!
//! - `head.json`: the desired state (required), in the compact test format below;
//! - `base.json`: the base commit's desired state (optional);
//! - `live.json`: a [`LiveAccount`] (optional; absent = live state not fetched);
//! - `history.json`: a [`History`] (optional);
//! - `policy.json`: [`Policies`] (optional; absent = defaults);
//! - `expect.json`: the exit code, action kind per Worker, rule ids per Worker and step list;
//! - `about.txt`: what the case is about (becomes the snapshot description);
//! - `markdown.snap`, `json.snap`, `text.snap`: the insta snapshots.
//!
//! Test desired format: `{"commit": "...", "workers": {"<script>": W}}` where W is either
//! `{"broken": "<error>"}` or `{"version_digest": "...", "digest"?: "...", "dependencies"?: [...],
//! "spec": {...}}`. `spec` holds any [`WorkerSpec`] fields; missing ones get defaults, `name`
//! defaults to the script name, and `modules` is a map of module name to text content (sha256
//! and size are computed, content type follows the extension).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use flaresync_config::{Module, WorkerSpec};
use flaresync_plan::{Desired, DesiredEntry, DesiredWorker, History, LiveAccount, Policies};
use serde_json::Value;
use sha2::{Digest, Sha256};

pub struct Case {
    pub name: String,
    pub dir: PathBuf,
    pub about: String,
    pub head: Desired,
    pub base: Option<Desired>,
    pub live: LiveAccount,
    pub history: History,
    pub policies: Policies,
    pub expect: Value,
}

pub fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases")
}

pub fn all_cases() -> Vec<Case> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .expect("tests/cases exists")
        .map(|e| e.expect("readable dir entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs.iter().map(|d| load_case(d)).collect()
}

fn read_json(path: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(path).ok()?;
    Some(
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not valid JSON: {e}", path.display())),
    )
}

pub fn load_case(dir: &Path) -> Case {
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .expect("utf-8 case name")
        .to_owned();
    let head = desired(&read_json(&dir.join("head.json")).expect("head.json is required"));
    let base = read_json(&dir.join("base.json")).map(|v| desired(&v));
    let live = match read_json(&dir.join("live.json")) {
        Some(v) => serde_json::from_value(v).expect("live.json is a LiveAccount"),
        None => LiveAccount::unobserved(),
    };
    let history = read_json(&dir.join("history.json"))
        .map(|v| serde_json::from_value(v).expect("history.json is a History"))
        .unwrap_or_default();
    let policies = read_json(&dir.join("policy.json"))
        .map(|v| serde_json::from_value(v).expect("policy.json is Policies"))
        .unwrap_or_default();
    let expect = read_json(&dir.join("expect.json")).expect("expect.json is required");
    let about = std::fs::read_to_string(dir.join("about.txt"))
        .unwrap_or_default()
        .trim()
        .to_owned();
    Case {
        name,
        dir: dir.to_owned(),
        about,
        head,
        base,
        live,
        history,
        policies,
        expect,
    }
}

pub fn desired(value: &Value) -> Desired {
    let commit = value["commit"].as_str().expect("commit").to_owned();
    let mut workers = BTreeMap::new();
    for (name, entry) in value["workers"].as_object().expect("workers object") {
        let entry = if let Some(error) = entry.get("broken") {
            DesiredEntry::Broken {
                config_path: Some(format!("{name}/wrangler.toml")),
                error: error.as_str().expect("broken is text").to_owned(),
            }
        } else {
            let version_digest = entry["version_digest"].as_str().expect("version_digest");
            DesiredEntry::Ok(Box::new(DesiredWorker {
                spec: spec(name, &entry["spec"]),
                digest: entry
                    .get("digest")
                    .and_then(Value::as_str)
                    .unwrap_or(version_digest)
                    .into(),
                version_digest: version_digest.into(),
                dependencies: entry
                    .get("dependencies")
                    .map(|d| serde_json::from_value(d.clone()).expect("dependencies"))
                    .unwrap_or_default(),
            }))
        };
        workers.insert(name.clone(), entry);
    }
    Desired { commit, workers }
}

fn content_type(name: &str) -> &'static str {
    if name.ends_with(".wasm") {
        "application/wasm"
    } else if name.ends_with(".txt") || name.ends_with(".html") {
        "text/plain"
    } else if name.ends_with(".bin") {
        "application/octet-stream"
    } else {
        "application/javascript+module"
    }
}

pub fn spec(name: &str, partial: &Value) -> WorkerSpec {
    let mut value: Value = serde_json::from_str(include_str!("../fixtures/minimal_spec.json"))
        .expect("the fixture is JSON");
    value["name"] = name.into();
    value["dir"] = name.into();
    value["config_path"] = format!("{name}/wrangler.toml").into();
    let mut modules = BTreeMap::new();
    if let Some(partial) = partial.as_object() {
        for (key, field) in partial {
            if key == "modules" {
                for (module, text) in field.as_object().expect("modules map") {
                    modules.insert(module.clone(), text.as_str().expect("text").to_owned());
                }
            } else if matches!(key.as_str(), "exports" | "limits" | "placement")
                && field.is_object()
            {
                // The model keeps these as canonical JSON text.
                value[key] = Value::String(flaresync_config::canonical_json_text(field));
            } else {
                value[key] = field.clone();
            }
        }
    }
    let mut spec: WorkerSpec = serde_json::from_value(value).expect("valid WorkerSpec");
    spec.bindings.sort_by(|a, b| a.name.cmp(&b.name));
    let main = spec.main_module.clone();
    let mut list: Vec<Module> = modules
        .into_iter()
        .map(|(module, text)| {
            let bytes = text.into_bytes();
            Module {
                content_type: content_type(&module).to_owned(),
                sha256: hex::encode(Sha256::digest(&bytes)),
                size: bytes.len() as u64,
                content: Arc::from(bytes.into_boxed_slice()),
                name: module,
            }
        })
        .collect();
    list.sort_by_key(|m| (m.name != main, m.name.clone()));
    spec.modules = list;
    spec
}
