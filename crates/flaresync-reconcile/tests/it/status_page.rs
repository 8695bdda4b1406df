//! The status page (`GET /`) of the loop's status server, rendered by a real headless
//! Chromium: Workers, versions, commits, a blocked rollback with its rule and fix, a hand-made
//! deployment (drift), and a commit message that tries to inject HTML.

use std::time::Duration;

use flaresync_cloudflare::NewDeployment;
use flaresync_reconcile::{RunConfig, server::AdminToken};

use crate::{
    chromium,
    run::{spawn_loop, status_listener, stop_loop, wait_for_status, worker_field},
    support::{active_deployment, context, journal_path, put_secret, start},
};

/// A commit subject that would add an element and change the title if it were not escaped.
const INJECTION: &str = r#"web: <b id="injected">x</b><script>document.title='pwned'</script><img src=x onerror="document.title='pwned'">"#;

async fn pass(ctx: &flaresync_reconcile::Context) {
    crate::support::sync(ctx).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_renders_workers_versions_commits_a_blocked_rollback_and_drift() {
    let Some(browser) = chromium::binary() else {
        return;
    };
    let (emulator, mut repo, state, ctx) = start(
        &[("api", "api-1"), ("jobs", "jobs-1"), ("web", "web-1")],
        "initial",
    )
    .await;
    pass(&ctx).await;
    let jobs_v1 = active_deployment(&ctx, "jobs").await.versions[0]
        .version_id
        .clone();
    repo.set_body("jobs", "jobs-2");
    repo.commit("jobs v2");
    repo.set_body("web", "web-2");
    let web_commit = repo.commit(INJECTION);
    pass(&ctx).await;
    let web_version = active_deployment(&ctx, "web").await.versions[0]
        .version_id
        .clone();
    // api: a new version, a secret set on it, then a revert: blocked by FS006.
    repo.set_body("api", "api-2");
    repo.commit("api v2");
    pass(&ctx).await;
    put_secret(&emulator, "api", "API_KEY", "s3cret-value").await;
    pass(&ctx).await;
    repo.revert_head();
    pass(&ctx).await;
    // jobs: someone rolls back by hand (`wrangler rollback`).
    crate::support::deploy_by_hand(
        &ctx,
        "jobs",
        NewDeployment::single(&jobs_v1, Some("hand rollback by on-call".into())),
    )
    .await;

    // A restarted flaresync: its timeline starts from the journal.
    drop(ctx);
    let ctx = context(&repo, &emulator, &journal_path(&state));
    let (listener, base) = status_listener().await;
    let config = RunConfig {
        poll_interval: None,
        status_listener: Some(listener),
        admin_token: AdminToken::new("page-admin"),
        shutdown_grace: Duration::from_secs(5),
        reconcile_on_sighup: false,
        ..RunConfig::default()
    };
    let (stop, task) = spawn_loop(&ctx, config);
    let http = reqwest::Client::new();
    let status = wait_for_status(&http, &base, "the startup pass", |s| {
        s["passes"].as_u64().is_some_and(|n| n >= 1)
    })
    .await;
    assert!(
        worker_field(&status, "api", "blocked").is_array(),
        "{status:#}"
    );

    let answer = http.get(format!("{base}/")).send().await.expect("answers");
    assert_eq!(answer.status(), 200);
    let csp = answer.headers().get("content-security-policy").cloned();
    assert!(csp.is_some_and(|v| v.to_str().is_ok_and(|v| v.contains("default-src 'none'"))));

    let dom = chromium::dump_dom(&browser, &format!("{base}/")).await;
    if let Ok(path) = std::env::var("FLARESYNC_PAGE_SCREENSHOT") {
        chromium::screenshot(&browser, &format!("{base}/"), path.as_ref(), 1100, 1400).await;
    }
    stop_loop(stop, task).await;

    assert!(dom.contains("<title>flaresync status</title>"), "{dom}");
    for worker in ["api", "jobs", "web"] {
        assert!(
            dom.contains(&format!("id=\"worker-{worker}\"")),
            "{worker} missing"
        );
    }
    // web: its live version, its commit and the commit message, escaped.
    assert!(
        dom.contains(&format!(">{}<", &web_version[..8])),
        "web's version"
    );
    assert!(dom.contains(&format!("title=\"{web_commit}\">{}<", &web_commit[..7])));
    assert!(
        dom.contains("web: &lt;b id=\"injected\"&gt;x&lt;/b&gt;&lt;script&gt;"),
        "{dom}"
    );
    assert!(
        dom.contains("(Alice Author &lt;alice@example.com&gt;)"),
        "the author"
    );
    assert!(!dom.contains("<b id=\"injected\">") && !dom.contains("pwned</title>"));
    // api: blocked, with the rule and the fix.
    let card = |worker: &str| {
        let start = dom.find(&format!("id=\"worker-{worker}\"")).unwrap_or(0);
        let end = dom[start..]
            .find("</article>")
            .map_or(dom.len(), |e| start + e);
        dom[start..end].to_owned()
    };
    let api = card("api");
    assert!(api.contains("data-state=\"blocked\""), "{api}");
    assert!(
        api.contains("FS006") && api.contains("allow_secret_change_rollback = true"),
        "{api}"
    );
    assert!(
        api.contains("blocked · skipped · worker api is blocked") && api.contains("(journal)"),
        "the journal's entry before the restart: {api}"
    );
    // jobs: drifted, the hand-made deployment in its timeline.
    let jobs = card("jobs");
    assert!(jobs.contains("data-state=\"drifted\""), "{jobs}");
    assert!(
        jobs.contains("by hand") && jobs.contains("hand rollback by on-call"),
        "{jobs}"
    );
    assert!(jobs.contains(&jobs_v1[..8]));
}
