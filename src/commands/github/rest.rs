//! The few GitHub REST calls the plan comment needs: list a pull request's issue comments
//! (every page), create, update and delete one. Shapes as in GitHub's REST docs ("Issue
//! comments"): JSON `{"body": ...}` in, `{"id", "body", ...}` out; `Link: <...>; rel="next"`
//! pages the list.

use anyhow::{Context as _, anyhow, bail};
use flaresync_cloudflare::Secret;
use serde_json::{Value, json};

use super::comment::Existing;

/// A pull request on GitHub, and how to reach the API.
pub struct Github {
    http: reqwest::Client,
    /// e.g. `https://api.github.com`, without a trailing slash.
    api_url: String,
    /// `owner/name`.
    repository: String,
    token: Secret,
}

impl Github {
    pub fn new(api_url: &str, repository: &str, token: Secret) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("flaresync/", env!("CARGO_PKG_VERSION")))
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Github {
            http,
            api_url: api_url.trim_end_matches('/').to_owned(),
            repository: repository.to_owned(),
            token,
        })
    }

    /// Every comment of issue (pull request) `number`, oldest first.
    pub async fn list_comments(&self, number: u64) -> anyhow::Result<Vec<Existing>> {
        let mut url = format!(
            "{}/repos/{}/issues/{number}/comments?per_page=100",
            self.api_url, self.repository
        );
        let mut comments = Vec::new();
        // A bound on pages so a server that always says "next" cannot keep us forever.
        for _ in 0..100 {
            let response = self.send(self.http.get(&url)).await?;
            let next = response
                .headers()
                .get(reqwest::header::LINK)
                .and_then(|value| value.to_str().ok())
                .and_then(next_link);
            let page: Vec<Value> = response
                .json()
                .await
                .context("GitHub's comment list is not the JSON array it should be")?;
            comments.extend(page.iter().filter_map(|comment| {
                Some(Existing {
                    id: comment.get("id")?.as_u64()?,
                    body: comment
                        .get("body")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned(),
                })
            }));
            match next {
                Some(next) => url = next,
                None => return Ok(comments),
            }
        }
        bail!("GitHub's comment list of #{number} did not end after 100 pages")
    }

    pub async fn create_comment(&self, number: u64, body: &str) -> anyhow::Result<u64> {
        let url = format!(
            "{}/repos/{}/issues/{number}/comments",
            self.api_url, self.repository
        );
        self.write_comment(self.http.post(url), body).await
    }

    pub async fn update_comment(&self, id: u64, body: &str) -> anyhow::Result<u64> {
        let url = format!(
            "{}/repos/{}/issues/comments/{id}",
            self.api_url, self.repository
        );
        self.write_comment(self.http.patch(url), body).await
    }

    /// Sends `{"body": body}` and returns the id of the comment GitHub answers with.
    async fn write_comment(
        &self,
        request: reqwest::RequestBuilder,
        body: &str,
    ) -> anyhow::Result<u64> {
        let response = self.send(request.json(&json!({ "body": body }))).await?;
        let answer: Value = response
            .json()
            .await
            .context("GitHub's answer is not the comment JSON it should be")?;
        answer
            .get("id")
            .and_then(Value::as_u64)
            .ok_or_else(|| anyhow!("GitHub's answer has no comment id"))
    }

    pub async fn delete_comment(&self, id: u64) -> anyhow::Result<()> {
        let url = format!(
            "{}/repos/{}/issues/comments/{id}",
            self.api_url, self.repository
        );
        self.send(self.http.delete(url)).await?;
        Ok(())
    }

    /// Sends with GitHub's headers; a non-2xx answer becomes an error naming the call and
    /// GitHub's own message (never the token).
    async fn send(&self, request: reqwest::RequestBuilder) -> anyhow::Result<reqwest::Response> {
        let request = request
            .bearer_auth(self.token.expose())
            .header(reqwest::header::ACCEPT, "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28")
            .build()
            .context("cannot build the GitHub request")?;
        let what = format!("{} {}", request.method(), request.url().path());
        let response = self
            .http
            .execute(request)
            .await
            .with_context(|| format!("cannot reach GitHub at {} ({what})", self.api_url))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let text = response.text().await.unwrap_or_default();
        let message = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|body| body.get("message")?.as_str().map(str::to_owned))
            .unwrap_or_else(|| text.chars().take(200).collect());
        Err(anyhow!(
            "GitHub answered {status} to {what}: {message}{}",
            advice(status.as_u16())
        ))
    }
}

/// What to do about a refused call.
fn advice(status: u16) -> &'static str {
    match status {
        401 => "; the token in GITHUB_TOKEN is missing, expired or wrong",
        403 => {
            "; the token may not write comments: give the workflow `permissions: pull-requests: write` \
             (pull requests from forks get a read-only token)"
        }
        404 => {
            "; check --repository (owner/name) and --pr, and that the token can see the repository"
        }
        422 => "; GitHub refused the body (too long or malformed)",
        _ => "",
    }
}

/// The `rel="next"` URL of a `Link` header, if any.
pub fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|link| {
        let (url, params) = link.split_once(';')?;
        let is_next = params
            .split(';')
            .any(|param| param.trim().replace(' ', "") == "rel=\"next\"");
        is_next.then(|| {
            url.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_page_is_read_from_the_link_header() {
        let header = "<https://api.github.com/repositories/1/issues/2/comments?per_page=100&page=2>; rel=\"next\", \
                      <https://api.github.com/repositories/1/issues/2/comments?per_page=100&page=5>; rel=\"last\"";
        assert_eq!(
            next_link(header).as_deref(),
            Some("https://api.github.com/repositories/1/issues/2/comments?per_page=100&page=2")
        );
        assert_eq!(
            next_link("<https://x/?page=1>; rel=\"prev\", <https://x/?page=1>; rel=\"first\""),
            None
        );
        assert_eq!(next_link(""), None);
    }
}
