//! Refusing, at upload time, a bundle workerd cannot load (a syntax error, a failing top-level
//! statement), as Cloudflare refuses a script that does not start: HTTP 400 with code 10021 and
//! the runtime's message. Installed by the data plane; without workerd uploads are not checked.
//! The code of an upload that passed is remembered ([`code_key`]), so the controller does not
//! run `workerd test` a second time on the version that upload becomes.

use std::collections::{HashSet, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::desired::{Module, VersionBundle};
use super::supervisor::Runtime;
use super::workerd_config::{Layout, render};
use crate::error::ApiError;
use crate::state::upload::{ModulePart, Upload, media_type};

/// Cloudflare's code for a validation or startup failure of an upload.
pub const STARTUP_FAILED: u32 = 10021;

/// Code keys remembered as passed at most (oldest forgotten first).
const REMEMBERED: usize = 1_000;

/// Checks uploads with workerd.
#[derive(Debug, Clone)]
pub struct UploadCheck {
    pub runtime: Runtime,
    pub storage_dir: String,
    passed: Arc<Mutex<Passed>>,
}

/// The code keys of uploads that passed, oldest first.
#[derive(Debug, Default)]
struct Passed {
    keys: HashSet<[u8; 32]>,
    order: VecDeque<[u8; 32]>,
}

impl Passed {
    fn insert(&mut self, key: [u8; 32]) {
        if self.keys.insert(key) {
            self.order.push_back(key);
        }
        while self.order.len() > REMEMBERED {
            if let Some(old) = self.order.pop_front() {
                self.keys.remove(&old);
            }
        }
    }
}

/// What decides whether workerd loads a version: its modules (name, media type, bytes), entry,
/// compatibility date and flags and bindings. `None` for a version with static assets (its
/// config also holds the asset and router workers, which an upload's check does not load).
pub fn code_key(bundle: &VersionBundle) -> Option<[u8; 32]> {
    if bundle.assets.is_some() {
        return None;
    }
    let mut hash = Sha256::new();
    let mut field = |bytes: &[u8]| {
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(bytes);
    };
    for module in &bundle.modules {
        field(module.name.as_bytes());
        field(media_type(&module.content_type).as_bytes());
        field(&module.content);
    }
    field(bundle.main_module.as_deref().unwrap_or("").as_bytes());
    field(bundle.body_part.as_deref().unwrap_or("").as_bytes());
    field(bundle.compatibility_date.as_bytes());
    for flag in &bundle.compatibility_flags {
        field(flag.as_bytes());
    }
    field(Value::Array(bundle.bindings.clone()).to_string().as_bytes());
    Some(hash.finalize().into())
}

impl UploadCheck {
    pub fn new(runtime: Runtime, storage_dir: &Path) -> Self {
        Self {
            runtime,
            storage_dir: storage_dir.to_string_lossy().into_owned(),
            passed: Arc::default(),
        }
    }

    /// Whether an upload with the code of `version` passed this check.
    pub fn passed(&self, version: &VersionBundle) -> bool {
        code_key(version).is_some_and(|key| self.lock().keys.contains(&key))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Passed> {
        self.passed.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `Ok` when workerd loads the upload's code (or it carries no code), else 10021.
    pub async fn check(&self, upload: &Upload) -> Result<(), ApiError> {
        let Some(bundle) = bundle(upload) else {
            return Ok(());
        };
        let layout = Layout {
            listener: "127.0.0.1:9".into(),
            storage_dir: self.storage_dir.clone(),
            durable_objects: [(bundle.script.clone(), vec![(bundle.id.clone(), 100.0)])].into(),
            // `workerd test` binds no socket.
            addresses: [(bundle.id.clone(), "127.0.0.1:9".to_owned())].into(),
            asset_sources: None,
        };
        let rendered = render(&[&bundle], &layout);
        if let Some((_, reason)) = rendered.skipped.first() {
            return Err(ApiError::new(400, STARTUP_FAILED, reason.clone()));
        }
        let name = format!("upload-{}", uuid::Uuid::new_v4().simple());
        match self.runtime.check(&name, &rendered).await {
            Ok(()) => {
                if let Some(key) = code_key(&bundle) {
                    self.lock().insert(key);
                }
                Ok(())
            }
            Err(super::DataPlaneError::Rejected(message)) => {
                Err(ApiError::new(400, STARTUP_FAILED, message))
            }
            Err(other) => {
                // The checker itself failed (workerd missing, disk full): do not block uploads.
                tracing::warn!(error = %other, "Could not check an upload with workerd.");
                Ok(())
            }
        }
    }
}

/// The upload as a version bundle; `None` when it carries no code to check.
fn bundle(upload: &Upload) -> Option<VersionBundle> {
    let meta = &upload.metadata;
    let text = |key: &str| meta.get(key).and_then(Value::as_str).map(str::to_owned);
    let (main_module, body_part) = (text("main_module"), text("body_part"));
    if upload.modules.is_empty() || (main_module.is_none() && body_part.is_none()) {
        return None;
    }
    let module_syntax = main_module.is_some();
    Some(VersionBundle {
        id: "upload".into(),
        script: "upload".into(),
        tag: String::new(),
        created_on: String::new(),
        main_module,
        body_part,
        modules: upload
            .modules
            .iter()
            .map(|part| module(part, module_syntax))
            .collect(),
        bindings: meta
            .get("bindings")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        compatibility_date: text("compatibility_date").unwrap_or_else(|| "2021-01-01".into()),
        compatibility_flags: meta
            .get("compatibility_flags")
            .and_then(Value::as_array)
            .map(|flags| {
                flags
                    .iter()
                    .filter_map(|f| f.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        assets: None,
    })
}

fn module(part: &ModulePart, module_syntax: bool) -> Module {
    let name = part.name.clone();
    let content_type = part.content_type.clone().unwrap_or_else(|| {
        let js = name.ends_with(".js") || name.ends_with(".mjs");
        match (js, module_syntax) {
            (true, true) => "application/javascript+module",
            (true, false) => "application/javascript",
            _ => "application/octet-stream",
        }
        .to_owned()
    });
    Module {
        name,
        content_type,
        content: part.bytes.clone(),
    }
}
