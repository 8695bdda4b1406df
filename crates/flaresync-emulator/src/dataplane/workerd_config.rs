//! Renders the workerd config for a set of versions: one service and one socket per version,
//! one external service per service-binding target (back through the data-plane listener), and
//! the Durable Object storage directory. Pure: files to write out, nothing written here.
//!
//! Durable Objects: each Worker's classes are implemented by the versions of its current
//! deployment (each object runs on one of them, see [`durable_routing`](super::durable_routing));
//! the other versions bind to the first one's namespaces. Storage is on disk under a key that
//! does not depend on the version, so objects keep their data across version switches and
//! runtime restarts.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};

use super::asset_services::{
    self, ASSETS_KV_HEADER, ASSETS_KV_SERVICE, AssetWorkerSources, router_service, shared_files,
};
use super::capnp::quote;
use super::desired::{Module, VersionBundle};
use super::durable_routing;
use super::entry::{ENTRY_MODULE, entry_module};
use super::runtime_bindings::{kv_binding_target, service_binding_target, translate};

/// Header the listener reads to route a service-binding call to a Worker.
pub const SCRIPT_HEADER: &str = "x-flaresync-script";
/// Header the listener reads to serve a KV binding's request from namespace `<value>`.
pub const KV_HEADER: &str = "x-flaresync-kv";
const STORAGE_SERVICE: &str = "do-storage";

/// Where things are, for one rendering.
#[derive(Debug, Clone)]
pub struct Layout {
    /// `host:port` of the data-plane listener (service bindings go through it).
    pub listener: String,
    /// Directory of Durable Object storage (absolute).
    pub storage_dir: String,
    /// Worker -> the versions implementing its Durable Object classes, with their share of
    /// the objects, in deployment order.
    pub durable_objects: BTreeMap<String, Vec<(String, f64)>>,
    /// Version id -> the address its socket listens on, as workerd.capnp spells it
    /// (`unix:/path` for the data plane, `127.0.0.1:port` also works).
    pub addresses: BTreeMap<String, String>,
    /// Cloudflare's asset and router workers (`None`: versions with assets cannot run).
    pub asset_sources: Option<AssetWorkerSources>,
}

/// A rendered config: `config.capnp` plus the module files it embeds (paths relative to it).
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub config: String,
    pub files: Vec<(String, Vec<u8>)>,
    /// Versions left out, with the reason.
    pub skipped: Vec<(String, String)>,
}

impl Rendered {
    /// A digest of the config and every file it embeds: equal digests run the same thing.
    pub fn identity(&self) -> String {
        let mut digest = Sha256::new();
        digest.update(self.config.as_bytes());
        for (path, content) in &self.files {
            digest.update((path.len() as u64).to_le_bytes());
            digest.update(path.as_bytes());
            digest.update((content.len() as u64).to_le_bytes());
            digest.update(content);
        }
        hex::encode(digest.finalize())
    }
}

/// The service name of a version.
pub fn service_name(version_id: &str) -> String {
    format!("v-{version_id}")
}

