//! Settings Cloudflare keeps outside versions: `…/script-settings` and the workers.dev
//! `…/subdomain`.

use flaresync_config::TailConsumer;
use serde::{Deserialize, Serialize};

use super::null_default;

/// A script's workers.dev route (`…/scripts/{s}/subdomain`). Not versioned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subdomain {
    pub enabled: bool,
    pub previews_enabled: Option<bool>,
}

/// Body of `PATCH …/script-settings` (settings Cloudflare keeps outside versions). Unset fields
/// are left unchanged.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ScriptSettingsPatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logpush: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observability: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tail_consumers: Option<Vec<TailConsumer>>,
}

/// Result of `GET`/`PATCH …/script-settings`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ScriptSettings {
    pub logpush: Option<bool>,
    pub observability: Option<serde_json::Value>,
    #[serde(deserialize_with = "null_default")]
    pub tags: Vec<String>,
    #[serde(deserialize_with = "null_default")]
    pub tail_consumers: Vec<TailConsumer>,
}
