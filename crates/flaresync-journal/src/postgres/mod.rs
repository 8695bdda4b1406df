//! The PostgreSQL backend: journal and leases in one database shared by replicas and CI runs.
//! [`connection`] (the client on its own thread), [`migrations`] (the versioned schema, pure),
//! [`store`] (the journal's statements), [`lease`] (leases with fencing tokens), [`fleet`]
//! (replicas' heartbeats and every lease, for a fleet's claims).

pub(crate) mod connection;
pub mod fleet;
pub mod lease;
pub mod migrations;
pub(crate) mod store;
