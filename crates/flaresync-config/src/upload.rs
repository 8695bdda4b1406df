//! [`WorkerSpec`] -> Cloudflare upload metadata, Durable Object migration payloads, digests.
//!
//! Pure functions: the client builds the multipart body from [`WorkerSpec::upload_metadata`]
//! plus one part per [`crate::Module`].

use serde::Serialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::error::MigrationPlanError;
use crate::model::{MigrationStep, WorkerSpec};

/// Binding types kept from the previous version on every upload: secrets never live in Git.
pub const KEEP_BINDINGS: [&str; 2] = ["secret_text", "secret_key"];

/// Cloudflare truncates / limits these annotations (SPEC §3.1, S26).
pub const MAX_TAG_BYTES: usize = 100;
pub const MAX_MESSAGE_BYTES: usize = 1000;

/// Which endpoint the metadata is for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum UploadKind {
    /// `POST …/versions` (no migrations, no script settings).
    #[default]
    Version,
    /// `PUT …/scripts/{name}` (creates and deploys; may carry migrations and script settings).
    Script,
}

/// Inputs of [`WorkerSpec::upload_metadata`] that are not part of the desired state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UploadOptions {
    pub kind: UploadKind,
    /// `annotations["workers/tag"]` (truncated to 100 bytes).
    pub tag: Option<String>,
    /// `annotations["workers/message"]` (truncated to 1000 bytes).
    pub message: Option<String>,
    /// From [`migrations_to_upload`]; only valid with [`UploadKind::Script`] (Cloudflare rejects
    /// migrations in version uploads with 10211), so it is ignored for versions.
    pub migrations: Option<MigrationsUpload>,
    /// The completion token of the assets upload session (`assets.jwt`). Without it a Worker's
    /// assets are left out of the metadata.
    pub assets_token: Option<AssetsToken>,
}

/// The completion token Cloudflare gives once a Worker's assets are uploaded; it attaches them
/// to the next version (SPEC-2 §1.3). A credential for an hour: never shown in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct AssetsToken(String);

impl AssetsToken {
    pub fn new(token: impl Into<String>) -> Self {
        AssetsToken(token.into())
    }

    /// The token text, for the upload metadata only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for AssetsToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AssetsToken([REDACTED])")
    }
}

/// The `migrations` field of a script upload (stepped form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationsUpload {
    pub old_tag: Option<String>,
    pub new_tag: String,
    /// Steps to apply, in order (their `tag`s are not sent; kept for plan rendering).
    pub steps: Vec<MigrationStep>,
}

impl Serialize for MigrationsUpload {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}

impl MigrationsUpload {
    /// Cloudflare wire form: `{old_tag?, new_tag, steps: [{new_classes?, …}]}`.
    pub fn to_json(&self) -> Value {
        let steps: Vec<Value> = self
            .steps
            .iter()
            .map(|step| {
                let mut value = serde_json::to_value(step).unwrap_or(Value::Null);
                if let Some(object) = value.as_object_mut() {
                    object.remove("tag");
                }
                value
            })
            .collect();
        let mut out = Map::new();
        if let Some(old) = &self.old_tag {
            out.insert("old_tag".into(), Value::String(old.clone()));
        }
        out.insert("new_tag".into(), Value::String(self.new_tag.clone()));
        out.insert("steps".into(), Value::Array(steps));
        Value::Object(out)
    }
}

