//! GitHub commit statuses and Deployments for events, when a token and a repository are
//! configured ([`crate::github::GithubConfig`]).
//!
//! - A commit status per Worker (`POST /repos/{o}/{r}/statuses/{sha}`, context
//!   `flaresync/<worker>`): success, pending (a rollout in progress) or failure.
//! - A GitHub Deployment per Worker and commit (`POST /repos/{o}/{r}/deployments`, environment
//!   `<account>/<env>`, `task` `deploy:<worker>`, no required contexts) and its statuses
//!   (`POST …/deployments/{id}/statuses`): in_progress while a rollout runs, success, failure;
//!   the Worker's previous deployment becomes `inactive` once a new one succeeds, or once a hand
//!   change (drift) replaced it. `auto_inactive` is off: Workers share the environment and must
//!   not deactivate each other.
//!
//! See <https://docs.github.com/en/rest/commits/statuses> and
//! <https://docs.github.com/en/rest/deployments/deployments>.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{
    deliver::{self, Request, RetryPolicy},
    event::{Event, EventKind, EventState},
};
use crate::github::GithubConfig;

/// GitHub's limit on a status description.
const DESCRIPTION_MAX: usize = 140;

/// The Worker's latest GitHub deployment, as this process created it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    pub id: u64,
    pub commit: String,
    /// Its state as last posted.
    pub state: &'static str,
    /// The deployment it replaces, to deactivate once this one succeeds.
    pub previous: Option<u64>,
}

/// The calls an event needs, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Calls {
    /// Commit status body, posted to `statuses/{commit}`.
    pub status: Option<Value>,
    /// Create a deployment (body), or reuse the known one (`Reuse`).
    pub deployment: Option<DeploymentCall>,
    /// A deployment to mark `inactive`.
    pub deactivate: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DeploymentCall {
    Create { body: Value, state: Value },
    Reuse { id: u64, state: Value },
}

/// Pure: the calls for `event`, given the Worker's known deployment.
pub fn calls(event: &Event, known: Option<&Known>) -> Calls {
    let status = (event.kind != EventKind::Drift).then(|| commit_status(event));
    let Some(state) = deployment_state(event) else {
        // Drift: what flaresync deployed no longer serves; a block deploys nothing.
        let deactivate = (event.kind == EventKind::Drift)
            .then(|| known.filter(|k| k.state != "inactive").map(|k| k.id))
            .flatten();
        return Calls {
            status,
            deployment: None,
            deactivate,
        };
    };
    let state_body = json!({
        "state": state,
        "description": description(event),
        "environment": event.environment,
        "auto_inactive": false,
    });
    let same = known.filter(|k| k.commit == event.commit && k.state == "in_progress");
    let deployment = match same {
        Some(known) => DeploymentCall::Reuse {
            id: known.id,
            state: state_body,
        },
        None => DeploymentCall::Create {
            body: json!({
                "ref": event.commit,
                "environment": event.environment,
                "task": format!("deploy:{}", event.worker),
                "description": description(event),
                "auto_merge": false,
                "required_contexts": [],
                "transient_environment": false,
                "payload": {
                    "worker": event.worker,
                    "version_ids": event.version_ids,
                    "kind": event.kind.as_str(),
                },
            }),
            state: state_body,
        },
    };
    let replaced = match same {
        Some(known) => known.previous,
        None => known.map(|k| k.id),
    };
    Calls {
        status,
        deployment: Some(deployment),
        deactivate: (state == "success").then_some(replaced).flatten(),
    }
}

/// `statuses/{sha}` body: GitHub's states are error, failure, pending, success.
fn commit_status(event: &Event) -> Value {
    let state = match event.state {
        EventState::Success => "success",
        EventState::InProgress => "pending",
        EventState::Failure => "failure",
    };
    json!({
        "state": state,
        "context": format!("flaresync/{}", event.worker),
        "description": description(event),
    })
}

/// A deployment's state for the event; `None` when nothing was deployed.
fn deployment_state(event: &Event) -> Option<&'static str> {
    match (event.kind, event.state) {
        (EventKind::Blocked | EventKind::Drift, _) => None,
        (_, EventState::Success) => Some("success"),
        (_, EventState::InProgress) => Some("in_progress"),
        (_, EventState::Failure) => Some("failure"),
    }
}

/// `<kind>: <reason>`, cut to GitHub's 140 characters.
fn description(event: &Event) -> String {
    let text = match &event.reason {
        Some(reason) => format!("{}: {reason}", event.kind.as_str()),
        None => event.kind.as_str().to_owned(),
    };
    if text.chars().count() <= DESCRIPTION_MAX {
        return text;
    }
    let mut cut: String = text.chars().take(DESCRIPTION_MAX - 1).collect();
    cut.push('…');
    cut
}

/// The GitHub sink's memory: each Worker's latest deployment.
#[derive(Debug, Default)]
pub struct GithubSink {
    known: BTreeMap<String, Known>,
}

