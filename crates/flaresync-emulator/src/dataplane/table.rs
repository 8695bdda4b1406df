//! The routing table the listener reads: per Worker, the current shares and the socket serving
//! each version, plus the workerd generation those sockets belong to (kept alive while any
//! request uses this table). Replaced as a whole on every change.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::hosts::Hosts;
use super::routing::Share;
use super::supervisor::Generation;

/// How one Worker is routed.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// The Worker's name, shared with the analytics records.
    pub name: Arc<str>,
    pub workers_dev: bool,
    pub shares: Vec<Share>,
    /// Each share's version id, shared with the analytics records.
    pub version_ids: Vec<Arc<str>>,
    /// The socket (name in the runtime's socket directory) serving each share's version;
    /// `Err` holds why that version cannot run.
    pub sockets: Vec<Result<Arc<str>, String>>,
}

/// The whole table.
#[derive(Debug, Default)]
pub struct Table {
    pub routes: HashMap<String, Route>,
    /// Custom domains and route patterns (besides workers.dev).
    pub hosts: Hosts,
    pub generation: Option<Arc<Generation>>,
}

/// The current table, swapped atomically.
#[derive(Debug, Clone, Default)]
pub struct SharedTable {
    inner: Arc<RwLock<Arc<Table>>>,
}

impl SharedTable {
    pub fn current(&self) -> Arc<Table> {
        self.inner.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn replace(&self, table: Table) {
        *self.inner.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(table);
    }
}
