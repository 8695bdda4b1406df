//! Bindings that reach other code or networks: `services`, `dispatch_namespaces`,
//! `worker_loaders`, `mtls_certificates`, `vpc_services` and `vpc_networks`.

use super::BindingReader;
use super::shapes::{Items, fields, other};
use crate::error::ConfigError;
use crate::model::{BindingKind, canonical_json_text};
use crate::reader::{Cx, Tbl};

impl BindingReader<'_, '_, '_> {
    /// `services`; a binding with `props` is carried as [`BindingKind::Other`], as the live
    /// decoding does.
    pub(super) fn read_services(&mut self) -> Result<(), ConfigError> {
        self.items(Items::new("services"), |cx, s, _| {
            let service = s.req_nonempty(cx, "service", "name the Worker to bind")?;
            let environment = s.str(cx, "environment")?;
            let entrypoint = s.str(cx, "entrypoint")?;
            Ok(match s.get("props") {
                Some(props) => other(
                    "service",
                    fields([
                        ("service", Some(service.into())),
                        ("environment", environment.map(Into::into)),
                        ("entrypoint", entrypoint.map(Into::into)),
                        ("props", Some(props.to_json())),
                    ]),
                ),
                None => BindingKind::Service {
                    service,
                    environment,
                    entrypoint,
                },
            })
        })
    }

    pub(super) fn read_dispatch_namespaces(&mut self) -> Result<(), ConfigError> {
        self.items(Items::new("dispatch_namespaces"), |cx, d, _| {
            let namespace = d.req_nonempty(cx, "namespace", "name the dispatch namespace")?;
            let outbound = match d.table(cx, "outbound")? {
                None => None,
                Some(mut o) => Some(read_outbound(cx, &mut o)?),
            };
            Ok(BindingKind::DispatchNamespace {
                namespace,
                outbound,
            })
        })
    }

    pub(super) fn read_worker_loaders(&mut self) -> Result<(), ConfigError> {
        let items = Items::new("worker_loaders").silent(&[]);
        self.items(items, |_, _, _| Ok(BindingKind::WorkerLoader))
    }

    pub(super) fn read_mtls_certificates(&mut self) -> Result<(), ConfigError> {
        self.items(Items::new("mtls_certificates"), |cx, m, _| {
            let certificate_id = m.req_nonempty(cx, "certificate_id", "set the certificate id")?;
            Ok(BindingKind::MtlsCertificate { certificate_id })
        })
    }

    pub(super) fn read_vpc_services(&mut self) -> Result<(), ConfigError> {
        self.items(Items::new("vpc_services"), |cx, v, _| {
            let service_id = v.req_nonempty(cx, "service_id", "set the VPC service id")?;
            let wire = fields([("service_id", Some(service_id.into()))]);
            Ok(other("vpc_service", wire))
        })
    }

    /// `vpc_networks`: exactly one of `tunnel_id` and `network_id`.
    pub(super) fn read_vpc_networks(&mut self) -> Result<(), ConfigError> {
        self.items(Items::new("vpc_networks"), |cx, item, _| {
            let wire = fields([
                ("tunnel_id", item.str(cx, "tunnel_id")?.map(Into::into)),
                ("network_id", item.str(cx, "network_id")?.map(Into::into)),
            ]);
            if wire.len() != 1 {
                return Err(cx.err(
                    item.node,
                    format!(
                        "`{}` needs exactly one of `tunnel_id` and `network_id`",
                        item.path
                    ),
                ));
            }
            Ok(other("vpc_network", wire))
        })
    }
}

/// `outbound = { service, environment, parameters }` as Cloudflare's canonical JSON
/// `{ worker: { service, environment }, params: [{ name }] }`.
fn read_outbound(cx: &mut Cx<'_>, o: &mut Tbl<'_>) -> Result<String, ConfigError> {
    let service = o.req_nonempty(cx, "service", "name the outbound Worker")?;
    let environment = o.str(cx, "environment")?;
    let worker = fields([
        ("service", Some(service.into())),
        ("environment", environment.map(Into::into)),
    ]);
    let params = o.str_list(cx, "parameters")?.map(|params| {
        params
            .into_iter()
            .map(|p| serde_json::json!({ "name": p }))
            .collect()
    });
    o.finish(cx, &[]);
    let outbound = fields([
        ("worker", Some(serde_json::Value::Object(worker))),
        ("params", params),
    ]);
    Ok(canonical_json_text(&serde_json::Value::Object(outbound)))
}

#[cfg(test)]
mod tests {
    use super::super::super::test_support::{accepted, wire};
    use crate::model::Binding;

    #[test]
    fn service_props_binding_matches_the_live_decoding() {
        let parsed = accepted(
            "w.toml",
            "[[services]]\nbinding = \"SVC\"\nservice = \"auth\"\nprops = { b = 1, a = 2 }\n",
        );
        let live: Binding = serde_json::from_value(wire(&parsed)[0].clone()).expect("decodes");
        assert_eq!(parsed.spec.bindings[0], live);
    }
}
