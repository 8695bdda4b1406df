//! The PostgreSQL backend: journal and leases in one database shared by replicas and CI runs.
//! [`connection`] (the client on its own thread), [`migrations`] (the versioned schema, pure),
//! [`store`] (the journal's statements), [`lease`] (leases with fencing tokens).

pub(crate) mod connection;
pub mod lease;
pub mod migrations;
pub(crate) mod store;
