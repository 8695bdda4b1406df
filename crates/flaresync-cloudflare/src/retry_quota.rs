//! Retry throttling shared by every request of one client, after gRPC's retry throttling
//! (proposal A6) and the AWS SDKs' "standard" retry quota.
//!
//! Per-request attempts can be generous (a storm of 429/503 on a third of the requests still
//! lets every request through, in the same pass) only if an outage does not multiply them: when
//! most requests fail, each one would otherwise sleep through all its attempts, and a pass over
//! many Workers would take hours. The quota is a token count: a failed attempt takes one token,
//! a successful one gives one back, and retries are allowed only while more than half of the
//! tokens are left. Scattered failures keep it full; an outage drains it after about
//! `capacity / 2` failures, and from then on each request fails after its first attempt until
//! successes refill it. Pure: the HTTP shell calls it under a lock.

/// The shared retry token count. See the module docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryQuota {
    tokens: u32,
    capacity: u32,
}

impl RetryQuota {
    /// A full quota of `capacity` tokens. `0` disables throttling (retries always allowed).
    pub fn new(capacity: u32) -> Self {
        RetryQuota {
            tokens: capacity,
            capacity,
        }
    }

    /// An attempt got an answer that is not a retryable failure.
    pub fn on_success(&mut self) {
        self.tokens = self.tokens.saturating_add(1).min(self.capacity);
    }

    /// An attempt failed in a retryable way (5xx, 429, transport).
    pub fn on_failure(&mut self) {
        self.tokens = self.tokens.saturating_sub(1);
    }

    /// Whether a failed request may be sent again now.
    pub fn allows_retry(&self) -> bool {
        self.capacity == 0 || self.tokens > self.capacity / 2
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn an_outage_stops_retries_after_half_the_tokens() {
        let mut quota = RetryQuota::new(100);
        let mut allowed = 0;
        for _ in 0..1_000 {
            quota.on_failure();
            if quota.allows_retry() {
                allowed += 1;
            }
        }
        assert_eq!(allowed, 49);
        // Successes refill it.
        for _ in 0..2 {
            quota.on_success();
        }
        assert!(!quota.allows_retry());
        for _ in 0..49 {
            quota.on_success();
        }
        assert!(quota.allows_retry());
    }

    #[test]
    fn a_zero_capacity_never_throttles() {
        let mut quota = RetryQuota::new(0);
        quota.on_failure();
        assert!(quota.allows_retry());
    }

    proptest! {
        /// A storm where fewer attempts fail than succeed (every third attempt fails) never
        /// throttles, whatever the order within each group of three.
        #[test]
        fn scattered_failures_keep_retries_open(order in proptest::collection::vec(0usize..3, 1..500)) {
            let mut quota = RetryQuota::new(100);
            for failing in order {
                for i in 0..3 {
                    if i == failing { quota.on_failure() } else { quota.on_success() }
                    prop_assert!(quota.allows_retry());
                }
            }
        }
    }
}
