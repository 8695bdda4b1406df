//! Builders shared by the unit tests (planner, rules): a minimal spec, a known version and a
//! live Worker.

use flaresync_config::WorkerSpec;

use crate::input::KnownVersion;
use crate::live::{DeploymentVersion, LiveDeployment, LiveVersion, LiveWorker};

/// Built through serde so fields added to the model with defaults do not break the tests.
pub(crate) fn spec(name: &str) -> WorkerSpec {
    serde_json::from_value(minimal_spec(name)).expect("minimal spec deserializes")
}

/// The JSON of a minimal Worker `name` (`tests/fixtures/minimal_spec.json`, which the
/// integration tests read too).
pub(crate) fn minimal_spec(name: &str) -> serde_json::Value {
    let mut value: serde_json::Value =
        serde_json::from_str(include_str!("../tests/fixtures/minimal_spec.json"))
            .expect("the fixture is JSON");
    value["name"] = name.into();
    value["dir"] = name.into();
    value["config_path"] = format!("{name}/wrangler.toml").into();
    value
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
        declared: None,
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
