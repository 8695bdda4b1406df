//! Progressive rollouts on real traffic: the emulator's data plane runs the Workers on workerd,
//! the test sends requests through it, and flaresync analyses the canary from the GraphQL
//! analytics those requests produce. Step intervals are short (config durations); the tests
//! run passes until the rollout ends, never asserting on time.

use std::{path::PathBuf, sync::Arc, time::Duration};

use flaresync_emulator::{
    dataplane::routing::{KEY_HEADER, key_bucket},
    testing::TestEmulator,
};
use flaresync_journal::{Action as JournalAction, Outcome};
use flaresync_reconcile::{Context, SyncOptions, SyncReport, TriggerSource, sync_once};

use super::support::{Repo, context, emulator, journal_path};

/// A module Worker answering `body`; `extra` goes first in `fetch` (a throw, a sleep).
fn module(body: &str, extra: &str) -> String {
    format!(
        "let n = 0;\nexport default {{ async fetch(request) {{ n++; {extra} return new Response({body:?}); }} }};\n"
    )
}

/// Throws on every fifth request: a 20% error rate.
const THROWS_20_PERCENT: &str = "if (n % 5 === 0) throw new Error(\"boom\");";
const SLEEPS: &str = "await new Promise((resolve) => setTimeout(resolve, 300));";

/// A rollout that moves fast enough for a test: 10% then 50%, short steps and bake.
const FAST_ROLLOUT: &str = "[rollout]\nsteps = [10, 50]\nstep_interval = \"300ms\"\nbake = \"300ms\"\nmin_requests = 5\nlatency_tolerance_ms = 100\n";

struct Scenario {
    emu: TestEmulator,
    repo: Repo,
    _state: tempfile::TempDir,
    ctx: Arc<Context>,
    data: std::net::SocketAddr,
    http: reqwest::Client,
    /// With keys ([`spread_keys`]), traffic is exact instead of a random draw per request.
    keys: Option<Vec<String>>,
}

/// The emulator with its data plane, a repository holding `workers` (name, module source) and
/// `config`, committed and deployed (first deploys go out at 100%). `None` without workerd
/// when `FLARESYNC_SKIP_WORKERD` is set.
async fn scenario(workers: &[(&str, String)], config: &str) -> Option<Scenario> {
    let emu = emulator().await;
    let state = tempfile::tempdir().expect("tempdir");
    let repo_cache = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.cache");
    let Some(data) = emu
        .start_data_plane(&state.path().join("dataplane"), Some(&repo_cache))
        .await
    else {
        assert!(
            std::env::var_os("FLARESYNC_SKIP_WORKERD").is_some(),
            "workerd is not installed: run crates/flaresync-emulator/scripts/install-workerd.sh (or set FLARESYNC_SKIP_WORKERD=1)"
        );
        return None;
    };
    let mut repo = Repo::new();
    for (name, source) in workers {
        repo.worker(name, "unused");
        repo.write(&format!("workers/{name}/index.js"), source);
    }
    repo.write("flaresync.toml", config);
    repo.commit("first");
    let ctx = context(&repo, &emu, &journal_path(&state));
    let scenario = Scenario {
        emu,
        repo,
        _state: state,
        ctx,
        data,
        http: reqwest::Client::new(),
        keys: None,
    };
    let report = scenario.sync().await;
    assert!(report.converged(), "{report:#?}");
    for (name, _) in workers {
        scenario.until_answers(name).await;
    }
    Some(scenario)
}

impl Scenario {
    async fn sync(&self) -> SyncReport {
        sync_once(
            &self.ctx,
            SyncOptions {
                dry_run: false,
                trigger: TriggerSource::Cli,
            },
        )
        .await
        .expect("pass runs")
    }

    /// One request through the data plane; its status.
    async fn request(&self, script: &str) -> u16 {
        self.request_with(script, &[]).await
    }

    async fn request_with(&self, script: &str, headers: &[(&str, String)]) -> u16 {
        self.answer(script, headers).await.0
    }

