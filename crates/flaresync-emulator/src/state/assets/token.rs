//! The two JWTs of the assets upload protocol (SPEC-2 §1.3, §1.4): the *upload* token a session
//! answers (it authorises `POST …/workers/assets/upload`) and the *completion* token that
//! attaches the uploaded manifest to a script or version upload. Both are HS256 JWTs valid for
//! one hour, so wrangler's `isJwtExpired` (which decodes the payload's `exp`) works on them.
//! Pure: the key and the clock are parameters.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// How long either token is valid (D direct-upload: one hour each).
pub const LIFETIME_SECS: i64 = 3600;

/// Which step of the protocol a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    Upload,
    Completion,
}

/// What a token says: the Worker the session was opened for and its manifest (by id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub purpose: Purpose,
    pub account: String,
    pub script: String,
    /// Id of the stored manifest (its sha256).
    pub manifest: String,
    pub iat: i64,
    pub exp: i64,
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is not a JWT signed by this emulator")]
    Invalid,
    #[error("the token expired {0} seconds ago")]
    Expired(i64),
    #[error("the token is for another step of the assets upload (expected a {0:?} token)")]
    WrongPurpose(Purpose),
}

/// Signs `claims` with `key`.
pub fn sign(claims: &Claims, key: &[u8]) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
    let signing_input = format!("{header}.{payload}");
    let signature = URL_SAFE_NO_PAD.encode(mac(key, &signing_input));
    format!("{signing_input}.{signature}")
}

/// The claims of `token` if `key` signed it, it is for `purpose` and it has not expired at `now`
/// (seconds since the epoch).
pub fn verify(token: &str, key: &[u8], purpose: Purpose, now: i64) -> Result<Claims, TokenError> {
    let mut parts = token.trim().split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Invalid);
    };
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| TokenError::Invalid)?;
    let mut check =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).map_err(|_| TokenError::Invalid)?;
    check.update(format!("{header}.{payload}").as_bytes());
    check
        .verify_slice(&signature)
        .map_err(|_| TokenError::Invalid)?;
    let claims: Claims = URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or(TokenError::Invalid)?;
    if claims.purpose != purpose {
        return Err(TokenError::WrongPurpose(purpose));
    }
    if claims.exp <= now {
        return Err(TokenError::Expired(now - claims.exp));
    }
    Ok(claims)
}

fn mac(key: &[u8], input: &str) -> Vec<u8> {
    match <Hmac<Sha256> as KeyInit>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(input.as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
        // HMAC takes keys of any length; this arm is unreachable in practice.
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(purpose: Purpose, exp: i64) -> Claims {
        Claims {
            purpose,
            account: "acc".into(),
            script: "site".into(),
            manifest: "m1".into(),
            iat: exp - LIFETIME_SECS,
            exp,
        }
    }

    #[test]
    fn a_signed_token_verifies_and_wrangler_can_read_its_exp() {
        let token = sign(&claims(Purpose::Upload, 2_000), b"key");
        let got = verify(&token, b"key", Purpose::Upload, 1_999).expect("valid");
        assert_eq!(got.exp, 2_000);
        let payload = token.split('.').nth(1).expect("payload");
        let decoded: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("b64")).expect("json");
        assert_eq!(decoded["exp"], 2_000);
    }

    #[test]
    fn tampered_foreign_expired_and_misused_tokens_are_refused() {
        let token = sign(&claims(Purpose::Upload, 2_000), b"key");
        assert_eq!(
            verify(&token, b"other", Purpose::Upload, 0),
            Err(TokenError::Invalid)
        );
        let forged = sign(&claims(Purpose::Completion, 2_000), b"attacker");
        let (head, _) = token.rsplit_once('.').expect("sig");
        let (_, forged_sig) = forged.rsplit_once('.').expect("sig");
        assert_eq!(
            verify(&format!("{head}.{forged_sig}"), b"key", Purpose::Upload, 0),
            Err(TokenError::Invalid)
        );
        assert_eq!(
            verify(&token, b"key", Purpose::Upload, 2_010),
            Err(TokenError::Expired(10))
        );
        assert_eq!(
            verify(&token, b"key", Purpose::Completion, 0),
            Err(TokenError::WrongPurpose(Purpose::Completion))
        );
        assert_eq!(
            verify("not-a-jwt", b"key", Purpose::Upload, 0),
            Err(TokenError::Invalid)
        );
    }
}
