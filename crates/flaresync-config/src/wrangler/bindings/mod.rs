//! Bindings: one reader per binding kind (or small family of kinds), each a method of
//! [`BindingReader`] in the file of its family, called in a fixed order by
//! [`BindingReader::read_bindings`]. Every binding kind is non-inheritable except `assets` and
//! `logfwdr`.
//!
//! `shapes` holds what the kinds share: an array of binding tables, a table holding one
//! binding, and the fields of kinds carried as `Other`.

mod assets;
mod durable_objects;
mod messaging;
mod other_kinds;
mod queues;
mod secrets;
mod service_worker;
mod services;
mod shapes;
mod singletons;
mod storage;
mod unique;
mod unsafe_bindings;
mod vars;

use super::env::Layer;
use crate::error::{ConfigError, Location};
use crate::model::{Binding, WorkerSpec};
use crate::reader::Cx;

pub(super) use unique::unique_bindings;

/// Bindings with the offset each was declared at (for messages).
pub(super) type Located = Vec<(Binding, usize)>;

/// Reads `assets`, every binding kind, queue consumers and `secrets.required`. Sets the
/// spec's `assets`, `queue_consumers` and `secrets_required` and returns the bindings, each
/// with the offset it was declared at, and where `assets.directory` is written.
pub(super) fn read_declared(
    cx: &mut Cx<'_>,
    layer: &mut Layer<'_>,
    spec: &mut WorkerSpec,
) -> Result<(Located, Option<Location>), ConfigError> {
    let mut reader = BindingReader {
        cx,
        layer,
        out: Located::new(),
    };
    let assets = reader.read_assets()?;
    reader.read_bindings()?;
    spec.queue_consumers = reader.read_queue_consumers()?;
    spec.secrets_required = reader.read_required_secrets()?;
    let (assets, location) = assets.unzip();
    spec.assets = assets;
    Ok((reader.out, location))
}

/// What every binding reader works on: the file's context, the tables to read from and the
/// bindings read so far.
struct BindingReader<'r, 'c, 'l> {
    cx: &'r mut Cx<'c>,
    layer: &'r mut Layer<'l>,
    out: Located,
}

