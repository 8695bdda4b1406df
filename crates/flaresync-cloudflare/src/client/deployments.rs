//! Deployments: the list, the active one, and creating one (safe to retry).

use reqwest::Method;

use super::Client;
use super::request::{Request, decode_result};
use super::retry_loop::Outcome;
use crate::error::Error;
use crate::retry::Idempotency;
use crate::types::{Deployment, DeploymentList, NewDeployment};

impl Client {
    /// Deployments of `script`, newest (the active one) first.
    pub async fn list_deployments(&self, script: &str) -> Result<Vec<Deployment>, Error> {
        let request = Request::new(Method::GET, self.script(script, &["deployments"]));
        let envelope = self.fetch(&request).await?;
        let list: DeploymentList = decode_result(&request, envelope)?;
        Ok(list.deployments)
    }

    /// The deployment serving traffic now, if the Worker has any.
    pub async fn active_deployment(&self, script: &str) -> Result<Option<Deployment>, Error> {
        Ok(self.list_deployments(script).await?.into_iter().next())
    }

    /// Creates a deployment (`POST …/deployments`, with `?force=true` when `force`), which
    /// becomes active at once. `force` overrides the changed-secrets block (code 10220).
    ///
    /// # Guarantees
    /// Before re-sending a create whose outcome is unknown, the client checks whether the
    /// active deployment already serves exactly the requested versions and percentages, and
    /// returns it if so.
    pub async fn create_deployment(
        &self,
        script: &str,
        deployment: &NewDeployment,
        force: bool,
    ) -> Result<Deployment, Error> {
        let mut request = Request::new(Method::POST, self.script(script, &["deployments"]))
            .json_body(deployment, "deployment request does not serialize")?
            .idempotency(Idempotency::Verifiable);
        if force {
            request = request.query("force", "true");
        }
        let verify = || async {
            Ok(self
                .active_deployment(script)
                .await?
                .filter(|active| deployment.is_served_by(active)))
        };
        match self.run(&request, verify).await? {
            Outcome::Answered(envelope) => decode_result(&request, envelope),
            Outcome::Recovered(active) => Ok(active),
        }
    }
}
