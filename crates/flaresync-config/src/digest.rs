//! [`Digest`]: the content hash of a Worker's desired state (or of the version part of it).
//!
//! A digest is what makes "this commit's content equals an earlier deployed state" decidable,
//! so it travels through the planner, the journal and the reconcile loop as its own type rather
//! than as a bare string that any other text could be mistaken for.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A sha256 hex digest of a canonical form (see `WorkerSpec::digest` and
/// `WorkerSpec::version_digest`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Digest(String);

impl Digest {
    /// Wraps a digest read back from storage (the journal) or computed by [`sha256_hex`].
    pub fn new(hex: impl Into<String>) -> Self {
        Digest(hex.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 12 characters, as messages show it.
    pub fn short(&self) -> &str {
        self.0.get(..12).unwrap_or(&self.0)
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Read access to the hex text (comparisons, messages); a `&str` never becomes a `Digest`
/// implicitly.
impl std::ops::Deref for Digest {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Digest {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<String> for Digest {
    fn from(hex: String) -> Self {
        Digest(hex)
    }
}

impl From<&str> for Digest {
    fn from(hex: &str) -> Self {
        Digest(hex.to_owned())
    }
}

impl PartialEq<str> for Digest {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Digest {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digest_serializes_as_its_hex_text_and_shortens_for_messages() {
        let digest = Digest::new("0123456789abcdef0123");
        assert_eq!(
            serde_json::to_string(&digest).expect("serializes"),
            "\"0123456789abcdef0123\""
        );
        assert_eq!(digest.short(), "0123456789ab");
        assert_eq!(Digest::new("abc").short(), "abc");
        assert_eq!(digest, "0123456789abcdef0123");
        assert_eq!(digest.to_string(), "0123456789abcdef0123");
    }
}
