//! The API examples under `fixtures/cloudflare-api/examples`, for the decoding tests.

use super::RawEnvelope;

/// The example `name` as an envelope.
pub(crate) fn example(name: &str) -> RawEnvelope {
    let path = format!(
        "{}/../../fixtures/cloudflare-api/examples/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).expect("fixture exists");
    serde_json::from_str(&text).expect("fixture is an envelope")
}

/// The `result` of the example `name`, decoded.
pub(crate) fn result<T: serde::de::DeserializeOwned>(name: &str) -> T {
    serde_json::from_value(example(name).result.expect("fixture has a result"))
        .expect("result decodes")
}
