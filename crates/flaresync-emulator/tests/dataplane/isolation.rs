//! One broken Worker never stops the others: a request that loops forever (workerd has no CPU
//! limit, and one process runs every Worker) and a workerd process that dies.

use std::time::Duration;

use serde_json::json;

use super::harness::{Plane, metadata, workerd};

const GOOD: &str = r#"export default { fetch() { return new Response("good"); } };"#;

const LOOPS: &str = r#"
export default {
  fetch(request) {
    if (new URL(request.url).pathname === "/spin") { while (true) {} }
    return new Response("loop ok");
  },
};
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_loops_forever_is_stopped_and_the_other_workers_serve_again() {
    let Some(workerd) = workerd() else { return };
    let plane = std::sync::Arc::new(Plane::start(workerd).await);
    for (name, source) in [("good", GOOD), ("loops", LOOPS)] {
        let put = plane.put_script(name, source, metadata(json!([]))).await;
        assert_eq!(put["success"], json!(true), "{put}");
    }
    plane.until("good", "/", |s, _| s == 200).await;
    plane.until("loops", "/", |s, _| s == 200).await;

    let spinning = plane.clone();
    let spin = tokio::spawn(async move { spinning.get("loops", "/spin", &[]).await });
    // Without the watchdog the looping request never ends (a hang guard, not a measurement).
    let (status, body) = tokio::time::timeout(Duration::from_secs(120), spin)
        .await
        .expect("the looping request was stopped")
        .expect("request task");
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains("error code: 1102") && body.contains("CPU"),
        "{body}"
    );
    let (status, body) = plane.until("good", "/", |s, _| s == 200).await;
    assert_eq!((status, body.as_str()), (200, "good"));
    // The looping Worker itself still serves its other paths.
    let (_, body) = plane.until("loops", "/", |s, _| s == 200).await;
    assert_eq!(body, "loop ok");
}

#[tokio::test]
async fn a_workerd_process_that_dies_is_started_again() {
    let Some(workerd) = workerd() else { return };
    let plane = Plane::start(workerd).await;
    let put = plane.put_script("good", GOOD, metadata(json!([]))).await;
    assert_eq!(put["success"], json!(true), "{put}");
    plane.until("good", "/", |s, _| s == 200).await;
    let pids = plane.workerd_pids();
    assert_eq!(pids.len(), 1, "one workerd serves: {pids:?}");
    let killed = std::process::Command::new("kill")
        .args(["-9", &pids[0]])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let (status, body) = plane.until("good", "/", |s, _| s == 200).await;
    assert_eq!((status, body.as_str()), (200, "good"));
    let again = plane.workerd_pids();
    assert!(
        again.len() == 1 && again != pids,
        "a new process serves: {pids:?} -> {again:?}"
    );
}
