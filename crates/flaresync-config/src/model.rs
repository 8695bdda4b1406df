//! The resolved, normalized model of one Worker's desired state.
//!
//! This is what every other part of flaresync consumes: the planner diffs it, the client turns it
//! into Cloudflare's upload metadata, the git layer digests it per commit. It is deliberately a
//! plain value (no I/O handles) and it serializes canonically: bindings sorted by name, maps as
//! `BTreeMap`, so the same content always yields the same digest.
//!
//! Binding kinds use exactly Cloudflare's wire shape (`{"name", "type", ...fields}`), so a
//! desired binding and a binding read back from `GET .../versions/{id}` compare directly.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One binding, in Cloudflare's upload/response shape.
///
/// `kind` is flattened, so the JSON is `{"name": "KV", "type": "kv_namespace", "namespace_id": "…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord, Hash)]
#[serde(try_from = "serde_json::Map<String, serde_json::Value>")]
pub struct Binding {
    pub name: String,
    #[serde(flatten)]
    pub kind: BindingKind,
}

/// Wire shape helper: Binding deserializes through a normalizing step.
#[derive(Deserialize)]
struct WireBinding {
    name: String,
    #[serde(flatten)]
    kind: BindingKind,
}

impl TryFrom<serde_json::Map<String, serde_json::Value>> for Binding {
    type Error = String;

    /// Normalizes the differences between Cloudflare's request and response shapes before
    /// decoding: D1 responses carry `database_id` (and sometimes `id`), uploads use `id`.
    fn try_from(mut map: serde_json::Map<String, serde_json::Value>) -> Result<Self, String> {
        if map.get("type").and_then(|t| t.as_str()) == Some("d1") {
            let database_id = map.remove("database_id");
            if !map.contains_key("id")
                && let Some(id) = database_id
            {
                map.insert("id".into(), id);
            }
        }
        // Fields a dedicated variant has no room for would be dropped silently; keep such
        // bindings verbatim as `Other` so desired and live compare exactly (the config parser
        // produces the same `Other` shape).
        let kind = map
            .get("type")
            .and_then(|t| t.as_str())
            .unwrap_or("")
            .to_owned();
        let has = |key: &str| map.get(key).is_some_and(|v| !v.is_null());
        let unmodelled = (kind == "service" && has("props"))
            || (kind == "send_email" && has("allowed_sender_addresses"));
        if unmodelled {
            let name = match map.remove("name") {
                Some(serde_json::Value::String(name)) => name,
                _ => return Err("binding has no string `name`".into()),
            };
            map.remove("type");
            return Ok(Binding {
                name,
                kind: BindingKind::Other(OtherBinding {
                    kind,
                    fields: canonical_json_text(&serde_json::Value::Object(map)),
                }),
            });
        }
        let wire: WireBinding =
            serde_json::from_value(serde_json::Value::Object(map)).map_err(|e| e.to_string())?;
        Ok(Binding {
            name: wire.name,
            kind: wire.kind,
        })
    }
}

/// Every binding kind flaresync models, tagged by Cloudflare's `type` string.
///
/// Kinds flaresync does not know explicitly (new Cloudflare kinds, `unsafe.bindings`) are carried
/// as [`BindingKind::Other`] with their raw fields, so nothing is silently dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord, Hash)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BindingKind {
    PlainText {
        text: String,
    },
    /// Secret values never live in Git; this kind appears only in live state (name only).
    SecretText,
    Json {
        /// Canonical JSON text (sorted keys), so the enum can be `Ord`/`Hash`.
        #[serde(with = "canonical_json")]
        json: String,
    },
    KvNamespace {
        namespace_id: String,
    },
    R2Bucket {
        bucket_name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        jurisdiction: Option<String>,
    },
    D1 {
        /// Cloudflare accepts `id` on upload and returns `database_id` (and `id`); we send `id`.
        id: String,
    },
    DurableObjectNamespace {
        class_name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        script_name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        environment: Option<String>,
    },
    Queue {
        queue_name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        delivery_delay: Option<u64>,
    },
    Service {
        service: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        environment: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        entrypoint: Option<String>,
    },
    AnalyticsEngine {
        dataset: String,
    },
    Ai {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        staging: Option<bool>,
    },
    Vectorize {
        index_name: String,
    },
    Hyperdrive {
        id: String,
    },
    Browser,
    VersionMetadata,
    Assets,
    Images,
    WorkerLoader,
    MtlsCertificate {
        certificate_id: String,
    },
    DispatchNamespace {
        namespace: String,
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            with = "opt_canonical_json"
        )]
        outbound: Option<String>,
    },
    SendEmail {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        destination_address: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        allowed_destination_addresses: Option<Vec<String>>,
    },
    Workflow {
        workflow_name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        class_name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        script_name: Option<String>,
    },
    SecretsStoreSecret {
        store_id: String,
        secret_name: String,
    },
    /// A binding kind with no dedicated variant: `type` plus its remaining fields as canonical
    /// JSON text. Serialized back to Cloudflare unchanged.
    #[serde(untagged)]
    Other(OtherBinding),
}

