//! What flaresync's own writes leave behind: the cached view of a Worker after its steps, built
//! from the write answers (the uploaded version, the deployment created), and the check that
//! lets the next pass's scripts listing confirm that view instead of re-reading the Worker.
//!
//! Every upload and deployment moves the script's `modified_on` in the scripts listing. When
//! the listing's `modified_on` is no later than flaresync's own last write (and the migration
//! tag is the one flaresync left), nobody wrote after it, so the cached view, which already
//! holds that write, is current. A later `modified_on` (a human's `wrangler rollback`, another
//! flaresync), another migration tag, or a timestamp that does not parse means reading the
//! Worker again, as for any other change.

use chrono::DateTime;
use flaresync_cloudflare::{Script, ScriptUpload};
use flaresync_config::QueueConsumer;
use flaresync_plan::{
    DeploymentVersion, DesiredWorker, KnownVersion, LiveDeployment, LiveVersion, LiveWorker,
};

use super::step::WorkerWrites;
use crate::pass::{memory::CachedWorker, source::SourceRead};

/// The version and deployment a script upload (`PUT …/scripts/{s}`) created, as far as its
/// answer tells: it creates version `version_id` (numbered `number`, the next after the
/// newest the pass saw) and deploys it at 100%, without naming the deployment.
pub(super) fn script_upload_records(
    uploaded: &ScriptUpload,
    version_id: &str,
    number: u64,
    source: &SourceRead,
) -> (LiveVersion, LiveDeployment) {
    let at = uploaded.modified_on.clone().unwrap_or_default();
    let version = LiveVersion {
        id: version_id.to_owned(),
        number,
        created_on: at.clone(),
        tag: Some(source.tag.clone()),
        message: Some(source.message.clone()),
        triggered_by: Some("upload".to_owned()),
        migration_tag: uploaded.migration_tag.clone(),
        // Like a listed version: its bindings were not read, so it claims no details.
        ..LiveVersion::default()
    };
    let deployment = LiveDeployment {
        id: String::new(),
        created_on: at,
        triggered_by: Some("upload".to_owned()),
        versions: vec![DeploymentVersion {
            version_id: version_id.to_owned(),
            percentage: 100.0,
        }],
        ..LiveDeployment::default()
    };
    (version, deployment)
}

/// The cached view of `name` after this pass's successful steps `writes`, from the view
/// `before` them and the answers to the writes. `None` when the answers do not say enough
/// (a deployment verified by re-reading), so the next pass reads the Worker again.
pub(in crate::pass) fn cached_after(
    before: Option<CachedWorker>,
    writes: &WorkerWrites,
    name: &str,
    desired: &DesiredWorker,
    head: &str,
) -> Option<CachedWorker> {
    let Some(written_at) = writes.written_at.clone() else {
        // Settings only (or nothing): the script itself did not move.
        return if writes.deployed.is_some() || writes.uploaded.is_some() {
            None
        } else {
            before.map(|mut cached| {
                note_triggers(&mut cached.live, writes, desired, false);
                cached
            })
        };
    };
    let deployment = writes.deployment.clone()?;
    if writes.uploaded.is_some()
        && writes.uploaded_version.as_ref().map(|v| &v.id) != writes.uploaded.as_ref()
    {
        // Another flaresync's copy of the commit was adopted: its version was never read.
        return None;
    }
    let script_upload = matches!(writes.deployed, Some((_, None)));
    let created = script_upload && before.as_ref().is_none_or(|cached| !cached.live.exists);
    let mut cached = match before {
        Some(cached) => cached,
        None if script_upload => {
            CachedWorker::new(None, None, crate::observe::ObservedWorker::missing(name))
        }
        None => return None,
    };
    if let Some(version) = &writes.uploaded_version {
        let live = &mut cached.live;
        live.versions.retain(|v| v.id != version.id);
        live.versions.insert(0, version.clone());
        cached.known.retain(|k| k.version_id != version.id);
        cached.known.insert(
            0,
            KnownVersion {
                version_id: version.id.clone(),
                commit: head.to_owned(),
                digest: desired.digest.clone(),
                version_digest: desired.version_digest.clone(),
                migrations: desired.spec.migrations.clone(),
                exports: desired.spec.exports.clone(),
                secrets_fingerprint: None,
                declared: Some(flaresync_plan::DeclaredTriggers::of(&desired.spec)),
            },
        );
        cached.commits.insert(version.id.clone(), head.to_owned());
    }
    let live = &mut cached.live;
    note_triggers(live, writes, desired, created);
    live.exists = true;
    live.deployments.insert(0, deployment.clone());
    live.active = Some(deployment);
    if let Some(tag) = &writes.migrated_to {
        live.migration_tag = Some(tag.clone());
    }
    cached.desired_digest = Some(desired.digest.clone());
    cached.written_at = Some(written_at);
    cached.bound_history();
    Some(cached)
}