/// Renders the config for `versions` (each must have an address in `layout.addresses`).
pub fn render(versions: &[&VersionBundle], layout: &Layout) -> Rendered {
    let mut services = Vec::new();
    let mut sockets = Vec::new();
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    let mut targets = BTreeSet::new();
    let mut namespaces = BTreeSet::new();
    let mut uses_assets = false;
    for version in versions {
        let Some(address) = layout.addresses.get(&version.id) else {
            skipped.push((version.id.clone(), "no socket assigned".to_owned()));
            continue;
        };
        match worker(version, layout) {
            Ok(service) => {
                services.extend(service.texts);
                files.extend(service.files);
                targets.extend(service.targets);
                namespaces.extend(service.kv_namespaces);
                uses_assets |= service.assets;
                sockets.push(format!(
                    "(name = {}, address = {}, http = (), service = {})",
                    quote(&format!("s-{}", version.id)),
                    quote(address),
                    quote(&service.entry),
                ));
            }
            Err(reason) => skipped.push((version.id.clone(), reason)),
        }
    }
    for target in targets {
        services.push(external(
            &service_binding_target(&target),
            &layout.listener,
            SCRIPT_HEADER,
            &target,
        ));
    }
    for id in namespaces {
        services.push(external(
            &kv_binding_target(&id),
            &layout.listener,
            KV_HEADER,
            &id,
        ));
    }
    if let Some(sources) = layout.asset_sources.as_ref().filter(|_| uses_assets) {
        services.push(external(
            ASSETS_KV_SERVICE,
            &layout.listener,
            ASSETS_KV_HEADER,
            "1",
        ));
        files.extend(shared_files(sources));
    }
    services.push(format!(
        "(name = {}, disk = (path = {}, writable = true))",
        quote(STORAGE_SERVICE),
        quote(&layout.storage_dir)
    ));
    let config = format!(
        "using Workerd = import \"/workerd/workerd.capnp\";\n\
         const config :Workerd.Config = (\n  services = [\n    {}\n  ],\n  sockets = [\n    {}\n  ],\n);\n",
        services.join(",\n    "),
        sockets.join(",\n    ")
    );
    Rendered {
        config,
        files,
        skipped,
    }
}

/// What one version adds to the config.
#[derive(Default)]
struct Service {
    texts: Vec<String>,
    /// The service its socket serves.
    entry: String,
    files: Vec<(String, Vec<u8>)>,
    targets: Vec<String>,
    kv_namespaces: Vec<String>,
    /// It runs the asset worker (needs the shared files and the asset store).
    assets: bool,
}

/// Why a version with assets cannot run.
const NO_ASSET_WORKERS: &str = "static assets need Cloudflare's asset worker, which ships with \
    miniflare: install wrangler (crates/flaresync-emulator/scripts/install-wrangler.sh) next to \
    workerd";

/// A version's services: its Worker and, when it has assets, the asset worker and the router
/// in front of both.
fn worker(version: &VersionBundle, layout: &Layout) -> Result<Service, String> {
    let user = user_worker(version, layout)?;
    let Some(assets) = &version.assets else {
        return user.ok_or_else(|| "the version has no code".to_owned());
    };
    if layout.asset_sources.is_none() {
        return Err(NO_ASSET_WORKERS.to_owned());
    }
    let user_service = user.as_ref().map(|_| service_name(&version.id));
    let rendered = asset_services::render(version, assets, user_service.as_deref());
    let mut service = user.unwrap_or_default();
    service.texts.extend(rendered.services);
    service.files.extend(rendered.files);
    service.entry = router_service(&version.id);
    service.assets = true;
    Ok(service)
}

