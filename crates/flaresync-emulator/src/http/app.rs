//! What a running emulator shares between requests: its config and store, the fault table, the
//! rate limiter and the request log.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, header};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::EmulatorConfig;
use crate::error::ApiError;
use crate::faults::{FaultSpec, FaultTable};
use crate::ratelimit::RateLimiter;
use crate::state::{Ctx, Db, format_ts};

/// One logged API request (`GET /__emulator/requests`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LoggedRequest {
    pub seq: u64,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub status: u16,
    /// The injected fault, if one fired (`status`, `rate_limit`, `latency`, `drop`,
    /// `fail_after_commit`).
    pub fault: Option<String>,
    pub at: String,
}

const LOG_CAPACITY: usize = 10_000;

#[derive(Debug, Default)]
pub(crate) struct RequestLog {
    next: u64,
    entries: VecDeque<LoggedRequest>,
}

/// Shared state of a running emulator.
pub struct Shared {
    pub(crate) config: EmulatorConfig,
    pub(crate) db: Db,
    pub(crate) faults: Mutex<FaultTable>,
    pub(crate) limiter: Mutex<RateLimiter>,
    pub(crate) log: Mutex<RequestLog>,
    pub(crate) user_id: String,
    /// Requests the data plane served (GraphQL analytics).
    pub(crate) invocations: crate::dataplane::InvocationLog,
    /// Set when the data plane runs: uploads are checked with workerd.
    pub(crate) upload_check: std::sync::OnceLock<crate::dataplane::upload_check::UploadCheck>,
}

pub type AppState = Arc<Shared>;

/// Locks `m`, recovering the data of a poisoned lock (every holder leaves it consistent).
pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    pub(crate) fn new(config: EmulatorConfig, db: Db) -> Self {
        let user_id = fingerprint("user", &config.user_email);
        Self {
            limiter: Mutex::new(RateLimiter::new(config.rate_limit)),
            config,
            db,
            faults: Mutex::new(FaultTable::default()),
            log: Mutex::new(RequestLog::default()),
            user_id,
            invocations: crate::dataplane::InvocationLog::default(),
            upload_check: std::sync::OnceLock::new(),
        }
    }

    pub(crate) fn ctx(&self, headers: &HeaderMap) -> Ctx {
        let from_wrangler = headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ua| ua.starts_with("wrangler"));
        Ctx {
            now: chrono::Utc::now(),
            source: if from_wrangler { "wrangler" } else { "api" }.into(),
            author_email: self.config.user_email.clone(),
            author_id: self.user_id.clone(),
            version_window: self.config.version_window,
            max_script_bytes: self.config.max_script_bytes,
        }
    }

    pub(crate) fn requests(&self) -> Vec<LoggedRequest> {
        lock(&self.log).entries.iter().cloned().collect()
    }

    pub(crate) fn add_fault(&self, spec: FaultSpec) -> Result<u64, crate::faults::FaultError> {
        lock(&self.faults).add(spec)
    }

    pub(crate) fn clear_faults(&self) {
        lock(&self.faults).clear();
    }

    /// Clears faults, the request log, rate-limit counters and all stored state.
    pub(crate) fn reset(&self) -> Result<(), ApiError> {
        self.clear_faults();
        *lock(&self.log) = RequestLog::default();
        lock(&self.limiter).reset();
        self.invocations.clear();
        self.db.wipe()?;
        crate::state::zones::seed_now(&self.db, &self.config.zones)
    }

    pub(super) fn record(
        &self,
        method: &str,
        path: &str,
        query: Option<String>,
        status: u16,
        fault: Option<String>,
    ) {
        let mut log = lock(&self.log);
        log.next += 1;
        let entry = LoggedRequest {
            seq: log.next,
            method: method.to_owned(),
            path: path.to_owned(),
            query,
            status,
            fault,
            at: format_ts(chrono::Utc::now()),
        };
        if log.entries.len() >= LOG_CAPACITY {
            log.entries.pop_front();
        }
        log.entries.push_back(entry);
    }
}

/// A non-reversible id derived from a secret (token) or a name; safe to log and return.
pub(super) fn fingerprint(purpose: &str, value: &str) -> String {
    let digest = Sha256::digest(format!("flaresync-emulator:{purpose}:{value}").as_bytes());
    hex::encode(&digest[..16])
}
