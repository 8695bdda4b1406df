//! What Cloudflare does not version: Cron Triggers, the workers.dev route and script settings.
//! Each write states the whole desired value, so it is retried like a read.

use reqwest::Method;

use super::Client;
use super::request::{Body, Request, decode_result};
use crate::error::Error;
use crate::retry::Idempotency;
use crate::types::{
    NewSchedule, Schedule, ScheduleList, ScriptSettings, ScriptSettingsPatch, Subdomain,
};

impl Client {
    /// The Cron Triggers of `script` (`GET …/schedules`). Not versioned: they stay as they are
    /// across uploads, deployments and rollbacks. A missing Worker is an error with code 10007.
    pub async fn list_schedules(&self, script: &str) -> Result<Vec<Schedule>, Error> {
        let request = Request::new(Method::GET, self.script(script, &["schedules"]));
        let envelope = self.fetch(&request).await?;
        decode_result::<ScheduleList>(&request, envelope).map(|list| list.schedules)
    }

    /// Replaces the whole set of Cron Triggers of `script` with `crons` (`PUT …/schedules`; an
    /// empty slice removes them all) and returns the set Cloudflare now holds. The PUT states
    /// the full desired set, so sending it again is harmless: it is retried like a read.
    pub async fn put_schedules(
        &self,
        script: &str,
        crons: &[String],
    ) -> Result<Vec<Schedule>, Error> {
        let items: Vec<NewSchedule<'_>> = crons
            .iter()
            .map(|cron| NewSchedule {
                cron: cron.as_str(),
            })
            .collect();
        let request = Request::new(Method::PUT, self.script(script, &["schedules"]))
            .json_body(&items, "schedules do not serialize")?
            .idempotency(Idempotency::Idempotent);
        let envelope = self.fetch(&request).await?;
        decode_result::<ScheduleList>(&request, envelope).map(|list| list.schedules)
    }

    /// Whether the script's workers.dev route is on (`GET …/subdomain`).
    pub async fn workers_dev(&self, script: &str) -> Result<Subdomain, Error> {
        let request = Request::new(Method::GET, self.script(script, &["subdomain"]));
        let envelope = self.fetch(&request).await?;
        decode_result::<Subdomain>(&request, envelope)
    }

    /// Turns the `<script>.<subdomain>.workers.dev` route on or off (`POST …/subdomain`), as
    /// wrangler does after a deploy (`workers_dev`, default on when the Worker has no routes).
    /// Returns the state Cloudflare now holds. Setting it again is harmless: it is retried
    /// like a read.
    pub async fn set_workers_dev(&self, script: &str, enabled: bool) -> Result<Subdomain, Error> {
        let request = Request::new(Method::POST, self.script(script, &["subdomain"]))
            .body(Body::Json(serde_json::json!({ "enabled": enabled })))
            .idempotency(Idempotency::Idempotent);
        let envelope = self.fetch(&request).await?;
        decode_result::<Subdomain>(&request, envelope)
    }

    /// The non-versioned settings of `script` (`GET …/script-settings`): logpush,
    /// observability, tail consumers.
    pub async fn script_settings(&self, script: &str) -> Result<ScriptSettings, Error> {
        let request = Request::new(Method::GET, self.script(script, &["script-settings"]));
        let envelope = self.fetch(&request).await?;
        decode_result(&request, envelope)
    }

    /// Updates the non-versioned settings (`PATCH …/script-settings`); unset fields are left
    /// as they are.
    pub async fn patch_script_settings(
        &self,
        script: &str,
        patch: &ScriptSettingsPatch,
    ) -> Result<ScriptSettings, Error> {
        let request = Request::new(Method::PATCH, self.script(script, &["script-settings"]))
            .json_body(patch, "settings do not serialize")?;
        let envelope = self.fetch(&request).await?;
        decode_result(&request, envelope)
    }
}