impl BindingReader<'_, '_, '_> {
    /// Every binding kind but `assets`, in reading order, which decides the error a config
    /// with several gets.
    fn read_bindings(&mut self) -> Result<(), ConfigError> {
        self.read_vars()?;
        self.read_kv_namespaces()?;
        self.read_r2_buckets()?;
        self.read_d1_databases()?;
        self.read_durable_objects()?;
        self.read_queue_producers()?;
        self.read_services()?;
        self.read_analytics_engine()?;
        self.read_platform()?;
        self.read_vectorize()?;
        self.read_hyperdrive()?;
        self.read_mtls_certificates()?;
        self.read_dispatch_namespaces()?;
        self.read_send_email()?;
        self.read_workflows()?;
        self.read_secrets_store()?;
        self.read_worker_loaders()?;
        self.read_pipelines()?;
        self.read_ratelimits()?;
        self.read_vpc_services()?;
        self.read_logfwdr()?;
        self.read_unsafe()?;
        self.read_newer_kinds()?;
        self.read_vpc_networks()?;
        self.read_media()?;
        self.refuse_service_worker_blobs()
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{parse, wire};
    use serde_json::json;

    const EVERY_KIND: &str = r#"{
  "name": "all",
  "main": "index.js",
  "kv_namespaces": [{ "binding": "KV", "id": "k" }],
  "r2_buckets": [{ "binding": "R2", "bucket_name": "b", "jurisdiction": "eu" }],
  "d1_databases": [{ "binding": "DB", "database_name": "n", "database_id": "d" }],
  "durable_objects": { "bindings": [
    { "name": "DO", "class_name": "C" },
    { "name": "DO_EXT", "class_name": "E", "script_name": "other", "environment": "prod" }
  ] },
  "queues": {
    "producers": [{ "binding": "Q", "queue": "q", "delivery_delay": 5 }],
    "consumers": [{ "queue": "q", "max_batch_size": 10 }]
  },
  "services": [{ "binding": "SVC", "service": "auth", "environment": "prod", "entrypoint": "Api" }],
  "analytics_engine_datasets": [{ "binding": "AE", "dataset": "ds" }],
  "ai": { "binding": "AI" },
  "vectorize": [{ "binding": "VEC", "index_name": "idx" }],
  "hyperdrive": [{ "binding": "HD", "id": "h" }],
  "browser": { "binding": "BROWSER" },
  "mtls_certificates": [{ "binding": "CERT", "certificate_id": "c" }],
  "dispatch_namespaces": [{ "binding": "DISPATCH", "namespace": "ns",
    "outbound": { "service": "out", "parameters": ["p"] } }],
  "tail_consumers": [{ "service": "tail" }],
  "version_metadata": { "binding": "VM" },
  "assets": { "directory": "public", "binding": "ASSETS" },
  "send_email": [{ "name": "MAIL", "destination_address": "a@b.c" }],
  "workflows": [{ "binding": "WF", "name": "wf", "class_name": "W" }],
  "secrets_store_secrets": [{ "binding": "SS", "store_id": "s", "secret_name": "n" }],
  "images": { "binding": "IMG" },
  "worker_loaders": [{ "binding": "LOADER" }],
  "pipelines": [{ "binding": "PIPE", "pipeline": "p" }],
  "ratelimits": [{ "name": "RL", "namespace_id": "1001", "simple": { "limit": 10, "period": 60 } }],
  "unsafe": { "bindings": [{ "name": "U", "type": "some_new_kind", "x": 1 }] },
  "secrets": { "required": ["API_TOKEN"] },
}"#;

    #[test]
    fn every_binding_kind_maps_to_cloudflare_wire_shape() {
        let parsed = parse("w.jsonc", EVERY_KIND, None).expect("parses");
        let wire = wire(&parsed);
        let by_name = |name: &str| {
            wire.as_array()
                .expect("array")
                .iter()
                .find(|b| b["name"] == name)
                .cloned()
                .unwrap_or_else(|| panic!("binding {name}"))
        };
        let whole = [
            json!({"name": "KV", "type": "kv_namespace", "namespace_id": "k"}),
            json!({"name": "DB", "type": "d1", "id": "d"}),
            json!({"name": "DO_EXT", "type": "durable_object_namespace", "class_name": "E",
                   "script_name": "other", "environment": "prod"}),
            json!({"name": "AI", "type": "ai"}),
            json!({"name": "WF", "type": "workflow", "workflow_name": "wf", "class_name": "W"}),
            json!({"name": "PIPE", "type": "pipelines", "pipeline": "p"}),
            json!({"name": "RL", "type": "ratelimit", "namespace_id": "1001",
                   "simple": {"limit": 10, "period": 60}}),
            json!({"name": "U", "type": "some_new_kind", "x": 1}),
        ];
        for binding in whole {
            let name = binding["name"].as_str().expect("name");
            assert_eq!(by_name(name), binding);
        }
        // Binding name -> fields it must have (the binding may have more).
        let fields = json!({
            "R2": {"jurisdiction": "eu"}, "Q": {"delivery_delay": 5},
            "SVC": {"entrypoint": "Api"}, "VEC": {"index_name": "idx"},
            "DISPATCH": {"outbound": {"worker": {"service": "out"}, "params": [{"name": "p"}]}},
            "MAIL": {"destination_address": "a@b.c"},
            "AE": {"type": "analytics_engine"}, "HD": {"type": "hyperdrive"},
            "BROWSER": {"type": "browser"}, "CERT": {"type": "mtls_certificate"},
            "VM": {"type": "version_metadata"}, "ASSETS": {"type": "assets"},
            "SS": {"type": "secrets_store_secret"}, "IMG": {"type": "images"},
            "LOADER": {"type": "worker_loader"}
        });
        for (name, expected) in fields.as_object().expect("object") {
            for (field, value) in expected.as_object().expect("object") {
                assert_eq!(&by_name(name)[field], value, "{name}.{field}");
            }
        }
        assert_eq!(wire.as_array().map(Vec::len), Some(24));
        assert_eq!(parsed.spec.queue_consumers.len(), 1);
        assert_eq!(
            parsed.spec.queue_consumers[0].settings,
            r#"{"max_batch_size":10}"#
        );
        assert_eq!(parsed.spec.settings.tail_consumers[0].service, "tail");
        assert_eq!(parsed.spec.secrets_required, ["API_TOKEN"]);
    }
}
