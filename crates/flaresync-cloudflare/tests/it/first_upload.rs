//! A new Worker's first upload (`PUT …/scripts/{name}`) under faults: before the script exists,
//! the tag lookup that guards a retry answers 404 / 10007, which means "not created yet" (send
//! the upload again), not a failed verification.

use flaresync_emulator::FaultKind;

use crate::emulator::{COMMIT_1, WORKER, client, count, emulator, metadata, modules};

/// Uploads the first version of [`WORKER`] after `kind` hit the first attempt, and checks it
/// landed exactly once after `puts` PUT requests.
async fn first_upload_after(kind: FaultKind, puts: usize) {
    let emulator = emulator().await;
    let client = client(&emulator);
    emulator.fault("PUT", &format!("/workers/scripts/{WORKER}$"), kind, 1);
    let upload = client
        .upload_script(WORKER, &metadata(COMMIT_1, None), &modules("one"))
        .await
        .unwrap_or_else(|e| panic!("{kind:?} on the first PUT is retried: {e}"));
    let versions = client.list_versions(WORKER).await.expect("versions");
    assert_eq!(versions.len(), 1, "exactly one version after {kind:?}");
    assert_eq!(
        upload.version_id().as_deref(),
        Some(versions[0].id.as_str())
    );
    assert_eq!(
        count(&emulator, "PUT", &format!("/scripts/{WORKER}")),
        puts,
        "{kind:?}"
    );
}

#[tokio::test]
async fn a_server_error_on_a_new_workers_first_upload_is_retried() {
    first_upload_after(FaultKind::Status, 2).await;
}

#[tokio::test]
async fn a_dropped_connection_on_a_new_workers_first_upload_is_retried() {
    first_upload_after(FaultKind::Drop, 2).await;
}

#[tokio::test]
async fn a_lost_answer_on_a_new_workers_first_upload_is_not_repeated() {
    first_upload_after(FaultKind::FailAfterCommit, 1).await;
}
