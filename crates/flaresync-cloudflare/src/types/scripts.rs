//! Scripts (`/workers/scripts`, `PUT …/scripts/{s}`) and the services metadata where wrangler reads
//! the migration tag.

use serde::{Deserialize, Serialize};

use super::{NamedHandlers, null_default};

/// One script of `GET /workers/scripts`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Script {
    /// The script name.
    pub id: String,
    pub tag: Option<String>,
    pub etag: Option<String>,
    pub created_on: Option<String>,
    pub modified_on: Option<String>,
    /// Tag of the last DO migration applied to the script.
    pub migration_tag: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub handlers: Vec<String>,
    #[serde(deserialize_with = "null_default")]
    pub named_handlers: Vec<NamedHandlers>,
    pub last_deployed_from: Option<String>,
    pub compatibility_date: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub compatibility_flags: Vec<String>,
    pub usage_model: Option<String>,
    pub logpush: Option<bool>,
    pub has_modules: Option<bool>,
    pub has_assets: Option<bool>,
    #[serde(deserialize_with = "null_default")]
    pub tags: Vec<String>,
}

/// Result of `PUT …/scripts/{name}` (upload and deploy).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ScriptUpload {
    /// The script name.
    pub id: Option<String>,
    pub etag: Option<String>,
    /// Despite the name, the id of the *version* the upload created, possibly without hyphens.
    pub deployment_id: Option<String>,
    pub migration_tag: Option<String>,
    pub modified_on: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub handlers: Vec<String>,
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
#[serde(default)]
pub struct ServiceScript {
    pub id: Option<String>,
    pub tag: Option<String>,
    pub etag: Option<String>,
    pub migration_tag: Option<String>,
    pub created_on: Option<String>,
    pub modified_on: Option<String>,
    pub last_deployed_from: Option<String>,
    pub compatibility_date: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub compatibility_flags: Vec<String>,
    pub usage_model: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub handlers: Vec<String>,
}

/// `result.default_environment` of the services metadata.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceEnvironment {
    pub environment: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub script: ServiceScript,
}

/// `GET /workers/services/{name}`: where wrangler reads the script's current migration tag.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceMetadata {
    pub id: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub default_environment: ServiceEnvironment,
}

impl ServiceMetadata {
    /// The script's current DO migration tag.
    pub fn migration_tag(&self) -> Option<&str> {
        self.default_environment.script.migration_tag.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
