//! Sending one attempt of a request: build the URL and body, send, read the rate-limit headers,
//! count it in the metrics, and hand the answer to [`interpret`].

use std::time::SystemTime;

use reqwest::header::{AUTHORIZATION, HeaderValue, RETRY_AFTER};
use tracing::debug;

use super::Client;
use super::form::{build_assets_form, build_form};
use super::interpret::{AttemptError, interpret};
use super::request::{Body, Request};
use crate::error::Error;
use crate::metrics::StatusClass;
use crate::ratelimit_headers::{parse_ratelimit_header, parse_ratelimit_policy_header};
use crate::retry::{Failure, TransportFailure};
use crate::types::RawEnvelope;

impl Client {
    /// Sends `request` once and classifies the answer.
    pub(super) async fn attempt(
        &self,
        request: &Request<'_>,
        path: &str,
    ) -> Result<RawEnvelope, AttemptError> {
        let method = request.method.as_str();
        let invalid = |detail: String| {
            AttemptError::Final(Error::InvalidRequest {
                method: method.to_owned(),
                path: path.to_owned(),
                detail,
            })
        };
        let write = crate::write_guard::is_write(method, request.graphql);
        if write
            && let Some(guard) = self.inner.write_guard.get()
            && let Err(reason) = guard.allow_write(method, path)
        {
            return Err(AttemptError::Final(Error::Fenced {
                method: method.to_owned(),
                path: path.to_owned(),
                reason,
            }));
        }
        let mut url = self.inner.base.clone();
        url.path_segments_mut()
            .map_err(|()| invalid("the api base url cannot take a path".into()))?
            .pop_if_empty()
            .extend(&request.segments);
        let authorization = match request.bearer {
            None => self.inner.authorization.clone(),
            Some(token) => {
                let mut value = HeaderValue::try_from(format!("Bearer {}", token.expose()))
                    .map_err(|_| invalid("the upload token is not a valid header value".into()))?;
                value.set_sensitive(true);
                value
            }
        };
        let mut builder = self
            .inner
            .http
            .request(request.method.clone(), url)
            .header(AUTHORIZATION, authorization);
        if !request.query.is_empty() {
            builder = builder.query(&request.query);
        }
        for (name, value) in &request.headers {
            builder = builder.header(*name, value.as_str());
        }
        builder = match &request.body {
            Body::Empty => builder,
            Body::Json(value) => builder.json(value),
            Body::Multipart { metadata, modules } => {
                builder.multipart(build_form(metadata, modules).map_err(invalid)?)
            }
            Body::Assets(files) => builder.multipart(build_assets_form(files).map_err(invalid)?),
        };
        debug!(method, path = %path, "Sending Cloudflare API request.");
        let response = match builder.send().await {
            Ok(response) => response,
            Err(source) => return Err(self.transport_failure(method, path, write, source)),
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| crate::retry::parse_retry_after(v, SystemTime::now()));
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok());
        let content_type = header("content-type").unwrap_or_default().to_owned();
        if let Some(policy) = header("ratelimit-policy").and_then(parse_ratelimit_policy_header) {
            self.inner.budget.observe_policy(policy);
        }
        if let Some(quota) = header("ratelimit").and_then(parse_ratelimit_header) {
            self.inner.budget.observe_quota(quota);
        }
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(source) => return Err(self.transport_failure(method, path, write, source)),
        };
        self.inner
            .metrics
            .request(method, StatusClass::of(status.as_u16()), write);
        debug!(method, path = %path, status = status.as_u16(), "Cloudflare API answered.");
        if request.raw && status.is_success() {
            return Ok(super::content::raw_envelope(&content_type, &body));
        }
        if request.graphql && status.is_success() {
            return super::interpret::graphql(method, path, &body);
        }
        interpret(method, path, status, retry_after, &body)
    }

    /// A write without an answer counts as a write: it may have reached Cloudflare.
    fn transport_failure(
        &self,
        method: &str,
        path: &str,
        write: bool,
        source: reqwest::Error,
    ) -> AttemptError {
        self.inner
            .metrics
            .request(method, StatusClass::Transport, write);
        let kind = if source.is_connect() {
            TransportFailure::Connect
        } else if source.is_timeout() {
            TransportFailure::Timeout
        } else {
            TransportFailure::Dropped
        };
        AttemptError::Failed {
            failure: Failure::Transport(kind),
            error: Error::Transport {
                method: method.to_owned(),
                path: path.to_owned(),
                base_url: flaresync_config::url::redact_url(self.inner.base.as_str()),
                kind,
                source: source.without_url(),
            },
        }
    }
}
