//! GitHub's configuration, and the pull request flaresync opens for a revert it pushed
//! (`POST {api}/repos/{owner}/{repo}/pulls`); commit statuses and deployments are sent by
//! [`crate::notify`]. The API base URL is configurable so tests (and
//! GitHub Enterprise) point it elsewhere. The token never appears in errors or logs.

use std::time::Duration;

use serde_json::{Value, json};

/// How long connecting to GitHub may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one GitHub call may take in all (GitHub can be slow to create a pull request).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// The HTTP client of GitHub calls: its own timeouts, sized for a remote API, not the short
/// ones of health checks and probes (which have a client of their own).
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .user_agent(concat!("flaresync/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}

/// Where and as whom to open pull requests.
#[derive(Clone)]
pub struct GithubConfig {
    /// `https://api.github.com` (or an Enterprise / test server's base).
    pub api_url: String,
    /// `owner/name`.
    pub repository: String,
    pub token: String,
}

impl std::fmt::Debug for GithubConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubConfig")
            .field("api_url", &self.api_url)
            .field("repository", &self.repository)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// Environment variables the CLI reads [`GithubConfig`] from.
pub const TOKEN_VAR: &str = "FLARESYNC_GITHUB_TOKEN";
pub const REPOSITORY_VAR: &str = "FLARESYNC_GITHUB_REPOSITORY";
pub const API_URL_VAR: &str = "FLARESYNC_GITHUB_API_URL";
/// Where each setting is looked up, first set and not blank wins: flaresync's own variable,
/// then the one GitHub Actions sets.
pub const TOKEN_VARS: [&str; 2] = [TOKEN_VAR, "GITHUB_TOKEN"];
pub const REPOSITORY_VARS: [&str; 2] = [REPOSITORY_VAR, "GITHUB_REPOSITORY"];
pub const API_URL_VARS: [&str; 2] = [API_URL_VAR, "GITHUB_API_URL"];
/// GitHub.com's REST API.
pub const DEFAULT_API_URL: &str = "https://api.github.com";

impl GithubConfig {
    /// From `FLARESYNC_GITHUB_TOKEN` (or `GITHUB_TOKEN`), `FLARESYNC_GITHUB_REPOSITORY` (or
    /// `GITHUB_REPOSITORY`) and `FLARESYNC_GITHUB_API_URL` (or `GITHUB_API_URL`, default
    /// `https://api.github.com`), as GitHub Actions sets them; `None` without a token or a
    /// repository.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Option<Self> {
        Some(GithubConfig {
            token: first_set(&TOKEN_VARS, &lookup)?,
            repository: first_set(&REPOSITORY_VARS, &lookup)?,
            api_url: first_set(&API_URL_VARS, &lookup).unwrap_or_else(|| DEFAULT_API_URL.into()),
        })
    }
}

/// The first of `names` that `lookup` finds set and not blank, trimmed.
pub fn first_set(names: &[&str], lookup: impl Fn(&str) -> Option<String>) -> Option<String> {
    names.iter().find_map(|name| {
        lookup(name)
            .map(|value| value.trim().to_owned())
            .filter(|value| !value.is_empty())
    })
}

impl GithubConfig {
    /// `{api}/repos/{owner}/{repo}/{path}`.
    pub fn url(&self, path: &str) -> String {
        format!(
            "{}/repos/{}/{path}",
            self.api_url.trim_end_matches('/'),
            self.repository
        )
    }

    /// The headers of every REST call: the token, GitHub's media type and API version, and a
    /// user agent (GitHub refuses requests without one).
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        vec![
            ("authorization", format!("Bearer {}", self.token)),
            ("accept", "application/vnd.github+json".to_owned()),
            ("x-github-api-version", "2022-11-28".to_owned()),
            ("user-agent", USER_AGENT.to_owned()),
        ]
    }
}

/// How flaresync names itself to GitHub and to notification receivers.
pub const USER_AGENT: &str = concat!("flaresync/", env!("CARGO_PKG_VERSION"));

/// A pull request to open.
pub struct PullRequest<'a> {
    pub title: &'a str,
    pub body: &'a str,
    /// The branch with the change.
    pub head: &'a str,
    /// The branch to merge into.
    pub base: &'a str,
}