/// An unmodelled binding kind, kept verbatim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord, Hash)]
pub struct OtherBinding {
    #[serde(rename = "type")]
    pub kind: String,
    /// Remaining fields (canonical JSON object text, without `name` and `type`).
    #[serde(flatten, with = "canonical_json_map")]
    pub fields: String,
}

impl BindingKind {
    /// Cloudflare's `type` string for this binding.
    pub fn type_name(&self) -> String {
        match self {
            BindingKind::Other(other) => other.kind.clone(),
            known => serde_json::to_value(known)
                .ok()
                .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_owned))
                .unwrap_or_default(),
        }
    }
}

/// One `[[migrations]]` step, normalized.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, Hash)]
pub struct MigrationStep {
    pub tag: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub new_classes: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub new_sqlite_classes: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub renamed_classes: Vec<RenamedClass>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deleted_classes: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transferred_classes: Vec<TransferredClass>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Hash)]
pub struct RenamedClass {
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Hash)]
pub struct TransferredClass {
    pub from: String,
    pub from_script: String,
    pub to: String,
}

/// One module of the bundle, as uploaded (one multipart part).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Module {
    /// Part name = module path relative to the directory of `main` (forward slashes).
    pub name: String,
    /// e.g. `application/javascript+module`, `application/wasm`, `text/plain`.
    pub content_type: String,
    /// Lowercase hex sha256 of the content.
    pub sha256: String,
    pub size: u64,
    /// Raw bytes. Skipped in serialized form (the digest covers `sha256`).
    #[serde(skip)]
    pub content: std::sync::Arc<[u8]>,
}

/// A route or custom domain (not versioned by Cloudflare).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord, Hash)]
pub struct Route {
    pub pattern: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_name: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub custom_domain: bool,
}

/// A queue consumer declared by this Worker (configured outside versions).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord, Hash)]
pub struct QueueConsumer {
    pub queue: String,
    /// Remaining consumer settings as canonical JSON text.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub settings: String,
}

/// Settings Cloudflare stores per script rather than per version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScriptSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logpush: Option<bool>,
    /// Canonical JSON text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observability: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tail_consumers: Vec<TailConsumer>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord, Hash)]
pub struct TailConsumer {
    pub service: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
}

/// The desired state of one Worker at one commit, fully resolved (env applied, bundle read).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerSpec {
    /// Cloudflare script name (for legacy `[env.X]` this is `name-X` unless `name` is overridden).
    pub name: String,
    /// Repo-relative directory holding the config (forward slashes, "" for the root).
    pub dir: String,
    /// Repo-relative path of the wrangler config file.
    pub config_path: String,
    /// Part name of the entry module (`main_module` in the upload metadata).
    pub main_module: String,
    /// All modules, entry first then sorted by name.
    pub modules: Vec<Module>,
    pub compatibility_date: Option<String>,
    pub compatibility_flags: Vec<String>,
    /// Sorted by name; names are unique.
    pub bindings: Vec<Binding>,
    /// Effective `[[migrations]]` list in file order.
    pub migrations: Vec<MigrationStep>,
    /// Declarative `exports` map (canonical JSON text), exclusive with `migrations`.
    pub exports: Option<String>,
    pub usage_model: Option<String>,
    /// `limits` object as canonical JSON text.
    pub limits: Option<String>,
    /// `placement` object as canonical JSON text.
    pub placement: Option<String>,
    pub routes: Vec<Route>,
    pub crons: Vec<String>,
    pub workers_dev: Option<bool>,
    pub queue_consumers: Vec<QueueConsumer>,
    pub settings: ScriptSettings,
    /// Names of secrets the Worker expects (`secrets.required`), if declared.
    pub secrets_required: Vec<String>,
    /// wrangler's `keep_vars`: variables set outside Git (dashboard) survive uploads
    /// (`keep_bindings` gains `plain_text` and `json`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub keep_vars: bool,
    /// Static assets (`[assets]` with a `directory`): configuration and manifest. `None` for a
    /// Worker without assets (its digests are then what they were before assets existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assets: Option<crate::assets::Assets>,
}

