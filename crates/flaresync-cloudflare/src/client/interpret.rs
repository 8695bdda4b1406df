//! Classifying one HTTP answer: success envelope, final error, or a failure for the retry
//! decision. Pure apart from decoding the body.

use std::time::Duration;

use reqwest::StatusCode;

use crate::error::{ApiError, Error};
use crate::retry::Failure;
use crate::types::RawEnvelope;

/// How one attempt ended, when it did not succeed.
pub(super) enum AttemptError {
    /// Sending again cannot help (undecodable success, invalid request).
    Final(Error),
    /// Let the retry decision look at it.
    Failed { failure: Failure, error: Error },
}

/// Classifies one HTTP answer. Pure apart from decoding.
pub(super) fn interpret(
    method: &str,
    path: &str,
    status: StatusCode,
    retry_after: Option<Duration>,
    body: &[u8],
) -> Result<RawEnvelope, AttemptError> {
    let code = status.as_u16();
    let envelope: Option<Result<RawEnvelope, serde_json::Error>> =
        (!body.iter().all(u8::is_ascii_whitespace)).then(|| serde_json::from_slice(body));
    if status.is_success() {
        let envelope = match envelope {
            // 204/205 or an empty body: wrangler treats it as `{success: true, result: {}}`.
            None => {
                return Ok(RawEnvelope {
                    success: true,
                    errors: Vec::new(),
                    result: None,
                    result_info: None,
                });
            }
            Some(Ok(envelope)) => envelope,
            Some(Err(e)) => {
                return Err(AttemptError::Final(Error::Decode {
                    method: method.to_owned(),
                    path: path.to_owned(),
                    status: code,
                    detail: format!("the body is not a json envelope ({e})"),
                }));
            }
        };
        if envelope.success {
            return Ok(envelope);
        }
        return Err(AttemptError::Final(Error::Api(ApiError {
            status: code,
            errors: envelope.errors,
            method: method.to_owned(),
            path: path.to_owned(),
        })));
    }
    let errors = match envelope {
        Some(Ok(envelope)) => envelope.errors,
        _ => Vec::new(),
    };
    Err(AttemptError::Failed {
        failure: Failure::Status {
            status: code,
            retry_after,
        },
        error: Error::Api(ApiError {
            status: code,
            errors,
            method: method.to_owned(),
            path: path.to_owned(),
        }),
    })
}

/// Classifies a successful HTTP answer of the GraphQL API: `{data, errors}`. GraphQL reports
/// query errors with HTTP 200; any error is final (the query is wrong, sending it again cannot
/// help). The `data` becomes the envelope's `result`.
pub(super) fn graphql(method: &str, path: &str, body: &[u8]) -> Result<RawEnvelope, AttemptError> {
    #[derive(serde::Deserialize)]
    struct Answer {
        #[serde(default)]
        data: Option<serde_json::Value>,
        #[serde(default)]
        errors: Option<Vec<serde_json::Value>>,
    }
    let answer: Answer = serde_json::from_slice(body).map_err(|e| {
        AttemptError::Final(Error::Decode {
            method: method.to_owned(),
            path: path.to_owned(),
            status: 200,
            detail: format!("the body is not a graphql answer ({e})"),
        })
    })?;
    let errors: Vec<crate::types::ApiMessage> = answer
        .errors
        .unwrap_or_default()
        .iter()
        .map(|error| crate::types::ApiMessage {
            code: 0,
            message: error
                .get("message")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("graphql error")
                .to_owned(),
        })
        .collect();
    if !errors.is_empty() {
        return Err(AttemptError::Final(Error::Api(ApiError {
            status: 200,
            errors,
            method: method.to_owned(),
            path: path.to_owned(),
        })));
    }
    Ok(RawEnvelope {
        success: true,
        errors: Vec::new(),
        result: answer.data,
        result_info: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpret_classifies_answers() {
        let ok = br#"{"success":true,"errors":[],"messages":[],"result":{"id":"x"}}"#;
        let envelope = interpret("GET", "/p", StatusCode::OK, None, ok)
            .ok()
            .expect("success");
        assert_eq!(envelope.result, Some(serde_json::json!({"id": "x"})));

        assert!(interpret("DELETE", "/p", StatusCode::NO_CONTENT, None, b"").is_ok());

        match interpret("GET", "/p", StatusCode::OK, None, b"<html>") {
            Err(AttemptError::Final(Error::Decode { status: 200, .. })) => {}
            _ => panic!("html on 200 is a decode error"),
        }

        let failed = br#"{"success":false,"errors":[{"code":10007,"message":"This Worker does not exist on your account."}],"result":null}"#;
        match interpret("GET", "/p", StatusCode::NOT_FOUND, None, failed) {
            Err(AttemptError::Failed {
                failure: Failure::Status { status: 404, .. },
                error,
            }) => assert!(error.has_code(10007)),
            _ => panic!("404 is a failure for the retry decision"),
        }

        match interpret(
            "GET",
            "/p",
            StatusCode::TOO_MANY_REQUESTS,
            Some(Duration::from_secs(3)),
            b"rate limited",
        ) {
            Err(AttemptError::Failed {
                failure:
                    Failure::Status {
                        status: 429,
                        retry_after: Some(after),
                    },
                error,
            }) => {
                assert_eq!(after, Duration::from_secs(3));
                assert!(error.api().is_some_and(|api| api.errors.is_empty()));
            }
            _ => panic!("429 keeps its retry-after"),
        }

        let success_false = br#"{"success":false,"errors":[{"code":1,"message":"odd"}]}"#;
        match interpret("POST", "/p", StatusCode::OK, None, success_false) {
            Err(AttemptError::Final(Error::Api(api))) => assert!(api.has_code(1)),
            _ => panic!("success:false on 200 is final"),
        }
    }
}