impl GithubSink {
    /// Sends the calls of `event`; stops at the first call given up.
    ///
    /// # Errors
    ///
    /// Which call failed and how, without the token.
    pub async fn deliver(
        &mut self,
        http: &reqwest::Client,
        config: &GithubConfig,
        policy: &RetryPolicy,
        event: &Event,
        on_retry: &mut (dyn FnMut(&str) + Send),
    ) -> Result<(), String> {
        let known = self.known.get(&event.worker).cloned();
        let calls = calls(event, known.as_ref());
        let post = |path: String, body: &Value| Request {
            url: config.url(&path),
            headers: {
                let mut headers = config.headers();
                headers.push(("content-type", "application/json".to_owned()));
                headers
            },
            body: serde_json::to_vec(body).unwrap_or_default(),
        };
        let mut send = async |path: String, body: &Value, what: &str| {
            deliver::send(http, &post(path, body), policy, &mut *on_retry)
                .await
                .map_err(|failure| format!("{what}: {failure}"))
        };
        if let Some(status) = &calls.status {
            send(
                format!("statuses/{}", event.commit),
                status,
                "commit status",
            )
            .await?;
        }
        if let Some(deployment) = &calls.deployment {
            let (id, state) = match deployment {
                DeploymentCall::Reuse { id, state } => (*id, state),
                DeploymentCall::Create { body, state } => {
                    let answer = send("deployments".into(), body, "deployment").await?;
                    let id = answer
                        .body
                        .get("id")
                        .and_then(Value::as_u64)
                        .ok_or_else(|| {
                            format!(
                                "deployment: GitHub answered {} without an id",
                                answer.status
                            )
                        })?;
                    (id, state)
                }
            };
            send(
                format!("deployments/{id}/statuses"),
                state,
                "deployment status",
            )
            .await?;
            let state_name = state.get("state").and_then(Value::as_str).unwrap_or("");
            self.known.insert(
                event.worker.clone(),
                Known {
                    id,
                    commit: event.commit.clone(),
                    state: static_state(state_name),
                    previous: match deployment {
                        DeploymentCall::Reuse { .. } => known.as_ref().and_then(|k| k.previous),
                        DeploymentCall::Create { .. } => known.as_ref().map(|k| k.id),
                    },
                },
            );
        }
        if let Some(id) = calls.deactivate {
            let body = json!({"state": "inactive", "environment": event.environment, "auto_inactive": false});
            send(
                format!("deployments/{id}/statuses"),
                &body,
                "deployment status",
            )
            .await?;
            if let Some(known) = self.known.get_mut(&event.worker)
                && known.id == id
            {
                known.state = "inactive";
            }
        }
        Ok(())
    }
}

fn static_state(state: &str) -> &'static str {
    match state {
        "success" => "success",
        "in_progress" => "in_progress",
        "failure" => "failure",
        _ => "inactive",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::webhook::tests::event;

    fn known(id: u64, commit: &str, state: &'static str) -> Known {
        Known {
            id,
            commit: commit.into(),
            state,
            previous: Some(1),
        }
    }

    #[test]
    fn a_deploy_is_a_success_status_and_a_new_deployment_that_retires_the_previous_one() {
        let event = event();
        let calls = calls(&event, Some(&known(7, "0ld", "success")));
        let status = calls.status.expect("status");
        assert_eq!(status["state"], "success");
        assert_eq!(status["context"], "flaresync/api");
        let Some(DeploymentCall::Create { body, state }) = calls.deployment else {
            panic!("a new deployment");
        };
        assert_eq!(body["ref"], "c0ffee");
        assert_eq!(body["environment"], "acct/default");
        assert_eq!(body["required_contexts"], json!([]));
        assert_eq!(body["auto_merge"], false);
        assert_eq!(body["payload"]["worker"], "api");
        assert_eq!(state["state"], "success");
        assert_eq!(state["auto_inactive"], false);
        assert_eq!(calls.deactivate, Some(7));
    }

    #[test]
    fn a_rollout_reuses_its_deployment_until_it_ends() {
        let mut step = event();
        step.state = EventState::InProgress;
        let first = calls(&step, None);
        assert_eq!(first.status.expect("status")["state"], "pending");
        assert!(matches!(
            first.deployment,
            Some(DeploymentCall::Create { .. })
        ));
        assert_eq!(first.deactivate, None, "the stable version still serves");

        let running = known(9, "c0ffee", "in_progress");
        let mut aborted = event();
        aborted.kind = EventKind::RolloutAborted;
        aborted.state = EventState::Failure;
        let end = calls(&aborted, Some(&running));
        assert_eq!(end.status.expect("status")["state"], "failure");
        let Some(DeploymentCall::Reuse { id: 9, state }) = end.deployment else {
            panic!("the rollout's deployment");
        };
        assert_eq!(state["state"], "failure");
        assert_eq!(end.deactivate, None, "the previous deployment serves again");

        let done = calls(&event(), Some(&running));
        assert!(matches!(
            done.deployment,
            Some(DeploymentCall::Reuse { id: 9, .. })
        ));
        assert_eq!(
            done.deactivate,
            Some(1),
            "the one before the rollout retires"
        );
    }

    #[test]
    fn a_block_is_a_failed_status_and_drift_retires_the_deployment() {
        let mut blocked = event();
        blocked.kind = EventKind::Blocked;
        blocked.state = EventState::Failure;
        let calls_blocked = calls(&blocked, Some(&known(3, "0ld", "success")));
        assert_eq!(calls_blocked.status.expect("status")["state"], "failure");
        assert_eq!(calls_blocked.deployment, None);
        assert_eq!(calls_blocked.deactivate, None);

        let mut drift = event();
        drift.kind = EventKind::Drift;
        drift.state = EventState::Failure;
        let calls_drift = calls(&drift, Some(&known(3, "0ld", "success")));
        assert_eq!(calls_drift.status, None);
        assert_eq!(calls_drift.deactivate, Some(3));
        assert_eq!(
            calls(&drift, Some(&known(3, "0ld", "inactive"))).deactivate,
            None
        );
    }

    #[test]
    fn descriptions_fit_githubs_limit() {
        let mut long = event();
        long.reason = Some("x".repeat(500));
        let text = description(&long);
        assert_eq!(text.chars().count(), DESCRIPTION_MAX);
        assert!(text.ends_with('…'));
    }
}
