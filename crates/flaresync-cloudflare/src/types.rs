//! Wire types of the Cloudflare API calls flaresync makes (serde only, no behaviour beyond
//! small accessors).
//!
//! Decoding is lenient on purpose: almost every field is optional or defaulted and unknown fields
//! are ignored, because Cloudflare adds fields freely and the 2024 schema and the 2026 API disagree
//! (see `fixtures/cloudflare-api/SPEC.md`). Timestamps stay ISO-8601 strings as sent. Bindings use
//! [`flaresync_config::Binding`], which reads Cloudflare's response shape directly.

use std::collections::BTreeMap;

use flaresync_config::{Binding, TailConsumer};
use serde::{Deserialize, Deserializer, Serialize};

/// Deserializes `null` as the type's default (Cloudflare sends `null` for empty lists/objects).
fn null_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// One entry of an envelope's `errors` (or `messages`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiMessage {
    #[serde(default)]
    pub code: i64,
    #[serde(default)]
    pub message: String,
}

/// The `{success, errors, messages, result, result_info}` envelope, with `result` left raw so a
/// shape mismatch can be reported precisely.
#[derive(Debug, Clone, Deserialize)]
pub struct RawEnvelope {
    #[serde(default)]
    pub success: bool,
    #[serde(default, deserialize_with = "null_default")]
    pub errors: Vec<ApiMessage>,
    #[serde(default)]
    pub result: Option<serde_json::Value>,
    #[serde(default)]
    pub result_info: Option<ResultInfo>,
}

/// `result_info`: page style (`page`, `per_page`, `count`, `total_count`, `total_pages`) or cursor
/// style (`cursor`, `per_page`, used by R2).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultInfo {
    #[serde(default)]
    pub page: Option<u64>,
    #[serde(default)]
    pub per_page: Option<u64>,
    #[serde(default)]
    pub count: Option<u64>,
    #[serde(default)]
    pub total_count: Option<u64>,
    #[serde(default)]
    pub total_pages: Option<u64>,
    #[serde(default)]
    pub cursor: Option<String>,
}

/// Version and deployment annotations.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Annotations {
    /// `workers/tag`: flaresync stamps the commit id here.
    #[serde(
        rename = "workers/tag",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub tag: Option<String>,
    #[serde(
        rename = "workers/message",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub message: Option<String>,
    /// Set by Cloudflare: `upload`, `secret`, `rollback`, `promotion`, `deployment`, ...
    #[serde(
        rename = "workers/triggered_by",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub triggered_by: Option<String>,
    #[serde(
        rename = "workers/alias",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub alias: Option<String>,
    /// Any other annotation, kept verbatim.
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

/// `metadata` of a version.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VersionMetadata {
    #[serde(default)]
    pub author_email: Option<String>,
    #[serde(default)]
    pub author_id: Option<String>,
    #[serde(default)]
    pub created_on: Option<String>,
    #[serde(default)]
    pub modified_on: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    /// The schema's name for the preview flag.
    #[serde(rename = "hasPreview", default)]
    pub has_preview_camel: Option<bool>,
    /// The name wrangler reads; responses may carry either or both.
    #[serde(default)]
    pub has_preview: Option<bool>,
}

impl VersionMetadata {
    /// Whether the version has a preview URL, whichever spelling the server used.
    pub fn preview(&self) -> bool {
        self.has_preview.or(self.has_preview_camel).unwrap_or(false)
    }
}

/// One item of `GET …/versions` (no resources).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionSummary {
    pub id: String,
    #[serde(default)]
    pub number: Option<u64>,
    #[serde(default, deserialize_with = "null_default")]
    pub metadata: VersionMetadata,
    #[serde(default, deserialize_with = "null_default")]
    pub annotations: Annotations,
}

impl VersionSummary {
    /// The `workers/tag` annotation (flaresync: the commit id).
    pub fn tag(&self) -> Option<&str> {
        self.annotations.tag.as_deref()
    }
}

