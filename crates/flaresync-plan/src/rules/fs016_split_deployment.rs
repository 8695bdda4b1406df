//! `FS016` split-deployment: its check and tests (the doc it shows is `docs/FS016.md`).

use crate::model::{Finding, Severity};

use super::{Context, short};

rule! {
    /// a gradual (split) deployment is in progress
    SplitDeployment, "FS016", "split-deployment"
}

fn check(ctx: &Context<'_>) -> Option<Finding> {
    ctx.subject.changing_spec()?;
    let live = ctx.live.filter(|l| l.is_split())?;
    let deployment = live.active.as_ref().or(live.deployments.first());
    let shares: Vec<String> = deployment
        .map(|d| {
            d.versions
                .iter()
                .map(|v| match ctx.history.version(&v.version_id) {
                    Some(known) => format!(
                        "{} (commit {}) at {}%",
                        short(&v.version_id),
                        short(&known.commit),
                        v.percentage
                    ),
                    None => format!(
                        "{} (not from flaresync) at {}%",
                        short(&v.version_id),
                        v.percentage
                    ),
                })
                .collect()
        })
        .unwrap_or_default();
    Some(Finding::new(
        ID,
        Severity::Warning,
        format!(
            "a gradual deployment is in progress ({}); this plan deploys at 100% and ends it",
            shares.join(", ")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::DeploymentVersion;
    use crate::rules::Rule;
    use crate::rules::Subject;
    use crate::rules::test_context::context;
    use crate::test_support::{live_worker, spec};

    #[test]
    fn a_gradual_deployment_is_reported_as_ending() {
        let spec = spec("api");
        let mut live = live_worker("api", &["v2", "v1"]);
        let whole = Context {
            live: Some(&live),
            ..context(Subject::Forward { spec: &spec })
        };
        assert!(SplitDeployment.check(&whole).is_empty());
        if let Some(active) = &mut live.active {
            active.versions = ["v2", "v1"]
                .map(|id| DeploymentVersion {
                    version_id: id.into(),
                    percentage: 50.0,
                })
                .to_vec();
        }
        let split = SplitDeployment.check(&Context {
            live: Some(&live),
            ..context(Subject::Forward { spec: &spec })
        });
        assert!(
            split[0]
                .message
                .contains("(v2 (not from flaresync) at 50%, v1 (not from flaresync) at 50%)"),
            "{split:?}"
        );
    }
}