/// What the steps tell of the Worker's routes and queue consumers (not versioned): Git's after
/// the settings step wrote them, after any successful apply when they were known before (the
/// plan wrote them if they differed), and for a Worker this pass created (nothing could name
/// it before). Otherwise they stay unknown, and a rollback reads them.
fn note_triggers(
    live: &mut LiveWorker,
    writes: &WorkerWrites,
    desired: &DesiredWorker,
    created: bool,
) {
    let wrote = |field: &str| {
        writes
            .settings
            .iter()
            .any(|f| f == field || f == "script_settings")
    };
    let spec = &desired.spec;
    if created || live.routes.is_some() || wrote("routes") {
        live.routes = Some(spec.routes.clone());
    }
    if created || live.queue_consumers.is_some() || wrote("queue_consumers") {
        live.queue_consumers = Some(spec.queue_consumers.clone());
    }
}

/// What a step of a Worker needs from the pass's memory: its live view and
/// [`applied_consumers`].
pub(super) fn step_view(
    cached: Option<&CachedWorker>,
) -> (Option<&LiveWorker>, Vec<QueueConsumer>) {
    (
        cached.map(|cached| &cached.live),
        cached.map(applied_consumers).unwrap_or_default(),
    )
}

/// The queue consumers flaresync last applied for a Worker, when known: those its own writes
/// left (see [`note_triggers`]), else those Git declared at the commit of the version that
/// runs. Empty when neither is known.
pub(super) fn applied_consumers(cached: &CachedWorker) -> Vec<QueueConsumer> {
    if let Some(consumers) = &cached.live.queue_consumers {
        return consumers.clone();
    }
    cached
        .live
        .active_version_id()
        .and_then(|(id, _)| cached.known.iter().find(|k| k.version_id == id))
        .and_then(|known| known.declared.as_ref())
        .map(|declared| declared.queue_consumers.clone())
        .unwrap_or_default()
}