/// `result` of `GET …/versions`.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct VersionItems {
    #[serde(default, deserialize_with = "null_default")]
    pub items: Vec<VersionSummary>,
}

/// `resources.script` of a version.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScriptResource {
    #[serde(default)]
    pub etag: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub handlers: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub named_handlers: Vec<NamedHandlers>,
    #[serde(default)]
    pub last_deployed_from: Option<String>,
}

/// Handlers of one named export (DO class or entrypoint).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedHandlers {
    #[serde(default)]
    pub name: String,
    #[serde(default, deserialize_with = "null_default")]
    pub handlers: Vec<String>,
}

/// `resources.script_runtime` of a version.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScriptRuntime {
    #[serde(default)]
    pub compatibility_date: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub compatibility_flags: Vec<String>,
    #[serde(default)]
    pub usage_model: Option<String>,
    #[serde(default)]
    pub limits: Option<serde_json::Value>,
    /// The Durable Object migration tag recorded with this version.
    #[serde(default)]
    pub migration_tag: Option<String>,
    /// Declarative DO/entrypoint exports (live entries only).
    #[serde(default)]
    pub exports: Option<serde_json::Value>,
}

/// `resources` of a version.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VersionResources {
    /// Secrets appear as `secret_text` without a value.
    #[serde(default, deserialize_with = "null_default")]
    pub bindings: Vec<Binding>,
    #[serde(default, deserialize_with = "null_default")]
    pub script: ScriptResource,
    #[serde(default, deserialize_with = "null_default")]
    pub script_runtime: ScriptRuntime,
}

/// A full version: `GET …/versions/{id}` and the result of `POST …/versions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Version {
    pub id: String,
    #[serde(default)]
    pub number: Option<u64>,
    #[serde(default, deserialize_with = "null_default")]
    pub metadata: VersionMetadata,
    #[serde(default, deserialize_with = "null_default")]
    pub annotations: Annotations,
    #[serde(default, deserialize_with = "null_default")]
    pub resources: VersionResources,
    /// Only on upload responses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup_time_ms: Option<u64>,
}

impl Version {
    /// The `workers/tag` annotation (flaresync: the commit id).
    pub fn tag(&self) -> Option<&str> {
        self.annotations.tag.as_deref()
    }

    /// The `workers/message` annotation.
    pub fn message(&self) -> Option<&str> {
        self.annotations.message.as_deref()
    }

    /// The `workers/triggered_by` annotation set by Cloudflare.
    pub fn triggered_by(&self) -> Option<&str> {
        self.annotations.triggered_by.as_deref()
    }

    /// The DO migration tag recorded with this version.
    pub fn migration_tag(&self) -> Option<&str> {
        self.resources.script_runtime.migration_tag.as_deref()
    }

    /// The version's bindings in Cloudflare's shape.
    pub fn bindings(&self) -> &[Binding] {
        &self.resources.bindings
    }
}

/// One `{version_id, percentage}` of a deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentVersion {
    pub version_id: String,
    #[serde(serialize_with = "whole_numbers_as_integers")]
    pub percentage: f64,
}

/// Sends `100` rather than `100.0`, as wrangler does (JavaScript numbers), so strict servers and
/// request snapshots see the same JSON.
fn whole_numbers_as_integers<S: serde::Serializer>(
    value: &f64,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    if value.fract() == 0.0 && value.abs() <= 1e15 {
        // Exact: whole and far inside i64's range.
        serializer.serialize_i64(*value as i64)
    } else {
        serializer.serialize_f64(*value)
    }
}

/// A deployment: which versions serve traffic, and how much each.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deployment {
    pub id: String,
    #[serde(default)]
    pub created_on: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub strategy: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub versions: Vec<DeploymentVersion>,
    #[serde(default, deserialize_with = "null_default")]
    pub annotations: Annotations,
    #[serde(default)]
    pub author_email: Option<String>,
}

/// `result` of `GET …/deployments`.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct DeploymentList {
    #[serde(default, deserialize_with = "null_default")]
    pub deployments: Vec<Deployment>,
}

