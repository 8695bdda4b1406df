//! What the data plane should be running, read from the control plane's state: every Worker
//! with a deployment, its current shares, and the code and bindings of the versions to run.
//!
//! The versions to run are those of each Worker's two newest deployments, so a rollback to the
//! previous deployment only switches the routing table (no runtime restart).

use std::collections::BTreeMap;

use rusqlite::Transaction;
use serde_json::Value;

use super::hosts::Hosts;
use super::routing::Share;
use crate::error::ApiError;
use crate::state::assets::{self, config::AssetConfig};
use crate::state::store::{self, StoredModule};
use crate::state::{domains, routes};

/// How many of a Worker's newest deployments keep their versions running.
const DEPLOYMENTS_KEPT_WARM: usize = 2;

/// One Worker as the data plane routes it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeployedScript {
    pub name: String,
    /// Served on `<name>.<account subdomain>.workers.dev`.
    pub workers_dev: bool,
    /// The current deployment's versions and percentages, in deployment order.
    pub shares: Vec<Share>,
}

/// One module of a version, with its content.
#[derive(Debug, Clone, PartialEq)]
pub struct Module {
    pub name: String,
    pub content_type: String,
    pub content: Vec<u8>,
}

/// One version's code, bindings and metadata: what a workerd service is built from.
#[derive(Clone, PartialEq)]
pub struct VersionBundle {
    pub id: String,
    pub script: String,
    /// The `workers/tag` annotation ("" when absent).
    pub tag: String,
    pub created_on: String,
    pub main_module: Option<String>,
    pub body_part: Option<String>,
    pub modules: Vec<Module>,
    /// Cloudflare's binding objects, secret values included.
    pub bindings: Vec<Value>,
    pub compatibility_date: String,
    pub compatibility_flags: Vec<String>,
    /// The static assets the version serves.
    pub assets: Option<AssetsBundle>,
}

/// A version's static assets: path -> content hash, and the configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct AssetsBundle {
    pub manifest: Vec<(String, String)>,
    pub config: AssetConfig,
}

impl std::fmt::Debug for VersionBundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VersionBundle")
            .field("id", &self.id)
            .field("script", &self.script)
            .field("main_module", &self.main_module)
            .field("assets", &self.assets.as_ref().map(|a| a.manifest.len()))
            .finish_non_exhaustive()
    }
}

/// The whole desired state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Desired {
    pub scripts: Vec<DeployedScript>,
    /// Custom domains and route patterns.
    pub hosts: Hosts,
    /// Version id -> bundle, for every version to run.
    pub versions: BTreeMap<String, VersionBundle>,
}

/// A cheap summary that changes whenever [`load`] would answer differently: each Worker's
/// name, workers.dev flag and newest deployment id, and every route and custom domain.
pub fn fingerprint(tx: &Transaction<'_>) -> Result<String, ApiError> {
    let mut stmt = tx.prepare(
        "SELECT s.name, s.doc, (SELECT d.id FROM deployments d WHERE d.script = s.name
                                ORDER BY d.seq DESC LIMIT 1)
         FROM scripts s ORDER BY s.name",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Option<String>>(2)?,
        ))
    })?;
    let mut out = String::new();
    for row in rows {
        let (name, doc, deployment) = row?;
        let workers_dev = serde_json::from_str::<store::StoredScript>(&doc)?.subdomain_enabled;
        out.push_str(&format!(
            "{name}|{workers_dev}|{}\n",
            deployment.unwrap_or_default()
        ));
    }
    for route in routes::all(tx)? {
        out.push_str(&format!(
            "route|{}|{}\n",
            route.pattern,
            route.script.unwrap_or_default()
        ));
    }
    for domain in domains::all(tx)? {
        out.push_str(&format!("domain|{}|{}\n", domain.hostname, domain.service));
    }
    Ok(out)
}

/// Reads the desired state.
pub fn load(tx: &Transaction<'_>) -> Result<Desired, ApiError> {
    let mut desired = Desired {
        hosts: Hosts::new(&routes::all(tx)?, &domains::all(tx)?),
        ..Desired::default()
    };
    for script in store::list_scripts(tx)? {
        let deployments = store::list_deployments(tx, &script.name, DEPLOYMENTS_KEPT_WARM)?;
        let Some(current) = deployments.first() else {
            continue;
        };
        for deployment in &deployments {
            for split in &deployment.versions {
                if desired.versions.contains_key(&split.version_id) {
                    continue;
                }
                if let Some(bundle) = bundle(tx, &script.name, &split.version_id)? {
                    desired.versions.insert(split.version_id.clone(), bundle);
                }
            }
        }
        desired.scripts.push(DeployedScript {
            name: script.name.clone(),
            workers_dev: script.subdomain_enabled,
            shares: current
                .versions
                .iter()
                .map(|split| Share {
                    version_id: split.version_id.clone(),
                    percentage: split.percentage,
                })
                .collect(),
        });
    }
    Ok(desired)
}

fn bundle(
    tx: &Transaction<'_>,
    script: &str,
    version_id: &str,
) -> Result<Option<VersionBundle>, ApiError> {
    let Some(version) = store::get_version(tx, script, version_id)? else {
        return Ok(None);
    };
    let modules = version
        .modules
        .iter()
        .map(|module| module_with_content(tx, module))
        .collect::<Result<Vec<_>, _>>()?;
    let assets = match &version.assets {
        Some(stored) => Some(AssetsBundle {
            manifest: assets::manifest(tx, &stored.manifest)?
                .into_iter()
                .map(|(path, entry)| (path, entry.hash))
                .collect(),
            config: stored.config.clone(),
        }),
        None => None,
    };
    let tag = version
        .annotations
        .get("workers/tag")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    Ok(Some(VersionBundle {
        id: version.id,
        script: version.script,
        tag,
        created_on: version.created_on,
        main_module: version.main_module,
        body_part: version.body_part,
        modules,
        bindings: version.bindings,
        compatibility_date: version.compatibility_date,
        compatibility_flags: version.compatibility_flags,
        assets,
    }))
}

fn module_with_content(tx: &Transaction<'_>, module: &StoredModule) -> Result<Module, ApiError> {
    let content = store::get_blob(tx, &module.sha256)?.unwrap_or_default();
    Ok(Module {
        name: module.name.clone(),
        content_type: module.content_type.clone(),
        content,
    })
}
