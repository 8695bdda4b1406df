//! Secrets of a script (`…/scripts/{s}/secrets`): names and types, never values.

use serde::{Deserialize, Serialize};

/// A secret of a script: name and type only, never the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretInfo {
    pub name: String,
    #[serde(rename = "type", default)]
    pub kind: String,
}