/// Annotations a deployment request may set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewDeploymentAnnotations {
    #[serde(
        rename = "workers/message",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub message: Option<String>,
}

/// Body of `POST …/deployments`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewDeployment {
    /// Always `percentage`.
    pub strategy: String,
    pub versions: Vec<DeploymentVersion>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<NewDeploymentAnnotations>,
}

/// Percentages closer than this are equal (wrangler's tolerance for "sums to 100").
const PERCENTAGE_TOLERANCE: f64 = 0.001;

impl NewDeployment {
    /// A deployment sending 100% of traffic to one version.
    pub fn single(version_id: impl Into<String>, message: Option<String>) -> Self {
        NewDeployment::split(
            vec![DeploymentVersion {
                version_id: version_id.into(),
                percentage: 100.0,
            }],
            message,
        )
    }

    /// A deployment over the given versions and percentages.
    pub fn split(versions: Vec<DeploymentVersion>, message: Option<String>) -> Self {
        NewDeployment {
            strategy: "percentage".to_owned(),
            versions,
            annotations: message.map(|message| NewDeploymentAnnotations {
                message: Some(message),
            }),
        }
    }

    /// Whether `deployment` already sends traffic exactly as this request asks (same versions,
    /// same percentages, order ignored). Used to tell whether a create whose outcome is unknown
    /// already took effect.
    pub fn is_served_by(&self, deployment: &Deployment) -> bool {
        if self.versions.len() != deployment.versions.len() {
            return false;
        }
        self.versions.iter().all(|wanted| {
            deployment.versions.iter().any(|live| {
                live.version_id == wanted.version_id
                    && (live.percentage - wanted.percentage).abs() < PERCENTAGE_TOLERANCE
            })
        })
    }
}

/// One script of `GET /workers/scripts`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Script {
    /// The script name.
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub tag: Option<String>,
    #[serde(default)]
    pub etag: Option<String>,
    #[serde(default)]
    pub created_on: Option<String>,
    #[serde(default)]
    pub modified_on: Option<String>,
    /// Tag of the last DO migration applied to the script.
    #[serde(default)]
    pub migration_tag: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub handlers: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub named_handlers: Vec<NamedHandlers>,
    #[serde(default)]
    pub last_deployed_from: Option<String>,
    #[serde(default)]
    pub compatibility_date: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub compatibility_flags: Vec<String>,
    #[serde(default)]
    pub usage_model: Option<String>,
    #[serde(default)]
    pub logpush: Option<bool>,
    #[serde(default)]
    pub has_modules: Option<bool>,
    #[serde(default)]
    pub has_assets: Option<bool>,
    #[serde(default, deserialize_with = "null_default")]
    pub tags: Vec<String>,
}

/// Result of `PUT …/scripts/{name}` (upload and deploy).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScriptUpload {
    /// The script name.
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub etag: Option<String>,
    /// Despite the name, the id of the *version* the upload created, possibly without hyphens.
    #[serde(default)]
    pub deployment_id: Option<String>,
    #[serde(default)]
    pub migration_tag: Option<String>,
    #[serde(default)]
    pub modified_on: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub handlers: Vec<String>,
    #[serde(default)]
    pub startup_time_ms: Option<u64>,
}

impl ScriptUpload {
    /// The id of the version this upload created, hyphenated.
    pub fn version_id(&self) -> Option<String> {
        self.deployment_id.as_deref().map(hyphenate_uuid)
    }
}

/// Re-inserts the hyphens of a UUID sent as 32 bare hex digits (wrangler's
/// `parseNonHyphenedUuid`); anything else is returned unchanged.
pub fn hyphenate_uuid(id: &str) -> String {
    if id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        format!(
            "{}-{}-{}-{}-{}",
            &id[0..8],
            &id[8..12],
            &id[12..16],
            &id[16..20],
            &id[20..32]
        )
    } else {
        id.to_owned()
    }
}