/// The version's own Worker service; `None` for an assets-only Worker (no code).
fn user_worker(version: &VersionBundle, layout: &Layout) -> Result<Option<Service>, String> {
    let dir = service_name(&version.id);
    let implementers = layout
        .durable_objects
        .get(&version.script)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let implements = implementers.iter().any(|(id, _)| *id == version.id);
    let do_owner = implementers
        .first()
        .filter(|_| !implements)
        .map(|(owner, _)| service_name(owner));
    let translated = translate(version, do_owner.as_deref());
    let durable = durable_routing::route(
        implementers,
        &translated.durable_object_bindings,
        &translated.durable_object_classes,
    );
    let mut bindings = translated.bindings.clone();
    bindings.extend(durable.bindings.iter().cloned());
    let mut files = Vec::new();
    let mut modules = Vec::new();
    let code = match (&version.main_module, &version.body_part) {
        (Some(main), _) => {
            let entry = entry_module(main, &translated.unsupported, &durable);
            modules.push(module_line(ENTRY_MODULE, "esModule", &dir));
            files.push((format!("{dir}/{ENTRY_MODULE}"), entry.into_bytes()));
            for module in &version.modules {
                if let Some(kind) = module_kind(&module.content_type) {
                    let path = module_path(&dir, module)?;
                    modules.push(module_line(&module.name, kind, &dir));
                    files.push((path, module.content.clone()));
                }
            }
            format!("modules = [ {} ]", modules.join(", "))
        }
        (None, Some(body)) => service_worker(version, body, &dir, &mut bindings, &mut files)?,
        (None, None) => return Ok(None),
    };
    let mut fields = vec![
        code,
        format!("compatibilityDate = {}", quote(&version.compatibility_date)),
        format!(
            "compatibilityFlags = [{}]",
            version
                .compatibility_flags
                .iter()
                .map(|f| quote(f))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    ];
    if do_owner.is_none() {
        fields.extend(durable_object_fields(
            version,
            &translated.durable_object_classes,
        ));
    }
    fields.push(format!("bindings = [ {} ]", bindings.join(", ")));
    Ok(Some(Service {
        texts: vec![format!(
            "(name = {}, worker = (\n      {}\n    ))",
            quote(&dir),
            fields.join(",\n      ")
        )],
        entry: dir,
        files,
        targets: translated.services,
        kv_namespaces: translated.kv_namespaces,
        assets: false,
    }))
}

/// The namespaces of the Worker's Durable Object classes, declared by their owner only.
fn durable_object_fields(version: &VersionBundle, classes: &[String]) -> Vec<String> {
    if classes.is_empty() {
        return Vec::new();
    }
    let namespaces: Vec<String> = classes
        .iter()
        .map(|class| {
            format!(
                "(className = {}, uniqueKey = {}, enableSql = true)",
                quote(class),
                quote(&format!("{}-{class}", version.script))
            )
        })
        .collect();
    vec![
        format!("durableObjectNamespaces = [ {} ]", namespaces.join(", ")),
        format!(
            "durableObjectStorage = (localDisk = {})",
            quote(STORAGE_SERVICE)
        ),
    ]
}

fn service_worker(
    version: &VersionBundle,
    body: &str,
    dir: &str,
    bindings: &mut Vec<String>,
    files: &mut Vec<(String, Vec<u8>)>,
) -> Result<String, String> {
    let mut code = None;
    for module in &version.modules {
        let path = module_path(dir, module)?;
        let embed = format!("embed {}", quote(&path));
        if module.name == body {
            code = Some(format!("serviceWorkerScript = {embed}"));
        } else {
            let field = match module.content_type.as_str() {
                "application/wasm" => "wasmModule",
                "text/plain" => "text",
                _ => "data",
            };
            bindings.push(format!(
                "(name = {}, {field} = {embed})",
                quote(&module.name)
            ));
        }
        files.push((path, module.content.clone()));
    }
    code.ok_or_else(|| format!("the body part {body:?} is missing"))
}

/// An external service reaching the listener with `header: value` added to every request.
fn external(name: &str, listener: &str, header: &str, value: &str) -> String {
    format!(
        "(name = {}, external = (address = {}, http = (injectRequestHeaders = [(name = {}, value = {})])))",
        quote(name),
        quote(listener),
        quote(header),
        quote(value)
    )
}

fn module_line(name: &str, kind: &str, dir: &str) -> String {
    format!(
        "(name = {}, {kind} = embed {})",
        quote(name),
        quote(&format!("{dir}/{name}"))
    )
}

/// The workerd module kind for a part's content type; `None` for parts workerd does not load
/// (source maps).
fn module_kind(content_type: &str) -> Option<&'static str> {
    let base = content_type.split(';').next().unwrap_or_default().trim();
    match base {
        "application/javascript+module" | "text/javascript+module" => Some("esModule"),
        "application/javascript" | "text/javascript" => Some("commonJsModule"),
        "text/plain" => Some("text"),
        "application/wasm" => Some("wasm"),
        "application/json" => Some("json"),
        "application/octet-stream" => Some("data"),
        _ => None,
    }
}

