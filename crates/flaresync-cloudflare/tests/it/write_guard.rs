//! The write guard: a refused write never reaches the API, reads still do, and an allowed write
//! goes out as usual. (flaresync's PostgreSQL lease is such a guard.)

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use flaresync_cloudflare::{Error, WriteGuard};

use crate::emulator::{COMMIT_1, WORKER, client, emulator, metadata, modules};

#[derive(Debug, Default)]
struct Switch {
    allow: AtomicBool,
    asked: AtomicUsize,
}

#[derive(Debug, thiserror::Error)]
#[error("the lease was taken over by replica-b")]
struct TakenOver;

impl WriteGuard for Switch {
    fn allow_write(
        &self,
        _method: &str,
        _path: &str,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        if self.allow.load(Ordering::SeqCst) {
            Ok(())
        } else {
            Err(Box::new(TakenOver))
        }
    }
}

fn writes(emulator: &flaresync_emulator::testing::TestEmulator) -> usize {
    emulator
        .requests()
        .iter()
        .filter(|r| r.method != "GET")
        .count()
}

#[tokio::test]
async fn a_refused_write_is_never_sent_and_reads_are_not_asked_about() {
    let emulator = emulator().await;
    let client = client(&emulator);
    let guard = Arc::new(Switch::default());
    assert!(client.set_write_guard(guard.clone()));
    assert!(
        !client.set_write_guard(Arc::new(Switch::default())),
        "the first guard stays"
    );

    let error = client
        .upload_script(WORKER, &metadata(COMMIT_1, None), &modules("hello"))
        .await
        .expect_err("fenced");
    assert!(matches!(error, Error::Fenced { .. }), "{error:?}");
    assert!(error.to_string().contains("replica-b"), "{error}");
    assert_eq!(error.reason(), "LeaseLost");
    assert_eq!(writes(&emulator), 0, "nothing reached the API");
    let asked = guard.asked.load(Ordering::SeqCst);
    assert_eq!(asked, 1, "one check, no retry of a refused write");

    client.list_scripts().await.expect("reads go out");
    assert_eq!(
        guard.asked.load(Ordering::SeqCst),
        asked,
        "reads are not checked"
    );

    guard.allow.store(true, Ordering::SeqCst);
    client
        .upload_script(WORKER, &metadata(COMMIT_1, None), &modules("hello"))
        .await
        .expect("allowed write");
    assert_eq!(writes(&emulator), 1);
}
