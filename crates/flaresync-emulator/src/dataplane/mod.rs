//! The local data plane: deployed Workers serve real HTTP on workerd, Cloudflare's runtime.
//!
//! Layout: [`routing`] is the pure choice of a version (percentages, version key, overrides
//! parsed by [`overrides`]).

pub mod capnp;
pub mod desired;
pub mod entry;
pub mod overrides;
pub mod routing;
pub mod runtime_bindings;
pub mod workerd_config;
