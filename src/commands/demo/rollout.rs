//! Step 9 of the demo: a progressive rollout on real traffic. A commit gives demo-auth a
//! rollout strategy and a bug that throws on 20% of requests; demo traffic flows through the
//! data plane, the canary at 10% is analysed, aborted, demo-auth is back on its stable version
//! and the revert branch exists.

use std::time::Duration;

use anyhow::{Context as _, bail};

use super::{Demo, commit_all, section, short, sync, write};

const AUTH_BUNDLE: &str = "workers/auth/dist/index.js";
const STRATEGY: &str = "rollout = { steps = [10, 50], step_interval = \"3s\", bake = \"3s\", min_requests = 5, latency_tolerance_ms = 100 }";

impl Demo {
    pub(super) async fn rollout_aborted(&mut self) -> anyhow::Result<()> {
        let Some(addr) = self.web.addr else {
            println!("\n(skipping the rollout step: it needs traffic, and the data plane is off)");
            return Ok(());
        };
        let config = self.read("flaresync.toml")?.replace(
            "[workers.demo-auth]\n",
            &format!("[workers.demo-auth]\n{STRATEGY}\n"),
        );
        write(&self.repo_dir, "flaresync.toml", &config)?;
        let bundle = self.read(AUTH_BUNDLE)?.replace(
            "  async fetch(request, env) {\n",
            "  async fetch(request, env) {\n    globalThis.n = (globalThis.n ?? 0) + 1;\n    if (globalThis.n % 5 === 0) throw new Error(\"bug\");\n",
        );
        write(&self.repo_dir, AUTH_BUNDLE, &bundle)?;
        let bad = commit_all(
            &self.repo,
            &mut self.author,
            "auth: roll out gradually; new session code (throws on 20% of requests)",
        )?;
        section(&format!(
            "9. Commit {} gives demo-auth a rollout strategy and a bug on 20% of requests",
            short(&bad)
        ));
        let stable = self.active_versions("demo-auth").await?;
        sync(&self.ctx).await?;
        println!(
            "  demo-auth deployment: {}",
            self.describe_active("demo-auth").await?
        );
        let host = format!("demo-auth.{}.workers.dev", self.web.subdomain);
        let http = reqwest::Client::new();
        for round in 0..20 {
            let (mut ok, mut failed) = (0, 0);
            for _ in 0..100 {
                let answer = http
                    .get(format!("http://{addr}/"))
                    .header("host", &host)
                    .header("cookie", super::traffic::SESSION)
                    .send()
                    .await;
                match answer.map(|r| r.status().as_u16()) {
                    Ok(200) => ok += 1,
                    _ => failed += 1,
                }
            }
            println!(
                "  traffic round {}: {ok} answered 200, {failed} failed",
                round + 1
            );
            tokio::time::sleep(Duration::from_secs(1)).await;
            let report = flaresync_reconcile::sync_once(
                &self.ctx,
                flaresync_reconcile::SyncOptions {
                    dry_run: false,
                    trigger: flaresync_reconcile::TriggerSource::Cli,
                },
            )
            .await
            .context("reconcile pass failed")?;
            let auth = report.workers.iter().find(|w| w.worker == "demo-auth");
            if let Some(rollout) = auth.and_then(|w| w.rollout.as_ref()) {
                if let Some(analysis) = &rollout.last_analysis {
                    println!(
                        "  analysis: {} ({})",
                        analysis.verdict.as_str(),
                        analysis.summary()
                    );
                }
                if rollout.phase.name() == "aborted" {
                    break;
                }
            }
        }
        let now = self.active_versions("demo-auth").await?;
        println!(
            "  demo-auth deployment: {}",
            self.describe_active("demo-auth").await?
        );
        if now != stable {
            bail!("the rollout was not aborted: demo-auth serves {now:?}, stable was {stable:?}");
        }
        let branch = flaresync_git::revert_branch_name(bad);
        let revert = self
            .repo
            .find_branch(&branch, git2::BranchType::Local)
            .with_context(|| format!("the revert branch {branch} is missing"))?;
        let message = revert
            .get()
            .peel_to_commit()?
            .summary()
            .ok()
            .flatten()
            .unwrap_or_default()
            .to_owned();
        println!("  every Worker of the commit is back on stable; branch {branch}: {message}");
        Ok(())
    }

    async fn active_versions(&self, script: &str) -> anyhow::Result<Vec<String>> {
        Ok(self
            .client
            .active_deployment(script)
            .await?
            .map(|d| d.versions.into_iter().map(|v| v.version_id).collect())
            .unwrap_or_default())
    }

    async fn describe_active(&self, script: &str) -> anyhow::Result<String> {
        Ok(self
            .client
            .active_deployment(script)
            .await?
            .map(|d| {
                d.versions
                    .iter()
                    .map(|v| {
                        format!(
                            "{}@{}%",
                            &v.version_id[..8.min(v.version_id.len())],
                            v.percentage
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_else(|| "none".into()))
    }
}
