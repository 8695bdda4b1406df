//! One API request as data: method, path segments, query, headers, body and how safe it is to
//! send again; plus decoding the `result` of an answer into the type a call returns.

use flaresync_config::{AssetFile, Module};
use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Secret;
use crate::error::Error;
use crate::retry::Idempotency;
use crate::types::RawEnvelope;

/// The body of one request.
pub(super) enum Body<'a> {
    Empty,
    Json(serde_json::Value),
    Multipart {
        metadata: &'a serde_json::Value,
        modules: &'a [Module],
    },
    /// One bucket of static assets: a base64 part per file, named by its hash.
    Assets(&'a [&'a AssetFile]),
}

/// One API request, reusable across attempts.
pub(super) struct Request<'a> {
    pub(super) method: Method,
    pub(super) segments: Vec<String>,
    pub(super) query: Vec<(&'static str, String)>,
    pub(super) headers: Vec<(&'static str, String)>,
    pub(super) body: Body<'a>,
    pub(super) idempotency: Idempotency,
    /// Sent as `Authorization: Bearer …` instead of the API token (an assets upload session's
    /// token).
    pub(super) bearer: Option<&'a Secret>,
    /// The answer is GraphQL's `{data, errors}`, not the REST envelope.
    pub(super) graphql: bool,
    /// A successful answer is raw content (`content/v2`), not an envelope: its body and
    /// `Content-Type` come back as `{content_type, body}` (base64) in the result.
    pub(super) raw: bool,
}

impl<'a> Request<'a> {
    pub(super) fn new(method: Method, segments: Vec<String>) -> Self {
        let idempotency = if method == Method::GET || method == Method::PATCH {
            Idempotency::Idempotent
        } else {
            Idempotency::Unsafe
        };
        Request {
            method,
            segments,
            query: Vec::new(),
            headers: Vec::new(),
            body: Body::Empty,
            idempotency,
            bearer: None,
            graphql: false,
            raw: false,
        }
    }

    pub(super) fn query(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.query.push((name, value.into()));
        self
    }

    pub(super) fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub(super) fn body(mut self, body: Body<'a>) -> Self {
        self.body = body;
        self
    }

    /// Sets a JSON body serialized from `value`. When it does not serialize, the error is an
    /// [`Error::InvalidRequest`] whose detail is `"<problem>: <serde error>"`.
    pub(super) fn json_body(self, value: &impl Serialize, problem: &str) -> Result<Self, Error> {
        match serde_json::to_value(value) {
            Ok(body) => Ok(self.body(Body::Json(body))),
            Err(e) => Err(Error::InvalidRequest {
                method: self.method.to_string(),
                path: self.path(),
                detail: format!("{problem}: {e}"),
            }),
        }
    }

    pub(super) fn bearer(mut self, token: &'a Secret) -> Self {
        self.bearer = Some(token);
        self
    }

    /// Reads a successful answer as raw content (see [`Request::raw`]).
    pub(super) fn raw(mut self) -> Self {
        self.raw = true;
        self
    }

    /// Reads the answer as GraphQL's `{data, errors}` (see [`super::interpret::graphql`]).
    pub(super) fn graphql(mut self) -> Self {
        self.graphql = true;
        self
    }

    pub(super) fn idempotency(mut self, idempotency: Idempotency) -> Self {
        self.idempotency = idempotency;
        self
    }

    /// The path below the base, for messages and logs.
    pub(super) fn path(&self) -> String {
        let mut path = String::new();
        for segment in &self.segments {
            path.push('/');
            path.push_str(segment);
        }
        path
    }
}

/// Decodes the envelope's `result` into `T`. A missing `result` decodes as JSON `null`, so
/// `Option`/defaulted targets accept it.
pub(super) fn decode_result<T: DeserializeOwned>(
    request: &Request<'_>,
    envelope: RawEnvelope,
) -> Result<T, Error> {
    let value = envelope.result.unwrap_or(serde_json::Value::Null);
    serde_json::from_value(value).map_err(|e| Error::Decode {
        method: request.method.to_string(),
        path: request.path(),
        status: 200,
        detail: format!("the result does not have the expected shape ({e})"),
    })
}
