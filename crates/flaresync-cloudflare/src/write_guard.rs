//! The write guard: a check the client makes before every request that changes something at
//! Cloudflare. flaresync's PostgreSQL lease installs one (its fencing check), so a replica that
//! lost its lease while paused or partitioned cannot write when it wakes up; with the SQLite
//! journal there is none (the state-directory lock keeps one process per state directory).
//!
//! The check runs before each attempt, retries included: a retry after a long backoff is
//! checked again. What remains is the time between the check and the request reaching
//! Cloudflare, which has no conditional write to close it; the lease is extended by the check,
//! so that window is far shorter than the TTL.

/// Says whether a write may go out now.
pub trait WriteGuard: Send + Sync + std::fmt::Debug {
    /// `Ok` to send `method path`; `Err` says why not (no secrets in it).
    fn allow_write(
        &self,
        method: &str,
        path: &str,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>>;
}

/// Whether a request changes state at Cloudflare: every method but `GET`/`HEAD`/`OPTIONS`,
/// except GraphQL queries (analytics reads sent as `POST`).
pub fn is_write(method: &str, graphql: bool) -> bool {
    !graphql && !matches!(method, "GET" | "HEAD" | "OPTIONS")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_analytics_queries_are_not_writes() {
        for method in ["GET", "HEAD", "OPTIONS"] {
            assert!(!is_write(method, false), "{method}");
        }
        assert!(!is_write("POST", true), "graphql reads");
    }

    #[test]
    fn everything_else_is_a_write() {
        for method in ["POST", "PUT", "PATCH", "DELETE"] {
            assert!(is_write(method, false), "{method}");
        }
    }
}
