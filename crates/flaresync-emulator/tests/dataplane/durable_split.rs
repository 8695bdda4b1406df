//! Durable Objects in a split deployment (SPEC-2 §6.5): each object runs exactly one version,
//! chosen from its id against the cumulative percentages, whichever version's Worker calls it;
//! a larger share for the second version moves objects onto it and none back; storage follows
//! the object.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::json;

use super::harness::{Plane, metadata, workerd};

const ROOMS: &str = r#"
export class Room {
  constructor(state, env) { this.state = state; this.env = env; }
  async fetch() {
    const n = ((await this.state.storage.get("n")) || 0) + 1;
    await this.state.storage.put("n", n);
    return new Response(`${this.env.VERSION.id} ${this.state.id.toString()} ${n}`);
  }
}
export default {
  async fetch(request, env) {
    const name = new URL(request.url).pathname.slice(1);
    const stub = env.ROOM.get(env.ROOM.idFromName(name));
    return new Response(`${env.VERSION.id} ${await (await stub.fetch("https://do/")).text()}`);
  },
};
"#;

fn bindings() -> serde_json::Value {
    json!([
        {"type": "version_metadata", "name": "VERSION"},
        {"type": "durable_object_namespace", "name": "ROOM", "class_name": "Room"},
    ])
}

/// One answer: (version of the Worker, version running the object, object id, count).
struct Answer {
    front: String,
    object_version: String,
    id: String,
    count: u64,
}

/// A request for `room` pinned to version `via`; `Err` with the answer when it is not a room's.
async fn try_call(plane: &Plane, room: &str, via: &str) -> Result<Answer, String> {
    let pin = format!("rooms=\"{via}\"");
    let (status, body) = plane
        .get(
            "rooms",
            &format!("/{room}"),
            &[("Cloudflare-Workers-Version-Overrides", &pin)],
        )
        .await;
    let parts: Vec<&str> = body.split(' ').collect();
    match (status, parts.as_slice()) {
        (200, [front, object_version, id, count]) => Ok(Answer {
            front: (*front).to_owned(),
            object_version: (*object_version).to_owned(),
            id: (*id).to_owned(),
            count: count.parse().map_err(|_| body.clone())?,
        }),
        _ => Err(format!("{status} {body}")),
    }
}

async fn call(plane: &Plane, room: &str, via: &str) -> Answer {
    try_call(plane, room, via)
        .await
        .unwrap_or_else(|answer| panic!("{room} via {via}: {answer}"))
}

/// Polls `room` via `via` until `done` holds (20 s at most).
async fn until(plane: &Plane, room: &str, via: &str, done: impl Fn(&Answer) -> bool) {
    let started = Instant::now();
    while !try_call(plane, room, via).await.is_ok_and(|a| done(&a)) {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{room} never satisfied the wait"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The point in [0, 100) Cloudflare's rule compares with the cumulative percentages.
fn point(id: &str) -> f64 {
    u64::from_str_radix(&id[..8], 16).expect("hex id") as f64 / 42_949_672.96
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_object_runs_the_version_its_id_falls_on_and_keeps_its_storage() {
    let Some(binary) = workerd() else { return };
    let plane = Plane::start(binary).await;
    let mut first = metadata(bindings());
    first["migrations"] = json!({"new_tag": "v1", "steps": [{"new_sqlite_classes": ["Room"]}]});
    let put = plane.put_script("rooms", ROOMS, first).await;
    assert_eq!(put["success"], json!(true), "{put}");
    let v1 = plane.current_versions("rooms").await.remove(0);
    let v2 = plane.upload_version("rooms", ROOMS, bindings()).await;
    plane.deploy("rooms", &[(&v1, 50.0), (&v2, 50.0)]).await;
    until(&plane, "probe", &v2, |a| a.front == v2).await;

    let rooms: Vec<String> = (0..24).map(|i| format!("room-{i}")).collect();
    let mut on = BTreeMap::new();
    for room in &rooms {
        let a = call(&plane, room, &v1).await;
        let b = call(&plane, room, &v2).await;
        assert_eq!(
            (a.front.as_str(), b.front.as_str()),
            (v1.as_str(), v2.as_str())
        );
        assert_eq!(
            a.object_version, b.object_version,
            "{room}: one version per object"
        );
        assert_eq!(b.count, a.count + 1, "{room}: one storage");
        let expected = if point(&a.id) < 50.0 { &v1 } else { &v2 };
        assert_eq!(&a.object_version, expected, "{room} at {}", point(&a.id));
        on.insert(room.clone(), (a.id, a.object_version, b.count));
    }
    let versions: std::collections::BTreeSet<&String> = on.values().map(|(_, v, _)| v).collect();
    assert_eq!(versions.len(), 2, "both versions run objects: {on:?}");

    // v2 grows to 90%: objects between 10 and 50 move to it, none leaves it, data follows.
    plane.deploy("rooms", &[(&v1, 10.0), (&v2, 90.0)]).await;
    let mover = on
        .iter()
        .find(|(_, (id, _, _))| (10.0..50.0).contains(&point(id)))
        .map(|(room, _)| room.clone())
        .expect("a room between 10 and 50");
    until(&plane, &mover, &v1, |a| a.object_version == v2).await;
    for (room, (id, before, count)) in &on {
        let now = call(&plane, room, &v1).await;
        let expected = if point(id) < 10.0 { &v1 } else { &v2 };
        assert_eq!(&now.object_version, expected, "{room} at {}", point(id));
        if before == &v2 {
            assert_eq!(now.object_version, v2, "{room} never goes back");
        }
        assert!(now.count > *count, "{room}: storage followed the object");
    }
}
