//! Which listed version holds which commit: version tags (with secret-change copies), the
//! journal's versions past Cloudflare's window, and the Git mapping of tags to desired states.

use std::collections::{BTreeMap, BTreeSet};

use flaresync_config::MigrationStep;
use flaresync_journal::{Action as JournalAction, Journal, Outcome};
use flaresync_plan::{DeclaredTriggers, KnownVersion};

use crate::error::Error;

/// `(version id, workers/tag)` as listed.
pub type ListedVersion = (String, Option<String>);

/// Cloudflare versions of `worker` (id, `workers/tag`) mapped to the commits they were built
/// from, with the digests, migrations, exports, routes and queue consumers of the desired state
/// at each commit. Versions
/// whose tag names no commit of the repository are left out (they were uploaded elsewhere).
///
/// # Errors
///
/// Reading a commit's desired state failed.
pub fn known_versions(
    repo: &flaresync_git::Repository,
    cache: &mut flaresync_git::DesiredStateCache,
    worker: &str,
    versions: &[(String, Option<String>)],
) -> Result<Vec<KnownVersion>, flaresync_git::DesiredError> {
    let mapping = flaresync_git::rebuild_mapping(repo, cache, worker, versions)?;
    let mut known = Vec::new();
    for version in mapping.known {
        let (migrations, exports, declared): (Vec<MigrationStep>, Option<String>, _) = cache
            .desired_state(repo, version.commit)
            .ok()
            .and_then(|state| {
                state.worker(worker).map(|w| {
                    (
                        w.spec.migrations.clone(),
                        w.spec.exports.clone(),
                        Some(DeclaredTriggers::of(&w.spec)),
                    )
                })
            })
            .unwrap_or_default();
        known.push(KnownVersion {
            version_id: version.version_id,
            commit: version.commit.to_string(),
            digest: version.digest,
            version_digest: version.version_digest,
            migrations,
            exports,
            secrets_fingerprint: None,
            declared,
        });
    }
    Ok(known)
}

/// `(id, commit tag)` of each listed version, in list order: the input of [`known_versions`].
/// Use it rather than the raw `workers/tag` annotations (`plan --live` and the loop must agree).
///
/// A secret change (`wrangler secret put`, the dashboard) makes Cloudflare copy the latest
/// version, which must be fully deployed, with only the secret changed, and deploy the copy
/// (`workers/triggered_by = "secret"`, no `workers/tag`). Such a copy holds the same code and
/// bindings as the version numbered just before it, so it carries that version's tag: flaresync
/// sees the content Git deployed (in sync, a rollback candidate) rather than an unmanaged
/// version to replace, which would silently drop the new secret.
pub fn version_tags(
    versions: &[flaresync_cloudflare::VersionSummary],
) -> Vec<(String, Option<String>)> {
    let mut by_number: Vec<(u64, &flaresync_cloudflare::VersionSummary)> = versions
        .iter()
        .filter_map(|v| v.number.map(|n| (n, v)))
        .collect();
    by_number.sort_by_key(|(number, _)| *number);
    let mut inherited: BTreeMap<&str, String> = BTreeMap::new();
    let mut previous: Option<(u64, Option<String>)> = None;
    for (number, version) in by_number {
        let own = version.tag().map(str::to_owned);
        let is_secret_copy =
            own.is_none() && version.annotations.triggered_by.as_deref() == Some("secret");
        let effective = match (&previous, is_secret_copy) {
            (Some((before, Some(tag))), true) if before + 1 == number => {
                inherited.insert(version.id.as_str(), tag.clone());
                Some(tag.clone())
            }
            _ => own,
        };
        previous = Some((number, effective));
    }
    versions
        .iter()
        .map(|v| {
            let tag = v
                .tag()
                .map(str::to_owned)
                .or_else(|| inherited.get(v.id.as_str()).cloned());
            (v.id.clone(), tag)
        })
        .collect()
}

/// Versions flaresync built (journal: successful uploads and deploys, with their commit) that
/// Cloudflare no longer lists as deployable, as `(id, commit)`.
///
/// They can never be deployed again, but knowing them lets the planner tell a revert to old
/// content (refused with FS001, or redeployed under `rollback_policy = "redeploy"`) from a new
/// change; without them such a revert would silently become an upload. Only used to refuse or
/// explain, never to deploy, so local state is enough here.
///
/// Append the result to [`version_tags`] before [`known_versions`] (as `plan --live` should).
///
/// # Errors
///
/// The journal could not be read.
pub fn beyond_window(
    journal: &Journal,
    worker: &str,
    listed: &[flaresync_cloudflare::VersionSummary],
) -> Result<Vec<(String, Option<String>)>, Error> {
    let listed: BTreeSet<&str> = listed.iter().map(|v| v.id.as_str()).collect();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut out = Vec::new();
    for recorded in journal.history(worker)? {
        let entry = recorded.entry;
        // A rollback entry's commit is the head, not the commit the version was built from.
        if entry.outcome != Outcome::Success
            || !matches!(entry.action, JournalAction::Upload | JournalAction::Deploy)
        {
            continue;
        }
        let (Some(version), Some(commit)) = (entry.version_id, entry.commit) else {
            continue;
        };
        if listed.contains(version.as_str()) || !seen.insert(version.clone()) {
            continue;
        }
        out.push((version, Some(commit)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(
        id: &str,
        number: u64,
        tag: Option<&str>,
        triggered_by: &str,
    ) -> flaresync_cloudflare::VersionSummary {
        serde_json::from_value(serde_json::json!({
            "id": id,
            "number": number,
            "metadata": {},
            "annotations": {"workers/tag": tag, "workers/triggered_by": triggered_by},
        }))
        .expect("a version summary")
    }

    #[test]
    fn a_secret_copy_carries_the_tag_of_the_version_it_copies() {
        // Newest first, as listed.
        let versions = vec![
            summary("v6", 6, None, "secret"),
            summary("v5", 5, None, "upload"),
            summary("v4", 4, None, "secret"),
            summary("v3", 3, None, "secret"),
            summary("v2", 2, Some("c2"), "upload"),
            summary("v1", 1, Some("c1"), "upload"),
        ];
        let tags = version_tags(&versions);
        let tag = |id: &str| {
            tags.iter()
                .find(|(v, _)| v == id)
                .and_then(|(_, t)| t.clone())
        };
        assert_eq!(tags.len(), 6);
        assert_eq!(tags[0].0, "v6", "list order is kept");
        assert_eq!(tag("v1").as_deref(), Some("c1"));
        assert_eq!(tag("v3").as_deref(), Some("c2"), "copy of v2");
        assert_eq!(tag("v4").as_deref(), Some("c2"), "copy of a copy");
        assert_eq!(tag("v5"), None, "an upload from elsewhere stays unknown");
        assert_eq!(
            tag("v6"),
            None,
            "a copy of an unknown version stays unknown"
        );
        // A gap in the numbers: the copied version is not listed, nothing is inherited.
        let gap = version_tags(&[
            summary("v9", 9, None, "secret"),
            summary("v7", 7, Some("c7"), "upload"),
        ]);
        assert_eq!(gap[0].1, None);
    }
}
