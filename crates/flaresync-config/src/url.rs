//! URLs without their credentials: the one place in the workspace that finds the
//! `user:password@` part of a URL, for messages ([`redact_url`], [`display_url`]), for what is
//! stored or sent ([`strip_credentials`]) and for handing credentials over ([`split_credentials`]).
//!
//! Secrets first: the user information is taken to end at the **last** `@`, so a password with
//! an unencoded `/`, `?`, `#`, `@` or `:` is never left in the output. The price is that an
//! `@` in the path or query of a URL that also has a `user:` part or a `host:port` hides the
//! host too (`https://[redacted]@…`): shown too little, never too much. scp-style addresses
//! (`git@host:org/repo.git`) have no `://` and are returned unchanged.

/// `scheme://userinfo@rest` split in three, or `None` when the URL has no user information.
fn split_userinfo(url: &str) -> Option<(&str, &str, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    let at = rest.rfind('@')?;
    let userinfo = &rest[..at];
    let authority_end = userinfo.find(['/', '?', '#']);
    // Either the `@` ends the authority (nothing of a path before it), or the part before the
    // path starts like `user:` — a password holding a `/`, `?` or `#`. Otherwise the `@` is in
    // the path or query of a URL without credentials (`https://host/@scope/repo`).
    let userinfo_like = match authority_end {
        None => true,
        Some(end) => userinfo.find(':').is_some_and(|colon| colon < end),
    };
    userinfo_like.then(|| (scheme, userinfo, &rest[at + 1..]))
}

/// `url` with its user information replaced by `[redacted]`, for messages and logs:
/// `https://[redacted]@github.com/o/r.git`. A URL without credentials is returned as is.
pub fn redact_url(url: &str) -> String {
    match split_userinfo(url) {
        Some((scheme, _, rest)) => format!("{scheme}://[redacted]@{rest}"),
        None => url.to_owned(),
    }
}

/// `url` without its user information: `https://github.com/o/r.git`.
pub fn strip_credentials(url: &str) -> String {
    match split_userinfo(url) {
        Some((scheme, _, rest)) => format!("{scheme}://{rest}"),
        None => url.to_owned(),
    }
}

/// `url` without credentials, query or fragment (either may carry tokens), for logs and status.
pub fn display_url(url: &str) -> String {
    let stripped = strip_credentials(url);
    match stripped.find(['?', '#']) {
        Some(end) => stripped[..end].to_owned(),
        None => stripped,
    }
}

/// A user name and password taken out of a URL. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct UrlCredentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for UrlCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UrlCredentials")
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .finish()
    }
}

/// Splits `scheme://user:password@host/...` into the URL without its user information and the
/// credentials it carried, percent-decoded as git decodes them (`%2F` is `/`; a `%` not
/// followed by two hex digits stays as written). A URL without a password keeps its user name
/// (`ssh://git@host/repo`) and yields no credentials.
pub fn split_credentials(url: &str) -> (String, Option<UrlCredentials>) {
    let Some((scheme, userinfo, rest)) = split_userinfo(url) else {
        return (url.to_owned(), None);
    };
    let Some((user, password)) = userinfo.split_once(':') else {
        return (url.to_owned(), None);
    };
    let credentials = UrlCredentials {
        username: percent_decode(user),
        password: percent_decode(password),
    };
    (format!("{scheme}://{rest}"), Some(credentials))
}

