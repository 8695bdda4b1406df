//! The envelope every Cloudflare API answer comes in: `success`, `errors` and `result_info`.

use serde::{Deserialize, Serialize};

use super::null_default;

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
    pub result: Option<serde_json::Value>,
    pub result_info: Option<ResultInfo>,
}

/// `result_info`: page style (`page`, `per_page`, `count`, `total_count`, `total_pages`) or cursor
/// style (`cursor`, `per_page`, used by R2).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResultInfo {
    pub page: Option<u64>,
    pub per_page: Option<u64>,
    pub count: Option<u64>,
    pub total_count: Option<u64>,
    pub total_pages: Option<u64>,
    pub cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use crate::types::examples::example;

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
}