/// `result.default_environment.script` of `GET /workers/services/{name}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceScript {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub tag: Option<String>,
    #[serde(default)]
    pub etag: Option<String>,
    #[serde(default)]
    pub migration_tag: Option<String>,
    #[serde(default)]
    pub created_on: Option<String>,
    #[serde(default)]
    pub modified_on: Option<String>,
    #[serde(default)]
    pub last_deployed_from: Option<String>,
    #[serde(default)]
    pub compatibility_date: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub compatibility_flags: Vec<String>,
    #[serde(default)]
    pub usage_model: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub handlers: Vec<String>,
}

/// `result.default_environment` of the services metadata.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceEnvironment {
    #[serde(default)]
    pub environment: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub script: ServiceScript,
}

/// `GET /workers/services/{name}`: where wrangler reads the script's current migration tag.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceMetadata {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub default_environment: ServiceEnvironment,
}

impl ServiceMetadata {
    /// The script's current DO migration tag.
    pub fn migration_tag(&self) -> Option<&str> {
        self.default_environment.script.migration_tag.as_deref()
    }
}

/// A KV namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvNamespace {
    pub id: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub supports_url_encoding: Option<bool>,
}

/// A key of a KV namespace as `GET …/keys` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KvKey {
    pub name: String,
    /// The JSON metadata written with the key (at most 1,024 bytes serialized).
    #[serde(default)]
    pub metadata: Option<serde_json::Value>,
}

/// One key of a `PUT …/bulk` write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KvWrite {
    pub key: String,
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
}

/// An R2 bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct R2Bucket {
    pub name: String,
    #[serde(default)]
    pub creation_date: Option<String>,
    #[serde(default)]
    pub location: Option<String>,
    #[serde(default)]
    pub storage_class: Option<String>,
    #[serde(default)]
    pub jurisdiction: Option<String>,
}

/// `result` of the R2 bucket list.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct R2BucketList {
    #[serde(default, deserialize_with = "null_default")]
    pub buckets: Vec<R2Bucket>,
}

/// A D1 database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct D1Database {
    pub uuid: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub jurisdiction: Option<String>,
}

/// A queue. Bindings refer to it by `queue_name`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Queue {
    pub queue_id: String,
    pub queue_name: String,
    #[serde(default)]
    pub created_on: Option<String>,
    #[serde(default)]
    pub modified_on: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub producers: Vec<serde_json::Value>,
    #[serde(default, deserialize_with = "null_default")]
    pub consumers: Vec<serde_json::Value>,
    #[serde(default)]
    pub settings: Option<serde_json::Value>,
}

/// A secret of a script: name and type only, never the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretInfo {
    pub name: String,
    #[serde(rename = "type", default)]
    pub kind: String,
}

/// A script's workers.dev route (`…/scripts/{s}/subdomain`). Not versioned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subdomain {
    pub enabled: bool,
    #[serde(default)]
    pub previews_enabled: Option<bool>,
}

/// A Cron Trigger of a script (`…/scripts/{s}/schedules`). Not versioned: uploads, deployments
/// and rollbacks leave it alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// The cron expression as Cloudflare stores it, e.g. `*/15 * * * *`.
    pub cron: String,
    #[serde(default)]
    pub created_on: Option<String>,
    #[serde(default)]
    pub modified_on: Option<String>,
}

/// `result` of `GET`/`PUT …/schedules`.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ScheduleList {
    #[serde(default, deserialize_with = "null_default")]
    pub schedules: Vec<Schedule>,
}

/// One item of the `PUT …/schedules` body (the body is an array of these).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct NewSchedule<'a> {
    pub cron: &'a str,
}

/// Body of `PATCH …/script-settings` (settings Cloudflare keeps outside versions). Unset fields
/// are left unchanged.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScriptSettingsPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logpush: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observability: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tail_consumers: Option<Vec<TailConsumer>>,
}