/// Decodes `%XX` escapes; anything else (and bytes that do not form UTF-8) stays as written.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| text.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                decoded.push(byte);
                i += 3;
            }
            None => {
                decoded.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(decoded).unwrap_or_else(|_| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(url, redact_url, strip_credentials)`.
    const CASES: &[(&str, &str, &str)] = &[
        (
            "https://user:tok@github.com/o/r.git",
            "https://[redacted]@github.com/o/r.git",
            "https://github.com/o/r.git",
        ),
        (
            "https://github.com/o/r.git",
            "https://github.com/o/r.git",
            "https://github.com/o/r.git",
        ),
        (
            "git@github.com:o/r.git",
            "git@github.com:o/r.git",
            "git@github.com:o/r.git",
        ),
        (
            "ssh://git@example.invalid/r.git",
            "ssh://[redacted]@example.invalid/r.git",
            "ssh://example.invalid/r.git",
        ),
        // An unencoded `/` in the password (it used to escape redaction).
        (
            "https://bob:pa/ss@example.invalid/r.git",
            "https://[redacted]@example.invalid/r.git",
            "https://example.invalid/r.git",
        ),
        // `@`, `:`, `%`, `?` and `#` inside the password.
        (
            "https://bob:p@s:s%w/o?r#d@example.invalid/r.git",
            "https://[redacted]@example.invalid/r.git",
            "https://example.invalid/r.git",
        ),
        (
            "http://user:pa55word@host:8443/v4",
            "http://[redacted]@host:8443/v4",
            "http://host:8443/v4",
        ),
        // An `@` in the path of a URL without credentials is not user information.
        (
            "https://example.invalid/@scope/r.git",
            "https://example.invalid/@scope/r.git",
            "https://example.invalid/@scope/r.git",
        ),
    ];

    #[test]
    fn urls_lose_their_user_information() {
        for (url, redacted, stripped) in CASES {
            assert_eq!(redact_url(url), *redacted, "{url}");
            assert_eq!(strip_credentials(url), *stripped, "{url}");
        }
    }

    #[test]
    fn no_part_of_a_password_survives() {
        for password in [
            "pa/ss",
            "p@ss",
            "p:ss",
            "p%2Fss",
            "100%",
            "a/b@c:d?e#f",
            "x/",
        ] {
            let url = format!("https://bob:{password}@example.invalid/acme/config.git");
            for shown in [redact_url(&url), strip_credentials(&url), display_url(&url)] {
                assert!(!shown.contains(password), "{password:?} in {shown}");
                assert!(shown.contains("example.invalid/acme"), "{shown}");
            }
            let (bare, credentials) = split_credentials(&url);
            assert_eq!(bare, "https://example.invalid/acme/config.git");
            let credentials = credentials.expect("user and password are taken from the URL");
            assert_eq!(credentials.username, "bob");
            assert!(!format!("{credentials:?}").contains(password));
        }
    }

    #[test]
    fn credentials_are_percent_decoded_as_git_does() {
        let password = |url: &str| split_credentials(url).1.map(|c| c.password);
        assert_eq!(password("https://bob:pa/ss@h/r").as_deref(), Some("pa/ss"));
        assert_eq!(
            password("https://bob:p%2Fs%40s%3A@h/r").as_deref(),
            Some("p/s@s:")
        );
        assert_eq!(password("https://bob:100%@h/r").as_deref(), Some("100%"));
        assert_eq!(password("https://bob:%zz@h/r").as_deref(), Some("%zz"));
        assert_eq!(password("https://bob:%ff@h/r").as_deref(), Some("%ff"));
        let (url, user) = split_credentials("https://b%40b:x@h/r");
        assert_eq!(url, "https://h/r");
        assert_eq!(user.map(|c| c.username).as_deref(), Some("b@b"));
        assert_eq!(
            split_credentials("ssh://git@h/r"),
            ("ssh://git@h/r".to_owned(), None)
        );
        assert_eq!(
            split_credentials("https://h/r"),
            ("https://h/r".to_owned(), None)
        );
    }

    #[test]
    fn display_url_drops_credentials_and_query() {
        assert_eq!(
            display_url("https://user:pw@api.example.com/health?token=s3cret#x"),
            "https://api.example.com/health"
        );
        assert_eq!(
            display_url("http://127.0.0.1:8080"),
            "http://127.0.0.1:8080"
        );
        assert_eq!(display_url("not a url?x"), "not a url");
        assert_eq!(
            display_url("https://u:p?w@h/health?x=1"),
            "https://h/health"
        );
    }
}
