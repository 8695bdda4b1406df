//! The state record (opt-in, `--state-record`): what flaresync knows of each Worker that runs
//! Git's content, kept in Cloudflare itself (one KV key per Worker, the entry in the key's
//! metadata) so that a fresh state directory — a CI runner, a new replica, a restarted daemon
//! that lost its disk — does not read every Worker again.
//!
//! An entry holds the scripts listing's fingerprint of the script (`modified_on`, `etag`,
//! migration tag) when flaresync last saw it running one version at 100% with Git's content,
//! and that version (id, tag, commit, digests, secret names). A later pass that finds the same
//! fingerprint in the listing knows nobody wrote to the script since (every upload, deployment
//! and secret change moves `modified_on`), so the entry stands for a full read of the Worker —
//! as long as Git still wants that content. When Git wants something else, the Worker is read
//! in full first (the entry does not know the older versions a rollback would need).
//!
//! Pure: building entries from the pass's cache and cached views from entries.

use std::collections::BTreeMap;

use flaresync_cloudflare::Script;
use flaresync_config::Digest;
use flaresync_plan::{
    DeploymentVersion, DesiredWorker, KnownVersion, LiveDeployment, LiveVersion, LiveWorker,
};
use serde::{Deserialize, Serialize};

use super::memory::CachedWorker;
use crate::{convert::ScriptFingerprint, observe::ObservedWorker};

/// Prefix of the record's keys (the rest is the script name).
pub(super) const KEY_PREFIX: &str = "worker/";
/// Cloudflare's limit on a key's metadata, serialized.
const METADATA_MAX: usize = 1024;

/// One Worker's entry (the metadata of its key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Entry {
    pub modified_on: String,
    #[serde(default)]
    pub etag: Option<String>,
    #[serde(default)]
    pub migration_tag: Option<String>,
    pub version_id: String,
    #[serde(default)]
    pub version_tag: Option<String>,
    pub commit: String,
    pub digest: Digest,
    pub version_digest: Digest,
    #[serde(default)]
    pub secrets: Vec<String>,
}

impl Entry {
    /// The entry as key metadata; `None` when it would pass Cloudflare's 1,024-byte limit (that
    /// Worker is then simply read in full by a fresh state directory).
    pub fn to_metadata(&self) -> Option<serde_json::Value> {
        let value = serde_json::to_value(self).ok()?;
        (value.to_string().len() <= METADATA_MAX).then_some(value)
    }

    /// An entry read back from key metadata; `None` for anything else (another tool's key, an
    /// older format).
    pub fn from_metadata(metadata: &serde_json::Value) -> Option<Self> {
        serde_json::from_value(metadata.clone()).ok()
    }

    fn fingerprint(&self) -> ScriptFingerprint {
        ScriptFingerprint {
            etag: self.etag.clone(),
            modified_on: Some(self.modified_on.clone()),
            migration_tag: self.migration_tag.clone(),
        }
    }
}

/// The entry for a Worker whose cached view the listing entry `listed` confirms, when that
/// view shows one version at 100% carrying the desired content. `None` otherwise.
pub(super) fn entry_of(cached: &CachedWorker, listed: &Script) -> Option<Entry> {
    let fingerprint = ScriptFingerprint::of(listed);
    if cached.fingerprint.as_ref() != Some(&fingerprint) || cached.written_at.is_some() {
        return None;
    }
    let live = &cached.live;
    let deployment = live.active.as_ref().or(live.deployments.first())?;
    let [only] = deployment.versions.as_slice() else {
        return None;
    };
    if only.percentage < 100.0 {
        return None;
    }
    let known = cached
        .known
        .iter()
        .find(|known| known.version_id == only.version_id)?;
    if cached.desired_digest.as_ref() != Some(&known.digest) {
        return None;
    }
    let version = live.version(&only.version_id);
    let mut secrets = live.secrets.clone();
    secrets.sort();
    Some(Entry {
        modified_on: fingerprint.modified_on?,
        etag: fingerprint.etag,
        migration_tag: fingerprint.migration_tag,
        version_id: only.version_id.clone(),
        version_tag: version.and_then(|v| v.tag.clone()),
        commit: known.commit.clone(),
        digest: known.digest.clone(),
        version_digest: known.version_digest.clone(),
        secrets,
    })
}