/// Result of `GET`/`PATCH …/script-settings`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScriptSettings {
    #[serde(default)]
    pub logpush: Option<bool>,
    #[serde(default)]
    pub observability: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "null_default")]
    pub tags: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub tail_consumers: Vec<TailConsumer>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use flaresync_config::BindingKind;

    fn example(name: &str) -> RawEnvelope {
        let path = format!(
            "{}/../../fixtures/cloudflare-api/examples/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).expect("fixture exists");
        serde_json::from_str(&text).expect("fixture is an envelope")
    }

    fn result<T: serde::de::DeserializeOwned>(name: &str) -> T {
        serde_json::from_value(example(name).result.expect("fixture has a result"))
            .expect("result decodes")
    }

    #[test]
    fn schedules_decode_and_encode_in_cloudflare_shape() {
        let list: ScheduleList = serde_json::from_value(serde_json::json!({
            "schedules": [
                {"cron": "*/30 * * * *", "created_on": "2026-11-01T10:00:00.000000Z",
                 "modified_on": "2026-11-01T10:00:00.000000Z"},
                {"cron": "0 9 * * MON"}
            ]
        }))
        .expect("schedules decode");
        assert_eq!(list.schedules.len(), 2);
        assert_eq!(list.schedules[0].cron, "*/30 * * * *");
        assert_eq!(list.schedules[1].created_on, None);
        let empty: ScheduleList =
            serde_json::from_value(serde_json::json!({"schedules": null})).expect("null decodes");
        assert!(empty.schedules.is_empty());
        assert_eq!(
            serde_json::to_value([NewSchedule { cron: "0 0 * * *" }]).expect("encodes"),
            serde_json::json!([{"cron": "0 0 * * *"}])
        );
    }

    #[test]
    fn version_get_example_decodes_with_annotations_bindings_and_migration_tag() {
        let version: Version = result("version-get.json");
        assert_eq!(version.id, "e7c2b519-46fa-4d0e-a3b8-91d5f2c60a7b");
        assert_eq!(version.number, Some(3));
        assert_eq!(
            version.tag(),
            Some("9b1e4c2d7a3f6e8b0c5d1a2f4e6b8c0d2a4f6e8b")
        );
        assert_eq!(version.message(), Some("deploy 9b1e4c2: add cache header"));
        assert_eq!(version.triggered_by(), Some("upload"));
        assert_eq!(version.migration_tag(), Some("v2"));
        assert_eq!(version.bindings().len(), 9);
        let db = version
            .bindings()
            .iter()
            .find(|b| b.name == "DB")
            .expect("DB binding");
        assert_eq!(
            db.kind,
            BindingKind::D1 {
                id: "3b8e1f6a-92c4-4d7e-a5f0-6c1d9e2b4a87".into()
            }
        );
        assert!(
            version
                .bindings()
                .iter()
                .any(|b| b.name == "API_TOKEN" && b.kind == BindingKind::SecretText)
        );
        assert_eq!(version.resources.script.handlers, vec!["fetch", "queue"]);
    }

    #[test]
    fn version_upload_response_accepts_both_preview_spellings() {
        let version: Version = result("version-upload-response.json");
        assert!(version.metadata.preview());
        assert_eq!(version.startup_time_ms, Some(7));
        assert_eq!(version.migration_tag(), None);
    }

    #[test]
    fn versions_list_example_decodes_newest_first() {
        let list: VersionItems = result("versions-list-deployable.json");
        assert_eq!(list.items.len(), 3);
        assert_eq!(list.items[0].number, Some(3));
        assert_eq!(list.items[1].tag(), None);
        assert_eq!(
            list.items[1].annotations.triggered_by.as_deref(),
            Some("secret")
        );
    }

    #[test]
    fn deployments_examples_decode() {
        let list: DeploymentList = result("deployments-list.json");
        assert_eq!(list.deployments.len(), 3);
        assert_eq!(list.deployments[1].versions[0].percentage, 10.0);
        let created: Deployment = result("deployment-create-response.json");
        assert_eq!(
            created.annotations.message.as_deref(),
            Some("rollback: git revert of 9b1e4c2")
        );
        let got: Deployment = result("deployment-get.json");
        assert_eq!(got.versions.len(), 2);
    }

    #[test]
    fn new_deployment_serializes_like_the_example_request() {
        let path = format!(
            "{}/../../fixtures/cloudflare-api/examples/deployment-create-request.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let expected: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("fixture exists"))
                .expect("json");
        let request = NewDeployment::single(
            "a1d94e77-3c20-4f5b-8b6a-0e2f9c17d835",
            Some("rollback: git revert of 9b1e4c2".into()),
        );
        assert_eq!(
            serde_json::to_value(&request).expect("serializes"),
            expected
        );
    }

    #[test]
    fn new_deployment_matches_live_deployment_regardless_of_order() {
        let live: Deployment = result("deployment-get.json");
        let same = NewDeployment::split(
            vec![
                DeploymentVersion {
                    version_id: "a1d94e77-3c20-4f5b-8b6a-0e2f9c17d835".into(),
                    percentage: 90.0,
                },
                DeploymentVersion {
                    version_id: "e7c2b519-46fa-4d0e-a3b8-91d5f2c60a7b".into(),
                    percentage: 10.0,
                },
            ],
            None,
        );
        assert!(same.is_served_by(&live));
        let other_split = NewDeployment::split(
            vec![
                DeploymentVersion {
                    version_id: "a1d94e77-3c20-4f5b-8b6a-0e2f9c17d835".into(),
                    percentage: 50.0,
                },
                DeploymentVersion {
                    version_id: "e7c2b519-46fa-4d0e-a3b8-91d5f2c60a7b".into(),
                    percentage: 50.0,
                },
            ],
            None,
        );
        assert!(!other_split.is_served_by(&live));
        assert!(
            !NewDeployment::single("e7c2b519-46fa-4d0e-a3b8-91d5f2c60a7b", None)
                .is_served_by(&live)
        );
    }

    #[test]
    fn resource_lists_decode() {
        let scripts: Vec<Script> = result("scripts-list.json");
        assert_eq!(scripts[0].migration_tag.as_deref(), Some("v2"));
        assert!(scripts[0].tags.is_empty(), "null tags become empty");
        let kv: Vec<KvNamespace> = result("kv-namespaces-list.json");
        assert_eq!(kv[0].title, "flaresync-demo-CACHE");
        let r2: R2BucketList = result("r2-buckets-list.json");
        assert_eq!(r2.buckets[0].name, "flaresync-demo-assets");
        let d1: Vec<D1Database> = result("d1-databases-list.json");
        assert_eq!(d1[0].jurisdiction, None);
        let queues: Vec<Queue> = result("queues-list.json");
        assert_eq!(queues[0].queue_name, "flaresync-demo-jobs");
    }

    #[test]
    fn error_examples_carry_codes() {
        for (file, code) in [
            ("error-worker-not-found.json", 10007),
            ("error-rollback-secrets-changed.json", 10220),
            ("error-version-upload-do-migration.json", 10211),
            ("error-rate-limited.json", 971),
        ] {
            let envelope = example(file);
            assert!(!envelope.success);
            assert_eq!(envelope.errors[0].code, code, "{file}");
        }
        let deleted = example("deployment-delete-response.json");
        assert!(deleted.success && deleted.result.is_none());
    }

    #[test]
    fn unhyphenated_version_ids_are_normalized() {
        assert_eq!(
            hyphenate_uuid("e7c2b51946fa4d0ea3b891d5f2c60a7b"),
            "e7c2b519-46fa-4d0e-a3b8-91d5f2c60a7b"
        );
        assert_eq!(
            hyphenate_uuid("e7c2b519-46fa-4d0e-a3b8-91d5f2c60a7b"),
            "e7c2b519-46fa-4d0e-a3b8-91d5f2c60a7b"
        );
        assert_eq!(hyphenate_uuid("short"), "short");
        let upload = ScriptUpload {
            deployment_id: Some("e7c2b51946fa4d0ea3b891d5f2c60a7b".into()),
            ..Default::default()
        };
        assert_eq!(
            upload.version_id().as_deref(),
            Some("e7c2b519-46fa-4d0e-a3b8-91d5f2c60a7b")
        );
    }
}
