//! A string that must never be printed: the Cloudflare API token, a Git password or key
//! passphrase. One type for the whole workspace.
//!
//! `Debug` and `Display` both print `[REDACTED]`; the only way to read the value is the
//! deliberately loud [`Secret::expose`]. It does not implement `Serialize`, so it cannot leak
//! through a serialized config or error either.

use std::fmt;

/// A redacted string (API token, Git credential). Read it only with [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value. Call only where the value is put on the wire (the `Authorization`
    /// header, libgit2's credential callback), never to log or format it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the value is empty (an unset token).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let secret = Secret::new("tok-123456-very-secret");
        assert_eq!(format!("{secret:?}"), "Secret([REDACTED])");
        assert_eq!(format!("{secret}"), "[REDACTED]");
        assert_eq!(format!("{secret:#?}"), "Secret([REDACTED])");
        assert!(!format!("{:?}", Some(&secret)).contains("tok-123456"));
    }

    #[test]
    fn expose_returns_the_value() {
        assert_eq!(Secret::from("abc").expose(), "abc");
        assert!(Secret::from("").is_empty());
    }
}