/// The file a module is written to; refuses names that would leave the version's directory.
fn module_path(dir: &str, module: &Module) -> Result<String, String> {
    let bad = module.name.is_empty()
        || module.name.starts_with('/')
        || module.name.contains('\\')
        || module
            .name
            .split('/')
            .any(|part| part == ".." || part.is_empty())
        || module.name == ENTRY_MODULE;
    if bad {
        return Err(format!(
            "module name {:?} is not a relative path",
            module.name
        ));
    }
    Ok(format!("{dir}/{}", module.name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn version(id: &str, bindings: serde_json::Value) -> VersionBundle {
        VersionBundle {
            id: id.into(),
            script: "api".into(),
            tag: String::new(),
            created_on: "2026-01-01T00:00:00.000000Z".into(),
            main_module: Some("index.js".into()),
            body_part: None,
            modules: vec![Module {
                name: "index.js".into(),
                content_type: "application/javascript+module".into(),
                content: b"export default {}".to_vec(),
            }],
            bindings: serde_json::from_value(bindings).unwrap_or_default(),
            compatibility_date: "2025-01-01".into(),
            compatibility_flags: vec!["nodejs_compat".into()],
            assets: None,
        }
    }

    fn layout() -> Layout {
        Layout {
            listener: "127.0.0.1:8787".into(),
            storage_dir: "/tmp/do".into(),
            durable_objects: BTreeMap::from([("api".to_owned(), vec![("a".to_owned(), 100.0)])]),
            addresses: BTreeMap::from([
                ("a".to_owned(), "127.0.0.1:9001".to_owned()),
                ("b".to_owned(), "unix:/run/s-b".to_owned()),
            ]),
            asset_sources: None,
        }
    }

    #[test]
    fn one_service_and_socket_per_version_and_one_owner_of_durable_objects() {
        let bindings = json!([
            {"type": "durable_object_namespace", "name": "D", "class_name": "C"},
            {"type": "service", "name": "AUTH", "service": "auth"},
        ]);
        let (a, b) = (version("a", bindings.clone()), version("b", bindings));
        let out = render(&[&a, &b], &layout());
        assert!(out.skipped.is_empty());
        let c = &out.config;
        assert!(
            c.contains(r#"(name = "s-a", address = "127.0.0.1:9001", http = (), service = "v-a")"#)
        );
        assert!(
            c.contains(r#"(name = "s-b", address = "unix:/run/s-b", http = (), service = "v-b")"#)
        );
        assert_eq!(c.matches("durableObjectNamespaces").count(), 1);
        assert!(c.contains(r#"(className = "C", uniqueKey = "api-C", enableSql = true)"#));
        assert!(c.contains(r#"(className = "C", serviceName = "v-a")"#));
        assert_eq!(
            c.matches(r#"(name = "to-script-auth", external"#).count(),
            1
        );
        assert!(c.contains(r#"compatibilityFlags = ["nodejs_compat"]"#));
        let paths: Vec<&str> = out.files.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            vec![
                "v-a/__flaresync_entry.mjs",
                "v-a/index.js",
                "v-b/__flaresync_entry.mjs",
                "v-b/index.js"
            ]
        );
    }

    #[test]
    fn a_new_split_of_durable_objects_changes_what_runs_not_only_the_config_text() {
        let bindings =
            json!([{"type": "durable_object_namespace", "name": "D", "class_name": "C"}]);
        let (a, b) = (version("a", bindings.clone()), version("b", bindings));
        let split = |pa: f64, pb: f64| {
            let mut layout = layout();
            layout.durable_objects =
                BTreeMap::from([("api".to_owned(), vec![("a".into(), pa), ("b".into(), pb)])]);
            render(&[&a, &b], &layout)
        };
        let (half, mostly_b) = (split(50.0, 50.0), split(10.0, 90.0));
        assert_eq!(half.config, mostly_b.config, "the entry modules are files");
        assert_ne!(half.identity(), mostly_b.identity());
        assert_eq!(half.identity(), split(50.0, 50.0).identity());
        assert_eq!(half.config.matches("durableObjectNamespaces").count(), 2);
    }

    #[test]
    fn versions_without_a_socket_or_with_escaping_module_names_are_skipped() {
        let mut evil = version("b", json!([]));
        evil.modules[0].name = "../x.js".into();
        let stray = version("c", json!([]));
        let out = render(&[&evil, &stray], &layout());
        let ids: Vec<&str> = out.skipped.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, vec!["b", "c"]);
        assert!(out.files.is_empty());
    }
}
