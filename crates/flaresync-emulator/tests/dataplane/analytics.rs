//! CPU time in GraphQL analytics is measured from workerd's process, not copied from the wall
//! time: a Worker that waits 300 ms on a timer spends far less CPU than wall time.

use serde_json::json;

use super::harness::{Plane, metadata, workerd};

const SLEEPER: &str = r#"
export default {
  async fetch() {
    await new Promise((resolve) => setTimeout(resolve, 300));
    return new Response("rested");
  },
};
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpu_quantiles_come_from_measured_cpu_not_wall_time() {
    let Some(binary) = workerd() else { return };
    let plane = Plane::start(binary).await;
    let put = plane
        .put_script("sleeper", SLEEPER, metadata(json!([])))
        .await;
    assert_eq!(put["success"], json!(true), "{put}");
    plane.until("sleeper", "/", |s, _| s == 200).await;
    for _ in 0..5 {
        assert_eq!(plane.get("sleeper", "/", &[]).await.1, "rested");
    }
    let query = "query($a: string!) { viewer { accounts(filter: {accountTag: $a}) {
        workersInvocationsAdaptive(limit: 10, filter: {scriptName: \"sleeper\"}) {
          sum { requests } quantiles { cpuTimeP50 cpuTimeP99 wallTimeP50 } } } } }";
    let answer = plane
        .graphql(query, json!({"a": plane.emu.account_id()}))
        .await;
    let row = &answer["data"]["viewer"]["accounts"][0]["workersInvocationsAdaptive"][0];
    let quantiles = &row["quantiles"];
    let (cpu_p50, cpu_p99, wall_p50) = (
        quantiles["cpuTimeP50"].as_f64().unwrap_or(-1.0),
        quantiles["cpuTimeP99"].as_f64().unwrap_or(-1.0),
        quantiles["wallTimeP50"].as_f64().unwrap_or(-1.0),
    );
    assert!(row["sum"]["requests"].as_u64() >= Some(5), "{answer}");
    assert!(wall_p50 >= 300_000.0, "the timer is wall time: {answer}");
    assert!(
        (0.0..wall_p50 / 2.0).contains(&cpu_p50) && cpu_p99 >= cpu_p50,
        "waiting is not CPU: {answer}"
    );
}
