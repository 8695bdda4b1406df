//! Requests on custom domains and route patterns reach their Worker's current deployment, the
//! most specific route winning, whether or not the Worker's workers.dev route is on.

use reqwest::Method;
use serde_json::json;

use super::harness::{Plane, metadata, workerd};

fn named(name: &str) -> String {
    format!("export default {{ fetch() {{ return new Response({name:?}); }} }};")
}

#[tokio::test]
async fn routes_and_custom_domains_reach_their_worker() {
    let Some(workerd) = workerd() else { return };
    let plane = Plane::start(workerd).await;
    for name in ["api", "edge", "shop"] {
        let put = plane
            .put_script(name, &named(name), metadata(json!([])))
            .await;
        assert_eq!(put["success"], json!(true), "{put}");
    }
    let account = plane.emu.account_id().to_owned();
    // workers.dev off for api: its routes still serve it.
    plane
        .call(
            Method::POST,
            &format!("/accounts/{account}/workers/scripts/api/subdomain"),
            json!({"enabled": false}),
        )
        .await;
    let zones = plane
        .call(Method::GET, "/zones?name=example.com", json!(null))
        .await;
    let zone = zones["result"][0]["id"]
        .as_str()
        .expect("seeded zone")
        .to_owned();
    let routes = format!("/zones/{zone}/workers/routes");
    for (pattern, script) in [
        ("*example.com/*", Some("edge")),
        ("api.example.com/*", Some("api")),
        ("api.example.com/static/*", None),
    ] {
        let body = match script {
            Some(script) => json!({"pattern": pattern, "script": script}),
            None => json!({"pattern": pattern}),
        };
        let created = plane.call(Method::POST, &routes, body).await;
        assert_eq!(created["success"], json!(true), "{created}");
    }
    let attached = plane
        .call(
            Method::PUT,
            &format!("/accounts/{account}/workers/domains"),
            json!({"hostname": "shop.example.com", "service": "shop"}),
        )
        .await;
    assert_eq!(attached["success"], json!(true), "{attached}");

    let mut answer = (0, String::new());
    for _ in 0..500 {
        answer = plane.get_host("shop.example.com", "/cart", &[]).await;
        // The data plane follows the control plane within a poll: wait for the last write.
        if answer == (200, "shop".to_owned()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        answer,
        (200, "shop".to_owned()),
        "the custom domain wins over *example.com/*"
    );
    assert_eq!(
        plane.get_host("api.example.com", "/v1/users", &[]).await,
        (200, "api".to_owned())
    );
    assert_eq!(
        plane.get_host("www.example.com:8787", "/", &[]).await,
        (200, "edge".to_owned())
    );
    assert_eq!(
        plane
            .get_host("api.example.com", "/static/a.css", &[])
            .await
            .0,
        404,
        "a route without a Worker"
    );
    assert_eq!(plane.get_host("example.org", "/", &[]).await.0, 404);
    assert_eq!(
        plane.get("api", "/", &[]).await.0,
        404,
        "workers.dev is off for api"
    );
}