/// Opens the pull request through `http` (see [`http_client`]); returns its URL. An existing
/// pull request for the same branch (GitHub's 422) counts as opened.
///
/// # Errors
///
/// Transport failures and other answers, as text without the token.
pub async fn open_pull_request(
    http: &reqwest::Client,
    config: &GithubConfig,
    pull: &PullRequest<'_>,
) -> Result<String, String> {
    let mut request = http.post(config.url("pulls"));
    for (name, value) in config.headers() {
        request = request.header(name, value);
    }
    let response = request
        .json(&json!({
            "title": pull.title,
            "body": pull.body,
            "head": pull.head,
            "base": pull.base,
        }))
        .send()
        .await
        .map_err(|error| format!("GitHub could not be reached: {}", error.without_url()))?;
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    pull_request_answer(status, &body, &config.repository, pull.head)
}

/// Pure: the URL of the pull request an answer describes, or why there is none.
pub fn pull_request_answer(
    status: u16,
    body: &Value,
    repository: &str,
    head: &str,
) -> Result<String, String> {
    let message = body.get("message").and_then(Value::as_str).unwrap_or("");
    match status {
        200 | 201 => body
            .get("html_url")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| "GitHub answered without the pull request's html_url".to_owned()),
        422 if body.to_string().contains("already exists") => Ok(format!(
            "(a pull request for {head} already exists in {repository})"
        )),
        _ => Err(format!(
            "GitHub refused the pull request for {head} in {repository} ({status}: {message}); check FLARESYNC_GITHUB_TOKEN's access to the repository"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_become_a_url_or_a_reason() {
        let created = json!({"html_url": "https://github.com/o/r/pull/7", "number": 7});
        assert_eq!(
            pull_request_answer(201, &created, "o/r", "b"),
            Ok("https://github.com/o/r/pull/7".into())
        );
        let exists = json!({"message": "Validation Failed", "errors": [{"message": "A pull request already exists for o:b."}]});
        assert!(pull_request_answer(422, &exists, "o/r", "b").is_ok());
        let refused = json!({"message": "Bad credentials"});
        let error = pull_request_answer(401, &refused, "o/r", "b").unwrap_err();
        assert!(error.contains("401: Bad credentials"), "{error}");
    }

    #[test]
    fn the_config_needs_a_token_and_a_repository_and_hides_the_token() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert!(GithubConfig::from_lookup(env(&[("GITHUB_TOKEN", "t")])).is_none());
        let config = GithubConfig::from_lookup(env(&[
            ("GITHUB_TOKEN", "secret-token"),
            ("GITHUB_REPOSITORY", "o/r"),
        ]))
        .expect("configured");
        assert_eq!(config.api_url, "https://api.github.com");
        assert!(!format!("{config:?}").contains("secret-token"));
        let enterprise = GithubConfig::from_lookup(env(&[
            ("GITHUB_TOKEN", "t"),
            ("GITHUB_REPOSITORY", "o/r"),
            ("GITHUB_API_URL", "https://ghe.example/api/v3"),
        ]))
        .expect("configured");
        assert_eq!(
            enterprise.api_url, "https://ghe.example/api/v3",
            "Actions' GITHUB_API_URL is followed, as by `flaresync github comment`"
        );
        let own = GithubConfig::from_lookup(env(&[
            ("GITHUB_TOKEN", "t"),
            ("FLARESYNC_GITHUB_TOKEN", " mine "),
            ("GITHUB_REPOSITORY", "o/r"),
            ("FLARESYNC_GITHUB_REPOSITORY", "a/b"),
            ("FLARESYNC_GITHUB_API_URL", "http://127.0.0.1:9/"),
            ("GITHUB_API_URL", "https://ghe.example/api/v3"),
        ]))
        .expect("configured");
        assert_eq!(
            (
                own.token.as_str(),
                own.repository.as_str(),
                own.api_url.as_str()
            ),
            ("mine", "a/b", "http://127.0.0.1:9/"),
            "flaresync's own variables win, trimmed"
        );
    }
}
