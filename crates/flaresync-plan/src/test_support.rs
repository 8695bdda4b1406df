//! Builders shared by the unit tests (planner, rules): a minimal spec, a known version and a
//! live Worker.

use flaresync_config::WorkerSpec;

use crate::input::KnownVersion;
use crate::live::{DeploymentVersion, LiveDeployment, LiveVersion, LiveWorker};

/// Built through serde so fields added to the model with defaults do not break the tests.
pub(crate) fn spec(name: &str) -> WorkerSpec {
    serde_json::from_value(serde_json::json!({
        "name": name,
        "dir": name,
        "config_path": format!("{name}/wrangler.toml"),
        "main_module": "index.js",
        "modules": [],
        "compatibility_date": "2026-01-01",
        "compatibility_flags": [],
        "bindings": [],
        "migrations": [],
        "exports": null,
        "usage_model": null,
        "limits": null,
        "placement": null,
        "routes": [],
        "crons": [],
        "workers_dev": null,
        "queue_consumers": [],
        "settings": {},
        "secrets_required": []
    }))
    .expect("minimal spec deserializes")
}

/// A version flaresync built from `commit-<id>`, with `digest` as both digests.
pub(crate) fn known(id: &str, digest: &str) -> KnownVersion {
    KnownVersion {
        version_id: id.into(),
        commit: format!("commit-{id}"),
        digest: digest.into(),
        version_digest: digest.into(),
        migrations: Vec::new(),
        exports: None,
        secrets_fingerprint: None,
    }
}

/// An existing Worker whose deployable versions are `ids`, newest first (numbered down to 1),
/// the first deployed at 100%.
pub(crate) fn live_worker(name: &str, ids: &[&str]) -> LiveWorker {
    let versions: Vec<LiveVersion> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| LiveVersion {
            id: id.to_string(),
            number: (ids.len() - i) as u64,
            ..LiveVersion::default()
        })
        .collect();
    let active = ids.first().map(|id| LiveDeployment {
        id: "dep".into(),
        versions: vec![DeploymentVersion {
            version_id: id.to_string(),
            percentage: 100.0,
        }],
        ..LiveDeployment::default()
    });
    LiveWorker {
        name: name.into(),
        exists: true,
        active,
        versions,
        ..LiveWorker::default()
    }
}