impl WorkerSpec {
    /// An assets-only Worker: static assets and no code (no `main`).
    pub fn is_assets_only(&self) -> bool {
        self.assets.is_some() && self.modules.is_empty() && self.main_module.is_empty()
    }
}

/// Canonical JSON: parse then re-serialize with sorted keys (serde_json's default `Map` is a
/// `BTreeMap`), so formatting and key order never change the text.
pub fn canonical_json_text(value: &serde_json::Value) -> String {
    // Keys are sorted explicitly, so this holds even if serde_json's `preserve_order` feature
    // is switched on somewhere in the workspace. Value -> String cannot fail.
    serde_json::to_string(&crate::upload::sorted(value.clone())).unwrap_or_default()
}

mod canonical_json {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(text: &str, serializer: S) -> Result<S::Ok, S::Error> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(serde::ser::Error::custom)?;
        value.serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        Ok(super::canonical_json_text(&value))
    }
}

mod opt_canonical_json {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(
        text: &Option<String>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match text {
            Some(text) => {
                let value: serde_json::Value =
                    serde_json::from_str(text).map_err(serde::ser::Error::custom)?;
                value.serialize(serializer)
            }
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<String>, D::Error> {
        let value = Option::<serde_json::Value>::deserialize(deserializer)?;
        Ok(value.map(|v| super::canonical_json_text(&v)))
    }
}

mod canonical_json_map {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(text: &str, serializer: S) -> Result<S::Ok, S::Error> {
        let value: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(text).map_err(serde::ser::Error::custom)?;
        value.serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
        let mut map = serde_json::Map::<String, serde_json::Value>::deserialize(deserializer)?;
        map.remove("name");
        map.remove("type");
        Ok(super::canonical_json_text(&serde_json::Value::Object(map)))
    }
}

/// Unused-import guard for BTreeMap (kept for future map-valued fields).
#[doc(hidden)]
pub type StringMap = BTreeMap<String, String>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binding_round_trips_cloudflare_wire_shape() {
        let wire = serde_json::json!([
            {"name": "KV", "type": "kv_namespace", "namespace_id": "abc"},
            {"name": "DB", "type": "d1", "database_id": "x", "id": "x"},
            {"name": "CFG", "type": "json", "json": {"b": 1, "a": [1, 2]}},
            {"name": "PIPE", "type": "pipelines", "pipeline": "p1"},
            {"name": "S", "type": "secret_text"},
            {"name": "B", "type": "browser"}
        ]);
        let bindings: Vec<Binding> = serde_json::from_value(wire).expect("parses");
        assert_eq!(
            bindings[0].kind,
            BindingKind::KvNamespace {
                namespace_id: "abc".into()
            }
        );
        assert_eq!(bindings[1].kind, BindingKind::D1 { id: "x".into() });
        assert_eq!(
            bindings[2].kind,
            BindingKind::Json {
                json: r#"{"a":[1,2],"b":1}"#.into()
            }
        );
        assert_eq!(bindings[3].kind.type_name(), "pipelines");
        assert_eq!(bindings[4].kind, BindingKind::SecretText);
        assert_eq!(bindings[5].kind, BindingKind::Browser);
        let back = serde_json::to_value(&bindings[3]).expect("serializes");
        assert_eq!(
            back,
            serde_json::json!({"name": "PIPE", "type": "pipelines", "pipeline": "p1"})
        );
        let with_props: Binding = serde_json::from_value(serde_json::json!(
            {"name": "SVC", "type": "service", "service": "auth", "props": {"b": 1, "a": 2}}
        ))
        .expect("parses");
        assert_eq!(
            with_props.kind,
            BindingKind::Other(OtherBinding {
                kind: "service".into(),
                fields: r#"{"props":{"a":2,"b":1},"service":"auth"}"#.into()
            })
        );
        let back = serde_json::to_value(&bindings[1]).expect("serializes");
        assert_eq!(
            back,
            serde_json::json!({"name": "DB", "type": "d1", "id": "x"})
        );
    }
}