    /// One request through the data plane: status and body.
    async fn answer(&self, script: &str, headers: &[(&str, String)]) -> (u16, String) {
        let mut request = self
            .http
            .get(format!("http://{}/", self.data))
            .header("host", format!("{script}.flaresync-emulator.workers.dev"));
        for (name, value) in headers {
            request = request.header(*name, value.as_str());
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                (status, response.text().await.unwrap_or_default())
            }
            Err(_) => (0, String::new()),
        }
    }

    /// `count` requests to `script`: each a random draw against the split, or with keys, once
    /// the data plane serves Cloudflare's split, the keys in turn (`count` a multiple of 100:
    /// exactly the canary's share of them reaches the canary).
    async fn traffic(&self, script: &str, count: usize) {
        let Some(keys) = &self.keys else {
            for _ in 0..count {
                self.request(script).await;
            }
            return;
        };
        self.until_split_served(script, keys).await;
        for key in keys.iter().cycle().take(count) {
            self.request_with(script, &[(KEY_HEADER, key.clone())])
                .await;
        }
    }

    /// Waits until the data plane routes by the active deployment's split: the key at the top
    /// of the canary's share reaches the canary, the next one the stable version (a step's
    /// new split takes the data plane a moment; the pass has already recorded its time).
    async fn until_split_served(&self, script: &str, keys: &[String]) {
        let shares = self.shares(script).await;
        let Some((canary, weight)) = shares.first().cloned() else {
            return;
        };
        let pin = [(
            "cloudflare-workers-version-overrides",
            format!("{script}=\"{canary}\""),
        )];
        let weight = usize::try_from(weight).unwrap_or(100).clamp(1, 100);
        for _ in 0..500 {
            let (_, canary_body) = self.answer(script, &pin).await;
            let last_in = self
                .answer(script, &[(KEY_HEADER, keys[weight - 1].clone())])
                .await;
            let first_out = match keys.get(weight) {
                Some(key) => Some(self.answer(script, &[(KEY_HEADER, key.clone())]).await),
                None => None,
            };
            if last_in == (200, canary_body.clone())
                && first_out.is_none_or(|(status, body)| status == 200 && body != canary_body)
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the data plane never served the split {shares:?} of {script}");
    }

    /// Waits (polling the data plane) until `script` answers 200.
    async fn until_answers(&self, script: &str) {
        for _ in 0..500 {
            if self.request(script).await == 200 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("{script} never answered 200 on the data plane");
    }

    /// Starts the rollout of the commit just made (one pass) and waits until the data plane
    /// runs its canary, which answers `body` (a new version takes a moment to start on workerd;
    /// until then the override header names a version the data plane does not know yet).
    async fn start_rollout(&self, script: &str, body: &str) -> SyncReport {
        let report = self.sync().await;
        let canary = self.shares(script).await[0].0.clone();
        let pin = [(
            "cloudflare-workers-version-overrides",
            format!("{script}=\"{canary}\""),
        )];
        for _ in 0..500 {
            let (status, answered) = self.answer(script, &pin).await;
            if status == 200 && answered == body || status == 500 {
                return report;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the canary {canary} of {script} never answered on the data plane");
    }

    /// The active deployment as (version, percentage) pairs, read through the test's own client.
    async fn shares(&self, script: &str) -> Vec<(String, u32)> {
        let url = format!(
            "{}/accounts/{}/workers/scripts/{script}/deployments",
            self.emu.base_url(),
            self.emu.account_id()
        );
        let answer: serde_json::Value = self
            .http
            .get(url)
            .bearer_auth(self.emu.token())
            .send()
            .await
            .expect("api answers")
            .json()
            .await
            .expect("json");
        answer["result"]["deployments"][0]["versions"]
            .as_array()
            .map(|versions| {
                versions
                    .iter()
                    .map(|v| {
                        (
                            v["version_id"].as_str().unwrap_or_default().to_owned(),
                            v["percentage"].as_f64().unwrap_or_default() as u32,
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Commits `source` as the module of `script`.
    fn change(&mut self, script: &str, source: &str, message: &str) -> String {
        self.repo
            .write(&format!("workers/{script}/index.js"), source);
        self.repo.commit(message)
    }

    /// Runs passes with `per_pass` requests to `script` before each, until the rollout of
    /// `script` has ended (at most `passes`); returns the canary share after every pass.
    async fn drive(&self, script: &str, per_pass: usize, passes: usize) -> (Vec<u32>, SyncReport) {
        let mut weights = Vec::new();
        let mut last = None;
        for _ in 0..passes {
            self.traffic(script, per_pass).await;
            tokio::time::sleep(Duration::from_millis(350)).await;
            let report = self.sync().await;
            let shares = self.shares(script).await;
            weights.push(shares.first().map(|(_, p)| *p).unwrap_or_default());
            let ended = journal_has(&self.ctx, script, "rollout_completed")
                || journal_has(&self.ctx, script, "rollout_aborted")
                || phase_of(&report, script) == Some("paused".into());
            last = Some(report);
            if ended {
                break;
            }
        }
        (weights, last.expect("at least one pass"))
    }
}

/// 100 `Cloudflare-Workers-Version-Key` values, the n-th in the n-th percent of the key
/// buckets: at a split with the canary first at N%, exactly N of them reach the canary.
fn spread_keys() -> Vec<String> {
    let mut keys: Vec<Option<String>> = vec![None; 100];
    for n in 0u64.. {
        if keys.iter().all(Option::is_some) {
            break;
        }
        let key = format!("client-{n}");
        // In [0, 100): the percent it falls in.
        let percent = key_bucket(&key) as usize;
        if let Some(slot @ None) = keys.get_mut(percent) {
            *slot = Some(key);
        }
    }
    keys.into_iter().flatten().collect()
}

fn journal_has(ctx: &Context, worker: &str, action: &str) -> bool {
    entries(ctx, worker, action).next().is_some()
}

fn entries<'a>(
    ctx: &'a Context,
    worker: &str,
    action: &'a str,
) -> impl Iterator<Item = flaresync_journal::Recorded> + 'a {
    ctx.journal()
        .history(worker)
        .expect("journal reads")
        .into_iter()
        .filter(move |r| r.entry.action == JournalAction::Other(action.into()))
}

fn phase_of(report: &SyncReport, worker: &str) -> Option<String> {
    let worker = report.workers.iter().find(|w| w.worker == worker)?;
    let rollout = serde_json::to_value(worker.rollout.as_ref()?).ok()?;
    rollout["phase"].as_str().map(str::to_owned)
}

/// Every analysis of `worker` passed, one per entry of `canary` (the keyed canary requests of
/// its window), each with error rate, latency and probe measured on at least that traffic
/// (plus the few requests that checked which split the data plane serves, and the previous
/// window's in the same second: the dataset counts whole seconds).
fn assert_every_analysis_passed_on(ctx: &Context, worker: &str, canary: &[usize]) {
    let analyses: Vec<(Outcome, String)> = entries(ctx, worker, "rollout_analysis")
        .map(|r| (r.entry.outcome, r.entry.message))
        .collect();
    assert_eq!(
        analyses.iter().map(|(o, _)| *o).collect::<Vec<_>>(),
        vec![Outcome::Success; canary.len()],
        "every step and the bake passed: {analyses:?}"
    );
    for ((_, message), canary) in analyses.iter().zip(canary) {
        for check in [
            "error_rate passed",
            "latency passed: canary p90",
            "probe passed",
        ] {
            assert!(message.contains(check), "{message}");
        }
        let requests: usize = message
            .split_once("(0 of ")
            .and_then(|(_, rest)| rest.split_once(' '))
            .and_then(|(count, _)| count.parse().ok())
            .unwrap_or_default();
        assert!(requests >= *canary, "{canary} canary requests: {message}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_canary_is_promoted_through_every_step() {
    let workers = [("api", module("v1", ""))];
    let Some(mut s) = scenario(&workers, FAST_ROLLOUT).await else {
        return;
    };
    // The probe (one attempt) reaches the canary through the version override header: the
    // stable version answers "v1", which fails it. The latency check compares p90: with 20
    // canary requests at 10%, p99 is their slowest one, which one scheduling stall of a busy
    // machine decides (the slow canary's test covers p99).
    s.repo.write(
        "flaresync.toml",
        &format!(
            "{FAST_ROLLOUT}latency_quantile = \"p90\"\nprobe = {{ url = \"http://{}/\", host = \"api.flaresync-emulator.workers.dev\", body_contains = \"v2\", attempts = 1 }}\n",
            s.data
        ),
    );
    // Exact traffic: 200 keyed requests per pass give the canary 20 at 10%, 100 at 50%, all
    // 200 in the bake, always above min_requests (a random draw of 60 at 10% falls under it
    // one time in seven).
    s.keys = Some(spread_keys());
    s.change("api", &module("v2", ""), "v2");
    let report = s.start_rollout("api", "v2").await;
    assert_eq!(
        phase_of(&report, "api").as_deref(),
        Some("progressing"),
        "{report:#?}"
    );
    let shares = s.shares("api").await;
    assert_eq!(
        shares.iter().map(|(_, p)| *p).collect::<Vec<_>>(),
        vec![10, 90]
    );
    let canary = shares[0].0.clone();

    let (weights, report) = s.drive("api", 200, 20).await;
    assert!(
        journal_has(&s.ctx, "api", "rollout_completed"),
        "{weights:?} {report:#?}"
    );
    assert_eq!(s.shares("api").await, vec![(canary.clone(), 100)]);
    // Every step went through Cloudflare in order: 10% (start), 50%, 100%.
    let steps: Vec<String> = entries(&s.ctx, "api", "rollout_step")
        .filter(|r| r.entry.outcome == Outcome::Success)
        .map(|r| r.entry.message)
        .collect();
    assert_eq!(steps.len(), 3, "{steps:?}");
    for (step, weight) in steps
        .iter()
        .zip(["1/3 at 10%", "2/3 at 50%", "3/3 at 100%"])
    {
        assert!(
            step.starts_with(&format!("rollout step {weight}")),
            "{steps:?}"
        );
    }
    assert_every_analysis_passed_on(&s.ctx, "api", &[20, 100, 200]);
    // One version per commit: no duplicate uploads along the way.
    assert_eq!(
        s.ctx
            .client()
            .list_versions("api")
            .await
            .expect("lists")
            .len(),
        2
    );
    // The deployments carry the step and the commit (what `wrangler deployments list` shows).
    let deployments = s.ctx.client().list_deployments("api").await.expect("lists");
    let message = deployments[deployments.len() - 2]
        .annotations
        .message
        .clone();
    assert!(
        message
            .as_deref()
            .is_some_and(|m| m.contains("rollout step 1/3 at 10%") && m.contains("of commit")),
        "{message:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_throwing_on_a_fifth_of_requests_is_aborted_and_its_commit_rejected() {
    let workers = [("api", module("v1", ""))];
    let Some(mut s) = scenario(&workers, FAST_ROLLOUT).await else {
        return;
    };
    let stable = s.shares("api").await[0].0.clone();
    let bad = s.change("api", &module("v2", THROWS_20_PERCENT), "v2 throws");
    s.start_rollout("api", "v2").await;
    let (weights, report) = s.drive("api", 150, 10).await;
    assert!(
        journal_has(&s.ctx, "api", "rollout_aborted"),
        "{weights:?} {report:#?}"
    );
    assert!(
        weights.iter().all(|w| *w != 50),
        "never promoted: {weights:?}"
    );
    assert_eq!(s.shares("api").await, vec![(stable.clone(), 100)]);
    let analysis = entries(&s.ctx, "api", "rollout_analysis")
        .last()
        .expect("an analysis");
    assert_eq!(analysis.entry.outcome, Outcome::Failure);
    assert!(
        analysis.entry.message.contains("canary error rate"),
        "{}",
        analysis.entry.message
    );
    let api = report
        .workers
        .iter()
        .find(|w| w.worker == "api")
        .expect("api");
    let error = api.error.as_ref().expect("an error");
    assert!(
        error.message.contains("rollout of commit"),
        "{}",
        error.message
    );
    // Rejected: later passes leave the stable version alone while Git still says `bad`.
    let again = s.sync().await;
    assert_eq!(s.shares("api").await, vec![(stable, 100)], "{again:#?}");
    assert_eq!(s.repo.head(), bad);
    assert_eq!(
        s.ctx
            .client()
            .list_versions("api")
            .await
            .expect("lists")
            .len(),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_canary_is_aborted_on_latency() {
    let workers = [("api", module("v1", ""))];
    let Some(mut s) = scenario(&workers, FAST_ROLLOUT).await else {
        return;
    };
    let stable = s.shares("api").await[0].0.clone();
    s.change("api", &module("v2", SLEEPS), "v2 sleeps");
    s.start_rollout("api", "v2").await;
    let (weights, report) = s.drive("api", 80, 10).await;
    assert!(
        journal_has(&s.ctx, "api", "rollout_aborted"),
        "{weights:?} {report:#?}"
    );
    let analysis = entries(&s.ctx, "api", "rollout_analysis")
        .last()
        .expect("an analysis");
    assert_eq!(analysis.entry.outcome, Outcome::Failure);
    assert!(
        analysis
            .entry
            .message
            .contains("latency failed: canary p99"),
        "{}",
        analysis.entry.message
    );
    assert_eq!(s.shares("api").await, vec![(stable, 100)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_without_traffic_is_inconclusive_and_pauses() {
    let workers = [("api", module("v1", ""))];
    let Some(mut s) = scenario(&workers, FAST_ROLLOUT).await else {
        return;
    };
    s.change("api", &module("v2", ""), "v2");
    s.sync().await;
    let (weights, report) = s.drive("api", 0, 5).await;
    assert_eq!(
        phase_of(&report, "api").as_deref(),
        Some("paused"),
        "{weights:?} {report:#?}"
    );
    let analysis = entries(&s.ctx, "api", "rollout_analysis")
        .last()
        .expect("an analysis");
    assert_eq!(
        analysis.entry.outcome,
        Outcome::Skipped,
        "inconclusive, not passed"
    );
    assert!(
        analysis
            .entry
            .message
            .contains("0 canary requests, fewer than min_requests 5"),
        "{}",
        analysis.entry.message
    );
    // Paused at 10%: further passes leave the split alone.
    s.sync().await;
    let shares: Vec<u32> = s.shares("api").await.iter().map(|(_, p)| *p).collect();
    assert_eq!(shares, vec![10, 90]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abort_puts_every_worker_of_the_commit_back_callers_first_and_proposes_a_revert() {
    let config = "[workers.api]\ndepends_on = [\"auth\"]\n\
                  rollout = { steps = [10, 50], step_interval = \"300ms\", bake = \"300ms\", min_requests = 5, latency_tolerance_ms = 100 }\n";
    let workers = [
        ("api", module("api v1", "")),
        ("auth", module("auth v1", "")),
    ];
    let Some(mut s) = scenario(&workers, config).await else {
        return;
    };
    // The remote the revert is pushed to, and GitHub.
    let remote = tempfile::tempdir().expect("tempdir");
    let remote_path = remote.path().join("config.git");
    s.repo.git(&[
        "init",
        "-q",
        "--bare",
        "-b",
        "main",
        remote_path.to_str().expect("utf-8"),
    ]);
    s.repo.git(&[
        "remote",
        "add",
        "origin",
        remote_path.to_str().expect("utf-8"),
    ]);
    let github = super::recorder::Recorder::start().await;
    let options = flaresync_reconcile::ContextOptions {
        github: Some(flaresync_reconcile::github::GithubConfig {
            api_url: github.url.clone(),
            repository: "acme/config".into(),
            token: "gh-test-token".into(),
        }),
        ..super::support::options()
    };
    let source = flaresync_git::GitSource::open_local(s.repo.path(), "main").expect("opens");
    s.ctx = Arc::new(
        Context::with_options(
            source,
            s.ctx.client().clone(),
            s._state.path().join("journal.sqlite"),
            flaresync_config::RepoConfig::default(),
            options,
        )
        .expect("context"),
    );
    let crons = |s: &Scenario| {
        let ctx = s.ctx.clone();
        async move {
            let mut crons: Vec<String> = ctx
                .client()
                .list_schedules("auth")
                .await
                .expect("schedules")
                .into_iter()
                .map(|schedule| schedule.cron)
                .collect();
            crons.sort();
            crons
        }
    };
    // auth gets a cron and keeps it: the first state.
    s.repo.write(
        "workers/auth/wrangler.toml",
        "name = \"auth\"\nmain = \"index.js\"\ncompatibility_date = \"2026-01-01\"\n[triggers]\ncrons = [\"*/5 * * * *\"]\n",
    );
    s.repo.commit("auth cron");
    s.sync().await;
    assert_eq!(crons(&s).await, vec!["*/5 * * * *".to_owned()]);
    let stable_api = s.shares("api").await[0].0.clone();
    let stable_auth = s.shares("auth").await[0].0.clone();

    // One commit changes both: auth (no strategy: 100% at once, new cron) and api (a canary
    // that throws on a fifth of its requests).
    s.repo.write(
        "workers/auth/wrangler.toml",
        "name = \"auth\"\nmain = \"index.js\"\ncompatibility_date = \"2026-01-01\"\n[triggers]\ncrons = [\"0 * * * *\"]\n",
    );
    s.repo
        .write("workers/auth/index.js", &module("auth v2", ""));
    s.repo
        .write("workers/api/index.js", &module("api v2", THROWS_20_PERCENT));
    let bad = s.repo.commit("api v2 and auth v2");
    let report = s.start_rollout("api", "api v2").await;
    let api_plan = report
        .plan
        .workers
        .iter()
        .find(|w| w.name == "api")
        .expect("api");
    assert_eq!(
        api_plan.rollout.as_ref().and_then(|r| r.steps.clone()),
        Some(vec![10, 50, 100])
    );
    assert_eq!(
        crons(&s).await,
        vec!["0 * * * *".to_owned()],
        "auth went out at 100%"
    );

    let (weights, report) = s.drive("api", 150, 10).await;
    assert!(
        journal_has(&s.ctx, "api", "rollout_aborted"),
        "{weights:?} {report:#?}"
    );
    assert!(
        journal_has(&s.ctx, "auth", "rollout_aborted"),
        "auth is rejected too"
    );
    assert_eq!(s.shares("api").await, vec![(stable_api, 100)]);
    assert_eq!(s.shares("auth").await, vec![(stable_auth, 100)]);
    assert_eq!(
        crons(&s).await,
        vec!["*/5 * * * *".to_owned()],
        "auth's cron is restored"
    );
    // Callers first: api (which calls auth) was put back before auth.
    let rollback_seq = |worker: &str| {
        s.ctx
            .journal()
            .history(worker)
            .expect("journal")
            .into_iter()
            .filter(|r| {
                r.entry.action == JournalAction::Rollback && r.entry.outcome == Outcome::Success
            })
            .map(|r| r.seq)
            .max()
            .expect("a rollback")
    };
    assert!(rollback_seq("api") < rollback_seq("auth"));
    // Git brought back in line: the revert branch on the remote, and a pull request for it.
    let short = &bad[..7];
    let branch = format!("flaresync/revert-{short}");
    let output = std::process::Command::new("git")
        .args([
            "--git-dir",
            remote_path.to_str().expect("utf-8"),
            "log",
            "-1",
            "--format=%B",
            &branch,
        ])
        .output()
        .expect("git runs");
    let message = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        message.contains(&format!("This reverts commit {bad}.")),
        "{message}"
    );
    assert!(
        message.contains("canary error rate"),
        "names the failed analysis: {message}"
    );
    let pulls = github.to("/repos/acme/config/pulls");
    assert_eq!(pulls.len(), 1, "{pulls:?}");
    assert_eq!(
        pulls[0].header("authorization"),
        Some("Bearer gh-test-token")
    );
    assert_eq!(pulls[0].body["head"], serde_json::json!(branch));
    assert_eq!(pulls[0].body["base"], serde_json::json!("main"));
    // The abort is announced: the commit's status and api's GitHub deployment end in failure.
    assert!(s.ctx.flush_notifications(Duration::from_secs(30)).await);
    let statuses = github.to(&format!("/repos/acme/config/statuses/{bad}"));
    assert!(
        statuses.iter().any(|r| r.body["context"] == "flaresync/api"
            && r.body["state"] == "failure"
            && r.body["description"]
                .as_str()
                .is_some_and(|d| d.starts_with("rollout_aborted: "))),
        "{statuses:#?}"
    );
    let deployment_states: Vec<String> = github
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/statuses") && r.path.contains("/deployments/"))
        .map(|r| r.body["state"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(
        deployment_states.contains(&"in_progress".to_owned())
            && deployment_states.contains(&"failure".to_owned()),
        "{deployment_states:?}"
    );
}

#[tokio::test]
async fn a_migration_goes_out_whole_and_the_plan_says_no_automatic_rollback_is_possible() {
    let repo = Repo::new();
    repo.write(
        "flaresync.toml",
        "[rollout]\nsteps = [10]\nmin_requests = 0\n",
    );
    repo.write(
        "workers/counter/wrangler.toml",
        include_str!("fixtures/counter_v1.toml"),
    );
    repo.write(
        "workers/counter/index.js",
        "export class Counter {}\nexport default { fetch() { return new Response(\"c1\"); } };\n",
    );
    let (_emulator, mut repo, _state, ctx) =
        super::support::open(emulator().await, repo, "counter");
    let apply = |dry_run| SyncOptions {
        dry_run,
        trigger: TriggerSource::Cli,
    };
    let first = sync_once(&ctx, apply(false)).await.expect("first pass");
    let plan = &first.plan.workers[0];
    assert!(
        plan.rollout
            .as_ref()
            .and_then(|r| r.no_automatic_rollback.as_deref())
            .is_some_and(|why| why.contains("first deploy")),
        "{plan:?}"
    );
    repo.write(
        "workers/counter/wrangler.toml",
        include_str!("fixtures/counter_v2.toml"),
    );
    repo.write(
        "workers/counter/index.js",
        "export class Counter {}\nexport class Audit {}\nexport default { fetch() { return new Response(\"c2\"); } };\n",
    );
    repo.commit("add the audit durable object");
    // Said up front, before anything is deployed.
    let preview = sync_once(&ctx, apply(true)).await.expect("dry run");
    let rollout = preview.plan.workers[0].rollout.clone().expect("announced");
    assert_eq!(rollout.steps, None, "not split");
    assert_eq!(
        rollout.full_reason.as_deref(),
        Some("applies Durable Object migration `v2`: Cloudflare does not split such a change")
    );
    let text = flaresync_plan::render_text(&preview.plan);
    assert!(
        text.contains("no automatic rollback possible for counter because this deploy applies Durable Object migration `v2` and Cloudflare refuses a rollback across it (FS002)"),
        "{text}"
    );
    // And it goes out at 100%, without a rollout.
    let report = sync_once(&ctx, apply(false)).await.expect("migration pass");
    assert!(report.converged(), "{report:#?}");
    let active = ctx
        .client()
        .active_deployment("counter")
        .await
        .expect("reads")
        .expect("deployed");
    assert_eq!(active.versions.len(), 1);
    assert!(!journal_has(&ctx, "counter", "rollout_step"));
}
