//! The local data plane: deployed Workers serve real HTTP on workerd, Cloudflare's runtime.
//!
//! Layout: [`routing`] is the pure choice of a version (percentages, version key, overrides
//! parsed by [`overrides`]).

pub mod overrides;
pub mod routing;