/// Which `[[migrations]]` steps to send, given the Worker's live `migration_tag`.
///
/// Mirrors wrangler's `getMigrationsToUpload` (SPEC §2.5): no live tag => every step; live tag
/// found => the steps after it (`None` when it is the last); except that a live tag missing
/// from the list is an error instead of wrangler's "apply everything again".
///
/// # Errors
/// [`MigrationPlanError::LiveTagMissing`], [`MigrationPlanError::MigrationsRemoved`],
/// [`MigrationPlanError::DuplicateTag`].
pub fn migrations_to_upload(
    spec_steps: &[MigrationStep],
    live_tag: Option<&str>,
) -> Result<Option<MigrationsUpload>, MigrationPlanError> {
    for (i, step) in spec_steps.iter().enumerate() {
        if spec_steps[..i].iter().any(|s| s.tag == step.tag) {
            return Err(MigrationPlanError::DuplicateTag {
                tag: step.tag.clone(),
            });
        }
    }
    let Some(last) = spec_steps.last() else {
        return match live_tag {
            None => Ok(None),
            Some(live) => Err(MigrationPlanError::MigrationsRemoved {
                live_tag: live.to_owned(),
            }),
        };
    };
    match live_tag {
        None => Ok(Some(MigrationsUpload {
            old_tag: None,
            new_tag: last.tag.clone(),
            steps: spec_steps.to_vec(),
        })),
        Some(live) => match spec_steps.iter().position(|s| s.tag == live) {
            Some(i) if i + 1 == spec_steps.len() => Ok(None),
            Some(i) => Ok(Some(MigrationsUpload {
                old_tag: Some(live.to_owned()),
                new_tag: last.tag.clone(),
                steps: spec_steps[i + 1..].to_vec(),
            })),
            None => Err(MigrationPlanError::LiveTagMissing {
                live_tag: live.to_owned(),
                known: spec_steps
                    .iter()
                    .map(|s| format!("{:?}", s.tag))
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        },
    }
}

/// `annotations`: the commit tag and message, truncated to Cloudflare's limits.
fn annotations(opts: &UploadOptions) -> Value {
    let mut annotations = Map::new();
    if let Some(tag) = &opts.tag {
        annotations.insert(
            "workers/tag".into(),
            Value::String(truncate_bytes(tag, MAX_TAG_BYTES)),
        );
    }
    if let Some(message) = &opts.message {
        annotations.insert(
            "workers/message".into(),
            Value::String(truncate_bytes(message, MAX_MESSAGE_BYTES)),
        );
    }
    Value::Object(annotations)
}

/// Truncates to at most `max` bytes at a character boundary.
fn truncate_bytes(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

fn parse_canonical(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// Recursively sorts object keys (independent of serde_json's `preserve_order` feature).
pub(crate) fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

fn sha256_hex(domain: &str, value: &Value) -> String {
    let text = serde_json::to_string(&sorted(value.clone())).unwrap_or_default();
    let mut hasher = Sha256::new();
    hasher.update(domain.as_bytes());
    hasher.update([0u8]);
    hasher.update(text.as_bytes());
    hex::encode(hasher.finalize())
}

impl WorkerSpec {
    /// The `metadata` part of a Cloudflare upload (`POST …/versions` or `PUT …/scripts/{name}`).
    ///
    /// Secrets listed in `secrets.required` that are not bindings become `inherit` bindings, and
    /// `keep_bindings` keeps the previous version's secrets: secret values never come from Git.
    pub fn upload_metadata(&self, opts: &UploadOptions) -> Value {
        if self.is_assets_only() {
            return self.assets_only_metadata(opts);
        }
        let mut out = Map::new();
        out.insert(
            "main_module".into(),
            Value::String(self.main_module.clone()),
        );
        let mut bindings: Vec<Value> = self
            .bindings
            .iter()
            .map(|b| serde_json::to_value(b).unwrap_or(Value::Null))
            .collect();
        for secret in &self.secrets_required {
            if !self.bindings.iter().any(|b| &b.name == secret) {
                bindings.push(json!({"type": "inherit", "name": secret}));
            }
        }
        out.insert("bindings".into(), Value::Array(bindings));
        if let Some(date) = &self.compatibility_date {
            out.insert("compatibility_date".into(), Value::String(date.clone()));
        }
        if !self.compatibility_flags.is_empty() {
            out.insert(
                "compatibility_flags".into(),
                Value::Array(
                    self.compatibility_flags
                        .iter()
                        .map(|f| Value::String(f.clone()))
                        .collect(),
                ),
            );
        }
        if let Some(model) = &self.usage_model {
            out.insert("usage_model".into(), Value::String(model.clone()));
        }
        if let Some(limits) = &self.limits {
            out.insert("limits".into(), parse_canonical(limits));
        }
        if let Some(placement) = &self.placement {
            out.insert("placement".into(), parse_canonical(placement));
        }
        if let Some(exports) = &self.exports {
            out.insert("exports".into(), parse_canonical(exports));
        }
        if opts.kind == UploadKind::Script {
            if let Some(migrations) = &opts.migrations {
                out.insert("migrations".into(), migrations.to_json());
            }
            if let Some(logpush) = self.settings.logpush {
                out.insert("logpush".into(), Value::Bool(logpush));
            }
            if let Some(observability) = &self.settings.observability {
                out.insert("observability".into(), parse_canonical(observability));
            }
            if !self.settings.tail_consumers.is_empty() {
                out.insert(
                    "tail_consumers".into(),
                    serde_json::to_value(&self.settings.tail_consumers).unwrap_or(Value::Null),
                );
            }
        }
        self.insert_assets(&mut out, opts);
        let mut keep: Vec<Value> = KEEP_BINDINGS
            .iter()
            .map(|k| Value::String((*k).into()))
            .collect();
        if self.keep_vars {
            keep.push(Value::String("plain_text".into()));
            keep.push(Value::String("json".into()));
        }
        out.insert("keep_bindings".into(), Value::Array(keep));
        out.insert("annotations".into(), annotations(opts));
        Value::Object(out)
    }

    /// wrangler's metadata for a Worker without code: assets, annotations and compatibility
    /// only; no modules, no bindings (SPEC-2 §1.5).
    fn assets_only_metadata(&self, opts: &UploadOptions) -> Value {
        let mut out = Map::new();
        self.insert_assets(&mut out, opts);
        out.insert("annotations".into(), annotations(opts));
        if let Some(date) = &self.compatibility_date {
            out.insert("compatibility_date".into(), Value::String(date.clone()));
        }
        if !self.compatibility_flags.is_empty() {
            out.insert(
                "compatibility_flags".into(),
                json!(self.compatibility_flags),
            );
        }
        Value::Object(out)
    }

    /// `"assets": {"jwt", "config"}` when the Worker has assets and their token is known.
    fn insert_assets(&self, out: &mut Map<String, Value>, opts: &UploadOptions) {
        if let (Some(assets), Some(token)) = (&self.assets, &opts.assets_token) {
            let config = serde_json::to_value(&assets.config).unwrap_or(Value::Null);
            out.insert(
                "assets".into(),
                json!({"jwt": token.expose(), "config": config}),
            );
        }
    }

    /// Everything that affects a deployment, canonically: excludes only where the config lives
    /// (`dir`, `config_path`), so the same content in TOML or JSON digests the same.
    fn deployment_value(&self) -> Value {
        let mut value = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Some(object) = value.as_object_mut() {
            object.remove("dir");
            object.remove("config_path");
            if let Some(Value::Object(assets)) = object.get_mut("assets") {
                assets.remove("directory");
            }
        }
        value
    }

    /// Only what Cloudflare stores in a version: modules, bindings, compatibility, usage model,
    /// limits, placement, and the assets (configuration and manifest).
    fn version_value(&self) -> Value {
        let mut value = json!({
            "main_module": self.main_module,
            "modules": self.modules,
            "bindings": self.bindings,
            "compatibility_date": self.compatibility_date,
            "compatibility_flags": self.compatibility_flags,
            "usage_model": self.usage_model,
            "limits": self.limits.as_deref().map(parse_canonical),
            "placement": self.placement.as_deref().map(parse_canonical),
        });
        // Only when present, so the digests of Workers without assets stay what they were.
        if let (Some(assets), Some(object)) = (&self.assets, value.as_object_mut()) {
            object.insert(
                "assets".into(),
                json!({"config": assets.config, "files": assets.files}),
            );
        }
        value
    }

    /// sha256 hex over everything that affects a deployment (see [`Self::version_digest`] for
    /// the version-only subset). Independent of key order, comments, whitespace and format.
    pub fn digest(&self) -> crate::Digest {
        crate::Digest::new(sha256_hex(
            "flaresync/worker-spec/v1",
            &self.deployment_value(),
        ))
    }

    /// sha256 hex over the content of a Cloudflare version only: equal digests mean a live
    /// version can be reused (rolled back to) instead of uploading.
    pub fn version_digest(&self) -> crate::Digest {
        crate::Digest::new(sha256_hex(
            "flaresync/worker-version/v1",
            &self.version_value(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(tag: &str, new: &[&str]) -> MigrationStep {
        MigrationStep {
            tag: tag.into(),
            new_sqlite_classes: new.iter().map(|s| (*s).into()).collect(),
            ..MigrationStep::default()
        }
    }

    #[test]
    fn no_live_tag_uploads_every_step() {
        let steps = [step("v1", &["A"]), step("v2", &["B"])];
        let upload = migrations_to_upload(&steps, None)
            .expect("ok")
            .expect("some");
        assert_eq!(upload.old_tag, None);
        assert_eq!(upload.new_tag, "v2");
        assert_eq!(
            upload.to_json(),
            json!({"new_tag": "v2", "steps": [{"new_sqlite_classes": ["A"]}, {"new_sqlite_classes": ["B"]}]})
        );
    }

    #[test]
    fn live_tag_uploads_only_later_steps() {
        let steps = [step("v1", &["A"]), step("v2", &["B"]), step("v3", &["C"])];
        let upload = migrations_to_upload(&steps, Some("v1"))
            .expect("ok")
            .expect("some");
        assert_eq!(upload.old_tag.as_deref(), Some("v1"));
        assert_eq!(upload.new_tag, "v3");
        assert_eq!(upload.steps.len(), 2);
    }

    #[test]
    fn live_tag_last_means_nothing_to_upload() {
        let steps = [step("v1", &["A"])];
        assert_eq!(migrations_to_upload(&steps, Some("v1")), Ok(None));
        assert_eq!(migrations_to_upload(&[], None), Ok(None));
    }

    #[test]
    fn live_tag_missing_is_refused_not_reapplied() {
        let steps = [step("v1", &["A"]), step("v3", &["C"])];
        let err = migrations_to_upload(&steps, Some("v2")).expect_err("missing");
        assert!(matches!(err, MigrationPlanError::LiveTagMissing { .. }));
        assert!(err.to_string().contains("\"v2\""));
        let err = migrations_to_upload(&[], Some("v2")).expect_err("removed");
        assert!(matches!(err, MigrationPlanError::MigrationsRemoved { .. }));
    }

    #[test]
    fn duplicate_tags_are_refused() {
        let steps = [step("v1", &["A"]), step("v1", &["B"])];
        assert!(matches!(
            migrations_to_upload(&steps, None),
            Err(MigrationPlanError::DuplicateTag { .. })
        ));
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate_bytes("héllo", 2), "h");
        assert_eq!(truncate_bytes("abc", 5), "abc");
    }
}