/// The cached view an entry stands for, when the listing still shows the script as the entry
/// saw it and Git still wants the entry's content. Marked partial: it knows one version only.
pub(super) fn cached_from(
    name: &str,
    entry: &Entry,
    listed: &Script,
    desired: &DesiredWorker,
) -> Option<CachedWorker> {
    let fingerprint = ScriptFingerprint::of(listed);
    if fingerprint != entry.fingerprint() || desired.digest != entry.digest {
        return None;
    }
    let deployment = LiveDeployment {
        versions: vec![DeploymentVersion {
            version_id: entry.version_id.clone(),
            percentage: 100.0,
        }],
        ..LiveDeployment::default()
    };
    let version = LiveVersion {
        id: entry.version_id.clone(),
        tag: entry.version_tag.clone(),
        migration_tag: entry.migration_tag.clone(),
        ..LiveVersion::default()
    };
    let live = LiveWorker {
        name: name.to_owned(),
        exists: true,
        migration_tag: entry.migration_tag.clone(),
        active: Some(deployment.clone()),
        deployments: vec![deployment],
        versions: vec![version],
        secrets: entry.secrets.clone(),
        ..LiveWorker::default()
    };
    let known = KnownVersion {
        version_id: entry.version_id.clone(),
        commit: entry.commit.clone(),
        digest: entry.digest.clone(),
        version_digest: entry.version_digest.clone(),
        // Same digest as Git's: the same migrations and exports.
        migrations: desired.spec.migrations.clone(),
        exports: desired.spec.exports.clone(),
        secrets_fingerprint: None,
        declared: Some(flaresync_plan::DeclaredTriggers::of(&desired.spec)),
    };
    let observed = ObservedWorker {
        live,
        known: vec![known],
        commits: BTreeMap::from([(entry.version_id.clone(), entry.commit.clone())]),
    };
    let mut cached = CachedWorker::new(Some(fingerprint), Some(entry.digest.clone()), observed);
    cached.partial = true;
    Some(cached)
}

/// The entries of `entries` that differ from what the record holds (`written`).
pub(super) fn changed<'a>(
    entries: &'a BTreeMap<String, Entry>,
    written: &BTreeMap<String, Entry>,
) -> Vec<(&'a String, &'a Entry)> {
    entries
        .iter()
        .filter(|(name, entry)| written.get(*name) != Some(*entry))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desired() -> DesiredWorker {
        crate::pass::minimal_desired()
    }

    fn script(modified_on: &str) -> Script {
        serde_json::from_value(serde_json::json!({
            "id": "api", "etag": "e1", "modified_on": modified_on,
        }))
        .expect("a script")
    }

    fn entry() -> Entry {
        Entry {
            modified_on: "2026-01-01T00:00:05Z".to_owned(),
            etag: Some("e1".to_owned()),
            migration_tag: None,
            version_id: "v1".to_owned(),
            version_tag: Some("c1".to_owned()),
            commit: "c1".to_owned(),
            digest: desired().digest,
            version_digest: desired().version_digest,
            secrets: vec!["TOKEN".to_owned()],
        }
    }

    #[test]
    fn an_entry_stands_for_the_worker_while_nobody_wrote_and_git_wants_it() {
        let listed = script("2026-01-01T00:00:05Z");
        let cached = cached_from("api", &entry(), &listed, &desired()).expect("adopted");
        assert!(cached.partial);
        assert_eq!(cached.live.active_version_id(), Some(("v1", 100.0)));
        assert_eq!(cached.live.secrets, ["TOKEN"]);
        assert_eq!(cached.known[0].digest, desired().digest);
        // What the view says is what the entry of it says: the round trip is exact.
        assert_eq!(entry_of(&cached, &listed), Some(entry()));
        // A write since (the listing moved) or other content in Git: not adopted.
        assert!(
            cached_from("api", &entry(), &script("2026-01-01T00:00:06Z"), &desired()).is_none()
        );
        let mut other = entry();
        other.digest = Digest::new("0".repeat(64));
        assert!(cached_from("api", &other, &listed, &desired()).is_none());
    }

    #[test]
    fn only_a_confirmed_view_running_gits_content_is_recorded() {
        let listed = script("2026-01-01T00:00:05Z");
        let cached = cached_from("api", &entry(), &listed, &desired()).expect("adopted");
        let mut unconfirmed = cached.clone();
        unconfirmed.written_at = Some("2026-01-01T00:00:09Z".to_owned());
        assert!(
            entry_of(&unconfirmed, &listed).is_none(),
            "own write not confirmed yet"
        );
        assert!(
            entry_of(&cached, &script("2026-01-01T00:00:06Z")).is_none(),
            "moved"
        );
        let mut split = cached.clone();
        if let Some(active) = split.live.active.as_mut() {
            active.versions[0].percentage = 90.0;
            active.versions.push(DeploymentVersion {
                version_id: "v2".to_owned(),
                percentage: 10.0,
            });
        }
        assert!(entry_of(&split, &listed).is_none(), "a split");
        let mut behind = cached;
        behind.desired_digest = Some(Digest::new("f".repeat(64)));
        assert!(
            entry_of(&behind, &listed).is_none(),
            "Git wants other content"
        );
    }

    #[test]
    fn metadata_stays_within_cloudflares_limit() {
        let value = entry().to_metadata().expect("fits");
        assert_eq!(Entry::from_metadata(&value), Some(entry()));
        let mut many = entry();
        many.secrets = (0..100).map(|i| format!("SECRET_{i}")).collect();
        assert!(many.to_metadata().is_none());
        assert!(Entry::from_metadata(&serde_json::json!({"other": "tool"})).is_none());
    }

    #[test]
    fn only_changed_entries_are_written() {
        let entries = BTreeMap::from([("a".to_owned(), entry()), ("b".to_owned(), entry())]);
        let written = BTreeMap::from([("a".to_owned(), entry())]);
        let changed: Vec<&String> = changed(&entries, &written)
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(changed, ["b"]);
    }
}
