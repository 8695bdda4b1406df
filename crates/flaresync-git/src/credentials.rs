//! Credentials for fetching a remote config repository.
//!
//! Secrets are held in [`Secret`], whose `Debug` and `Display` print `[REDACTED]`; nothing here logs them.

use std::path::PathBuf;

use crate::known_hosts::{HostKeyVerdict, check_host_key};

pub use flaresync_config::Secret;

/// How to authenticate to the remote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// https: user name and password/token. With only a token, the user name is
    /// `x-access-token` (accepted by GitHub; GitLab and Gitea accept any name with a token).
    pub https: Option<HttpsCredentials>,
    /// ssh: private key file (with optional passphrase); without it, ssh-agent is used.
    pub ssh_key: Option<SshKey>,
    /// User name for ssh when the URL has none (default `git`).
    pub ssh_user: Option<String>,
    /// A `known_hosts` file the ssh host key must match; without it libgit2's default applies.
    pub ssh_known_hosts: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpsCredentials {
    pub username: String,
    pub password: Secret,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshKey {
    pub private_key: PathBuf,
    pub passphrase: Option<Secret>,
}

/// Errors reading credentials from the environment.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// A `*_FILE` variable names a file that cannot be read.
    #[error("cannot read the credential file named by {variable} ({path}): {source}")]
    File {
        variable: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `GIT_USERNAME` without `GIT_PASSWORD` or the reverse.
    #[error("{present} is set but {missing} is not; set both or neither")]
    Incomplete {
        present: &'static str,
        missing: &'static str,
    },
}

/// Default https user name for a bare token.
pub const TOKEN_USERNAME: &str = "x-access-token";

impl Credentials {
    /// No credentials: anonymous https, ssh-agent for ssh.
    pub fn none() -> Self {
        Credentials::default()
    }

    /// Reads credentials from the process environment. See [`Credentials::from_lookup`].
    pub fn from_env() -> Result<Self, CredentialsError> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// Reads credentials through `lookup` (an environment):
    ///
    /// - `FLARESYNC_GIT_TOKEN` or `FLARESYNC_GIT_TOKEN_FILE` (file content, trimmed): https token;
    ///   the user name is `GIT_USERNAME` if set, else `x-access-token`.
    /// - `GIT_USERNAME` + `GIT_PASSWORD` (or `GIT_PASSWORD_FILE`): https basic auth.
    /// - `FLARESYNC_SSH_KEY` (path) + optional `FLARESYNC_SSH_KEY_PASSPHRASE`: ssh key; without
    ///   it ssh uses the agent. `FLARESYNC_SSH_USER` overrides the ssh user.
    /// - `FLARESYNC_SSH_KNOWN_HOSTS` (path): pin ssh host keys to this `known_hosts` file.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, CredentialsError> {
        let from_file = |variable: &'static str| -> Result<Option<String>, CredentialsError> {
            let Some(path) = lookup(variable) else {
                return Ok(None);
            };
            let path = PathBuf::from(path);
            std::fs::read_to_string(&path)
                .map(|content| Some(content.trim().to_owned()))
                .map_err(|source| CredentialsError::File {
                    variable,
                    path,
                    source,
                })
        };
        let token = match lookup("FLARESYNC_GIT_TOKEN") {
            Some(token) => Some(token),
            None => from_file("FLARESYNC_GIT_TOKEN_FILE")?,
        };
        let username = lookup("GIT_USERNAME");
        let password = match lookup("GIT_PASSWORD") {
            Some(password) => Some(password),
            None => from_file("GIT_PASSWORD_FILE")?,
        };
        let https = match (token, username, password) {
            (Some(token), username, _) => Some(HttpsCredentials {
                username: username.unwrap_or_else(|| TOKEN_USERNAME.to_owned()),
                password: Secret::new(token),
            }),
            (None, Some(username), Some(password)) => Some(HttpsCredentials {
                username,
                password: Secret::new(password),
            }),
            (None, Some(_), None) => {
                return Err(CredentialsError::Incomplete {
                    present: "GIT_USERNAME",
                    missing: "GIT_PASSWORD",
                });
            }
            (None, None, Some(_)) => {
                return Err(CredentialsError::Incomplete {
                    present: "GIT_PASSWORD",
                    missing: "GIT_USERNAME",
                });
            }
            (None, None, None) => None,
        };
        let ssh_key = lookup("FLARESYNC_SSH_KEY").map(|path| SshKey {
            private_key: PathBuf::from(path),
            passphrase: lookup("FLARESYNC_SSH_KEY_PASSPHRASE").map(Secret::new),
        });
        Ok(Credentials {
            https,
            ssh_key,
            ssh_user: lookup("FLARESYNC_SSH_USER"),
            ssh_known_hosts: lookup("FLARESYNC_SSH_KNOWN_HOSTS").map(PathBuf::from),
        })
    }

    /// Remote callbacks answering libgit2's credential requests from `self`.
    ///
    /// Each method is offered once per fetch: libgit2 asks again after a rejected credential,
    /// and answering the same thing forever would loop.
    pub(crate) fn callbacks(&self) -> git2::RemoteCallbacks<'_> {
        let mut callbacks = git2::RemoteCallbacks::new();
        let mut tried_https = false;
        let mut tried_key = false;
        let mut tried_agent = false;
        let mut tried_default = false;
        callbacks.credentials(move |_url, username_from_url, allowed| {
            if allowed.contains(git2::CredentialType::USERNAME) {
                let user = self
                    .ssh_user
                    .as_deref()
                    .or(username_from_url)
                    .unwrap_or("git");
                return git2::Cred::username(user);
            }
            if allowed.contains(git2::CredentialType::SSH_KEY) {
                let user = username_from_url
                    .or(self.ssh_user.as_deref())
                    .unwrap_or("git");
                if let Some(key) = &self.ssh_key {
                    if !tried_key {
                        tried_key = true;
                        return git2::Cred::ssh_key(
                            user,
                            None,
                            &key.private_key,
                            key.passphrase.as_ref().map(Secret::expose),
                        );
                    }
                } else if !tried_agent {
                    tried_agent = true;
                    return git2::Cred::ssh_key_from_agent(user);
                }
            }
            if allowed.contains(git2::CredentialType::USER_PASS_PLAINTEXT)
                && !tried_https
                && let Some(https) = &self.https
            {
                tried_https = true;
                return git2::Cred::userpass_plaintext(&https.username, https.password.expose());
            }
            if allowed.contains(git2::CredentialType::DEFAULT) && !tried_default {
                tried_default = true;
                return git2::Cred::default();
            }
            Err(git2::Error::from_str(
                "authentication failed: no (more) credentials to offer; set FLARESYNC_GIT_TOKEN, \
                 GIT_USERNAME/GIT_PASSWORD, FLARESYNC_SSH_KEY or start an ssh-agent",
            ))
        });
        if let Some(path) = &self.ssh_known_hosts {
            callbacks.certificate_check(move |cert, host| {
                let Some(key) = cert.as_hostkey().and_then(|k| k.hostkey()) else {
                    // Not an ssh host key (https): let libgit2 verify the TLS certificate.
                    return Ok(git2::CertificateCheckStatus::CertificatePassthrough);
                };
                let text = std::fs::read_to_string(path).map_err(|e| {
                    git2::Error::from_str(&format!(
                        "cannot read FLARESYNC_SSH_KNOWN_HOSTS file {}: {e}",
                        path.display()
                    ))
                })?;
                match check_host_key(&text, host, key) {
                    HostKeyVerdict::Match => Ok(git2::CertificateCheckStatus::CertificateOk),
                    HostKeyVerdict::Mismatch => Err(git2::Error::from_str(&format!(
                        "the ssh host key of {host} does not match {}; refusing to connect \
                         (possible impostor, or the server key changed)",
                        path.display()
                    ))),
                    HostKeyVerdict::Unknown => Err(git2::Error::from_str(&format!(
                        "{host} is not in {}; add its host key (ssh-keyscan {host}) to pin it",
                        path.display()
                    ))),
                }
            });
        }
        callbacks
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn token_alone_uses_the_token_username() {
        let creds = Credentials::from_lookup(env(&[("FLARESYNC_GIT_TOKEN", "tok")])).expect("ok");
        let https = creds.https.expect("https");
        assert_eq!(https.username, TOKEN_USERNAME);
        assert_eq!(https.password.expose(), "tok");
    }

    #[test]
    fn token_file_is_read_and_trimmed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("token");
        std::fs::write(&path, "filetok\n").expect("write");
        let path = path.to_string_lossy().into_owned();
        let creds = Credentials::from_lookup(env(&[
            ("FLARESYNC_GIT_TOKEN_FILE", &path),
            ("GIT_USERNAME", "me"),
        ]))
        .expect("ok");
        let https = creds.https.expect("https");
        assert_eq!(
            (https.username.as_str(), https.password.expose()),
            ("me", "filetok")
        );
    }

    #[test]
    fn half_basic_auth_is_an_error() {
        let error = Credentials::from_lookup(env(&[("GIT_USERNAME", "me")])).expect_err("half");
        assert!(error.to_string().contains("GIT_PASSWORD"));
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let creds = Credentials::from_lookup(env(&[
            ("GIT_USERNAME", "me"),
            ("GIT_PASSWORD", "hunter2"),
            ("FLARESYNC_SSH_KEY", "/k"),
            ("FLARESYNC_SSH_KEY_PASSPHRASE", "sesame"),
        ]))
        .expect("ok");
        let debug = format!("{creds:?}");
        assert!(
            !debug.contains("hunter2") && !debug.contains("sesame"),
            "{debug}"
        );
        assert!(debug.contains("/k"));
    }
}