/// Whether the scripts listing's entry `listed` shows nothing newer than flaresync's own last
/// write recorded in `cached` (see the module docs).
pub(in crate::pass) fn listing_confirms(cached: &CachedWorker, listed: &Script) -> bool {
    let Some(written_at) = cached.written_at.as_deref() else {
        return false;
    };
    let parse = |text: &str| DateTime::parse_from_rfc3339(text).ok();
    let (Some(ours), Some(modified)) = (
        parse(written_at),
        listed.modified_on.as_deref().and_then(parse),
    ) else {
        return false;
    };
    modified <= ours && listed.migration_tag == cached.live.migration_tag
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(modified_on: &str, migration_tag: Option<&str>) -> Script {
        serde_json::from_value(serde_json::json!({
            "id": "api", "etag": "e2", "modified_on": modified_on, "migration_tag": migration_tag,
        }))
        .expect("a script")
    }

    fn written(at: Option<&str>) -> CachedWorker {
        let mut cached =
            CachedWorker::new(None, None, crate::observe::ObservedWorker::missing("api"));
        cached.written_at = at.map(str::to_owned);
        cached
    }

    #[test]
    fn the_listing_confirms_only_what_nobody_wrote_after() {
        let ours = written(Some("2026-01-01T00:00:05.000100Z"));
        assert!(listing_confirms(
            &ours,
            &script("2026-01-01T00:00:05.000100Z", None)
        ));
        assert!(
            listing_confirms(&ours, &script("2026-01-01T00:00:05Z", None)),
            "an earlier stamp in another precision is still ours"
        );
        assert!(
            !listing_confirms(&ours, &script("2026-01-01T00:00:05.000200Z", None)),
            "a write after ours (a hand rollback)"
        );
        assert!(
            !listing_confirms(&ours, &script("2026-01-01T00:00:04Z", Some("v1"))),
            "a migration flaresync did not apply"
        );
        assert!(!listing_confirms(&ours, &script("yesterday", None)));
        assert!(!listing_confirms(
            &written(None),
            &script("2026-01-01T00:00:05Z", None)
        ));
    }

    fn desired() -> DesiredWorker {
        crate::pass::minimal_desired()
    }

    fn deployed(version: &str, at: &str) -> WorkerWrites {
        WorkerWrites {
            deployed: Some((version.to_owned(), Some("d2".to_owned()))),
            deployment: Some(LiveDeployment {
                id: "d2".to_owned(),
                created_on: at.to_owned(),
                versions: vec![DeploymentVersion {
                    version_id: version.to_owned(),
                    percentage: 100.0,
                }],
                ..LiveDeployment::default()
            }),
            written_at: Some(at.to_owned()),
            ..WorkerWrites::default()
        }
    }

    #[test]
    fn an_upload_and_its_deployment_become_the_cached_view() {
        let mut before = written(None);
        before.live.exists = true;
        let mut writes = deployed("v2", "2026-01-01T00:00:09Z");
        writes.uploaded = Some("v2".to_owned());
        writes.uploaded_version = Some(LiveVersion {
            id: "v2".to_owned(),
            number: 2,
            ..LiveVersion::default()
        });
        let after = cached_after(Some(before), &writes, "api", &desired(), "c2").expect("known");
        assert_eq!(after.live.active_version_id(), Some(("v2", 100.0)));
        assert_eq!(after.live.versions[0].id, "v2");
        assert_eq!(after.commits.get("v2").map(String::as_str), Some("c2"));
        assert_eq!(after.known[0].digest, desired().digest);
        assert_eq!(after.desired_digest, Some(desired().digest));
        assert_eq!(after.written_at.as_deref(), Some("2026-01-01T00:00:09Z"));
    }

    #[test]
    fn answers_that_say_too_little_leave_the_worker_to_be_read() {
        let mut reread = deployed("v2", "2026-01-01T00:00:09Z");
        reread.deployment = None;
        assert!(cached_after(Some(written(None)), &reread, "api", &desired(), "c2").is_none());
        // A version upload for a Worker the pass had no view of.
        let unseen = deployed("v2", "2026-01-01T00:00:09Z");
        assert!(cached_after(None, &unseen, "api", &desired(), "c2").is_none());
        // Another flaresync's copy adopted instead of this pass's upload.
        let mut adopted = deployed("v1", "2026-01-01T00:00:09Z");
        adopted.uploaded = Some("v1".to_owned());
        assert!(cached_after(Some(written(None)), &adopted, "api", &desired(), "c2").is_none());
        // Settings only: the script did not move, the view stays.
        let settings = WorkerWrites {
            settings: vec!["crons".to_owned()],
            ..WorkerWrites::default()
        };
        let kept = cached_after(Some(written(None)), &settings, "api", &desired(), "c2");
        assert!(kept.is_some_and(|cached| cached.written_at.is_none()));
    }

    #[test]
    fn routes_and_consumers_are_known_only_when_the_apply_settled_them() {
        // A Worker this pass created: nothing could route to it or consume for it before.
        let mut created = deployed("v1", "2026-01-01T00:00:09Z");
        created.deployed = Some(("v1".to_owned(), None));
        let after = cached_after(None, &created, "api", &desired(), "c1").expect("known");
        assert_eq!(after.live.routes.as_deref(), Some(&[][..]));
        assert_eq!(after.live.queue_consumers.as_deref(), Some(&[][..]));
        // An existing Worker whose routes were never read or written stays unknown.
        let mut before = written(None);
        before.live.exists = true;
        let after = cached_after(
            Some(before.clone()),
            &deployed("v2", "2026-01-01T00:00:10Z"),
            "api",
            &desired(),
            "c2",
        )
        .expect("known");
        assert!(after.live.routes.is_none() && after.live.queue_consumers.is_none());
        // The settings step wrote the routes: Git's are live; consumers still unknown.
        let mut routed = deployed("v2", "2026-01-01T00:00:10Z");
        routed.settings = vec!["routes".to_owned()];
        let after = cached_after(Some(before), &routed, "api", &desired(), "c2").expect("known");
        assert_eq!(after.live.routes, Some(desired().spec.routes));
        assert!(after.live.queue_consumers.is_none());
    }
}
