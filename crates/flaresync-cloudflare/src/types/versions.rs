//! Versions (`…/scripts/{s}/versions`): what an upload created, its annotations, metadata and
//! resources.

use std::collections::BTreeMap;

use flaresync_config::Binding;
use serde::{Deserialize, Serialize};

use super::null_default;

/// Version and deployment annotations.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Annotations {
    /// `workers/tag`: flaresync stamps the commit id here.
    #[serde(rename = "workers/tag", skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    #[serde(rename = "workers/message", skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Set by Cloudflare: `upload`, `secret`, `rollback`, `promotion`, `deployment`, ...
    #[serde(
        rename = "workers/triggered_by",
        skip_serializing_if = "Option::is_none"
    )]
    pub triggered_by: Option<String>,
    #[serde(rename = "workers/alias", skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// Any other annotation, kept verbatim.
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

/// `metadata` of a version.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VersionMetadata {
    pub author_email: Option<String>,
    pub author_id: Option<String>,
    pub created_on: Option<String>,
    pub modified_on: Option<String>,
    pub source: Option<String>,
    /// The schema's name for the preview flag.
    #[serde(rename = "hasPreview")]
    pub has_preview_camel: Option<bool>,
    /// The name wrangler reads; responses may carry either or both.
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
#[serde(default)]
pub(crate) struct VersionItems {
    #[serde(deserialize_with = "null_default")]
    pub items: Vec<VersionSummary>,
}

/// `resources.script` of a version.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ScriptResource {
    pub etag: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub handlers: Vec<String>,
    #[serde(deserialize_with = "null_default")]
    pub named_handlers: Vec<NamedHandlers>,
    pub last_deployed_from: Option<String>,
}

/// Handlers of one named export (DO class or entrypoint).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NamedHandlers {
    pub name: String,
    #[serde(deserialize_with = "null_default")]
    pub handlers: Vec<String>,
}

/// `resources.script_runtime` of a version.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ScriptRuntime {
    pub compatibility_date: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub compatibility_flags: Vec<String>,
    pub usage_model: Option<String>,
    pub limits: Option<serde_json::Value>,
    /// The Durable Object migration tag recorded with this version.
    pub migration_tag: Option<String>,
    /// Declarative DO/entrypoint exports (live entries only).
    pub exports: Option<serde_json::Value>,
}

/// `resources` of a version.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VersionResources {
    /// Secrets appear as `secret_text` without a value.
    #[serde(deserialize_with = "null_default")]
    pub bindings: Vec<Binding>,
    #[serde(deserialize_with = "null_default")]
    pub script: ScriptResource,
    #[serde(deserialize_with = "null_default")]
    pub script_runtime: ScriptRuntime,
}

/// A full version: `GET …/versions/{id}` and the result of `POST …/versions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Version {
    pub id: String,
    pub number: Option<u64>,
    #[serde(default, deserialize_with = "null_default")]
    pub metadata: VersionMetadata,
    #[serde(default, deserialize_with = "null_default")]
    pub annotations: Annotations,
    #[serde(default, deserialize_with = "null_default")]
    pub resources: VersionResources,
    /// Only on upload responses.
    #[serde(skip_serializing_if = "Option::is_none")]
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::examples::result;
    use flaresync_config::BindingKind;

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
    fn a_version_with_only_its_id_decodes_with_everything_else_empty() {
        let bare: Version =
            serde_json::from_value(serde_json::json!({"id": "v", "metadata": null}))
                .expect("decodes");
        assert_eq!(bare.number, None);
        assert_eq!(bare.tag(), None);
        assert!(bare.bindings().is_empty() && !bare.metadata.preview());
        assert_eq!(bare.resources, VersionResources::default());
        let no_id = serde_json::from_value::<Version>(serde_json::json!({"number": 1}));
        assert!(no_id.is_err(), "the id stays required");
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
}
